"""The state of a run, as the interpreter reads and writes it.

A run is a set of *thread runs* (the entrypoint thread, failure-handler,
child and interrupt-handler threads), each with its parent, status, current
node, local variables, latest node outputs and what it waits for. The run also
holds its event inbox (events that arrived before a wait asked for them), its
compensation log (completed steps that registered a compensation, in
completion order) and, while it is being compensated, the saga's progress.
The whole state is one msgspec Struct, stored as JSON: the run's row holds it
without its threads (:func:`encode_run`), each thread is a row of its own
(:func:`encode_thread`) so a commit writes only the threads a step changed,
and a read joins them back; new fields always get defaults so older rows
keep decoding.

A thread is *frozen* while the run is HALTED or while an interrupt of it or of
a thread above it is being handled (the handler's own threads excepted). A
frozen thread does not move: its timers are withdrawn with their remaining
time kept (``remaining``), the result of a task already running is kept
(:class:`DoneWait`, :class:`FailedWait`), and everything resumes, timers
re-armed with the time that was left, when it thaws.
"""

from __future__ import annotations

import enum
import itertools
from typing import Any, Literal

import msgspec

from wfc.specs import Version


class RunStatus(enum.StrEnum):
    """Where a run is in its life."""

    RUNNING = "RUNNING"
    """Working or waiting (for a task, an event, a timer)."""
    HALTED = "HALTED"
    """Paused by an operator; nothing new is dispatched until resumed."""
    COMPLETED = "COMPLETED"
    """Reached an exit node of its entrypoint thread."""
    FAILED = "FAILED"
    """Ended by a failure no handler took."""
    COMPENSATED = "COMPENSATED"
    """Failed, then undid its completed steps."""
    CANCELLED = "CANCELLED"
    """Cancelled by an operator."""

    @property
    def finished(self) -> bool:
        """True when the run will never change again by itself."""
        return self in TERMINAL_STATUSES


TERMINAL_STATUSES = frozenset({RunStatus.COMPLETED, RunStatus.FAILED, RunStatus.COMPENSATED, RunStatus.CANCELLED})


class ThreadStatus(enum.StrEnum):
    """Where one thread run is."""

    RUNNING = "RUNNING"
    """Working or waiting (possibly frozen by an interrupt or a halted run)."""
    QUEUED = "QUEUED"
    """A child thread waiting for a slot under the run's fan-out cap."""
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    HALTED = "HALTED"
    """Stopped for good: the run ended, a ``wait_for_threads`` no longer
    needed it, or its parent ended (``halt_reason`` says which)."""

    @property
    def active(self) -> bool:
        """True while the thread may still do something (RUNNING or QUEUED)."""
        return self is ThreadStatus.RUNNING or self is ThreadStatus.QUEUED


ThreadKind = Literal["entrypoint", "handler", "child", "interrupt"]
FailureKindName = Literal["error", "exception"]


class _Record(msgspec.Struct, kw_only=True, omit_defaults=True):
    pass


