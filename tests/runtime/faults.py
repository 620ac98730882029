"""Fault injection for engine tests: a store whose commits fail on purpose.

:class:`FaultyStore` wraps a real, open :class:`~wfc.runtime.store.Store` and
hands everything to it, except that a commit can be made to fail: at chosen
points (:meth:`FaultyStore.fail`, optionally only for batches a predicate picks)
or at random ones (:meth:`FaultyStore.fail_randomly`, seeded and bounded). Give
it to the engine with ``Engine.open(url, store=FaultyStore(...))``.

The failures are real as far as the database is concerned: the fault is raised
inside the real store's transaction, after the engine queued its writes and
before they are committed, so the real store rolls back. Losing the connection
(PostgreSQL) is not simulated at all: the server ends the transaction's
session (``pg_terminate_backend``) and the real commit fails on its own.

- :attr:`Fault.DISK_FULL`: SQLite ``database or disk is full`` (SQLITE_FULL);
  PostgreSQL ``DiskFullError`` (SQLSTATE 53100).
- :attr:`Fault.IO_ERROR`: SQLite ``disk I/O error`` (SQLITE_IOERR);
  PostgreSQL ``PostgresIOError`` (SQLSTATE 58030).
- :attr:`Fault.CONNECTION_LOST`: PostgreSQL only.
- :attr:`Fault.CONFLICT`: the store's answer to another process having
  written the same rows first (:class:`~wfc.runtime.errors.StaleRunError`).
- :attr:`Fault.COMMIT_UNKNOWN`: PostgreSQL only: the commit goes through, then
  the connection drops before its reply arrives (the driver's
  ``ConnectionDoesNotExistError``), so the engine cannot tell it committed.

:meth:`FaultyStore.fail_polls` makes the background calls fail too
(heartbeats, claims of tasks and timers), with a full disk or an I/O error.
"""

from __future__ import annotations

import enum
import random
import sqlite3
from collections.abc import AsyncIterator, Callable, Collection
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Any

import anyio

from wfc.runtime.errors import StaleRunError
from wfc.runtime.store import (
    JournalFilter,
    JournalRecord,
    Store,
    StoreTransaction,
    TaskRecord,
    TimerRecord,
    WriteBatch,
)

BatchFilter = Callable[[WriteBatch], bool]


class Fault(enum.Enum):
    """What goes wrong at a commit."""

    DISK_FULL = "disk full"
    IO_ERROR = "I/O error"
    CONNECTION_LOST = "connection lost"
    COMMIT_UNKNOWN = "connection lost during the commit"
    CONFLICT = "another process wrote the same rows first"


@dataclass(frozen=True)
class Injected:
    """A commit that was made to fail."""

    fault: Fault
    runs: tuple[str, ...]
    """Runs whose writes the failed commit held."""
    journal: tuple[str, ...]
    """Kinds of the journal entries it held."""


@dataclass
class _Plan:
    fault: Fault
    times: int | None
    """Commits still to fail; ``None``: until cleared."""
    when: BatchFilter


def _any_batch(batch: WriteBatch) -> bool:
    return True


def journal_has(kind: str, node: str | None = None) -> BatchFilter:
    """A filter for batches with a journal entry of ``kind`` (at ``node``)."""

    def matches(batch: WriteBatch) -> bool:
        return any(j.kind == kind and (node is None or j.node == node) for j in batch.journal)

    return matches


