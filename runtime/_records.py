"""What the engine hands back to programs: runs, threads, journal entries.

``RunInfo.variables`` holds the real values, masked variables included, while
the run may still use them: the program that started the run is trusted with
them. A run that no input can move any more (COMPLETED, COMPENSATED,
CANCELLED, or FAILED beyond retry) has forgotten them: they read ``"***"``,
so the database does not keep them. Masking is for what is
displayed or kept for people: the journal (``history``) stores masked values
as ``"***"`` already, and :meth:`RunInfo.redacted` gives the view the CLI
prints, with masked values hidden wherever they appear.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import msgspec
from msgspec.structs import replace as replace_struct

from wfc.runtime._stuck import StuckReason
from wfc.runtime.interpreter import Redactor, mask_variables
from wfc.runtime.interpreter.state import (
    DoneWait,
    EventWait,
    FailedWait,
    Failure,
    HandlerWait,
    ResumeWait,
    RetryWait,
    RunState,
    RunStatus,
    SleepWait,
    TaskWait,
    ThreadKind,
    ThreadRun,
    ThreadStatus,
    ThreadsWait,
    UserTaskWait,
    Wait,
)
from wfc.specs import Version

if TYPE_CHECKING:
    from wfc.runtime.store import JournalRecord


def to_datetime(epoch: float) -> dt.datetime:
    """An aware UTC datetime from epoch seconds."""
    return dt.datetime.fromtimestamp(epoch, tz=dt.UTC)


def _moment(epoch: float) -> str:
    return to_datetime(epoch).isoformat(timespec="milliseconds")


def _left(seconds: float | None) -> str:
    return f"{seconds:g} s left, paused" if seconds is not None else "paused"


def describe_wait(wait: Wait | None) -> str | None:
    """One line saying what a thread waits for, e.g. ``task 'charge-card'
    (attempt 2, running)``."""
    match wait:
        case TaskWait(task=task, attempt=attempt):
            return f"task {task!r} (attempt {attempt}, running)"
        case RetryWait(task=task, attempt=attempt, due=due, remaining=remaining):
            when = _moment(due) if due is not None else f"({_left(remaining)})"
            return f"retry of task {task!r} (attempt {attempt}) at {when}"
        case EventWait(event=event, correlation=correlation, due=due, remaining=remaining):
            text = f"event {event!r}"
            if correlation is not None:
                text += f" with correlation {correlation!r}"
            if due is not None:
                return text + f" until {_moment(due)}"
            return text + (f" (timeout {_left(remaining)})" if remaining is not None else "")
        case SleepWait(due=due, remaining=remaining):
            return f"timer until {_moment(due)}" if due is not None else f"timer ({_left(remaining)})"
        case HandlerWait(handler=handler, failure=failure):
            return f"failure handler (thread {handler}) for {failure.name}"
        case ThreadsWait(children=children, strategy=strategy, due=due):
            text = f"threads {children} ({strategy})"
            return text + (f" until {_moment(due)}" if due is not None else "")
        case DoneWait():
            return "moving on once resumed (its task completed)"
        case FailedWait(failure=failure):
            return f"handling {failure.name} once resumed"
        case ResumeWait(node=node):
            return f"entering {node!r} once resumed"
        case UserTaskWait(id=task_id, form=form, status=status, user=user, group=group):
            who = f"assigned to {user!r}" if user is not None else "unassigned"
            if group is not None:
                who += f", group {group!r}"
            return f"user task {task_id} (form {form!r}, {status.value}: {who})"
    return None


def describe_saga(state: RunState) -> str | None:
    """What the compensation of a run is doing, if it is being compensated."""
    saga = state.saga
    if saga is None or state.status.finished:
        return None
    if saga.draining:
        tasks = ", ".join(repr(d.wait.task) for d in saga.draining)
        return f"compensation: waiting for running task(s) {tasks} to finish first"
    if saga.position >= len(saga.order):
        return "compensation: finishing"
    record = state.compensations[saga.order[saga.position]]
    step = f"compensation {record.task!r} of step {record.node!r} ({saga.position + 1} of {len(saga.order)})"
    wait = describe_wait(saga.wait)
    return f"{step}: {wait}" if wait else step


@dataclass(frozen=True)
class ThreadInfo:
    """Where one thread of a run is."""

    number: int
    """0 for the entrypoint thread."""
    name: str
    """Its thread spec name."""
    kind: ThreadKind
    parent: int | None
    status: ThreadStatus
    node: str
    """The node it is at (or ended at)."""
    waiting_on: str | None
    """What it waits for, when running."""
    attempt: int | None
    """Attempt number when it waits for a task."""
    halt_reason: str | None = None
    """Why a HALTED thread stopped: ``run-ended``, ``run-failed``,
    ``cancelled``, ``compensating``, ``wait-finished`` (a FIRST/ANY wait no
    longer needed it), ``wait-failed``, ``parent-ended``."""


def _thread_info(thread: ThreadRun) -> ThreadInfo:
    wait = thread.wait
    attempt = wait.attempt if isinstance(wait, TaskWait | RetryWait) else None
    waiting_on = describe_wait(wait) if thread.status is ThreadStatus.RUNNING else None
    if thread.status is ThreadStatus.RUNNING and thread.suspended:
        waiting_on = f"paused; {waiting_on}" if waiting_on else "paused"
    elif thread.status is ThreadStatus.QUEUED:
        waiting_on = "a slot under the run's fan-out cap"
    return ThreadInfo(
        number=thread.number,
        name=thread.name,
        kind=thread.kind,
        parent=thread.parent,
        status=thread.status,
        node=thread.node,
        waiting_on=waiting_on,
        attempt=attempt,
        halt_reason=thread.halt_reason,
    )


@dataclass(frozen=True)
class WorkerInfo:
    """An engine registered on the database, as :meth:`Engine.list_workers` sees it."""

    id: str
    host: str
    pid: int
    started_at: dt.datetime
    heartbeat_at: dt.datetime
    alive: bool
    """A heartbeat within the lease, and (on this machine) its process exists."""
    tasks: tuple[str, ...]
    """The tasks it runs (empty: none, or registered by a wfc before schema 8)."""
    leases: int
    """Attempts it holds: dispatched to it and not finished."""
    oldest_lease: dt.datetime | None
    """When the oldest of those was dispatched."""


@dataclass(frozen=True)
class RunInfo:
    """A run as it is stored now."""

    id: str
    workflow: str
    version: Version
    """The spec version the run started on (and stays on)."""
    status: RunStatus
    variables: dict[str, Any]
    """The workflow's variables, real values while the run may use them
    (see the module docstring and :meth:`redacted`)."""
    output: Any
    """The exit node's output, once COMPLETED."""
    failure: Failure | None
    """Why it FAILED (name, message, node, thread, content)."""
    created_at: dt.datetime
    updated_at: dt.datetime
    threads: tuple[ThreadInfo, ...] = ()
    masked: frozenset[str] = field(default_factory=frozenset)
    """Names of masked variables."""
    pending_events: tuple[str, ...] = ()
    """Names of events delivered but not consumed by a wait yet."""
    compensation_failed: bool = False
    """FAILED because a compensation still failed after its retries: some
    completed steps may not be undone (see the journal, ``COMPENSATION_*``).
    ``retry`` runs that compensation again and goes on."""
    compensation: str | None = None
    """What the compensation does now, while the run is being compensated."""
    stuck: tuple[StuckReason, ...] = ()
    """Why the run is stuck, oldest first: filled by a listing with
    ``stuck_for`` (empty otherwise)."""
    unreadable: str | None = None
    """Why a listing could not read the run's stored state (written by a
    newer wfc, changed by hand): it is listed from its row alone, without
    variables, threads or output. ``None`` for every readable run."""

    @property
    def needs_attention(self) -> bool:
        """True when someone must look at the run: a compensation failed."""
        return self.compensation_failed

    @property
    def waiting_on(self) -> list[str]:
        """What each running thread (and a compensation in progress) waits
        for: the answer to "where is run X"."""
        found = [f"{t.name}@{t.node}: {t.waiting_on}" for t in self.threads if t.waiting_on is not None]
        return found + ([self.compensation] if self.compensation else [])

    @property
    def node(self) -> str:
        """The node the entrypoint thread is at."""
        return self.threads[0].node if self.threads else "entrypoint"

    def display_variables(self) -> dict[str, Any]:
        """The variables with masked ones as ``"***"``, for display and logs."""
        return mask_variables(self.variables, self.masked)

    def redacted(self) -> RunInfo:
        """This run as people may see it: masked variables as ``"***"``, and
        their values replaced by ``"***"`` wherever else they appear (the
        output, the failure, what threads wait for). Applying it twice
        changes nothing more."""
        redactor = Redactor(v for k, v in self.variables.items() if k in self.masked)
        if not redactor:
            return replace(self, variables=self.display_variables())
        failure = self.failure
        if failure is not None:
            failure = replace_struct(
                failure, message=redactor.text(failure.message), content=redactor.value(failure.content)
            )
        return replace(
            self,
            variables=self.display_variables(),
            output=redactor.value(self.output),
            failure=failure,
            threads=tuple(
                replace(t, waiting_on=None if t.waiting_on is None else redactor.text(t.waiting_on))
                for t in self.threads
            ),
            compensation=None if self.compensation is None else redactor.text(self.compensation),
        )


