"""The storage interface every backend implements, and its records.

One write path: the engine opens a :class:`StoreTransaction`, reads what it
needs, queues writes in its :class:`WriteBatch` and commits, so a run's new
state, its journal entries and its outbox rows (task dispatches, timers) are
durable together or not at all. Many runs' transitions share one transaction:
that is what makes the engine faster than one commit per step.

Backends: SQLite (one writer process) and PostgreSQL (many processes on many
machines: ``FOR UPDATE SKIP LOCKED`` claims under leases, ``runs.version``
checks, ``LISTEN/NOTIFY`` wakeups), with the same interface.
"""

from __future__ import annotations

import abc
import os
from collections.abc import Callable, Collection, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field

import msgspec

from wfc.runtime.errors import StoreError


@dataclass(frozen=True)
class SpecRecord:
    """A deployed spec version."""

    name: str
    major: int
    revision: int
    hash: str
    body: bytes
    """Canonical JSON of the spec."""
    deployed_at: float


@dataclass(frozen=True)
class RunRecord:
    """A run's row."""

    id: str
    workflow: str
    major: int
    revision: int
    status: str
    version: int
    """Optimistic concurrency counter, +1 per committed transition."""
    state: bytes
    created_at: float
    updated_at: float


@dataclass(frozen=True)
class RunVersion:
    """The identity columns of a run row, without its state."""

    id: str
    workflow: str
    major: int
    revision: int
    status: str
    version: int


@dataclass(frozen=True)
class JournalRecord:
    """One journal row; ``detail`` is JSON."""

    run_id: str
    seq: int
    at: float
    thread: int
    node: str | None
    kind: str
    attempt: int | None
    detail: bytes


@dataclass(frozen=True)
class TaskRecord:
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


@dataclass(frozen=True)
class TimerRecord:
    """A durable timer."""

    run_id: str
    timer: int
    due_at: float


@dataclass(frozen=True)
class EventRecord:
    """A stored event."""

    seq: int
    event_id: str
    name: str
    correlation: str | None
    payload: bytes
    run_id: str | None
    created_at: float


@dataclass(frozen=True)
class EngineRecord:
    """A serving engine registered on the database (client engines, which
    run nothing, do not register)."""

    id: str
    host: str
    pid: int
    started_at: float
    heartbeat_at: float

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


@dataclass(frozen=True)
class Wakeup:
    """Another process changed something this one may act on (a hint: what
    it says is read from the database again)."""

    kind: str
    """``"tasks"``: task attempts nobody holds were dispatched or released
    (``names`` are the task names); ``"timers"``: timers were set;
    ``"runs"``: runs changed (``names`` are their ids)."""
    names: tuple[str, ...] = ()


WakeupHandler = Callable[[Wakeup], None]


class _Flag(msgspec.Struct):
    compensation_failed: bool = False


_FLAG = msgspec.json.Decoder(_Flag)


def _flagged(state: bytes) -> bool:
    """True when a stored run state says a compensation failed."""
    return _FLAG.decode(state).compensation_failed


@dataclass(frozen=True)
class RunWrite:
    """New state of a run; ``expected_version`` is ``None`` for a new run."""

    id: str
    workflow: str
    major: int
    revision: int
    status: str
    state: bytes
    created_at: float
    updated_at: float
    expected_version: int | None


@dataclass
class WriteBatch:
    """Writes queued in a transaction and flushed together at commit.

    Task and timer writes are keyed, so the last write to a row in one batch
    wins (a timer set and cancelled in the same batch is never written).
    """

    runs: dict[str, RunWrite] = field(default_factory=dict)
    journal: list[JournalRecord] = field(default_factory=list)
    tasks: dict[str, TaskRecord | None] = field(default_factory=dict)
    """Outbox rows to upsert, or ``None`` to delete, by dispatch id."""
    timers: dict[tuple[str, int], TimerRecord | None] = field(default_factory=dict)
    """Timers to insert, or ``None`` to delete, by ``(run_id, timer)``."""

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
        return bool(self.runs or self.journal or self.tasks or self.timers)


class StoreTransaction(abc.ABC):
    """One write transaction. Reads see its own immediate writes; queued
    writes in :attr:`batch` are flushed at commit."""

    batch: WriteBatch

    @abc.abstractmethod
    async def run_versions(self, run_ids: Collection[str]) -> dict[str, RunVersion]:
        """Identity and version of the given runs that exist."""

    @abc.abstractmethod
    async def load_runs(self, run_ids: Collection[str]) -> dict[str, RunRecord]:
        """Full rows of the given runs that exist."""

    @abc.abstractmethod
    async def get_spec(self, name: str, major: int, revision: int) -> SpecRecord | None:
        """One deployed spec version."""

    @abc.abstractmethod
    async def insert_spec(self, record: SpecRecord) -> None:
        """Store a new spec version."""

    @abc.abstractmethod
    async def find_event(self, event_id: str) -> EventRecord | None:
        """A stored event by its id."""

    @abc.abstractmethod
    async def insert_event(
        self, event_id: str, name: str, correlation: str | None, payload: bytes, run_id: str | None, now: float
    ) -> EventRecord:
        """Store an event, delivered to ``run_id`` or (``None``) pending."""

    @abc.abstractmethod
    async def find_waiter(self, event: str, correlation: str) -> tuple[str, int] | None:
        """``(run_id, thread)`` of the longest-waiting correlated wait."""

    @abc.abstractmethod
    async def put_wait(self, run_id: str, thread: int, event: str, correlation: str, now: float) -> None:
        """Record that a thread waits for a correlated event."""

    @abc.abstractmethod
    async def drop_waits(self, run_id: str, thread: int | None = None) -> None:
        """Forget one thread's correlated wait, or all of a run's."""

    @abc.abstractmethod
    async def claim_event(self, event: str, correlation: str, run_id: str, now: float) -> EventRecord | None:
        """Give the oldest pending event with this name and key to ``run_id``."""

    @abc.abstractmethod
    async def take_timer(self, run_id: str, timer: int) -> bool:
        """Delete a timer; false when it was already gone (fired elsewhere or
        cancelled), in which case the firing must be ignored."""


