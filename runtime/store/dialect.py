"""What a database dialect supplies to the store core (:mod:`.core`).

The core holds the SQL both databases share and the flow of every call; a
dialect supplies only what differs between them, the way SQLAlchemy's
dialects do: how statements reach the database (one worker thread for
SQLite, an asyncpg pool for PostgreSQL), a few SQL forms (lists of ids,
row locks, reading a flag out of the JSON state), how a transaction begins,
flushes its batch and commits, and the leases many processes need.

Shared statements are written with ``?`` placeholders; a dialect whose driver
numbers them (``$1``) rewrites them in :meth:`Dialect.fetch` and
:meth:`Connection.fetch_many`.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Collection, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any, ClassVar, Literal

from wfc.runtime.errors import DatabaseUrlError, StoreError
from wfc.runtime.store.base import TaskRecord, TimerRecord, WakeupHandler, WriteBatch
from wfc.runtime.store.rows import Row


def wait_seconds(location: str, value: str, where: str) -> float:
    """How long to wait for another process's lock, from a URL parameter or
    an environment variable (``where`` names it): 0 to a day, in seconds.

    Raises:
        DatabaseUrlError: anything else.
    """
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if not 0 <= seconds <= 86_400:  # also refuses nan
        raise DatabaseUrlError(location, f"{where}{value} is not a number of seconds between 0 and 86400; e.g. 30")
    return seconds

#: One statement and its parameters.
Statement = tuple[str, Sequence[Any]]
#: Correlated waits to forget: ``(run_id, thread)``, or ``(run_id, None)``
#: for every wait of the run.
Unwait = tuple[str, int | None]
#: How a dialect pipelines commits (see :meth:`Connection.pipeline`):
#: ``queued``, the next transaction's statements queue behind the commit on
#: the same connection and may build on what it writes; ``apart``, the next
#: transaction runs beside it on another connection and must not touch the
#: runs it writes.
Pipelining = Literal["queued", "apart"]


class Connection(abc.ABC):
    """A dialect's connection inside one write transaction. The transaction
    begins with the first statement; the dialect flushes :attr:`batch` and
    :attr:`unwaited` and commits when the transaction ends without error."""

    def __init__(self) -> None:
        self.batch = WriteBatch()
        self.unwaited: list[Unwait] = []
        """Waits to forget, queued by the core: sent with the next statement
        that touches waits (:meth:`drop_waits`) or with the flush."""

    @abc.abstractmethod
    async def fetch_many(self, statements: Sequence[Statement]) -> list[list[Row]]:
        """Run ``statements`` in order in the transaction (beginning it if
        needed), in as few trips to the database as the driver allows; the
        rows of each."""

    async def fetch(self, statement: str, params: Sequence[Any] = ()) -> list[Row]:
        """Run one statement in the transaction; its rows."""
        return (await self.fetch_many([(statement, params)]))[0]

    @abc.abstractmethod
    async def drop_waits(self, unwaited: Sequence[Unwait]) -> None:
        """Delete the correlated waits ``unwaited`` now."""

    def pipeline(self, early: Callable[[], bool]) -> None:
        """Where the dialect pipelines (:attr:`Dialect.pipelining`): let
        this transaction's block end before its commit did when ``early()``,
        asked at the end, says so (nothing else to do meanwhile: false). The
        commit's error is raised by :meth:`settled` either way. Elsewhere
        nothing: the transaction commits when its block ends."""
        del early

    async def settled(self) -> None:
        """Wait for the commit of a pipelined transaction; raise its error
        if it failed. At once for any other: it committed when its block
        ended."""
        return

    async def lock_key(self, event: str, correlation: str) -> None:
        """Make waits and sends of one ``(event, correlation)`` take turns
        until the transaction ends, where other processes may write them at
        the same time. A database with one writer needs nothing."""
        del event, correlation


class Dialect(abc.ABC):
    """One kind of database behind the store core."""

    #: The migration folder (``migrations/<name>``) and the dialect's name.
    name: ClassVar[str]
    #: Where the data lives, for messages.
    location: str
    #: True when many processes may serve the database at once: then an
    #: engine starts only as many attempts as it has room for and leaves the
    #: rest for any worker, and timers are leased before they fire.
    shared: ClassVar[bool] = False
    #: How commits are pipelined (see :data:`Pipelining`); ``None``: never.
    pipelining: ClassVar[Pipelining | None] = None
    #: Opened for reading only: writes raise ReadOnlyDatabaseError.
    read_only: bool = False

    # ---------------------------------------------------------------- SQL forms

    #: Appended to a locking read of runs: ``" FOR UPDATE"`` where other
    #: processes write the same rows.
    lock_rows: ClassVar[str] = ""
    #: A boolean SQL expression: the run's state says a compensation failed.
    compensation_failed: ClassVar[str]
    #: Appended to a text column to compare it by code point (the order of
    #: Python's ``str``), whatever the database's collation.
    code_point_order: ClassVar[str] = ""
    #: A text SQL expression over a ``runs`` row: its ``run_threads`` rows as
    #: the members of a JSON object (``"0":{...},"1":{...}``) by thread
    #: number, NULL when it has none.
    thread_states: ClassVar[str]
    #: The planner weighs a range of a parameter by the column's statistics
    #: (PostgreSQL). SQLite does not: it reads ``updated_after`` along the
    #: newest-first index even when few runs match, so the store looks first
    #: (see :meth:`~.core.Store.list_runs`).
    estimates_ranges: ClassVar[bool] = False
    #: Most ids one statement may list (:meth:`any_of`); ``None``: no limit.
    max_ids: ClassVar[int | None] = None

    @abc.abstractmethod
    def any_of(self, column: str, values: Sequence[Any]) -> Statement:
        """A condition ``column`` is one of ``values``, and its parameters."""

    def any_timer_of(self, timers: Sequence[tuple[str, int]]) -> Statement:
        """A condition a ``timers`` row is one of ``timers`` (``(run_id,
        timer)`` keys, at most :attr:`max_ids` of them), and its parameters."""
        rows = ",".join(["(?, ?)"] * len(timers))
        return f"(run_id, timer) IN (VALUES {rows})", [value for key in timers for value in key]

    # ---------------------------------------------------------------- statements

    @abc.abstractmethod
    async def fetch(self, statement: str, params: Sequence[Any] = ()) -> list[Row]:
        """Run one read outside any write transaction; its rows."""

    @abc.abstractmethod
    def transaction(self) -> AbstractAsyncContextManager[Connection]:
        """A write transaction: flushes the connection's batch and commits
        on normal exit, rolls back on an exception. Write transactions are
        serialized."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Release connections."""

    def interrupt(self) -> None:  # noqa: B027  (a hook: most stores have nothing to cut short)
        """See :meth:`~wfc.runtime.store.Store.interrupt`; nothing to cut
        short by default."""

    # ---------------------------------------------------------------- errors

    def is_transient(self, error: Exception) -> bool:
        """See :meth:`~wfc.runtime.store.Store.is_transient`."""
        return False

    def explain(self, error: Exception) -> str:
        """See :meth:`~wfc.runtime.store.Store.explain`."""
        return f"{type(error).__name__}: {error}"

    def named_error(self, error: Exception) -> StoreError | None:
        """The error with its own class (locked, read-only, damaged...) that
        a failed commit raises instead of the generic one, if any."""
        del error
        return None

    # ---------------------------------------------------------------- leases

    @abc.abstractmethod
    async def register_engine(
        self, engine_id: str, host: str, pid: int, now: float, lease: float, tasks: Sequence[str] = ()
    ) -> None:
        """See :meth:`~wfc.runtime.store.Store.register_engine`."""

    @abc.abstractmethod
    async def heartbeat(self, engine_id: str, now: float, lease: float) -> None:
        """See :meth:`~wfc.runtime.store.Store.heartbeat`."""

    @abc.abstractmethod
    async def claim_tasks(
        self, engine_id: str, tasks: Collection[str], now: float, lease: float, limit: int
    ) -> list[TaskRecord]:
        """See :meth:`~wfc.runtime.store.Store.claim_tasks`."""

    @abc.abstractmethod
    async def release_engine(self, engine_id: str) -> None:
        """See :meth:`~wfc.runtime.store.Store.release_engine`."""

    async def claim_timers(self, engine_id: str, now: float, lease: float, limit: int) -> list[TimerRecord] | None:
        """Lease due timers, where timers are leased; ``None`` where they are
        not (then the core returns every due timer)."""
        del engine_id, now, lease, limit
        return None

    async def reap_engines(self, now: float, lease: float) -> int:
        """See :meth:`~wfc.runtime.store.Store.reap_engines`."""
        del now, lease
        return 0

    async def writes_elsewhere(self, *, wait: bool = True) -> int | None:
        """See :meth:`~wfc.runtime.store.Store.writes_elsewhere`."""
        del wait
        return None

    def subscribe(self, handler: WakeupHandler) -> None:
        """See :meth:`~wfc.runtime.store.Store.subscribe`."""
        del handler
