"""What goes into the interpreter (inputs) and what comes out (effects,
journal entries), as plain records."""

from __future__ import annotations

from typing import Any

import msgspec

from wfc.runtime.interpreter.state import RunState, RunStatus, UserTaskStatus
from wfc.specs import Backoff

# ---------------------------------------------------------------- inputs


class _Input(msgspec.Struct, frozen=True, kw_only=True, tag_field="input"):
    pass


class TaskCompleted(_Input, frozen=True, tag="task_completed"):
    """An attempt of a task returned ``output``."""

    dispatch_id: str
    output: Any = None
    duration: float | msgspec.UnsetType = msgspec.UNSET
    """Seconds the attempt ran, as the engine measured it; journaled with
    the result (absent, and left out when encoded, where nobody measured)."""


class TaskFailed(_Input, frozen=True, tag="task_failed"):
    """An attempt of a task failed.

    ``business`` failures (a :class:`~wfc.runtime.TaskException`) are never
    retried; technical ones (``TASK_ERROR``, ``TIMEOUT``) are, per policy.
    """

    dispatch_id: str
    name: str
    """The exception name (business) or error code (technical)."""
    message: str = ""
    content: Any = None
    business: bool = False
    duration: float | msgspec.UnsetType = msgspec.UNSET
    """Seconds the attempt ran (see :attr:`TaskCompleted.duration`)."""


def attempt_seconds(result: TaskCompleted | TaskFailed) -> float | None:
    """How long the attempt of ``result`` ran, for its journal entry
    (microseconds are plenty); ``None`` when it was not measured."""
    duration = result.duration
    return None if isinstance(duration, msgspec.UnsetType) else round(duration, 6)


class EventArrived(_Input, frozen=True, tag="event_arrived"):
    """An external event was delivered to this run."""

    event_id: str
    name: str
    payload: Any = None
    correlation: str | None = None


class TimerFired(_Input, frozen=True, tag="timer_fired"):
    """A durable timer of this run came due."""

    timer: int


class Cancel(_Input, frozen=True, tag="cancel"):
    """An operator cancelled the run: every thread stops and results of
    tasks still running are ignored. With ``compensate`` the completed steps
    are compensated first (tasks still running are awaited so their steps are
    compensated too)."""

    reason: str = ""
    compensate: bool = False


class Halt(_Input, frozen=True, tag="halt"):
    """An operator paused the run: nothing new is dispatched, timers are
    paused, results of tasks already running are kept."""

    reason: str = ""


class Resume(_Input, frozen=True, tag="resume"):
    """An operator resumed a halted run."""


class Retry(_Input, frozen=True, tag="retry"):
    """An operator retried a FAILED run: its failed node (or failed
    compensation) runs again, with the same inputs, and the run goes on."""


class Redeliver(_Input, frozen=True, tag="redeliver"):
    """The process running a task attempt died; dispatch the same attempt again
    with the same idempotency key (recovery)."""

    dispatch_id: str


class ClaimUserTask(_Input, frozen=True, tag="claim_user_task"):
    """``user`` takes an unassigned user task (a member of its group)."""

    task_id: str
    user: str


class ReleaseUserTask(_Input, frozen=True, tag="release_user_task"):
    """An assigned user task goes back to its group, unassigned."""

    task_id: str
    by: str | None = None
    """Who did it, for the journal; ``None``: an operator or a program."""


class ReassignUserTask(_Input, frozen=True, tag="reassign_user_task"):
    """A user task is given to another user and/or group."""

    task_id: str
    user: str | None = None
    group: str | None = None
    by: str | None = None


class CompleteUserTask(_Input, frozen=True, tag="complete_user_task"):
    """Someone submitted the form: the node completes with ``values``."""

    task_id: str
    values: dict[str, Any] = {}
    by: str | None = None


class CancelUserTask(_Input, frozen=True, tag="cancel_user_task"):
    """The user task is cancelled: its node fails with ``USER_TASK_CANCELLED``."""

    task_id: str
    reason: str = ""
    by: str | None = None


