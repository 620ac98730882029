"""The records a store reads and writes, and the writes a transaction queues.

One write path: the engine opens a transaction (:mod:`.core`), reads what it
needs, queues writes in its :class:`WriteBatch` and commits, so a run's new
state, its journal entries and its outbox rows (task dispatches, timers) are
durable together or not at all. Many runs' transitions share one transaction:
that is what makes the engine faster than one commit per step.

Records are msgspec Structs, not dataclasses: a dataclass costs about a
millisecond to define (its methods are compiled from source at import), and
``wfc runs list`` imports this module.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Final

import msgspec

from wfc.specs.limits import MAX_INT

#: The format of the run state this wfc writes (``runs.state_format``). Bump
#: it when the state encoding changes so that an older wfc would misread what
#: this one writes; an engine refuses a run stored in a newer format than it
#: knows (:class:`~wfc.runtime.errors.NewerRunStateError`) instead of guessing.
#: Rows written before the column existed read as format 1. Format 2: the
#: run's thread runs may live in ``run_threads`` rows (one per thread, only
#: the changed ones written per commit) instead of ``runs.state``.
STATE_FORMAT: Final = 2


class SpecRecord(msgspec.Struct, frozen=True):
    """A deployed spec version."""

    name: str
    major: int
    revision: int
    hash: str
    body: bytes
    """Canonical JSON of the spec."""
    deployed_at: float


class RunRecord(msgspec.Struct, frozen=True):
    """A run's row."""

    id: str
    workflow: str
    major: int
    revision: int
    status: str
    version: int
    """Optimistic concurrency counter, +1 per committed transition."""
    state: bytes
    """The whole run state, its threads included (read back from
    ``run_threads`` where they are stored apart)."""
    created_at: float
    updated_at: float
    state_format: int = STATE_FORMAT
    """The format ``state`` is written in (see :data:`STATE_FORMAT`)."""
    threads_apart: bool = False
    """The threads were stored in ``run_threads`` rows: a write may then
    send only the threads that changed (see :attr:`RunWrite.threads`)."""


class RunVersion(msgspec.Struct, frozen=True):
    """The identity columns of a run row, without its state."""

    id: str
    workflow: str
    major: int
    revision: int
    status: str
    version: int


class JournalRecord(msgspec.Struct, frozen=True):
    """One journal row; ``detail`` is JSON."""

    run_id: str
    seq: int
    at: float
    thread: int
    node: str | None
    kind: str
    attempt: int | None
    detail: bytes


class TaskRecord(msgspec.Struct, frozen=True):
    """An outbox row: one task attempt to run."""

    dispatch_id: str
    run_id: str
    workflow: str
    thread: int
    node: str
    task: str
    args: bytes
    """JSON list of positional arguments."""
    attempt: int
    idempotency_key: str
    timeout: float | None
    created_at: float
    lease_owner: str | None = None
    lease_expires_at: float | None = None
    fresh: bool = False
    """Set by a claim when no process ever leased this attempt before (a
    dispatch left for any worker): the claimer may start it as it is, without
    delivering it again through the run."""


class TimerRecord(msgspec.Struct, frozen=True):
    """A durable timer."""

    run_id: str
    timer: int
    due_at: float


class EventRecord(msgspec.Struct, frozen=True):
    """A stored event."""

    seq: int
    event_id: str
    name: str
    correlation: str | None
    payload: bytes
    run_id: str | None
    created_at: float


class EngineRecord(msgspec.Struct, frozen=True):
    """A serving engine registered on the database (client engines, which
    run nothing, do not register)."""

    id: str
    host: str
    pid: int
    started_at: float
    heartbeat_at: float
    tasks: tuple[str, ...] = ()
    """The tasks it runs (empty for engines registered before schema 8)."""

    def alive(self, now: float, lease: float, host: str) -> bool:
        """Whether the engine still serves: a heartbeat within ``lease``, and,
        on ``host`` (this machine), its process still exists. The rule the
        stores apply when they reap engines that are gone."""
        if self.host == host and not process_alive(self.pid):
            return False
        return self.heartbeat_at >= now - lease


