"""The state of a run, as the interpreter reads and writes it.

A run is a set of *thread runs* (the entrypoint thread, failure-handler threads
now; child and interrupt threads later), each with its parent, status, current
node, local variables, latest node outputs and what it waits for. The run also
holds its event inbox (events that arrived before a wait asked for them) and
its compensation log (completed steps that registered a compensation, in
completion order). The whole state is one msgspec Struct stored as JSON in the
run's row; new fields always get defaults so older rows keep decoding.
"""

from __future__ import annotations

import enum
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
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    HALTED = "HALTED"
    """Stopped because the run ended or (later) was halted."""


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
    """A task attempt failed; the next one is due when ``timer`` fires."""

    timer: int
    due: float
    idempotency_key: str
    task: str
    attempt: int
    """The attempt that will be dispatched."""
    args: list[Any] = []
    timeout: float | None = None


class EventWait(_Record, tag_field="wait", tag="event"):
    """Waiting at a ``wait_for_event`` node."""

    event: str
    correlation: str | None = None
    timer: int | None = None
    """Timer of the wait's timeout, if it has one."""
    due: float | None = None


class SleepWait(_Record, tag_field="wait", tag="sleep"):
    """Asleep at a ``sleep``/``sleep_until`` node until ``due``."""

    timer: int
    due: float


class HandlerWait(_Record, tag_field="wait", tag="handler"):
    """The current node failed; handler thread ``handler`` is running."""

    handler: int
    failure: Failure


Wait = TaskWait | RetryWait | EventWait | SleepWait | HandlerWait


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


class RunState(_Record):
    """Everything the interpreter knows about one run."""

    id: str
    workflow: str
    version: Version
    status: RunStatus = RunStatus.RUNNING
    threads: dict[int, ThreadRun] = {}
    next_thread: int = 1
    next_timer: int = 1
    seq: int = 0
    """Sequence number of the last journal entry written."""
    inbox: list[InboxEvent] = []
    compensations: list[CompensationRecord] = []
    output: Any = None
    failure: Failure | None = None
    created_at: float = 0.0
    updated_at: float = 0.0

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


def decode_state(data: bytes) -> RunState:
    """Inverse of :func:`encode_state`."""
    return _JSON_DECODER.decode(data)


def clone_state(state: RunState) -> RunState:
    """A deep copy, so the interpreter never changes the state it was given.

    Through JSON, like the stored state, so values behave the same whether a
    state came from memory or from the database (and integers of any size
    survive, which msgpack would refuse).
    """
    return _JSON_DECODER.decode(_JSON_ENCODER.encode(state))