class Store(abc.ABC):
    """A wfc database."""

    #: Where the data lives, for messages.
    location: str
    #: True when many processes may serve the database at once: then an
    #: engine starts only as many attempts as it has room for and leaves the
    #: rest for any worker, and timers are leased before they fire.
    shared: bool = False

    @abc.abstractmethod
    def transaction(self) -> AbstractAsyncContextManager[StoreTransaction]:
        """A write transaction: commits (with the batch) on normal exit, rolls
        back on an exception. Write transactions are serialized."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Release connections."""

    def is_transient(self, error: Exception) -> bool:
        """True when ``error`` is the database's trouble, not the data's: it
        may go away by itself or once someone fixes the environment (database
        busy, disk full, I/O error, connection lost), so the work that hit it
        is worth trying again. False for an error the same writes would hit
        again (a value the database refuses)."""
        return False

    def explain(self, error: Exception) -> str:
        """What the driver error ``error`` means and what to do about it,
        for messages (without the database's location)."""
        return f"{type(error).__name__}: {error}"

    def commit_failed(self, error: Exception) -> StoreError:
        """The error a caller gets when the commit of its call failed with
        the driver error ``error``."""
        message = f"could not commit: {self.explain(error)}"
        if self.is_transient(error):
            message += (
                "; call again once that is fixed (a start() with the same run_id or a send_event() with the "
                "same event_id never applies twice)"
            )
        return StoreError(self.location, message)

    # ---------------------------------------------------------------- reads

    @abc.abstractmethod
    async def get_spec(self, name: str, major: int, revision: int) -> SpecRecord | None:
        """One deployed spec version."""

    @abc.abstractmethod
    async def list_specs(self, name: str | None = None) -> list[SpecRecord]:
        """Deployed specs, by name then version."""

    @abc.abstractmethod
    async def get_run(self, run_id: str) -> RunRecord | None:
        """A run's row."""

    @abc.abstractmethod
    async def list_runs(
        self,
        statuses: Sequence[str] | None,
        workflow: str | None,
        started_after: float | None,
        started_before: float | None,
        limit: int | None,
    ) -> list[RunRecord]:
        """Runs, newest first."""

    async def list_runs_by_attention(
        self,
        needs_attention: bool,
        statuses: Sequence[str] | None,
        workflow: str | None,
        started_after: float | None,
        started_before: float | None,
        limit: int | None,
    ) -> list[RunRecord]:
        """Like :meth:`list_runs`, keeping only runs that need someone
        (``needs_attention``: FAILED with ``"compensation_failed": true`` in
        their state) or only the others. This default filters
        :meth:`list_runs` in Python; stores override it with a query."""
        found = []
        for record in await self.list_runs(statuses, workflow, started_after, started_before, None):
            flagged = record.status == "FAILED" and _flagged(record.state)
            if flagged == needs_attention:
                found.append(record)
                if limit is not None and len(found) >= limit:
                    break
        return found

    @abc.abstractmethod
    async def history(self, run_id: str, after: int = 0, limit: int | None = None) -> list[JournalRecord]:
        """Journal rows of a run with ``seq > after``, in order."""

    @abc.abstractmethod
    async def due_timers(self, now: float, limit: int) -> list[TimerRecord]:
        """Timers due at ``now``, earliest first."""

    @abc.abstractmethod
    async def next_timer_due(self) -> float | None:
        """When the earliest timer is due."""

    @abc.abstractmethod
    async def pending_events(self, limit: int = 100) -> list[EventRecord]:
        """Events stored for a correlated wait that has not come yet."""

    # ---------------------------------------------------------------- leases

    @abc.abstractmethod
    async def register_engine(self, engine_id: str, host: str, pid: int, now: float, lease: float) -> None:
        """Record a live engine; release the leases of engines that are gone
        (a dead process on this host, or a heartbeat older than ``lease``)."""

    @abc.abstractmethod
    async def heartbeat(self, engine_id: str, now: float, lease: float) -> None:
        """Extend the leases of this engine's tasks."""

    @abc.abstractmethod
    async def claim_tasks(
        self, engine_id: str, tasks: Collection[str], now: float, lease: float, limit: int
    ) -> list[TaskRecord]:
        """Lease outbox rows of the given tasks that nobody holds."""

    @abc.abstractmethod
    async def release_engine(self, engine_id: str) -> None:
        """Give up this engine's leases (clean shutdown)."""

    async def claim_timers(self, engine_id: str, now: float, lease: float, limit: int) -> list[TimerRecord]:
        """Due timers for this engine to fire, earliest first. A shared store
        leases them so that one process fires each; by default every due timer
        is returned (the firing transaction deletes it, so it fires once)."""
        return await self.due_timers(now, limit)

    async def list_engines(self) -> list[EngineRecord]:
        """The serving engines registered on the database, live or not yet
        reaped (see :meth:`EngineRecord.alive`). A store that does not track
        engines has none."""
        return []

    async def reap_engines(self, now: float, lease: float) -> int:
        """Release the leases of engines that are gone; the number reaped. A
        single-process store does this in :meth:`register_engine` only."""
        return 0

    def subscribe(self, handler: WakeupHandler) -> None:
        """Call ``handler`` (in the event loop) when another process leaves
        work or changes runs. By default nothing calls it: polling finds all."""
        del handler