#: What people (and programs acting for them) do to user tasks.
UserTaskInput = ClaimUserTask | ReleaseUserTask | ReassignUserTask | CompleteUserTask | CancelUserTask

Input = (
    TaskCompleted
    | TaskFailed
    | EventArrived
    | TimerFired
    | Cancel
    | Halt
    | Resume
    | Retry
    | Redeliver
    | ClaimUserTask
    | ReleaseUserTask
    | ReassignUserTask
    | CompleteUserTask
    | CancelUserTask
)

#: Inputs that operators send (refused with a reason when they make no sense).
OperatorInput = Cancel | Halt | Resume | Retry

# ---------------------------------------------------------------- effects


class _Effect(msgspec.Struct, frozen=True, kw_only=True, tag_field="effect"):
    pass


class DispatchTask(_Effect, frozen=True, tag="dispatch_task"):
    """Run one attempt of a task (put it in the outbox, then execute it)."""

    dispatch_id: str
    idempotency_key: str
    run_id: str
    workflow: str
    thread: int
    node: str
    task: str
    args: list[Any]
    attempt: int
    timeout: float | None = None
    """Seconds the attempt may take; ``None`` means the task's own default."""


class AbandonTask(_Effect, frozen=True, tag="abandon_task"):
    """The attempt's result is no longer wanted (run ended or cancelled)."""

    dispatch_id: str


class SetTimer(_Effect, frozen=True, tag="set_timer"):
    """Store a durable timer; feed :class:`TimerFired` when ``due`` passes."""

    timer: int
    due: float


class CancelTimer(_Effect, frozen=True, tag="cancel_timer"):
    """Drop a timer that is no longer needed."""

    timer: int


class WatchEvent(_Effect, frozen=True, tag="watch_event"):
    """Thread ``thread`` waits for ``event`` with a correlation key: events sent
    by that key must be routed to this run (and a stored one claimed now)."""

    thread: int
    event: str
    correlation: str


class UnwatchEvent(_Effect, frozen=True, tag="unwatch_event"):
    """Thread ``thread`` no longer waits for a correlated event."""

    thread: int


class RunFinished(_Effect, frozen=True, tag="run_finished"):
    """The run reached a terminal status."""

    status: RunStatus


class UserTaskChanged(_Effect, frozen=True, tag="user_task_changed"):
    """A user task was created or changed: the shell writes its row (the
    inbox and lookup index) in the same commit as the run."""

    id: str
    thread: int
    node: str
    form: str
    status: UserTaskStatus
    created_at: float
    updated_at: float
    user: str | None = None
    group: str | None = None
    notes: str | None = None
    values: dict[str, Any] | None = None
    """What it was completed with (DONE)."""
    by: str | None = None
    """Who made this change (``None``: the workflow itself, a timer, an operator)."""


Effect = (
    DispatchTask
    | AbandonTask
    | SetTimer
    | CancelTimer
    | WatchEvent
    | UnwatchEvent
    | RunFinished
    | UserTaskChanged
)


class JournalEntry(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """One line of a run's history. Masked variables are already ``"***"``."""

    seq: int
    at: float
    kind: str
    thread: int = 0
    node: str | None = None
    attempt: int | None = None
    detail: dict[str, Any] = {}


class Transition(msgspec.Struct, frozen=True, kw_only=True):
    """The result of one interpreter step: the new state, what the engine must
    do once it is committed, and the journal entries to commit with it."""

    state: RunState
    effects: list[Effect]
    journal: list[JournalEntry]


class Limits(msgspec.Struct, frozen=True, kw_only=True):
    """Engine-wide limits the interpreter applies to every run."""

    max_children: int = 1000
    """Most child threads of one run running at once; more wait (durably,
    status QUEUED) for a slot."""


DEFAULT_LIMITS = Limits()


class TaskPolicy(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """A task's own retry defaults (from ``@task``); a spec value wins over them."""

    retries: int | None = None
    backoff: Backoff | None = None
    timeout: float | None = None