def process_alive(pid: int) -> bool:
    """Whether process ``pid`` exists on this machine."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, run by another user
    return True


class Wakeup(msgspec.Struct, frozen=True):
    """Another process changed something this one may act on (a hint: what
    it says is read from the database again)."""

    kind: str
    """``"tasks"``: task attempts nobody holds were dispatched or released
    (``names`` are the task names); ``"timers"``: timers were set;
    ``"runs"``: runs changed (``names`` are their ids); ``"ended"``: of
    those, the runs the change finished; ``"specs"``: new
    versions of workflows were deployed (``names``)."""
    names: tuple[str, ...] = ()
    sender: int = 0
    """Who sent it: the server process of the sender's session (PostgreSQL's
    backend pid), ``0`` when unknown."""


WakeupHandler = Callable[[Wakeup], None]


class RunWrite(msgspec.Struct):
    """New state of a run; ``expected_version`` is ``None`` for a new run."""

    id: str
    workflow: str
    major: int
    revision: int
    status: str
    state: bytes
    """The run state; without its threads where :attr:`threads` has them."""
    created_at: float
    updated_at: float
    expected_version: int | None
    state_format: int = STATE_FORMAT
    """The format ``state`` is written in (see :data:`STATE_FORMAT`)."""
    threads: dict[int, bytes] | None = None
    """Thread runs to store in ``run_threads`` (JSON, by thread number):
    every thread when the run's threads are not stored apart yet, else only
    those that changed; :attr:`state` then leaves the threads out. ``None``:
    :attr:`state` holds every thread, and the run's ``run_threads`` rows go."""
    trace: str | None = None
    """A new run's trace context (a W3C traceparent, see migration 6)."""
    search: dict[str, str | None] | None = None
    """Rows of ``run_search`` to write, by variable name: the indexed text
    (see :mod:`wfc.runtime._search`), or ``None`` to delete the row."""
    needs_attention: bool = False
    """FAILED with a compensation that failed after its retries (the
    ``runs.needs_attention`` column)."""
    migrated: bool = False
    """The run moved to another version of its workflow in this
    transaction (``wfc migrate apply``): :attr:`major` and :attr:`revision`
    are written too."""
    finished: bool = False
    """:attr:`status` is a terminal one: the run ended (told to the other
    processes, where callers may wait for its end)."""
    status_changed: bool = True
    """:attr:`status` may differ from the stored one (false: the run's
    transitions in this transaction all left it as it was): SQLite then
    leaves the column, and the index on it, alone."""


class UserTaskRecord(msgspec.Struct, frozen=True):
    """A ``user_tasks`` row: where a user task is now (the inbox and the
    lookup of a task's run). Written from the interpreter's
    ``UserTaskChanged`` effects by the commit of the run."""

    id: str
    run_id: str
    workflow: str
    major: int
    revision: int
    thread: int
    node: str
    form: str
    """Name of its form in the run's spec (``WorkflowSpec.forms``)."""
    status: str
    """``UNASSIGNED``, ``ASSIGNED``, ``DONE`` or ``CANCELLED``."""
    user: str | None
    group: str | None
    notes: str | None
    created_at: float
    updated_at: float
    body: bytes = b"{}"
    """JSON: ``values`` (what it was completed with), ``by`` (who made the
    last change), ``completed_by``."""


class UserTaskFilter(msgspec.Struct, frozen=True):
    """Which user tasks :meth:`~wfc.runtime.store.Store.list_user_tasks`
    returns, oldest first (``created_at``, then ``id``); every criterion
    given must hold."""

    statuses: tuple[str, ...] = ()
    """Any of these statuses; empty: any status."""
    user: str | None = None
    group: str | None = None
    run_id: str | None = None
    limit: int = 100
    after: tuple[float, str] | None = None
    """Keyset paging: only tasks after this ``(created_at, id)``."""


class StuckWindow(msgspec.Struct, frozen=True):
    """Which runs count as stuck: owed progress for more than ``seconds`` at
    ``now`` (see :mod:`~wfc.runtime.store.stuck`)."""

    now: float
    """Epoch seconds."""
    seconds: float

    @property
    def cutoff(self) -> float:
        """What was owed before this epoch second and is still not done makes a run stuck."""
        return self.now - self.seconds


class RunFilter(msgspec.Struct, frozen=True):
    """Which runs :meth:`~wfc.runtime.store.Store.list_runs` returns, newest
    first; every criterion given must hold."""

    statuses: tuple[str, ...] = ()
    """Any of these statuses, each kept once; empty: any status."""
    workflow: str | None = None
    """Runs of this workflow only."""
    started_after: float | None = None
    """Runs created at or after this epoch second."""
    started_before: float | None = None
    """Runs created before this epoch second."""
    needs_attention: bool | None = None
    """``True``: only the runs someone must look at (FAILED with
    ``"compensation_failed": true`` in their state); ``False``: only the
    others; ``None``: both."""
    limit: int | None = None
    """At most this many runs; ``None``: all."""
    major: int | None = None
    """Runs started on this major version only."""
    revision: int | None = None
    """With ``major``: runs started on this revision only."""
    updated_after: float | None = None
    """Runs last changed at or after this epoch second."""
    updated_before: float | None = None
    """Runs last changed before this epoch second (a run is changed no
    earlier than it was created, so this bounds ``created_at`` too)."""
    after: tuple[float, str] | None = None
    """Keyset paging: only runs after this ``(created_at, id)`` in the
    newest-first order, i.e. the key of the last run of the previous page."""
    stuck: StuckWindow | None = None
    """Only the runs stuck in this window (see :mod:`~wfc.runtime.store.stuck`)."""

    search: tuple[tuple[str, tuple[str, ...]], ...] = ()
    """Runs whose searchable variable (the name) has one of these indexed
    values (see :mod:`wfc.runtime._search`), for every name given."""

    def __post_init__(self) -> None:
        # Each status once, first given first: the store reads one index range
        # per status and merges them, so a status given twice (``--status
        # failed --status failed``, ``?status=FAILED&status=FAILED``) would
        # list each of its runs twice.
        if len(self.statuses) > 1:
            msgspec.structs.force_setattr(self, "statuses", distinct(self.statuses))
        if self.limit is not None and self.limit > MAX_INT:
            # More than a database counts (a bigint) is all the runs; bound as it is, an OverflowError.
            msgspec.structs.force_setattr(self, "limit", MAX_INT)


