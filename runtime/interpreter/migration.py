"""Moving a run onto another version of its workflow: the state change of
``wfc migrate apply``, pure like every transition.

The shell decides *whether* a run can move (the classes of
:mod:`wfc.runtime.migration_plan`: every live thread at a node the new
version has, waiting for the same thing); this module only rewrites the
state: each live thread to its node in the new version, the node ids the
mapping renames in what the run remembers per node (visits, task outputs,
spawned children, recorded compensations), the new version's new
variables, and the run's version. Waits carry over as they are: the
same task attempt, timer, event or form goes on being awaited, so nothing
runs twice and nothing is lost. One ``MIGRATED`` journal entry records the
move with both versions.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any, TypeVar

import msgspec

from wfc.runtime.interpreter.messages import Effect, JournalEntry, Transition, UserTaskChanged
from wfc.runtime.interpreter.secrets import mask_variables
from wfc.runtime.interpreter.state import (
    PendingMigration,
    ResumeWait,
    RunState,
    ThreadRun,
    UserTaskWait,
    Wait,
    clone_state,
)
from wfc.specs import WorkflowSpec

_V = TypeVar("_V")


def migrate(
    state: RunState,
    new: WorkflowSpec,
    moves: Mapping[int, str],
    renames: Mapping[str, Mapping[str, str]],
    variables: Mapping[str, Any],
    now: float,
    *,
    plan: str,
    automatic: bool = False,
    masked: Collection[str] = (),
    local: Mapping[int, Mapping[str, Any]] | None = None,
) -> Transition:
    """``state`` moved onto ``new``: thread ``n`` of ``moves`` to node
    ``moves[n]``; ``renames``: the mapping's old node id to new node id, by
    thread name; ``variables``: values of the new version's new workflow
    variables (journaled, those named in ``masked`` as ``***``); ``local``:
    values of new local variables of child threads, by thread. ``state``
    is not changed. Open user tasks are told to the shell again (their rows
    name the version and node)."""
    after = clone_state(state)
    before = after.version
    after.version = new.version
    after.migration = None
    after.updated_at = now
    moved: list[dict[str, Any]] = []
    effects: list[Effect] = []
    for thread in after.threads.values():
        _rename(thread, renames.get(thread.name, {}))
        target = moves.get(thread.number)
        if target is not None:
            if target != thread.node:
                moved.append({"thread": thread.number, "from": thread.node, "to": target})
            thread.node = target
        if isinstance(thread.wait, UserTaskWait) and thread.wait.status.open:
            effects.append(_user_task_row(thread, thread.wait, now))
    for compensation in after.compensations:
        owner = after.threads.get(compensation.thread)
        if owner is not None:
            compensation.node = renames.get(owner.name, {}).get(compensation.node, compensation.node)
    after.root.variables.update(variables)
    for number, values in (local or {}).items():
        after.threads[number].variables.update(values)
    detail = {"from": str(before), "to": str(new.version), "plan": plan, "automatic": automatic,
              "threads": moved, "variables": mask_variables(dict(sorted(variables.items())), masked)}  # fmt: skip
    if local:
        detail["local"] = {str(n): mask_variables(dict(v), masked) for n, v in sorted(local.items()) if v}
    return Transition(state=after, effects=effects, journal=[_entry(after, now, "MIGRATED", detail)])


def await_migration(state: RunState, pending: PendingMigration, wait_until: Sequence[dict[str, Any]],
                    now: float) -> Transition:  # fmt: skip
    """``state`` holding ``pending``, the move the engine makes once every
    live thread reaches a node that maps (``wait_until``: which nodes, per
    thread, for the journal). ``state`` is not changed."""
    after = clone_state(state)
    after.migration = pending
    after.updated_at = now
    detail = {"plan": pending.plan, "to": str(pending.to), "wait_until": list(wait_until)}
    return Transition(state=after, effects=[], journal=[_entry(after, now, "MIGRATION_PENDING", detail)])


def drop_migration(state: RunState, reasons: Sequence[str], now: float) -> Transition:
    """``state`` without its pending migration, which can no longer happen
    (``reasons``: why, for the journal). ``state`` is not changed."""
    after = clone_state(state)
    plan = after.migration.plan if after.migration is not None else None
    after.migration = None
    after.updated_at = now
    detail = {"plan": plan, "reasons": list(reasons)}
    return Transition(state=after, effects=[], journal=[_entry(after, now, "MIGRATION_DROPPED", detail)])


def _rename(thread: ThreadRun, renames: Mapping[str, str]) -> None:
    """Node ids the thread remembers, renamed as the mapping says."""
    if not renames:
        return
    thread.visits = _renamed_keys(thread.visits, renames)
    thread.outputs = _renamed_keys(thread.outputs, renames)
    thread.spawned = _renamed_keys(thread.spawned, renames)
    thread.wait = _renamed_wait(thread.wait, renames)
    thread.stopped_wait = _renamed_wait(thread.stopped_wait, renames)


def _renamed_keys(values: dict[str, _V], renames: Mapping[str, str]) -> dict[str, _V]:
    return {renames.get(key, key): value for key, value in values.items()}


def _renamed_wait(wait: Wait | None, renames: Mapping[str, str]) -> Wait | None:
    if isinstance(wait, ResumeWait) and wait.node in renames:
        return msgspec.structs.replace(wait, node=renames[wait.node])
    return wait


def _user_task_row(thread: ThreadRun, wait: UserTaskWait, now: float) -> UserTaskChanged:
    return UserTaskChanged(
        id=wait.id, thread=thread.number, node=thread.node, form=wait.form, status=wait.status,
        created_at=wait.assigned_at, updated_at=now, user=wait.user, group=wait.group, notes=wait.notes,
    )  # fmt: skip


def _entry(state: RunState, now: float, kind: str, detail: dict[str, Any]) -> JournalEntry:
    state.seq += 1
    return JournalEntry(seq=state.seq, at=now, kind=kind, detail=detail)
