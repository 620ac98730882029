"""The inputs of a run's committed steps, read back from its journal: what
replaying a run (:mod:`wfc.runtime.replay`) feeds ``begin``/``step`` again,
and what the journal tests rebuild runs with.

Each step's first entry names its input: ``RUN_STARTED`` -> ``begin``,
``TASK_COMPLETED``/``TASK_FAILED`` -> a task result, ``TIMER_FIRED``,
``EVENT_TIMEOUT``, ``THREADS_TIMEOUT`` and a leading ``TASK_DISPATCHED``
(a retry's backoff ended) -> the timer the thread waits on,
``COMPENSATION_*`` -> a compensation's result or retry timer,
``EVENT_RECEIVED``/``INTERRUPT_RECEIVED`` -> the event, ``TASK_CLAIMED`` ->
a redelivery, ``RUN_HALTED``/``RUN_RESUMED``/``RUN_CANCEL_REQUESTED``/
``RUN_CANCELLED``/``RUN_RETRIED`` -> the operator command, a leading
``RUN_FAILED`` -> ``crash`` (those two come after the ``THREAD_HALTED``
entries of the threads they stop, and the ``USER_TASK_CANCELLED`` entries
of their open user tasks). ``USER_TASK_*`` entries -> the user task input
they journal, or with ``timer: true`` (and ``USER_TASK_TIMER_SKIPPED``,
``USER_TASK_REMINDED``) the user task's timer of that action due first;
``USER_TASK_REMINDER_*`` -> the result of the reminder attempt. Which
attempt or timer it was comes from the state rebuilt so far (so the same
entries give the inputs of another spec version's run, as long as it waits
where the recorded run waited). Steps that wrote no entry changed nothing,
so they need no replay.

What the journal does not hold, so a rebuilt state may differ there: the
``content`` of a failed task's exception (``TaskFailed.content``), the
payload of an event (taken from the stored events instead), the output of a
compensation (ignored by the interpreter), masked values (``***``), and an
interrupt event's correlation key.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec

from wfc.runtime.interpreter import (
    Cancel,
    CancelUserTask,
    ClaimUserTask,
    CompleteUserTask,
    EventArrived,
    Halt,
    Input,
    JournalEntry,
    ReassignUserTask,
    Redeliver,
    ReleaseUserTask,
    Resume,
    Retry,
    TaskCompleted,
    TaskFailed,
    TimerFired,
)
from wfc.runtime.interpreter.state import RetryWait, RunState, TaskWait, UserTaskWait
from wfc.specs import UserTaskNode, WorkflowSpec

#: Why a user task is cancelled when its thread stops (not an input of its own).
STOPPED = {
    "run-ended", "run-failed", "run-cancelled", "run-compensating", "wait-finished", "wait-failed", "parent-ended",
    "thread-failed",
}  # fmt: skip

FIELDS = ("seq", "at", "kind", "thread", "node", "attempt", "detail")


def entry_dict(entry: JournalEntry) -> dict[str, Any]:
    """A journal entry with every field, as the journal table holds it."""
    return {name: getattr(entry, name) for name in FIELDS}


class JournalMismatch(Exception):
    """The journal names an input the run rebuilt so far cannot take (no such
    attempt, timer or user task is awaited), or a replayed step wrote other
    entries than the journal holds."""


def step_starter(journal: list[dict[str, Any]], start: int) -> dict[str, Any]:
    """The entry naming the input of the step whose entries begin at ``start``:
    the first, except that ending a run (cancel, crash) halts its threads
    before it says so."""
    for entry in journal[start:]:
        if entry["kind"] == "THREAD_HALTED":
            continue
        if entry["kind"] == "USER_TASK_CANCELLED" and entry["detail"].get("reason") in STOPPED:
            continue
        return entry
    return journal[start]


def _duration(detail: dict[str, Any]) -> float | msgspec.UnsetType:
    """How long the attempt ran, as its result's entry says (absent where
    nobody measured it)."""
    duration = detail.get("duration")
    return msgspec.UNSET if duration is None else float(duration)


def input_for(
    state: RunState, entry: dict[str, Any], payloads: Mapping[str, Any], spec: WorkflowSpec | None = None
) -> Input:
    """The input whose step began with journal ``entry``."""
    kind, detail = entry["kind"], entry["detail"]
    if kind.startswith("USER_TASK_") and spec is not None:
        return _user_task_input(state, spec, entry)
    match kind:
        case "TASK_COMPLETED":
            return TaskCompleted(
                dispatch_id=_attempt(state, entry), output=detail.get("output"), duration=_duration(detail)
            )
        case "TASK_FAILED":
            return TaskFailed(
                dispatch_id=_attempt(state, entry),
                name=detail["error"],
                message=detail.get("message", ""),
                business=detail.get("kind") == "exception",
                duration=_duration(detail),
            )
        case "COMPENSATION_COMPLETED":
            return TaskCompleted(dispatch_id=_saga_wait(state).dispatch_id, duration=_duration(detail))
        case "COMPENSATION_FAILED":
            return TaskFailed(
                dispatch_id=_saga_wait(state).dispatch_id,
                name=detail["error"],
                message=detail.get("message", ""),
                business=detail.get("kind") == "exception",
                duration=_duration(detail),
            )
        case "COMPENSATION_DISPATCHED":
            return TimerFired(timer=_saga_wait(state).timer)
        case "TIMER_FIRED" | "EVENT_TIMEOUT" | "THREADS_TIMEOUT" | "TASK_DISPATCHED":
            timer = getattr(state.threads[entry["thread"]].wait, "timer", None)
            if timer is None:
                raise JournalMismatch(f"no timer of thread {entry['thread']} is armed at entry #{entry['seq']}")
            return TimerFired(timer=timer)
        case "EVENT_RECEIVED" | "INTERRUPT_RECEIVED":
            event_id = detail["event_id"]
            return EventArrived(
                event_id=event_id,
                name=detail["event"],
                payload=payloads.get(event_id),
                correlation=detail.get("correlation"),
            )
        case "TASK_CLAIMED":
            return Redeliver(dispatch_id=_attempt(state, entry))
        case "RUN_HALTED":
            return Halt(reason=detail.get("reason", ""))
        case "RUN_RESUMED":
            return Resume()
        case "RUN_CANCEL_REQUESTED":
            return Cancel(reason=detail.get("reason", ""), compensate=True)
        case "RUN_CANCELLED":
            return Cancel(reason=detail.get("reason", ""))
        case "RUN_RETRIED":
            return Retry()
    raise JournalMismatch(f"no input starts a step with journal entry {kind} (#{entry['seq']})")


def _attempt(state: RunState, entry: dict[str, Any]) -> str:
    """Dispatch id of the attempt (thread, node, attempt) of ``entry``."""
    thread, node, attempt = entry["thread"], entry["node"], entry["attempt"]
    waits = [state.threads[thread].wait] if thread in state.threads else []
    if state.saga is not None:
        waits += [d.wait for d in state.saga.draining if d.thread == thread and d.node == node]
    for wait in waits:
        if getattr(wait, "dispatch_id", None) is not None and wait.attempt == attempt:  # type: ignore[union-attr]
            return str(wait.dispatch_id)  # type: ignore[union-attr]
    raise JournalMismatch(
        f"no attempt {attempt} of node {node!r} in thread {thread} is awaited at entry #{entry['seq']}"
    )


def _saga_wait(state: RunState) -> Any:
    if state.saga is None or state.saga.wait is None:
        raise JournalMismatch("a compensation entry, but no compensation is awaited")
    return state.saga.wait


def _user_task_input(state: RunState, spec: WorkflowSpec, entry: dict[str, Any]) -> Input:
    """The input of a step whose first entry is a user task's."""
    kind, detail = entry["kind"], entry["detail"]
    task_id = detail.get("user_task", "")
    if detail.get("timer") or kind in ("USER_TASK_TIMER_SKIPPED", "USER_TASK_REMINDED"):
        return TimerFired(timer=_user_task_timer(state, spec, entry))
    match kind:
        case "USER_TASK_CLAIMED":
            return ClaimUserTask(task_id=task_id, user=detail["user"])
        case "USER_TASK_RELEASED":
            return ReleaseUserTask(task_id=task_id, by=detail.get("by"))
        case "USER_TASK_REASSIGNED":  # the entry holds the result, which the same input gives again
            return ReassignUserTask(task_id=task_id, user=detail.get("user"), group=detail.get("group"),
                                    by=detail.get("by"))  # fmt: skip
        case "USER_TASK_COMPLETED":
            values = {k: v for k, v in detail.get("values", {}).items() if v is not None}
            return CompleteUserTask(task_id=task_id, values=values, by=detail.get("by"))
        case "USER_TASK_CANCELLED":
            return CancelUserTask(task_id=task_id, reason=detail.get("reason", ""), by=detail.get("by"))
        case "USER_TASK_REMINDER_COMPLETED":
            return TaskCompleted(dispatch_id=_reminder(state, entry).dispatch_id, duration=_duration(detail))
        case "USER_TASK_REMINDER_FAILED":
            return TaskFailed(
                dispatch_id=_reminder(state, entry).dispatch_id,
                name=detail["error"],
                message=detail.get("message", ""),
                business=detail.get("kind") == "exception",
                duration=_duration(detail),
            )
    raise JournalMismatch(f"no input starts a step with journal entry {kind} (#{entry['seq']})")