def unreadable_info(
    run_id: str, workflow: str, version: Version, status: str, created_at: float, updated_at: float, why: str
) -> RunInfo:
    """A run a listing shows from its row alone: its state cannot be read."""
    return RunInfo(
        id=run_id,
        workflow=workflow,
        version=version,
        status=RunStatus(status),
        variables={},
        output=None,
        failure=None,
        created_at=_listed_moment(created_at),
        updated_at=_listed_moment(updated_at),
        unreadable=why,
    )


def _listed_moment(epoch: float) -> dt.datetime:
    """A row's time, or the earliest one where it is past what a datetime
    holds (a clock that was not in seconds wrote it)."""
    try:
        return to_datetime(epoch)
    except (ValueError, OverflowError, OSError):
        return dt.datetime.min.replace(tzinfo=dt.UTC)


def run_info(state: RunState, masked: frozenset[str]) -> RunInfo:
    """Build a :class:`RunInfo` from a stored state."""
    return RunInfo(
        id=state.id,
        workflow=state.workflow,
        version=state.version,
        status=state.status,
        variables=dict(state.variables),
        output=state.output,
        failure=state.failure,
        created_at=to_datetime(state.created_at),
        updated_at=to_datetime(state.updated_at),
        threads=tuple(_thread_info(state.threads[n]) for n in sorted(state.threads)),
        masked=masked,
        pending_events=tuple(e.name for e in state.inbox),
        compensation_failed=state.compensation_failed,
        compensation=describe_saga(state),
    )


