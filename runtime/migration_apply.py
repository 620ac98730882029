"""Applying a migration plan: ``wfc migrate apply PLAN``.

A plan (:mod:`wfc.runtime.migration_plan`) lists the live runs of one
workflow version and, for each, whether it can move to another version.
Applying it looks at each listed run again, *as it is now* (the plan may be
hours old), and:

- moves the runs that are safe now, each in the commit loop like any other
  transition (:class:`~wfc.runtime._commands.Migrate`): the run's row, state
  and ``MIGRATED`` journal entry change in one transaction, so a crash
  leaves each run wholly moved or wholly not;
- when the plan says ``migrate_later``, marks the runs that are safe once
  they reach a node (:class:`~wfc.runtime.interpreter.state.PendingMigration`):
  after every later step of such a run the commit loop looks again and moves
  it in that step's commit (:func:`pending_step`);
- leaves every other run as it is, saying why.

A run already on the new version is left alone, so applying a plan twice,
or again after a crash, moves only what is left.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

import msgspec

from wfc.runtime.errors import (
    CorruptDatabaseError,
    DatabaseLockedError,
    DatabaseUnavailableError,
    DatabaseUnreachableError,
    MissingTablesError,
    NewerDatabaseError,
    NotAWfcDatabaseError,
    ReadOnlyDatabaseError,
    UsageError,
)
from wfc.runtime.interpreter.migration import await_migration, drop_migration, migrate
from wfc.runtime.interpreter.state import PendingMigration, RunState
from wfc.runtime.migration_plan import PLAN_FORMAT, MigrationMapping, MigrationPlan, RunPlan, classify, parse_mapping
from wfc.specs import WorkflowSpec

if TYPE_CHECKING:
    from wfc.runtime._commands import Migrate
    from wfc.runtime._reader import Reader
    from wfc.runtime._spec_cache import CachedSpec
    from wfc.runtime.interpreter import Transition

#: The ``format`` of a report document.
REPORT_FORMAT: Final = "wfc/migration-report/1"

#: What applying a plan did to one run.
OUTCOMES: Final = ("migrated", "already_migrated", "pending", "not_now", "gone")

#: Runs queued to the commit loop at once: enough to fill its batches, few
#: enough that progress is told often and memory stays flat.
WINDOW: Final = 2_000

#: Why a run's move could not be committed when the reason is the database's
#: or the engine's, not the run's: another process held the write lock (a
#: SQLite file, a PostgreSQL table or row) past the wait, the database is
#: read-only, unreachable, damaged or lost its tables, a commit failed for a
#: reason that may pass (a lost connection, a full disk), the engine closed.
#: Every other run meets it too and nothing about the run changed since the
#: plan, so applying stops with that error (the CLI: exit 1 with the store's
#: advice, as every command gives it), not a report of runs "not moved now"
#: (the CLI: the conflict exit code 3, "changed since the plan").
NOT_THE_RUNS: Final[tuple[type[Exception], ...]] = (
    DatabaseLockedError,
    DatabaseUnavailableError,
    ReadOnlyDatabaseError,
    DatabaseUnreachableError,
    CorruptDatabaseError,
    MissingTablesError,
    NotAWfcDatabaseError,
    NewerDatabaseError,
    UsageError,
)


class PlanError(UsageError):
    """The plan document is malformed, or does not fit what is deployed."""


class RunOutcome(msgspec.Struct, frozen=True):
    """What applying a plan did to one run, and why."""

    run_id: str
    outcome: str
    """One of :data:`OUTCOMES`."""
    detail: str


class MigrationReport(msgspec.Struct, frozen=True):
    """What applying a plan did, run by run."""

    plan_id: str
    workflow: str
    source: str
    target: str
    runs: tuple[RunOutcome, ...]
    planned_now: frozenset[str] = frozenset()
    """The runs the plan called safe now."""

    def counts(self) -> dict[str, int]:
        """Runs per outcome (every outcome, 0 when none)."""
        counts = dict.fromkeys(OUTCOMES, 0)
        for run in self.runs:
            counts[run.outcome] += 1
        return counts

    @property
    def stuck(self) -> tuple[RunOutcome, ...]:
        """The runs the plan called safe now that did not move (now or before)."""
        return tuple(r for r in self.runs if r.run_id in self.planned_now and r.outcome in ("not_now", "pending"))

    @property
    def complete(self) -> bool:
        """Every run the plan called safe now moved (now or before)."""
        return not self.stuck

    def document(self) -> dict[str, Any]:
        """The report as one JSON-ready document (:data:`REPORT_FORMAT`)."""
        return {
            "format": REPORT_FORMAT,
            "plan": self.plan_id,
            "workflow": self.workflow,
            "from": self.source,
            "to": self.target,
            "complete": self.complete,
            "summary": self.counts(),
            "runs": [{"run_id": r.run_id, "outcome": r.outcome, "detail": r.detail} for r in self.runs],
        }


@dataclass(frozen=True)
class MigrationOrder:
    """What the commit loop needs to move the runs of one plan."""

    plan_id: str
    source: CachedSpec
    target: CachedSpec
    mapping: MigrationMapping
    migrate_later: bool

    @property
    def workflow(self) -> str:
        return self.source.spec.name


# ---------------------------------------------------------------- reading the plan


@dataclass(frozen=True)
class _Listed:
    run_id: str
    planned: str


async def read_plan(reader: Reader, plan: Mapping[str, Any] | MigrationPlan) -> tuple[MigrationOrder, list[_Listed]]:
    """The order and the listed runs of a plan document, checked against
    what is deployed.

    Raises:
        PlanError: malformed, another format, or the versions deployed are
            not the ones the plan was made for.
        UnknownWorkflowError: a version of the plan is not deployed.
    """
    document = plan.document() if isinstance(plan, MigrationPlan) else plan
    if not isinstance(document, Mapping):
        raise PlanError("a migration plan is a JSON object, as `wfc migrate plan --json` prints it")
    if document.get("format") != PLAN_FORMAT:
        found = document.get("format")
        raise PlanError(f"this is not a migration plan (its format is {found!r}, not {PLAN_FORMAT!r}); "
                        "make one with `wfc migrate plan WORKFLOW --from V --to V --json`")  # fmt: skip
    workflow = _text(document, "workflow")
    source = await _version(reader, workflow, document, "from")
    target = await _version(reader, workflow, document, "to")
    mapping = parse_mapping(document.get("mapping"), source.spec, target.spec)
    order = MigrationOrder(
        plan_id=str(document.get("id") or _digest(document)),
        source=source,
        target=target,
        mapping=mapping,
        migrate_later=document.get("migrate_later") is True,
    )
    return order, _runs(document)


def _text(document: Mapping[str, Any], key: str) -> str:
    value = document.get(key)
    if not isinstance(value, str) or not value:
        raise PlanError(f"the plan has no {key!r}: it is not a document `wfc migrate plan --json` printed")
    return value


async def _version(reader: Reader, workflow: str, document: Mapping[str, Any], key: str) -> CachedSpec:
    side = document.get(key)
    if not isinstance(side, Mapping) or not isinstance(side.get("version"), str):
        raise PlanError(f"the plan's {key!r} has no version: it is not a document `wfc migrate plan --json` printed")
    cached = await reader.deployed(workflow, side["version"])
    if side.get("hash") != cached.spec.hash:
        raise PlanError(f"{workflow} {side['version']} deployed here is not the spec the plan was made for "
                        f"(hash {_short(cached.spec.hash)}, the plan's {_short(str(side.get('hash')))}); "
                        f"is this the database the plan was made on? Make the plan again on it")  # fmt: skip
    return cached


def _short(digest: str) -> str:
    return digest.removeprefix("sha256:")[:12]


def _runs(document: Mapping[str, Any]) -> list[_Listed]:
    runs = document.get("runs")
    if not isinstance(runs, list):
        raise PlanError("the plan has no list of runs: it is not a document `wfc migrate plan --json` printed")
    listed: list[_Listed] = []
    for index, run in enumerate(runs):
        if not isinstance(run, Mapping) or not isinstance(run.get("run_id"), str):
            raise PlanError(f"runs[{index}] of the plan has no run_id")
        listed.append(_Listed(run["run_id"], str(run.get("class", ""))))
    return listed


def _digest(document: Mapping[str, Any]) -> str:
    return hashlib.sha256(msgspec.json.encode(document, order="sorted")).hexdigest()[:16]


# ---------------------------------------------------------------- applying it


async def apply_plan(
    reader: Reader,
    call: Callable[[Migrate], Awaitable[Any]],
    plan: Mapping[str, Any] | MigrationPlan,
    progress: Callable[[int, int], None] | None = None,
) -> MigrationReport:
    """Apply ``plan`` through the commit loop (``call`` queues a command and
    returns its reply once committed); ``progress`` is told ``(done,
    total)`` as runs are decided.

    Raises:
        DatabaseLockedError: another process held the lock past the wait
            (and the other errors of :data:`NOT_THE_RUNS`): a run whose
            move was committed before stays moved, the others are
            unchanged; applying the plan again once that is fixed moves
            only what is left.
    """
    from wfc.runtime._commands import Migrate

    order, listed = await read_plan(reader, plan)
    outcomes: list[RunOutcome] = []
    for start in range(0, len(listed), WINDOW):
        window = listed[start : start + WINDOW]
        replies = await asyncio.gather(*(call(Migrate(run.run_id, order)) for run in window), return_exceptions=True)
        outcomes.extend(_outcome(run.run_id, reply) for run, reply in zip(window, replies, strict=True))
        if progress is not None:
            progress(len(outcomes), len(listed))
    return MigrationReport(
        plan_id=order.plan_id,
        workflow=order.workflow,
        source=str(order.source.spec.version),
        target=str(order.target.spec.version),
        runs=tuple(outcomes),
        planned_now=frozenset(run.run_id for run in listed if run.planned == "safe_now"),
    )


def _outcome(run_id: str, reply: RunOutcome | BaseException) -> RunOutcome:
    """A run's outcome; a commit that failed for the run's sake (another
    process changed it, a value the database refuses) leaves the run as it
    was. A failure that is not the run's is raised (:data:`NOT_THE_RUNS`)."""
    if isinstance(reply, RunOutcome):
        return reply
    if not isinstance(reply, Exception) or isinstance(reply, NOT_THE_RUNS):  # a cancellation, an exit, a lock
        raise reply
    return RunOutcome(run_id, "not_now", f"its move could not be committed ({type(reply).__name__}: {reply}); "
                                         f"it is unchanged: apply the plan again")  # fmt: skip