def _user_task(state: RunState, entry: dict[str, Any]) -> UserTaskWait:
    thread = state.threads.get(entry["thread"])
    wait = thread.wait if thread is not None else None
    if not isinstance(wait, UserTaskWait) or wait.id != entry["detail"].get("user_task"):
        raise JournalMismatch(f"entry #{entry['seq']} names a user task thread {entry['thread']} does not hold")
    return wait


def _user_task_timer(state: RunState, spec: WorkflowSpec, entry: dict[str, Any]) -> int:
    """The timer of the user task that fired: a reminder's retry backoff, or
    the first due of its timers whose action the entry shows."""
    wait = _user_task(state, entry)
    kind, detail = entry["kind"], entry["detail"]
    if kind == "USER_TASK_REMINDED" and (entry["attempt"] or 1) > 1:
        for attempt in wait.reminder_attempts:
            if isinstance(attempt, RetryWait) and attempt.attempt == entry["attempt"] and attempt.timer is not None:
                return attempt.timer
        raise JournalMismatch(f"no reminder retry of attempt {entry['attempt']} is due at entry #{entry['seq']}")
    actions = {
        "USER_TASK_REASSIGNED": "reassign",
        "USER_TASK_RELEASED": "release",
        "USER_TASK_REMINDED": "remind",
        "USER_TASK_TIMER_SKIPPED": detail.get("action"),
        "USER_TASK_CANCELLED": None if "timer failed" in detail.get("reason", "") else "cancel",
    }
    wanted = actions.get(kind)
    thread_spec = spec.threads.get(state.threads[entry["thread"]].name)
    node = thread_spec.nodes.get(entry["node"]) if thread_spec is not None else None
    if not isinstance(node, UserTaskNode):
        raise JournalMismatch(f"entry #{entry['seq']} names user task node {entry['node']!r}, which is no user task")
    armed = [t for t in wait.timers if t.timer is not None and wanted in (None, node.timers[t.index].action)]
    if not armed:
        raise JournalMismatch(f"no armed {wanted} timer of user task {wait.id} at entry #{entry['seq']}")
    first = min(armed, key=lambda t: (t.due or 0.0, t.timer or 0))
    return first.timer or 0


def _reminder(state: RunState, entry: dict[str, Any]) -> TaskWait:
    wait = _user_task(state, entry)
    for attempt in wait.reminder_attempts:
        if (
            isinstance(attempt, TaskWait)
            and attempt.attempt == entry["attempt"]
            and attempt.task == entry["detail"]["task"]
        ):
            return attempt
    raise JournalMismatch(f"no reminder attempt {entry['attempt']} is running at entry #{entry['seq']}")