def distinct(values: tuple[str, ...]) -> tuple[str, ...]:
    """``values`` without repeats, in the order each first appears."""
    return tuple(dict.fromkeys(values))


class JournalFilter(msgspec.Struct, frozen=True):
    """Which journal rows of one run :meth:`~wfc.runtime.store.Store.history`
    returns, in order; every criterion given must hold."""

    kinds: tuple[str, ...] = ()
    """Any of these kinds; empty: any kind."""
    node: str | None = None
    """Rows of this node only."""
    thread: int | None = None
    """Rows of this thread only."""


class WriteBatch(msgspec.Struct):
    """Writes queued in a transaction and flushed together at commit.

    Task and timer writes are keyed, so the last write to a row in one batch
    wins (a timer set and cancelled in the same batch is never written).
    """

    runs: dict[str, RunWrite] = msgspec.field(default_factory=dict)
    journal: list[JournalRecord] = msgspec.field(default_factory=list)
    tasks: dict[str, TaskRecord | None] = msgspec.field(default_factory=dict)
    """Outbox rows to upsert, or ``None`` to delete, by dispatch id."""
    timers: dict[tuple[str, int], TimerRecord | None] = msgspec.field(default_factory=dict)
    """Timers to insert, or ``None`` to delete, by ``(run_id, timer)``."""
    user_tasks: dict[str, UserTaskRecord] = msgspec.field(default_factory=dict)
    """``user_tasks`` rows to upsert, by id (the last change of a task in
    the batch wins)."""
    deployed: set[str] = msgspec.field(default_factory=set)
    """Workflows of which the transaction stored a new spec version (told
    to the other processes, which keep the list of versions)."""

    def put_task(self, record: TaskRecord) -> None:
        """Upsert an outbox row (a new dispatch, or a lease taken again)."""
        self.tasks[record.dispatch_id] = record

    def drop_task(self, dispatch_id: str) -> None:
        """Delete an outbox row (attempt finished or abandoned)."""
        self.tasks[dispatch_id] = None

    def put_timer(self, record: TimerRecord) -> None:
        """Insert a timer."""
        self.timers[(record.run_id, record.timer)] = record

    def drop_timer(self, run_id: str, timer: int) -> None:
        """Delete a timer."""
        self.timers[(run_id, timer)] = None

    def __bool__(self) -> bool:
        return bool(self.runs or self.journal or self.tasks or self.timers or self.user_tasks)


#: The columns of ``user_tasks``, in the order of :func:`user_task_row`.
USER_TASK_COLUMNS: Final = (
    "id, run_id, workflow, major, revision, thread, node, form, status, user_id, user_group, notes, "
    "created_at, updated_at, body"
)
#: What an upsert of a ``user_tasks`` row changes (the rest never changes;
#: the version and node change when the run is migrated to another version).
USER_TASK_UPDATES: Final = (
    "status = excluded.status, user_id = excluded.user_id, user_group = excluded.user_group, "
    "notes = excluded.notes, updated_at = excluded.updated_at, body = excluded.body, "
    "major = excluded.major, revision = excluded.revision, node = excluded.node"
)


def user_task_row(t: UserTaskRecord) -> tuple[str, str, str, int, int, int, str, str, str, str | None, str | None,
                                             str | None, float, float, str]:  # fmt: skip
    """The column values of a ``user_tasks`` row, in :data:`USER_TASK_COLUMNS` order."""
    return (t.id, t.run_id, t.workflow, t.major, t.revision, t.thread, t.node, t.form, t.status, t.user, t.group,
            t.notes, t.created_at, t.updated_at, t.body.decode())  # fmt: skip


def search_rows(batch: WriteBatch) -> tuple[list[tuple[str, str, str, float]], list[tuple[str, str]]]:
    """The batch's ``run_search`` writes: rows to upsert ``(run_id, key,
    value, run_created)``, and ``(run_id, key)`` rows to delete."""
    puts: list[tuple[str, str, str, float]] = []
    drops: list[tuple[str, str]] = []
    for run in batch.runs.values():
        if run.search:
            for key, value in run.search.items():
                if value is None:
                    drops.append((run.id, key))
                else:
                    puts.append((run.id, key, value, run.created_at))
    return puts, drops