def standing(run_id: str, state: RunState | None, order: MigrationOrder) -> RunOutcome | None:
    """The outcome of a run the plan cannot move because of where it is
    (gone, finished, on another version, moved already); ``None``: look
    at its threads."""
    if state is None:
        return RunOutcome(run_id, "gone", "no such run in this database")
    if state.workflow != order.workflow:
        return RunOutcome(run_id, "gone", f"it is a run of {state.workflow}, not {order.workflow}")
    if state.version == order.target.spec.version:
        return RunOutcome(run_id, "already_migrated", f"it is on version {state.version} already")
    if state.status.finished:
        return RunOutcome(run_id, "gone", f"it ended meanwhile ({state.status.value})")
    if state.version != order.source.spec.version:
        return RunOutcome(run_id, "gone", f"it is on version {state.version}, not {order.source.spec.version}")
    return None


def decide(
    run_id: str, state: RunState, order: MigrationOrder, now: float
) -> tuple[RunOutcome, Transition | None, bool]:
    """What applying the plan does to a live run of the plan's old version:
    its outcome, the transition to commit (``None``: none), and whether
    that transition puts the run on the new version."""
    old, new = order.source.spec, order.target.spec
    planned = classify(run_id, state.status.value, 0, state, old, new, order.mapping)
    if planned.run_class == "safe_now":
        transition = _move(state, planned, order.target, order.mapping, now, order.plan_id, automatic=False)
        return RunOutcome(run_id, "migrated", _moves(planned)), transition, True
    if planned.run_class == "safe_later" and order.migrate_later:
        if state.migration is not None and state.migration.plan == order.plan_id:
            return RunOutcome(run_id, "pending", "; ".join(planned.reasons)), None, False
        pending = PendingMigration(order.plan_id, new.version, order.mapping.nodes, order.mapping.variables)
        gates = [{"thread": t.number, "node": t.node, "wait_until": list(t.wait_until)}
                 for t in planned.threads if t.wait_until]  # fmt: skip
        transition = await_migration(state, pending, gates, now)
        return RunOutcome(run_id, "pending", "; ".join(planned.reasons)), transition, False
    return RunOutcome(run_id, "not_now", "; ".join(planned.reasons)), None, False