class Failure(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """Why a node, thread or run failed."""

    name: str
    """An error code (``TASK_ERROR``, ``TIMEOUT``, ``EXPRESSION_ERROR`` ...) or
    the name of a business exception (``out-of-stock``)."""
    message: str = ""
    node: str = ""
    """Id of the node that failed."""
    thread: str = ""
    """Name of the thread spec the node belongs to."""
    content: Any = None
    """Data attached to a business exception."""
    kind: FailureKindName = "error"
    """``error`` for technical errors, ``exception`` for business ones."""

    def as_variable(self) -> dict[str, Any]:
        """The value a failure handler thread sees in its ``failure`` variable."""
        return {"name": self.name, "message": self.message, "content": self.content, "node": self.node}


# What a thread waits for. Exactly one per blocked thread, tagged on "wait".


class TaskWait(_Record, tag_field="wait", tag="task"):
    """An attempt of a task is dispatched and its result is awaited."""

    dispatch_id: str
    """``idempotency_key#attempt``; identifies this attempt's outbox row."""
    idempotency_key: str
    task: str
    attempt: int
    args: list[Any] = []
    timeout: float | None = None


class RetryWait(_Record, tag_field="wait", tag="retry"):
    """A task attempt failed; the next one is due when ``timer`` fires.

    Also how a stopped task is kept for ``retry``: no timer, ``remaining`` 0.
    """

    idempotency_key: str
    task: str
    attempt: int
    """The attempt that will be dispatched."""
    args: list[Any] = []
    timeout: float | None = None
    timer: int | None = None
    due: float | None = None
    remaining: float | None = None
    """Seconds left while frozen (the timer is withdrawn)."""


class EventWait(_Record, tag_field="wait", tag="event"):
    """Waiting at a ``wait_for_event`` node."""

    event: str
    correlation: str | None = None
    timer: int | None = None
    """Timer of the wait's timeout, if it has one."""
    due: float | None = None
    remaining: float | None = None
    """Seconds of timeout left while frozen (the clock is paused)."""


class SleepWait(_Record, tag_field="wait", tag="sleep"):
    """Asleep at a ``sleep``/``sleep_until`` node until ``due``."""

    timer: int | None = None
    due: float | None = None
    remaining: float | None = None
    """Seconds left while frozen."""


class HandlerWait(_Record, tag_field="wait", tag="handler"):
    """The current node failed; handler thread ``handler`` is running."""

    handler: int
    failure: Failure


class ThreadsWait(_Record, tag_field="wait", tag="threads"):
    """At a ``wait_for_threads`` node, waiting for ``children`` (spawn order)."""

    children: list[int]
    strategy: str = "ALL"
    timer: int | None = None
    due: float | None = None
    remaining: float | None = None
    """Seconds of timeout left while frozen."""


class DoneWait(_Record, tag_field="wait", tag="done"):
    """The node finished while the thread was frozen; it leaves along its
    edges when the thread thaws."""


class FailedWait(_Record, tag_field="wait", tag="failed"):
    """The node failed while the thread was frozen; the failure is handled
    when the thread thaws."""

    failure: Failure
    rerun: RetryWait | None = None
    """The attempt ``retry`` dispatches if the failure fails the run."""


class ResumeWait(_Record, tag_field="wait", tag="resume"):
    """The thread enters ``node`` when it thaws (work that was due when it
    froze, or a failed node re-run by ``retry``)."""

    node: str


class UserTaskStatus(enum.StrEnum):
    """Where a user task is, as in LittleHorse."""

    UNASSIGNED = "UNASSIGNED"
    """Offered to a group; any member may claim it."""
    ASSIGNED = "ASSIGNED"
    """Assigned to one user (who may also be in its group)."""
    DONE = "DONE"
    """Completed with values that fit its form."""
    CANCELLED = "CANCELLED"
    """Cancelled (by a person, its ``cancel_after`` timer, or its thread or
    run ending); its node failed with ``USER_TASK_CANCELLED``."""

    @property
    def open(self) -> bool:
        """True while someone can still act on it."""
        return self is UserTaskStatus.UNASSIGNED or self is UserTaskStatus.ASSIGNED


class UserTaskTimerState(_Record):
    """One ``UserTaskNode.timers`` entry of an open user task."""

    index: int
    """Position in the node's ``timers``."""
    timer: int | None = None
    due: float | None = None
    remaining: float | None = None
    """Seconds left while frozen (the timer is withdrawn)."""


class UserTaskWait(_Record, tag_field="wait", tag="user_task"):
    """At a ``user_task`` node: a person has work to do."""

    id: str
    """The user task's id, unique across runs (see ``user_task_id``)."""
    form: str
    status: UserTaskStatus = UserTaskStatus.UNASSIGNED
    user: str | None = None
    group: str | None = None
    notes: str | None = None
    assigned_at: float = 0.0
    """When the task was created: its timers count from here."""
    timers: list[UserTaskTimerState] = []
    """Timers not fired yet."""
    reminders: list[str] = []
    """Dispatch ids of reminder task attempts still running."""
    reminder_attempts: list[TaskWait | RetryWait] = []
    """The reminder attempts themselves: running (their dispatch ids are
    :attr:`reminders`), or waiting for their retry backoff. Kept so a
    redelivery dispatches the same attempt and a failed one is retried by
    the one retry scheduler."""


Wait = (
    TaskWait
    | RetryWait
    | EventWait
    | SleepWait
    | HandlerWait
    | ThreadsWait
    | DoneWait
    | FailedWait
    | ResumeWait
    | UserTaskWait
)


class Interrupt(_Record):
    """An interrupt event for a thread: queued, then handled by a child thread."""

    event: str
    event_id: str
    thread: str
    """The handler's thread spec."""
    payload: Any = None
    received_at: float = 0.0
    handler: int | None = None
    """Number of the handler thread once it started; ``None`` while the
    interrupted threads' running tasks finish."""


HaltReason = Literal[
    "run-ended", "run-failed", "cancelled", "compensating", "wait-finished", "wait-failed", "parent-ended"
]


class ThreadRun(_Record):
    """One thread of execution in a run."""

    number: int
    """Unique within the run; the entrypoint thread is 0."""
    name: str
    """Name of its thread spec in ``WorkflowSpec.threads``."""
    kind: ThreadKind
    parent: int | None = None
    status: ThreadStatus = ThreadStatus.RUNNING
    node: str = "entrypoint"
    """Current node id (the last one entered)."""
    visits: dict[str, int] = {}
    """Times each node was entered; part of task idempotency keys."""
    variables: dict[str, Any] = {}
    """This thread's own variables; the entrypoint thread's are the workflow's."""
    outputs: dict[str, Any] = {}
    """Latest output of each node that produced one."""
    wait: Wait | None = None
    output: Any = None
    failure: Failure | None = None
    started_at: float = 0.0
    ended_at: float | None = None
    ended_seq: int = 0
    """1 for the first thread of the run to end, 2 for the next, ...: orders
    threads that ended at the same moment."""
    suspended: bool = False
    """Frozen: its timers are withdrawn and results of running tasks kept."""
    spawned: dict[str, list[int]] = {}
    """Children started by each spawn node (its latest visit), in spawn order."""
    interrupt: Interrupt | None = None
    """The interrupt being handled (or the one active when it failed)."""
    interrupts: list[Interrupt] = []
    """Interrupts received and not started yet, in arrival order."""
    halt_reason: HaltReason | None = None
    stopped_wait: Wait | None = None
    """What it waited for when it failed or was halted, kept so ``retry`` can
    pick it up again."""
    failed_from: int | None = None
    """The thread whose unhandled failure failed this one (a failure handler,
    an interrupt handler, an awaited child)."""


class InboxEvent(_Record):
    """An event delivered to the run and not consumed by a wait yet."""

    id: str
    name: str
    payload: Any = None
    correlation: str | None = None
    received_at: float = 0.0


class CompensationRecord(_Record):
    """A completed step whose compensation runs if the run is compensated."""

    thread: int
    node: str
    task: str
    args: list[Any] = []
    retries: int = 3
    completed_at: float = 0.0
    idempotency_key: str = ""
    """Of the step being undone; the compensation's own key derives from it."""

    @property
    def key(self) -> str:
        """The compensation's own idempotency key."""
        return f"{self.idempotency_key}/compensate"


class Draining(_Record):
    """A task of a stopped thread, running when compensation began; its
    result is awaited so a completed step is compensated too."""

    thread: int
    node: str
    wait: TaskWait


SagaCause = Literal["failure", "compensate", "cancel"]


class Saga(_Record):
    """Compensation of a run in progress: durable, so a crash resumes it."""

    cause: SagaCause
    failure: Failure | None = None
    """Why the run is compensated (the unhandled failure, the handled one a
    ``compensate`` node ran for, or the cancellation)."""
    draining: list[Draining] = []
    """Forward tasks still running; compensation starts once they finished."""
    order: list[int] = []
    """Indexes into ``RunState.compensations``, in the order they run
    (reverse order of completion); set when draining ends."""
    position: int = 0
    """Index into ``order`` of the compensation running (or failed)."""
    wait: TaskWait | RetryWait | None = None
    attempt: int = 0
    """Last attempt dispatched of the current compensation."""
    suspended: bool = False
    started_at: float = 0.0


class PendingMigration(_Record):
    """A move to another version of the workflow, waiting until every live
    thread of the run is at a node that maps (``wfc migrate apply`` of a plan
    made with ``--migrate-later``): the engine checks after each step of the
    run and moves it in the same commit (see :mod:`wfc.runtime.migration_apply`)."""

    plan: str
    """The id of the migration plan that asked for it."""
    to: Version
    """The version to move to."""
    nodes: dict[str, dict[str, str]] = {}
    """The plan's mapping: old node id to new node id, by thread name."""
    variables: dict[str, Any] = {}
    """The plan's values for the new version's new variables."""


class RunState(_Record):
    """Everything the interpreter knows about one run."""

    id: str
    workflow: str
    version: Version
    status: RunStatus = RunStatus.RUNNING
    threads: dict[int, ThreadRun] = {}
    next_thread: int = 1
    next_timer: int = 1
    ended_threads: int = 0
    """Threads that ended so far (see :attr:`ThreadRun.ended_seq`)."""
    seq: int = 0
    """Sequence number of the last journal entry written."""
    inbox: list[InboxEvent] = []
    compensations: list[CompensationRecord] = []
    saga: Saga | None = None
    compensation_failed: bool = False
    """A compensation still failed after its retries: side effects of the run
    may not be undone, someone must look (``list_runs(needs_attention=True)``)."""
    output: Any = None
    failure: Failure | None = None
    created_at: float = 0.0
    updated_at: float = 0.0
    input_digests: dict[str, str] = {}
    """A digest of each input the run started with, after defaults, by
    variable name: what a repeated ``start`` with this run id is compared
    with. Empty for runs started before wfc recorded it."""
    migration: PendingMigration | None = None
    """A move to another version waiting for the run to reach a node that
    maps (see :class:`PendingMigration`)."""

    @property
    def root(self) -> ThreadRun:
        """The entrypoint thread run."""
        return self.threads[0]

    @property
    def variables(self) -> dict[str, Any]:
        """The workflow's variables (those of the entrypoint thread)."""
        return self.threads[0].variables


_JSON_ENCODER = msgspec.json.Encoder()
_JSON_DECODER = msgspec.json.Decoder(RunState)


def encode_state(state: RunState) -> bytes:
    """The JSON stored in a run's row."""
    return _JSON_ENCODER.encode(state)


def encode_run(state: RunState) -> bytes:
    """The JSON of the run without its threads (``threads`` left out): stored
    with each thread apart (:func:`encode_thread`), so that a commit writes
    only the threads its step changed. :func:`decode_state` reads the two
    joined back (``{"threads":{"0":...},`` + the rest)."""
    return _JSON_ENCODER.encode(msgspec.structs.replace(state, threads={}))


def encode_thread(thread: ThreadRun) -> bytes:
    """The JSON of one thread run, as stored apart from its run."""
    return _JSON_ENCODER.encode(thread)


def decode_state(data: bytes) -> RunState:
    """Inverse of :func:`encode_state`. The threads are put in number order
    whatever order they were stored in: the interpreter visits them in the
    dict's order (see :meth:`~.context.Step.ordered`).

    Raises:
        msgspec.DecodeError: ``data`` is not a run's state; among others,
            one without its entrypoint thread (its ``run_threads`` row
            deleted by hand), which every reader of the run would otherwise
            meet as a ``KeyError``.
    """
    state = _JSON_DECODER.decode(data)
    if 0 not in state.threads:
        raise msgspec.ValidationError("the run has no entrypoint thread (thread 0)")
    numbers = list(state.threads)
    if any(a > b for a, b in itertools.pairwise(numbers)):
        state.threads = {n: state.threads[n] for n in sorted(numbers)}
    return state


def clone_state(state: RunState) -> RunState:
    """A deep copy, so the interpreter never changes the state it was given.

    Through JSON, like the stored state, so values behave the same whether a
    state came from memory or from the database (and integers of any size
    survive, which msgpack would refuse).
    """
    return _JSON_DECODER.decode(_JSON_ENCODER.encode(state))