@dataclass(frozen=True)
class HistoryEntry:
    """One journal entry: something that happened to a run.

    ``kind`` is one of ``RUN_STARTED``, ``NODE_ENTERED``, ``TASK_DISPATCHED``,
    ``TASK_COMPLETED``, ``TASK_FAILED``, ``TASK_CLAIMED``, ``EVENT_RECEIVED``,
    ``EVENT_WAITING``, ``EVENT_CONSUMED``, ``EVENT_TIMEOUT``, ``SLEEPING``,
    ``TIMER_FIRED``, ``VARIABLE_SET``, ``NODE_FAILED``,
    ``FAILURE_HANDLER_STARTED``, ``FAILURE_HANDLED``;
    threads: ``THREAD_STARTED``, ``THREAD_QUEUED`` (over the fan-out cap),
    ``THREAD_COMPLETED``, ``THREAD_FAILED``, ``THREAD_HALTED`` (``reason``),
    ``THREAD_PAUSED``, ``THREAD_RESUMED``, ``THREAD_REVIVED`` (by a retry),
    ``THREADS_WAITING``, ``THREADS_COMPLETED``, ``THREADS_FAILED``,
    ``THREADS_TIMEOUT``; interrupts: ``INTERRUPT_RECEIVED``,
    ``THREAD_INTERRUPTED``, ``INTERRUPT_HANDLER_STARTED``,
    ``INTERRUPT_HANDLED``, ``INTERRUPT_FAILED``; compensation:
    ``COMPENSATION_STARTED``, ``COMPENSATION_PLANNED``,
    ``COMPENSATION_DISPATCHED``, ``COMPENSATION_COMPLETED``,
    ``COMPENSATION_FAILED`` (``final`` when no retry is left),
    ``COMPENSATION_SKIPPED`` (did not run); operators: ``RUN_HALTED``,
    ``RUN_RESUMED``, ``RUN_CANCEL_REQUESTED``, ``RUN_RETRIED``; versions
    (``wfc migrate apply``): ``MIGRATED`` (``from``, ``to``, ``plan``,
    ``automatic``, ``threads`` moved, new ``variables``),
    ``MIGRATION_PENDING`` (``to``, ``wait_until``), ``MIGRATION_DROPPED``
    (``reasons``); the end:
    ``RUN_COMPLETED``, ``RUN_FAILED``, ``RUN_COMPENSATED``, ``RUN_CANCELLED``.
    Masked variables appear as ``"***"`` in ``detail``. The result of a task
    attempt (``TASK_COMPLETED``, ``TASK_FAILED``, ``COMPENSATION_COMPLETED``,
    ``COMPENSATION_FAILED``) has its ``duration``, the seconds it ran.
    """

    seq: int
    """1, 2, 3, ... per run."""
    timestamp: dt.datetime
    """When it happened (UTC), as the engine's clock saw it."""
    thread: int
    node: str | None
    kind: str
    attempt: int | None
    detail: dict[str, Any]


