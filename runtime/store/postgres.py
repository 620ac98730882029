"""The PostgreSQL dialect: one database shared by any number of engines and
workers on any number of machines.

Coordination is PostgreSQL's own, no home-made consensus:

- A transition is committed by exactly one process. A transaction locks the
  rows of the runs it reads (``FOR UPDATE``, in id order), so a second process
  advancing the same run waits and then reads the new state; the update
  still names the version it read (``WHERE version = $n``) and a mismatch
  rolls the whole transaction back as a :class:`StaleRunError`, which the
  engine retries on fresh state. Deadlocks and unique violations (two
  processes starting the same run id) are conflicts too.
- Task attempts and due timers are claimed with ``FOR UPDATE SKIP LOCKED``
  under leases that the owner's heartbeat extends. An engine whose heartbeat
  stopped, or whose PostgreSQL session ended (a SIGKILLed process's session
  ends at once), is reaped by any other engine and its leases released.
- Correlated waits and events meet under a transaction-scoped advisory lock
  on ``(event, correlation)``, so an event sent while a run starts waiting
  for it is never missed by both.
- ``LISTEN/NOTIFY`` wakes idle processes (see :mod:`.postgres_session`);
  polling stays as the fallback.

The write path of a transaction is a few round trips: ``BEGIN``, the locked
read of the runs, every queued write in one statement (data-modifying CTEs
over ``unnest`` arrays), ``COMMIT``.

A statement may wait up to the lock wait (``lock_timeout``) for a lock another
session holds. Nothing holds a cancellation off for that long: a statement
cancelled before ``COMMIT`` is cancelled on the server too (asyncpg sends a
cancel request) and its transaction rolled back, and :func:`interrupt_statements`
(Ctrl-C or SIGTERM in the command line) has the server cancel every
statement the process's stores are waiting for, so the transactions fail
with nothing written and the engine closes at once. A ``COMMIT`` is never
abandoned halfway: cancelled, the server is asked to cancel it and its
answer is awaited, so it is known either committed or rolled back.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import re
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from types import TracebackType
from typing import Any, ClassVar, Final, TypeVar

import anyio
import msgspec

from wfc.runtime.errors import DatabaseLockedError, ReadOnlyDatabaseError, StaleRunError, StoreError
from wfc.runtime.store import postgres_sql as sql
from wfc.runtime.store import rows as decode
from wfc.runtime.store.base import TaskRecord, TimerRecord, WakeupHandler, WriteBatch
from wfc.runtime.store.core import Store
from wfc.runtime.store.dialect import Connection, Dialect, Pipelining, Statement, Unwait
from wfc.runtime.store.postgres_session import Session
from wfc.runtime.store.postgres_setup import (
    LOCK_CLASS,
    PgTarget,
    asyncpg_module,
    connect,
    connect_error,
    environment_error,
    migrate,
    parse_url,
)
from wfc.runtime.store.rows import Row

_WRITERS: Final = 2
"""Writer connections: one for the transaction being built, one for the
commit of the transaction before, still on its way (pipelined)."""
_MARK: Final = re.compile(r"\?")
#: Seconds a statement begun after :func:`interrupt_statements` may wait (for
#: a lock another session holds) before it is cancelled too: what a closing
#: engine still writes (its leases given back) goes through, a wait does not.
_HURRY: Final = 0.5
#: Seconds to reach the server to cancel statements; past them a statement
#: not yet at ``COMMIT`` is cut off with its connection instead.
_CANCEL_WAIT: Final = 3.0
_CANCEL: Final = "SELECT pg_cancel_backend(pid) FROM unnest($1::int4[]) AS pid"
_T = TypeVar("_T")
log = logging.getLogger("wfc.runtime")
_OPEN: weakref.WeakSet[PostgresDialect] = weakref.WeakSet()
"""Every PostgreSQL store open in this process, for :func:`interrupt_statements`."""


def interrupt_statements() -> None:
    """Cut short what every PostgreSQL store open in this process waits for
    (call it on the event loop's thread): the server cancels each statement
    running now, and any begun later that takes longer than half a second, so a
    statement waiting for a lock another session holds fails at once
    instead of at the end of the lock wait. A transaction hit by it is
    rolled back, nothing of it written; a ``COMMIT`` hit by it either
    committed or rolled back, and its caller told which. The command line
    calls it on Ctrl-C and SIGTERM, before the command is cancelled: the
    engine closing then need not wait for its commit loop."""
    for dialect in list(_OPEN):
        dialect.interrupt()


@functools.lru_cache(maxsize=512)
def numbered(statement: str) -> str:
    """``statement`` with its ``?`` placeholders numbered as asyncpg takes
    them (``$1``, ``$2``, ...); the core's SQL has no other ``?``."""
    count = 0

    def number(_: re.Match[str]) -> str:
        nonlocal count
        count += 1
        return f"${count}"

    return _MARK.sub(number, statement)


async def open_postgres(url: str, now: float, *, read_only: bool = False, create: bool = True) -> Store:
    """Open (creating and migrating wfc's schema if needed) the database at
    ``url``. ``read_only``: transactions are ``READ ONLY`` and the store
    keeps no engine registration, so a user who may only read can read; a
    missing schema is refused, not created, as with ``create=False``.

    Raises:
        StoreError: asyncpg is missing, the server cannot be reached, the
            schema is missing (where it is not to be created), not wfc's or
            was written by a newer wfc (it is left untouched), or another
            session held a lock past the wait (:class:`DatabaseLockedError`).
    """
    target = parse_url(url)
    if target is None:
        raise ValueError(f"not a PostgreSQL URL: {url!r}")
    asyncpg = asyncpg_module(target.location)
    writer = await connect(target, search_path=False)
    pool = session = None
    try:
        try:
            await migrate(writer, target, now, create=create and not read_only)
        except asyncpg.PostgresError as exc:
            named = environment_error(target, exc)
            if named is None:
                raise
            raise named from None
        await writer.execute(f'SET search_path TO "{target.schema}"')
        try:
            pool = await asyncpg.create_pool(
                target.dsn,
                min_size=1,
                max_size=target.pool_size,
                timeout=10,
                server_settings=target.settings(),
                reset=_keep_session,
            )
        except Exception as exc:
            raise connect_error(target, exc) from None
        session = Session(target)
        await session.open()
    except BaseException:
        with anyio.CancelScope(shield=True):
            writer.terminate()
            if pool is not None:
                pool.terminate()
            if session is not None:
                await session.close()
        raise
    return Store(PostgresDialect(target, asyncpg, writer, pool, session, read_only=read_only))


async def _keep_session(conn: Any) -> None:
    """Nothing to reset when a pooled connection is given back: the store
    only runs plain reads and single statements on them (no session state),
    and the default reset would cost a round trip per query."""


class _PgConnection(Connection):
    """A transaction on a writer connection: statements one round trip
    each, the whole batch flushed in one statement at commit.

    Pipelined (:meth:`pipeline`), its flush and ``COMMIT`` go on in a task of
    their own once the block ends (:attr:`queued`), on this connection,
    while the next transaction is built on the other writer connection: the
    engine computes its next turn while the server applies this one. The
    two are apart, as two processes' transactions are: the next one must
    touch none of the runs this one writes (the commit loop sees to that),
    and if this commit fails, the other stands on its own."""

    def __init__(self, conn: Any, dialect: PostgresDialect) -> None:
        super().__init__()
        self.raw = conn
        """The asyncpg connection of the transaction."""
        self._dialect = dialect
        self._begun = False
        self._early: Callable[[], bool] | None = None
        self.queued: asyncio.Task[None] | None = None
        """The flush and commit of a pipelined transaction, once under way."""

    def pipeline(self, early: Callable[[], bool]) -> None:
        if not self._dialect.read_only:
            self._early = early

    async def settled(self) -> None:
        if self.queued is not None:
            await asyncio.shield(self.queued)

    async def _begin(self) -> Any:
        if not self._begun:
            with _Running(self._dialect, self.raw):
                await self.raw.execute("BEGIN READ ONLY" if self._dialect.read_only else "BEGIN")
            self._begun = True
        return self.raw

    async def fetch_many(self, statements: Sequence[Statement]) -> list[list[Row]]:
        conn = await self._begin()
        with _Running(self._dialect, conn):
            return [await conn.fetch(numbered(statement), *params) for statement, params in statements]

    async def drop_waits(self, unwaited: Sequence[Unwait]) -> None:
        conn = await self._begin()
        with _Running(self._dialect, conn):
            await conn.execute(sql.DROP_WAITS, *sql.unwait_arguments(unwaited))

    async def lock_key(self, event: str, correlation: str) -> None:
        # Waits and sends of one (event, correlation) take turns: each sees
        # what the other committed, so neither misses the other.
        conn = await self._begin()
        key = f"{self._dialect.target.schema}\x1f{event}\x1f{correlation}"
        with _Running(self._dialect, conn):
            await conn.execute("SELECT pg_advisory_xact_lock($1, hashtext($2))", LOCK_CLASS, key)

    async def commit(self) -> None:
        """Flush the batch and the queued waits in one statement, and
        commit; pipelined, and when ``early()`` says the engine has more to
        do meanwhile, only start that (see :meth:`settled`)."""
        if self._early is not None and self._early():
            self.queued = asyncio.get_running_loop().create_task(self._dialect.commit_apart(self))
            return
        await self.flush_and_commit()

    async def flush_and_commit(self) -> None:
        batch = self.batch
        if self._dialect.read_only and (batch or self.unwaited):
            raise self._dialect.read_only_error()
        if not self._begun:
            if not batch and not self.unwaited:
                return
            await self._begin()
        if batch or self.unwaited:
            arguments = sql.flush_arguments(batch, self.unwaited)
            self.unwaited = []
            # Cancelled here (it may wait for another session's lock), the
            # statement is cancelled on the server and nothing is committed.
            with _Running(self._dialect, self.raw):
                updated = await self.raw.fetchval(sql.FLUSH, *arguments)
            expected = [r.id for r in batch.runs.values() if r.expected_version is not None]
            if len(updated) != len(expected):
                stale = sorted(set(expected) - set(updated))
                raise StaleRunError(stale or expected)
        await self._commit_statement()
        self._begun = False
        self._dialect.announce(batch)

    async def _commit_statement(self) -> None:
        """Send ``COMMIT`` and wait for its answer, even when cancelled
        meanwhile: a cancelled ``COMMIT`` is never abandoned halfway, with
        the caller left not knowing whether it went through. It may wait for
        another session's lock (the deferred checks of foreign keys), so
        rather than hold the cancellation off for the lock wait, the server
        is asked to cancel it; its answer then tells which it was. Committed
        (the cancel came too late), the cancellation is raised all the same,
        the batch announced first; rolled back, the cancellation too, with
        nothing written."""
        with _Running(self._dialect, self.raw, commit=True):
            answer = asyncio.ensure_future(self.raw.execute("COMMIT"))
            try:
                await asyncio.shield(answer)
                return
            except asyncio.CancelledError:
                if not answer.done():
                    self._dialect.cancel([self.raw])
                    with anyio.CancelScope(shield=True):
                        await asyncio.wait([answer])
                if not answer.cancelled() and answer.exception() is None:
                    self._begun = False
                    self._dialect.announce(self.batch)
                raise

    async def rollback(self) -> None:
        """Undo the transaction, if it began."""
        if self._begun and not self.raw.is_closed():
            await self.raw.execute("ROLLBACK")
        self._begun = False


class PostgresDialect(Dialect):
    """A wfc database in a schema of a PostgreSQL database."""

    name = "postgres"
    shared: ClassVar[bool] = True
    pipelining: ClassVar[Pipelining | None] = "apart"
    lock_rows: ClassVar[str] = " FOR UPDATE"
    compensation_failed: ClassVar[str] = "coalesce((state::json ->> 'compensation_failed')::boolean, false)"
    code_point_order: ClassVar[str] = ' COLLATE "C"'
    estimates_ranges: ClassVar[bool] = True
    thread_states: ClassVar[str] = (
        "(SELECT string_agg('\"' || t.number || '\":' || t.state, ',' ORDER BY t.number) "
        "FROM run_threads AS t WHERE t.run_id = runs.id)"
    )

    def __init__(
        self, target: PgTarget, asyncpg: Any, writer: Any, pool: Any, session: Session, *, read_only: bool = False
    ) -> None:
        self.target = target
        self.read_only = read_only
        self.location = target.location
        self._asyncpg = asyncpg
        self._idle: list[Any] = [writer]
        """Writer connections not in a transaction now (at most :data:`_WRITERS` in all)."""
        self._opened: list[Any] = [writer]
        """Every writer connection opened, to close them all."""
        self._writers = anyio.Semaphore(_WRITERS)
        self._pool = pool
        self._session = session
        self._lock = anyio.Lock()
        self._running: dict[Any, bool] = {}
        """Connections with a statement on its way, each with whether it is a ``COMMIT``."""
        self._interrupted = False
        self._cancels: set[asyncio.Task[None]] = set()
        self._registration: tuple[str, str, int] | None = None
        self._engine_tasks = "[]"
        self._conflicts: tuple[type[Exception], ...] = (
            asyncpg.DeadlockDetectedError,
            asyncpg.SerializationError,
            asyncpg.UniqueViolationError,
        )
        self._lost: tuple[type[BaseException], ...] = (
            asyncpg.PostgresConnectionError,
            asyncpg.InterfaceError,
            asyncpg.CannotConnectNowError,
            asyncpg.AdminShutdownError,
            asyncpg.CrashShutdownError,
            asyncpg.InternalClientError,
            OSError,
            TimeoutError,
        )
        # The server's trouble, not the data's: retried until it clears.
        self._transient: tuple[type[BaseException], ...] = (
            *self._lost,
            asyncpg.InsufficientResourcesError,  # disk full, out of memory, too many connections
            asyncpg.PostgresSystemError,  # I/O error
            asyncpg.OperatorInterventionError,  # shut down, query cancelled
            asyncpg.LockNotAvailableError,  # another session's lock held past lock_timeout
            DatabaseLockedError,  # the same, as a read names it (see fetch)
            asyncpg.ReadOnlySQLTransactionError,  # a standby, during a failover
        )
        self._hints: tuple[tuple[type[BaseException] | tuple[type[BaseException], ...], str], ...] = (
            (
                asyncpg.LockNotAvailableError,
                f"another session held a lock wfc needs for more than {target.lock_timeout:g} s; let it finish "
                f"or stop it",
            ),
            (
                asyncpg.QueryCanceledError,
                "the statement was cancelled: this process was interrupted (Ctrl-C or SIGTERM), or another "
                "session cancelled it; nothing of its transaction was written",
            ),
            (asyncpg.DiskFullError, "the server's disk is full; free space on the PostgreSQL server"),
            (asyncpg.PostgresSystemError, "the server reported an I/O error; check the server's disk and its log"),
            (self._lost, "the connection to the server was lost; check that the PostgreSQL server is up and reachable"),
        )
        _OPEN.add(self)

    def any_of(self, column: str, values: Sequence[Any]) -> Statement:
        return f"{column} = ANY(?::text[])", [list(values)]

    def any_timer_of(self, timers: Sequence[tuple[str, int]]) -> Statement:
        condition = "(run_id, timer) IN (SELECT * FROM unnest(?::text[], ?::int4[]))"
        return condition, [[run_id for run_id, _ in timers], [timer for _, timer in timers]]

    # ---------------------------------------------------------------- transactions

    def transaction(self) -> AbstractAsyncContextManager[Connection]:
        return self._transaction()

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[Connection]:
        # One transaction is built at a time; the commit of the one before
        # may still be on its way, on the other writer connection.
        async with self._lock:
            tx = _PgConnection(await self._take_writer(), self)
            try:
                yield tx
                # Not shielded: a flush waiting for another session's lock
                # is cancelled, and rolled back; a COMMIT sees itself through.
                await tx.commit()
            except BaseException as exc:
                try:
                    await self._failed(tx, exc)
                finally:
                    self._give_back(tx.raw)
                raise
            if tx.queued is None:
                self._give_back(tx.raw)

    async def commit_apart(self, tx: _PgConnection) -> None:
        """Flush and commit a pipelined transaction (in a task of its own),
        then give its connection back."""
        try:
            await tx.flush_and_commit()
        except BaseException as exc:
            await self._failed(tx, exc)
            raise
        finally:
            self._give_back(tx.raw)

    # ---------------------------------------------------------------- interrupting

    def interrupt(self) -> None:
        """Have the server cancel the statements on their way now, and those
        begun from now on that take longer than :data:`_HURRY` (see
        :func:`interrupt_statements`)."""
        self._interrupted = True
        self.cancel(list(self._running))

    def cancel(self, connections: Sequence[Any]) -> None:
        """Ask the server to cancel the statement each of ``connections`` is
        running (in a task of its own: this returns at once). The statement
        then fails with ``QueryCanceledError``, its transaction rolled back,
        and the connection stays usable; a cancel coming after the statement
        ended is ignored by the server, or cuts the next one short."""
        pids = sorted({conn.get_server_pid() for conn in connections if not conn.is_closed()})
        if not pids:
            return
        task = asyncio.get_running_loop().create_task(self._cancel_on_server(pids, list(connections)))
        self._cancels.add(task)
        task.add_done_callback(self._cancels.discard)

    async def _cancel_on_server(self, pids: list[int], connections: list[Any]) -> None:
        # pg_cancel_backend from a connection of its own: every other one
        # may be waiting. A role may cancel the statements of its own sessions.
        try:
            with anyio.fail_after(_CANCEL_WAIT):
                conn = await connect(self.target, search_path=False, explain=False)
                try:
                    await conn.execute(_CANCEL, pids)
                finally:
                    await conn.close()  # cut off (aborted) if it does not close in time
        except Exception as exc:
            # The server is out of reach: a statement before COMMIT is cut off
            # with its connection, which rolls its transaction back. A COMMIT
            # is left to end, so that whether it went through is known.
            log.debug("could not cancel the statements of %s: %s", self.location, exc)
            for conn in connections:
                if self._running.get(conn) is False:
                    conn.terminate()

    async def _pooled(self, call: Callable[[Any], Awaitable[_T]]) -> _T:
        """``call(connection)``, with a connection of the pool, as one statement."""
        async with self._pool.acquire() as conn:
            with _Running(self, conn):
                return await call(conn)

    async def _take_writer(self) -> Any:
        """A writer connection for a transaction: an idle one, else a new
        one (the first was lost, or the other is still committing)."""
        await self._writers.acquire()
        raw = self._idle.pop() if self._idle else None
        if raw is None or raw.is_closed():  # lost: a failure here is transient, retried
            try:
                raw = await connect(self.target, explain=False)
            except BaseException:
                self._writers.release()
                raise
            self._opened = [c for c in self._opened if not c.is_closed()] + [raw]
        return raw

    def _give_back(self, raw: Any) -> None:
        if not raw.is_closed():  # one that _abandon dropped is opened again when needed
            self._idle.append(raw)
        self._writers.release()

    async def _failed(self, tx: _PgConnection, error: BaseException) -> None:
        """Undo the transaction that failed with ``error`` (being handled);
        raise what its caller gets instead, where that is not ``error``."""
        await self._abandon(tx, error)
        if isinstance(error, self._conflicts):
            # Another process wrote first (the same run id, a lock
            # cycle): retrying on fresh state is the answer.
            raise StaleRunError(sorted(tx.batch.runs) or ["?"]) from error
        if isinstance(error, self._asyncpg.ReadOnlySQLTransactionError):
            raise self.read_only_error() from None

    def read_only_error(self) -> ReadOnlyDatabaseError:
        """The error of a write on a store opened for reading only."""
        return ReadOnlyDatabaseError(
            self.location,
            "it was opened for reading only (Engine.open(..., read_only=True), as wfc runs list/show/history "
            "do); open it for writing to start or change runs",
        )

    async def _abandon(self, tx: _PgConnection, error: BaseException) -> None:
        """Roll back; drop the connection instead when it may be broken (lost,
        or cancelled in the middle of a statement), so the next transaction
        opens a new one."""
        broken = isinstance(error, (*self._lost, anyio.get_cancelled_exc_class()))
        if not broken:
            try:
                with anyio.CancelScope(shield=True):
                    await tx.rollback()
                return
            except Exception:
                pass
        tx.raw.terminate()

    def is_transient(self, error: Exception) -> bool:
        return isinstance(error, self._transient)

    def named_error(self, error: Exception) -> StoreError | None:
        return environment_error(self.target, error)

    def explain(self, error: Exception) -> str:
        hint = next((text for kinds, text in self._hints if isinstance(error, kinds)), None)
        text = str(error) or type(error).__name__
        return f"{text} ({hint})" if hint else f"{type(error).__name__}: {text}"

    def announce(self, batch: WriteBatch) -> None:
        """Tell the other processes what a committed batch left for them."""
        unleased = {t.task for t in batch.tasks.values() if t is not None and t.lease_owner is None}
        if unleased:
            self._session.notify("tasks", unleased)
        if any(t is not None for t in batch.timers.values()):
            self._session.notify("timers")
        if batch.runs:
            self._session.notify("runs", batch.runs)
            # Apart from "runs": a process waiting for runs to end reads
            # none of those whose change left them running.
            ended = [write.id for write in batch.runs.values() if write.finished]
            if ended:
                self._session.notify("ended", ended)
        if batch.deployed:
            self._session.notify("specs", batch.deployed)

    def subscribe(self, handler: WakeupHandler) -> None:
        self._session.subscribe(handler)

    async def close(self) -> None:
        _OPEN.discard(self)
        async with self._lock:
            with anyio.CancelScope(shield=True):
                for task in list(self._cancels):  # what they would cancel has ended
                    task.cancel()
                with anyio.move_on_after(5):  # a pipelined commit on its way ends first
                    for _ in range(_WRITERS):
                        await self._writers.acquire()
                await self._session.close()
                try:
                    with anyio.fail_after(5):
                        await self._pool.close()
                except Exception:
                    self._pool.terminate()
                for writer in self._opened:
                    if writer not in self._idle:  # a commit still on its way after all: cut it off
                        writer.terminate()
                        continue
                    try:
                        with anyio.fail_after(5):
                            await writer.close()
                    except Exception:
                        writer.terminate()
                # Used again after all, the store opens new connections (as before).
                self._idle, self._opened = [], []
                self._writers = anyio.Semaphore(_WRITERS)

    async def fetch(self, statement: str, params: Sequence[Any] = ()) -> list[Row]:
        try:
            rows: list[Row] = await self._pooled(lambda conn: conn.fetch(numbered(statement), *params))
        except self._asyncpg.PostgresError as exc:
            # A read that another session's lock held up past the wait is
            # the user's to deal with, and named so (as SQLite's reads do).
            named = self.named_error(exc)
            if named is None:
                raise
            raise named from None
        return rows

    # ---------------------------------------------------------------- leases

    async def register_engine(
        self, engine_id: str, host: str, pid: int, now: float, lease: float, tasks: Sequence[str] = ()
    ) -> None:
        self._registration = (engine_id, host, pid)
        self._engine_tasks = msgspec.json.encode(list(tasks)).decode()
        try:
            await self.reap_engines(now, lease)
            await self._insert_engine(now)
        except self._asyncpg.PostgresError as exc:  # the last step of opening: a lock is the database's trouble
            named = self.named_error(exc)
            if named is None:
                raise
            raise named from None

    async def _insert_engine(self, now: float) -> None:
        if self._registration is None:
            return
        engine_id, host, pid = self._registration
        backend_pid, backend_start = self._session.backend or (None, None)
        arguments = (engine_id, host, pid, now, backend_pid, backend_start, self._engine_tasks)
        await self._pooled(lambda conn: conn.execute(sql.REGISTER_ENGINE, *arguments))

    async def _ensure_session(self, now: float) -> None:
        if await self._session.ensure():
            await self._insert_engine(now)  # a new session is the new liveness anchor

    async def heartbeat(self, engine_id: str, now: float, lease: float) -> None:
        await self._ensure_session(now)
        alive = await self._pooled(lambda conn: conn.fetchval(sql.HEARTBEAT, engine_id, now, now + lease))
        if not alive:
            # Reaped (cut off for longer than the lease): our leases are gone,
            # and attempts still running here may run elsewhere too. Their
            # results still count once: the run takes the first.
            await self._insert_engine(now)

    async def reap_engines(self, now: float, lease: float) -> int:
        await self._ensure_session(now)  # so that this engine is not taken for dead
        row = await self._pooled(lambda conn: conn.fetchrow(sql.REAP_ENGINES, now - lease))
        dead = list(row["dead"] or [])
        if dead:
            names = list(row["tasks"] or [])
            if names:
                self._session.notify("tasks", names)
            if row["timers"]:
                self._session.notify("timers")
        return len(dead)

    async def claim_tasks(
        self, engine_id: str, tasks: Collection[str], now: float, lease: float, limit: int
    ) -> list[TaskRecord]:
        names = sorted(tasks)
        rows = await self._pooled(lambda conn: conn.fetch(sql.CLAIM_TASKS, engine_id, now + lease, names, now, limit))
        return [decode.task_record(row) for row in rows]

    async def claim_timers(self, engine_id: str, now: float, lease: float, limit: int) -> list[TimerRecord]:
        rows = await self._pooled(lambda conn: conn.fetch(sql.CLAIM_TIMERS, engine_id, now + lease, now, limit))
        return sorted((decode.timer_record(row) for row in rows), key=lambda t: t.due_at)

    async def release_engine(self, engine_id: str) -> None:
        try:
            row = await self._pooled(lambda conn: conn.fetchrow(sql.RELEASE_ENGINE, engine_id))
        except self._asyncpg.QueryCanceledError:
            if not self._interrupted:
                raise
            # Interrupted while another session's lock held it up: its leases
            # go when its session ends, which the other engines see at once.
            log.debug("engine %s left its leases to be reaped: interrupted", engine_id)
            self._registration = None
            return
        names = list(row["tasks"] or []) if row is not None else []
        if names:
            self._session.notify("tasks", names)
        if row is not None and row["timers"]:
            self._session.notify("timers")
        self._registration = None


class _Running:
    """The block in which a statement is on its way on ``conn``: an
    interrupt (:meth:`PostgresDialect.interrupt`) cancels it; after one, the
    statement is cancelled when it takes longer than :data:`_HURRY`."""

    __slots__ = ("_conn", "_dialect", "_hurry", "_is_commit")

    def __init__(self, dialect: PostgresDialect, conn: Any, *, commit: bool = False) -> None:
        self._dialect = dialect
        self._conn = conn
        self._is_commit = commit
        self._hurry: asyncio.TimerHandle | None = None

    def __enter__(self) -> None:
        dialect = self._dialect
        dialect._running[self._conn] = self._is_commit
        if dialect._interrupted:
            self._hurry = asyncio.get_running_loop().call_later(_HURRY, dialect.cancel, [self._conn])

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self._dialect._running.pop(self._conn, None)
        if self._hurry is not None:
            self._hurry.cancel()