def pending_step(state: RunState, old: WorkflowSpec, new: CachedSpec, now: float) -> tuple[Transition | None, bool]:
    """A run with a pending migration, after one of its steps: the move to
    the new version once every live thread is at a node that maps (and
    whether it moves), the pending migration dropped once it can no longer
    happen (the run compensates, or a thread is where nothing maps before
    its end), or ``None`` to wait on."""
    pending = state.migration
    if pending is None or state.status.finished:
        return None, False
    if state.version == new.spec.version:
        return drop_migration(state, [f"it is on version {new.spec.version} already"], now), False
    mapping = MigrationMapping(nodes=pending.nodes, variables=pending.variables)
    planned = classify(state.id, state.status.value, 0, state, old, new.spec, mapping)
    if planned.run_class == "safe_now":
        return _move(state, planned, new, mapping, now, pending.plan, automatic=True), True
    if planned.run_class == "must_drain":
        return drop_migration(state, planned.reasons, now), False
    return None, False


def _move(state: RunState, planned: RunPlan, new: CachedSpec, mapping: MigrationMapping, now: float,
          plan: str, *, automatic: bool) -> Transition:  # fmt: skip
    moves = {t.number: t.maps_to for t in planned.threads if t.maps_to is not None}
    local = {t.number: t.variables for t in planned.threads if t.variables}
    return migrate(state, new.spec, moves, mapping.nodes, planned.variables, now, plan=plan, automatic=automatic,
                   masked=new.info.masked, local=local)  # fmt: skip


def _moves(planned: RunPlan) -> str:
    moved = [f"thread {t.number} ({t.name}): {t.node} -> {t.maps_to}" for t in planned.threads if t.maps_to != t.node]
    return "; ".join(moved) or "every thread stays at the node of the same id"