class FaultyStore(Store):
    """A store whose commits fail where a test says."""

    def __init__(self, inner: Store, *, seed: int = 0) -> None:
        super().__init__(inner.dialect)  # reads, leases and errors go to the real store's dialect
        self.inner = inner
        self.injected: list[Injected] = []
        """Every fault injected so far, in order."""
        self.committed = 0
        """Commits with writes that went through."""
        self._plans: list[_Plan] = []
        self._random = random.Random(seed)
        self._probability = 0.0
        self._random_faults: tuple[Fault, ...] = ()
        self._random_left = 0
        self._admin: Any = None  # a PostgreSQL connection that ends other sessions
        self._poll_fault: Fault | None = None
        self._gate = anyio.Event()
        self._gate.set()
        self._held = 0
        self.failed_polls = 0
        """Heartbeats and claims that were made to fail."""
        self._changed = anyio.Event()
        self._history_gate = anyio.Event()
        self._history_gate.set()

    @property
    def postgres(self) -> bool:
        """True when the wrapped store is PostgreSQL."""
        return self.inner.dialect.name == "postgres"

    @property
    def faults(self) -> tuple[Fault, ...]:
        """The faults of the database this store can inject (a conflict,
        the store's own answer, is injected only when asked for)."""
        if self.postgres:
            return (Fault.DISK_FULL, Fault.IO_ERROR, Fault.CONNECTION_LOST, Fault.COMMIT_UNKNOWN)
        return (Fault.DISK_FULL, Fault.IO_ERROR)

    # ---------------------------------------------------------------- planning

    def fail(self, fault: Fault, times: int | None = None, when: BatchFilter = _any_batch) -> None:
        """Fail the next ``times`` commits (``None``: every commit until
        :meth:`clear`) whose batch ``when`` picks."""
        if fault not in self.faults and fault is not Fault.CONFLICT:
            raise ValueError(f"{fault.value} cannot be injected into {type(self.inner).__name__}")
        self._plans.append(_Plan(fault, times, when))

    def fail_randomly(self, probability: float, limit: int) -> None:
        """Fail each commit with ``probability`` (a fault drawn from
        :attr:`faults`), at most ``limit`` times; draws come from the seed."""
        self._probability = probability
        self._random_faults = self.faults
        self._random_left = limit

    def fail_polls(self, fault: Fault) -> None:
        """Fail every heartbeat and claim of tasks or timers until :meth:`clear`
        (a full disk or an I/O error)."""
        if fault not in (Fault.DISK_FULL, Fault.IO_ERROR):
            raise ValueError(f"polls fail only with a full disk or an I/O error, not {fault.value}")
        self._poll_fault = fault

    def hold(self) -> None:
        """Make transactions wait at their start until :meth:`release` (so
        the engine's commands queue up and the next commit takes them all)."""
        self._gate = anyio.Event()

    def release(self) -> None:
        """Let held transactions go on."""
        self._gate.set()

    async def holding(self, timeout: float = 10) -> None:
        """Wait until a transaction waits at the gate of :meth:`hold`."""
        with anyio.fail_after(timeout):
            while not self._held:
                await self._changed.wait()

    def hold_history(self) -> None:
        """Make reads of a run's journal wait until :meth:`release_history`
        (the engine reads it back to learn whether a commit whose outcome
        it did not see went through)."""
        self._history_gate = anyio.Event()

    def release_history(self) -> None:
        """Let held reads of a run's journal go on."""
        self._history_gate.set()

    def clear(self) -> None:
        """Stop failing: every commit and poll from now on goes through."""
        self._poll_fault = None
        self._plans.clear()
        self._probability = 0.0
        self._random_left = 0

    @property
    def random_faults_left(self) -> int:
        """How many more faults :meth:`fail_randomly` may inject."""
        return self._random_left

    async def injected_at_least(self, count: int, timeout: float = 10) -> None:
        """Wait until ``count`` faults were injected into commits in all."""
        with anyio.fail_after(timeout):
            while len(self.injected) < count:
                await self._changed.wait()

    async def polls_failed_at_least(self, count: int, timeout: float = 10) -> None:
        """Wait until ``count`` background calls failed in all."""
        with anyio.fail_after(timeout):
            while self.failed_polls < count:
                await self._changed.wait()

    def _due(self, batch: WriteBatch) -> Fault | None:
        """The fault to inject into the commit of ``batch``, if any."""
        if not batch:
            return None  # nothing to commit: the real store does not even begin
        for plan in self._plans:
            if plan.when(batch):
                if plan.times is not None:
                    plan.times -= 1
                    if plan.times <= 0:
                        self._plans.remove(plan)
                return plan.fault
        if self._random_left > 0 and self._random.random() < self._probability:
            self._random_left -= 1
            return self._random.choice(self._random_faults)
        return None

    # ---------------------------------------------------------------- transactions

    def transaction(
        self, *, pipelined: Callable[[], bool] | None = None
    ) -> AbstractAsyncContextManager[StoreTransaction]:
        return self._transaction(pipelined)

    @asynccontextmanager
    async def _transaction(self, pipelined: Callable[[], bool] | None) -> AsyncIterator[StoreTransaction]:
        if not self._gate.is_set():
            self._held += 1
            self._signal()
            await self._gate.wait()
            self._held -= 1
        # A fault is raised before a pipelined commit is queued, as before any commit.
        async with self.inner.transaction(pipelined=pipelined) as tx:
            yield tx
            fault = self._due(tx.batch)
            if fault is not None:
                self._note(fault, tx.batch)
                if fault is not Fault.COMMIT_UNKNOWN:
                    await self._inject(fault, tx)
        if tx.batch:
            self.committed += 1
        if fault is Fault.COMMIT_UNKNOWN:
            await self._lose_reply(tx)

    def _note(self, fault: Fault, batch: WriteBatch) -> None:
        self.injected.append(Injected(fault, tuple(sorted(batch.runs)), tuple(j.kind for j in batch.journal)))
        self._signal()

    def _signal(self) -> None:
        """Wake whoever waits for something to happen here."""
        self._changed.set()
        self._changed = anyio.Event()

    async def _inject(self, fault: Fault, tx: StoreTransaction) -> None:
        """Make the commit of ``tx`` fail (raises, except for a lost
        connection: then the real commit fails)."""
        if fault is Fault.CONNECTION_LOST:
            await self._end_session(tx)
            return
        raise self._error(fault)

    def _error(self, fault: Fault) -> Exception:
        """The error the driver raises for a full disk or an I/O error, or
        the store for a conflict with another process."""
        if fault is Fault.CONFLICT:
            return StaleRunError(["?"])
        if self.postgres:
            import asyncpg  # type: ignore[import-untyped]

            error: Exception
            if fault is Fault.DISK_FULL:
                error = asyncpg.DiskFullError('could not extend file "base/16384/16397": No space left on device')
            else:
                error = asyncpg.PostgresIOError('could not write to file "pg_wal/xlogtemp.42": Input/output error')
            return error
        if fault is Fault.DISK_FULL:
            return _sqlite_error("database or disk is full", 13, "SQLITE_FULL")
        return _sqlite_error("disk I/O error", 10, "SQLITE_IOERR")

    async def _poll(self) -> None:
        """Fail a background call (heartbeat, claims) while :meth:`fail_polls` says so."""
        if self._poll_fault is not None:
            self.failed_polls += 1
            self._signal()
            raise self._error(self._poll_fault)

    async def _lose_reply(self, tx: StoreTransaction) -> None:
        """The commit of ``tx`` went through, but the connection drops before
        its reply arrives: the driver raises as for any lost connection."""
        import asyncpg

        tx.connection.raw.terminate()  # type: ignore[attr-defined]
        raise asyncpg.ConnectionDoesNotExistError("connection was closed in the middle of operation")

    async def _end_session(self, tx: StoreTransaction) -> None:
        """Have the server end the session of ``tx`` in the middle of it."""
        import asyncpg

        conn = tx.connection.raw  # type: ignore[attr-defined]  # the transaction's own connection
        if self._admin is None:
            self._admin = await asyncpg.connect(self.inner.dialect.target.dsn)  # type: ignore[attr-defined]
        # The second argument makes the server wait until the session is gone.
        ended = await self._admin.fetchval("SELECT pg_terminate_backend($1, 5000)", conn.get_server_pid())
        assert ended, "the server did not end the transaction's session"

    # ---------------------------------------------------------------- polls that may fail; the rest is the real store's

    async def close(self) -> None:
        if self._admin is not None:
            await self._admin.close()
            self._admin = None
        await self.inner.close()

    async def history(
        self, run_id: str, after: int = 0, limit: int | None = None, where: JournalFilter | None = None
    ) -> list[JournalRecord]:
        await self._history_gate.wait()
        return await self.inner.history(run_id, after, limit, where)

    async def heartbeat(self, engine_id: str, now: float, lease: float) -> None:
        await self._poll()
        await self.inner.heartbeat(engine_id, now, lease)

    async def claim_tasks(
        self, engine_id: str, tasks: Collection[str], now: float, lease: float, limit: int
    ) -> list[TaskRecord]:
        await self._poll()
        return await self.inner.claim_tasks(engine_id, tasks, now, lease, limit)

    async def claim_timers(self, engine_id: str, now: float, lease: float, limit: int) -> list[TimerRecord]:
        await self._poll()
        return await self.inner.claim_timers(engine_id, now, lease, limit)


def _sqlite_error(message: str, code: int, name: str) -> sqlite3.OperationalError:
    """The error SQLite raises for ``code``, with the code set as SQLite sets it."""
    error = sqlite3.OperationalError(message)
    error.sqlite_errorcode = code
    error.sqlite_errorname = name
    return error