def history_entry(record: JournalRecord) -> HistoryEntry:
    """A stored journal row as the API hands it out."""
    return HistoryEntry(
        seq=record.seq,
        timestamp=to_datetime(record.at),
        thread=record.thread,
        node=record.node,
        kind=record.kind,
        attempt=record.attempt,
        detail=msgspec.json.decode(record.detail),
    )


@dataclass(frozen=True)
class SentEvent:
    """What became of an event given to ``send_event``."""

    event_id: str
    run_id: str | None
    """The run it was delivered to; ``None`` when it is stored until a wait
    with its correlation key appears."""
    duplicate: bool = False
    """True when an event with this ``event_id`` was sent before; nothing
    was delivered again."""


@dataclass(frozen=True)
class Started:
    """What :meth:`~wfc.runtime.Engine.start_run` did."""

    run_id: str
    created: bool
    """True when this call created the run; false when a run with this id
    and the same inputs existed (started before, or by a concurrent call
    that committed first), and nothing was started."""


@dataclass(frozen=True)
class RunKey:
    """Where a page of runs ended, in the newest-first order of
    ``list_runs``: give it as ``after`` to get the next page. It holds the
    stored creation time exactly (a datetime would round it)."""

    created_at: float
    """The run's creation time, epoch seconds, as stored."""
    id: str


@dataclass(frozen=True)
class RunPage:
    """One page of runs from :meth:`~wfc.runtime.Engine.list_runs_page`."""

    runs: list[RunInfo]
    next: RunKey | None
    """Where the next page starts; ``None`` when this page is the last."""
