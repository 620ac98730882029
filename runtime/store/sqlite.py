"""The SQLite dialect: one file, WAL, one writer at a time.

Opening checks the file before writing anything (see :mod:`.sqlite_setup`):
a file that is not SQLite, a SQLite database of another application, or a wfc
database migrated by a newer wfc is refused with a clear error and left
byte-for-byte untouched.

Settings: WAL so readers never block the writer; ``synchronous=FULL`` because
a transition is acknowledged only after its commit and must survive power
loss, not just a process crash (batching many runs per commit is what keeps
this affordable); ``busy_timeout`` so another process writing briefly makes us
wait instead of fail; ``foreign_keys=ON``.

Each connection is used from a thread of its own one call at a time
(:class:`_Worker`). A call is a whole unit of work, not one statement: the
statements the core hands over together run in one thread hop, ``BEGIN
IMMEDIATE`` goes with the first of a transaction, and every queued write goes
with ``COMMIT``. Hops, not statements, are what latency is made of; a commit
nothing waits behind is made with none, on the event loop's thread, while
the connection's thread is idle (see :meth:`_SqliteConnection._start_commit`).
"""

from __future__ import annotations

import asyncio
import functools
import math
import queue
import sqlite3
import threading
import time
import weakref
from collections.abc import Callable, Collection, Sequence
from contextlib import AbstractAsyncContextManager, suppress
from types import TracebackType
from typing import Any, ClassVar, Final, Generic, TypeVar

import anyio
import msgspec

from wfc.runtime.errors import ReadOnlyDatabaseError, StoreError
from wfc.runtime.store import rows as decode
from wfc.runtime.store.base import (
    TaskRecord,
    WriteBatch,
    process_alive,
)
from wfc.runtime.store.core import Store
from wfc.runtime.store.dialect import Connection, Dialect, Pipelining, Statement, Unwait
from wfc.runtime.store.rows import Row
from wfc.runtime.store.sqlite_flush import Flush, prepare, prepare_waits, write
from wfc.runtime.store.sqlite_locks import LockWaits
from wfc.runtime.store.sqlite_setup import (
    DEFAULT_BUSY_TIMEOUT,
    OpenedFile,
    connect,
    describe,
    environment_error,
    explain,
    migrate,
    open_file,
    parse_target,
    transient,
    write_transaction,
)

T = TypeVar("T")
#: Most ids one statement lists: well under SQLite's limit on parameters.
_MAX_IDS: Final = 500
#: A commit nothing waits behind runs on the event loop's thread while the
#: last ``COMMIT`` took no longer than this (see :meth:`_SqliteConnection._here`)
INLINE_COMMIT_SECONDS: Final = 0.002
#: and it writes no more rows than this (a step of a run writes about six).
INLINE_COMMIT_ROWS: Final = 32


async def open_sqlite(url_rest: str, now: float, *, read_only: bool = False) -> Store:
    """Open (creating and migrating if needed) the wfc database at
    ``url_rest``, the part of a ``sqlite:///`` URL after its prefix (a path,
    then ``?busy_timeout=SECONDS`` if given); ``":memory:"`` gives a private
    in-memory database. ``read_only`` writes nothing (see
    :func:`~wfc.runtime.store.sqlite_setup.open_file`)."""
    target = parse_target(url_rest)
    path = target.path
    # Before opening: an interrupt ends the waits of the open too.
    locks = LockWaits(target.busy_timeout)
    if path == ":memory:":
        conn = connect(":memory:", path, writer=True)
        migrate(conn, path, now, locks)
        shared = _Worker(conn, locks)
        return Store(SqliteDialect(path, shared, shared, locks))
    opened = await _on_own_thread(functools.partial(open_file, path, now, locks, read_only=read_only))
    file = OpenedFile(path)
    if opened.read_only:
        # Takes no write lock: its statements wait as long as its reads may.
        single = _Worker(opened.writer, locks, file, wait=locks.busy_timeout)
        return Store(SqliteDialect(path, single, single, locks, read_only=True))
    writer = _Worker(opened.writer, locks, file, wait=locks.slice)
    reader = _Worker(opened.reader, locks, file, wait=locks.busy_timeout)
    return Store(SqliteDialect(path, writer, reader, locks))


class _Worker:
    """A sqlite3 connection used from a thread of its own, one call at a time.

    The thread takes calls from a queue and hands each result back with one
    ``call_soon_threadsafe``: a hop costs a queue put and a wakeup of the event
    loop, without a capacity limiter, cancel scope or thread pool per call."""

    def __init__(
        self,
        raw: sqlite3.Connection,
        locks: LockWaits | None = None,
        file: OpenedFile | None = None,
        *,
        wait: float = DEFAULT_BUSY_TIMEOUT,
    ) -> None:
        self.raw = raw
        self.locks = LockWaits(wait) if locks is None else locks
        """How long the store's writes wait for another process's write lock,
        and whether that was interrupted: ``BEGIN IMMEDIATE`` goes through
        :meth:`LockWaits.begin`."""
        self.wait = wait
        """Seconds one statement waits for another process's lock: the
        connection's ``busy_timeout`` (a writer's is one slice)."""
        self.file = file
        """The file the connection opened (``None`` in memory), checked before
        each read and each commit: one ``stat``."""
        self.last_commit = math.inf
        """Seconds the last ``COMMIT`` on the connection took, wherever it
        ran (unknown at first: the first is made on the thread)."""
        self.waits = True
        """Whether ``busy_timeout`` is set on the connection (see :meth:`queue`)."""
        self._jobs: _Jobs = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._last: weakref.ref[_Call[Any]] | None = None
        self._queued: list[_Read] = []
        self._draining = False

    async def run(self, fn: Callable[..., T], *args: Any, on_cancel: Callable[[], None] | None = None) -> T:
        """Run ``fn(*args)`` in the connection's thread. Not abandoned on
        cancellation: a statement always finishes before the caller goes on
        (and then sees its cancellation); ``on_cancel`` is called as the
        cancellation comes, to cut it short."""
        return await _outcome(self.queue(functools.partial(fn, *args) if args else fn), on_cancel)

    def queue(self, fn: Callable[[], T]) -> _Call[T]:
        """Queue ``fn()`` in the connection's thread without waiting: calls
        queued after it run after it. Await the outcome with :func:`_outcome`."""
        if self._thread is None:
            self._thread = _start_thread(self._jobs)
        if not self.waits:
            # Calls made on the event loop's thread never wait for another
            # process's lock; those on the connection's thread wait as set.
            fn = functools.partial(_waiting, self.raw, self.wait, fn)
            self.waits = True
        queued = _put(self._jobs, fn)
        # Weak: an idle worker must not keep its last call's outcome alive.
        # Gone, it was settled: the job and the settling callback hold it till then.
        self._last = weakref.ref(queued)
        return queued

    def idle(self) -> bool:
        """True when every call queued on the connection's thread has
        returned: a call made on the event loop's thread now meets none."""
        last = None if self._last is None else self._last()
        return last is None or last.returned

    def here(self, fn: Callable[[], T]) -> _Call[T]:
        """Call ``fn()`` on the calling thread, now, as the connection's
        thread would (only while :meth:`idle`): its outcome is the call's."""
        call: _Call[T] = _Call()
        call.settle(*_called(fn))
        return call

    def without_waiting(self) -> None:
        """Have the statements made on the calling thread, the event
        loop's, fail at once where another process's lock would make them
        wait: ``busy_timeout`` 0 until the next call queued on the thread
        sets it back (:meth:`queue`). Raises :class:`sqlite3.Error` if the
        connection cannot be set so."""
        if self.waits:
            self.raw.execute("PRAGMA busy_timeout = 0")
            self.waits = False

    def stop(self) -> None:
        """End the connection's thread once the calls queued are done."""
        if self._thread is not None:
            self._jobs.put(None)
            self._thread = None

    def check_file(self) -> None:
        """Raises :class:`StoreError` if the database file was deleted or replaced."""
        if self.file is not None:
            self.file.check()

    async def read(self, statement: str, params: Sequence[Any]) -> list[Row]:
        """The rows of one query, run in a thread hop shared with every query
        asked for meanwhile: many tasks reading at once (waiters after a
        commit) cost a few hops, not one each. Each query still starts after
        it was asked for, so it sees every commit made before.

        One asking task at a time leads: it runs every queued query in one
        hop, then hands the lead to the first query queued since, so no task
        serves the others for longer than its own hop."""
        self.check_file()
        query = _Read(statement, params)
        self._queued.append(query)
        if self._draining:
            try:
                await query.woken.wait()
            except BaseException:
                if query in self._queued:
                    self._queued.remove(query)
                if query.leads and not query.finished:
                    self._pass_lead()
                raise
            if query.finished:
                return query.result()
        self._draining = True
        batch, self._queued = self._queued, []
        try:
            # The queries of other tasks ride on this hop: ``run`` returns
            # (or raises a cancellation of this task) only once it is over.
            await self.run(_run_reads, self.raw, batch)
        except Exception as exc:  # not a query's: the hop failed
            for read in batch:
                read.error = exc
        finally:
            for read in batch:
                read.finished = True
                read.woken.set()
            self._pass_lead()
        return query.result()

    def _pass_lead(self) -> None:
        """The first queued query's task leads the next hop; with none
        queued, the next query leads."""
        if self._queued:
            self._queued[0].leads = True
            self._queued[0].woken.set()
        else:
            self._draining = False


def _waiting(raw: sqlite3.Connection, wait: float, fn: Callable[[], T]) -> T:
    """``fn()``, with ``busy_timeout`` set to ``wait`` on the connection first. ``fn``
    runs even if that fails (a connection gone bad): its own error is then
    the call's, raised and dealt with where it always is, and a commit's
    outcome still goes back to its waiter."""
    with suppress(sqlite3.Error):
        raw.execute(f"PRAGMA busy_timeout = {int(wait * 1000)}")
    return fn()


def _called(fn: Callable[[], T]) -> tuple[T | None, BaseException | None]:
    """What ``fn()`` returned, or what it raised: the caller's to see,
    wherever it ran."""
    try:
        return fn(), None
    except BaseException as exc:
        return None, exc


_Job = tuple[Callable[[], Any], asyncio.AbstractEventLoop, "_Call[Any]"]
_Jobs = queue.SimpleQueue[_Job | None]


def _start_thread(jobs: _Jobs) -> threading.Thread:
    """A thread running the calls put in ``jobs`` one at a time, until ``None``."""
    thread = threading.Thread(target=_serve, args=(jobs,), name="wfc sqlite", daemon=True)
    thread.start()
    return thread


def _serve(jobs: _Jobs) -> None:
    while True:
        job = jobs.get()
        if job is None:
            return
        call, loop, queued = job
        result, error = _called(call)
        with suppress(RuntimeError):  # the event loop closed: nobody waits
            loop.call_soon_threadsafe(queued.settle, result, error)
        # Not kept while idle: a commit's job holds its whole transaction.
        del job, call, queued, result, error


class _Call(Generic[T]):
    """A call queued on a connection's thread, and its outcome once it
    returned: set by :meth:`settle`, in the event loop's thread, from the
    one ``call_soon_threadsafe`` of :func:`_serve`. Each waiter awaits a
    future of its own (:func:`_outcome`), settled in that same callback: a
    cancelled waiter cancels only its own, and the outcome stays for the
    others and for later waiters. (``asyncio.shield`` kept it so too, with
    one more turn of the event loop per hop.)"""

    __slots__ = ("__weakref__", "_traceback", "_waiters", "error", "result", "returned")

    def __init__(self) -> None:
        self.returned = False
        self.result: Any = None
        self.error: BaseException | None = None
        self._traceback: TracebackType | None = None
        self._waiters: list[asyncio.Future[None]] = []

    def wait(self) -> asyncio.Future[None]:
        """A future settled once the call returned (at once if it has)."""
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if self.returned:
            waiter.set_result(None)
        else:
            self._waiters.append(waiter)
        return waiter

    def settle(self, result: Any, error: BaseException | None) -> None:
        self.returned, self.result, self.error = True, result, error
        self._traceback = None if error is None else error.__traceback__
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():  # not a waiter cancelled meanwhile
                waiter.set_result(None)

    def outcome(self) -> T:
        """The call's result, or its error raised."""
        if self.error is not None:
            # As the call left it: raised to each waiter, it would otherwise
            # gather every waiter's frames.
            raise self.error.with_traceback(self._traceback)
        result: T = self.result
        return result


def _put(jobs: _Jobs, call: Callable[[], T]) -> _Call[T]:
    """Queue ``call()`` on the thread serving ``jobs`` (await its outcome
    with :func:`_outcome`)."""
    queued: _Call[T] = _Call()
    jobs.put((call, asyncio.get_running_loop(), queued))
    return queued


async def _outcome(queued: _Call[T], on_cancel: Callable[[], None] | None = None) -> T:
    """The outcome of a queued call, once it returned. A waiter cancelled
    before then waits for it still, shielded, then sees its cancellation:
    it leaves its cancelled anyio scope at once (anyio retries the
    cancellation of a task still in one at every turn of the loop).
    ``on_cancel``, given, is called first, to make that wait short."""
    if not queued.returned:
        try:
            await queued.wait()
        except asyncio.CancelledError:
            if on_cancel is not None:
                on_cancel()
            # The one anyio primitive of a call, made only once cancelled: a
            # process that only reads never loads anyio's backend. The shield
            # holds off anyio's cancellations; asyncio's own, from Task.cancel(),
            # only end one wait each.
            with anyio.CancelScope(shield=True):
                while not queued.returned:
                    with suppress(asyncio.CancelledError):
                        await asyncio.wait((queued.wait(),))
            raise
    return queued.outcome()


async def _unless_cancelled(queued: _Call[T]) -> T:
    """The outcome of a queued call, once it returned. An anyio
    cancellation meanwhile is held off (the caller meets it at its next
    wait); asyncio's own ``Task.cancel()`` is raised once the call returned
    (see :func:`_outcome`). A call already returned (made on the event
    loop's thread) is not waited for, so nothing can cancel it: no cancel
    scope then."""
    if not queued.returned:
        with anyio.CancelScope(shield=True):
            await _outcome(queued)
    return queued.outcome()


async def _on_own_thread(call: Callable[[], T]) -> T:
    """``call()`` on a thread of its own, which ends after it (opening a
    file: its connections get their threads once they exist)."""
    jobs: _Jobs = queue.SimpleQueue()
    _start_thread(jobs)
    try:
        return await _outcome(_put(jobs, call))
    finally:
        jobs.put(None)


class _Read:
    """One query of a shared thread hop, and its outcome."""

    def __init__(self, statement: str, params: Sequence[Any]) -> None:
        self.statement = statement
        self.params = params
        self.rows: list[Row] = []
        self.error: Exception | None = None
        self.finished = False
        self.leads = False
        """Woken to lead the next hop."""
        self.woken = asyncio.Event()

    def result(self) -> list[Row]:
        """The rows, or the query's error raised."""
        if self.error is not None:
            raise self.error
        return self.rows


def _run_reads(conn: sqlite3.Connection, reads: Sequence[_Read]) -> None:
    # The same query asked many times in one hop (the spec versions read by
    # a thousand starts at once) runs once: it still runs after every one
    # of them was asked, so each sees every commit made before it asked.
    done: dict[tuple[str, tuple[Any, ...]], list[Row]] = {}
    for read in reads:
        key = _read_key(read)
        try:
            rows = done.get(key) if key is not None else None
            if rows is None:
                rows = conn.execute(read.statement, read.params).fetchall()
                if key is not None:
                    done[key] = rows
            read.rows = list(rows)
        except Exception as exc:  # the error is the asker's
            read.error = exc


def _data_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA data_version").fetchone()[0])


def _read_key(read: _Read) -> tuple[str, tuple[Any, ...]] | None:
    """What identifies a query in a hop; ``None`` when a parameter cannot."""
    key = (read.statement, tuple(read.params))
    try:
        hash(key)
    except TypeError:
        return None
    return key


# ---------------------------------------------------------------- sync bodies of transactions


def _run_all(conn: sqlite3.Connection, statements: Sequence[Statement]) -> list[list[Row]]:
    return [conn.execute(sql, params).fetchall() for sql, params in statements]


def _small(batch: WriteBatch, unwaited: Sequence[Unwait]) -> bool:
    """Whether ``batch`` and ``unwaited`` write (or delete) no more than
    :data:`INLINE_COMMIT_ROWS` rows."""
    rows = len(batch.runs) + len(batch.journal) + len(batch.tasks) + len(batch.timers)
    rows += len(batch.user_tasks) + len(unwaited)
    if rows > INLINE_COMMIT_ROWS:
        return False
    for run in batch.runs.values():
        rows += len(run.threads or ()) + len(run.search or ())
    return rows <= INLINE_COMMIT_ROWS


class _Pipeline:
    """The last pipelined transaction of a writer connection whose commit
    the engine has not awaited yet (see :meth:`_SqliteConnection.pipeline`)."""

    def __init__(self) -> None:
        self.last: _SqliteConnection | None = None


class _SqliteConnection(Connection):
    """A transaction on the writer connection. On a store opened read-only it
    reads in a deferred transaction and refuses to write.

    Pipelined (:meth:`pipeline`), its commit is queued on the connection's
    thread when the transaction ends, and the next transaction's statements
    queue behind it: the engine computes its next turn while this one's
    flush and ``COMMIT`` run. The connection's thread runs calls in order,
    so whatever a later transaction reads, it reads after this commit ended,
    and every statement of a pipelined transaction queued after a failed
    pipelined commit fails (:attr:`failed`), before ``BEGIN``: it may have
    been built on what that commit did not write."""

    def __init__(
        self, worker: _Worker, read_only_error: ReadOnlyDatabaseError | None = None, chain: _Pipeline | None = None
    ) -> None:
        super().__init__()
        self._worker = worker
        self._begun = False
        self._read_only_error = read_only_error
        self._chain = chain
        self._after: _SqliteConnection | None = None
        """The pipelined commit this transaction was built after, unsettled then."""
        self._early: Callable[[], bool] | None = None
        """Set when pipelined: asked at commit whether to go on before it ended."""
        self.failed = False
        """Set in the connection's thread when the commit failed (it rolled back)."""
        self.queued: _Call[None] | None = None
        """The commit of a pipelined transaction, once queued."""
        self._settled = False

    def pipeline(self, early: Callable[[], bool]) -> None:
        if self._read_only_error is not None or self._chain is None:
            return  # commits as usual
        self._early = early
        last = self._chain.last
        self._after = last if last is not None and not last._settled else None

    async def settled(self) -> None:
        if self.queued is None:
            return
        try:
            await _outcome(self.queued)
        finally:
            self._settled = True
            if self._chain is not None and self._chain.last is self:
                self._chain.last = None  # nothing to chain to: let its batch go

    def _check_after(self) -> None:
        """In the connection's thread: fail if built after a commit that failed."""
        if self._after is not None and self._after.failed:
            raise _AfterFailedCommit()

    async def _call(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``fn`` in the transaction, opening it with the same thread hop."""

        def body() -> T:
            if not self._begun:
                self._check_after()
                if self._read_only_error is None:
                    self._worker.locks.begin(self._worker.raw)
                else:
                    self._worker.raw.execute("BEGIN")
                self._begun = True
            return fn(self._worker.raw)

        if self._read_only_error is None:
            return await self._worker.run(body)
        try:
            return await self._worker.run(body)
        except sqlite3.OperationalError as exc:
            if "readonly" in str(exc):
                raise self._read_only_error from None
            raise

    async def fetch_many(self, statements: Sequence[Statement]) -> list[list[Row]]:
        return await self._call(lambda conn: _run_all(conn, statements))

    async def drop_waits(self, unwaited: Sequence[Unwait]) -> None:
        flush = prepare_waits(unwaited)
        await self._call(lambda conn: write(conn, flush))

    def _commit_body(self, flush: Flush) -> None:
        """Write ``flush`` (the batch and the queued waits) and commit, in
        the connection's thread; on failure roll back before the next call
        queued runs, and mark :attr:`failed`."""
        raw = self._worker.raw
        try:
            self._check_after()
            if not self._begun:
                if not flush.updates and not flush.writes:
                    return
                self._worker.locks.begin(raw)
                self._begun = True
            write(raw, flush)
            self._worker.check_file()
            began = time.perf_counter()
            raw.execute("COMMIT")
            self._worker.last_commit = time.perf_counter() - began
            self._begun = False
        except BaseException:
            self.failed = True
            if raw.in_transaction:
                with suppress(sqlite3.Error):
                    raw.execute("ROLLBACK")
            self._begun = False
            raise
        finally:
            self._after = None  # checked: drop it, or every transaction would keep all those before

    async def commit(self) -> None:
        """Flush the batch and the queued waits and commit, in one hop (or
        none, see :meth:`_start_commit`); a pipelined transaction only
        queues that hop (see :meth:`settled`). A cancellation meanwhile is
        held off till it returned (the caller then sees it)."""
        if self._read_only_error is not None and (self.batch or self.unwaited):
            raise self._read_only_error
        flush = prepare(self.batch, self.unwaited)
        if self._early is not None:
            assert self._chain is not None
            self._chain.last = self
            if self._early():
                # Back at once: the engine computes its next turn while the
                # connection's thread writes and commits this one. Its
                # statements hold no lock of Python's while SQLite runs
                # them (see sqlite_flush), nor does the fsync of COMMIT.
                self.queued = self._worker.queue(functools.partial(self._commit_body, flush))
                return
            # Nothing to compute meanwhile: wait for the whole commit (one
            # wakeup, not two); its error is for settled() to raise.
            self.queued = self._start_commit(flush)
            with suppress(Exception):
                await _unless_cancelled(self.queued)
            return
        await _unless_cancelled(self._start_commit(flush))
        self.unwaited = []

    def _start_commit(self, flush: Flush) -> _Call[None]:
        """The commit's call, made at once on the event loop's thread when
        it is small and nothing stands in its way (:meth:`_here`); queued on
        the connection's thread otherwise."""
        body = functools.partial(self._commit_body, flush)
        if self._here():
            return self._worker.here(body)
        return self._worker.queue(body)

    def _here(self) -> bool:
        """Whether to commit on the calling thread, the event loop's, and
        if so begin the transaction there.

        Made here, a commit nothing waits behind (a run alone) spares the
        two thread switches of a hop and the cold caches of a thread woken
        once per commit. The event loop is held meanwhile, so only a commit
        that can be quick is: the connection's thread has nothing queued
        (no call overlaps it or is overtaken); nothing of the transaction
        ran there (its only writes are its batch) and the batch is small
        (:data:`INLINE_COMMIT_ROWS`); the last ``COMMIT`` was quick, which
        foretells the disk's flush (:data:`INLINE_COMMIT_SECONDS`; the
        first is made on the thread, and a slow one sends the next there).
        What it does not foretell is the ``COMMIT`` that checkpoints the WAL
        (every 1,000 pages: about one in a hundred of a run alone's, 2-3 ms
        on this machine's disk). And never a wait for another process's
        write lock: it is asked for without waiting, and a commit that would
        wait is queued on the thread, which waits as configured."""
        worker = self._worker
        if self._begun or not worker.idle() or worker.last_commit > INLINE_COMMIT_SECONDS:
            return False
        if (not self.batch and not self.unwaited) or self._read_only_error is not None:
            return True  # nothing to write: no statement at all
        if not _small(self.batch, self.unwaited):
            return False
        if self._after is not None and self._after.failed:
            return True  # fails before BEGIN (_check_after)
        try:
            worker.without_waiting()
            worker.raw.execute("BEGIN IMMEDIATE")
        except sqlite3.Error:
            return False  # busy (or worse): the thread waits for it, or meets it, as ever
        self._begun = True
        return True

    async def rollback(self) -> None:
        """Undo the transaction, if it began."""

        def body() -> None:
            if self._worker.raw.in_transaction:
                self._worker.raw.execute("ROLLBACK")
            self._begun = False

        await self._worker.run(body)


class _Transaction:
    """The block of :meth:`SqliteDialect.transaction`: one write transaction
    at a time (``lock``), committed when the block ends, rolled back when it
    raises. A class, not an ``asynccontextmanager``, as the store's own
    block around it: one opens per commit."""

    __slots__ = ("_conn", "_lock", "_open")

    def __init__(self, lock: asyncio.Lock, open_connection: Callable[[], _SqliteConnection]) -> None:
        self._lock = lock
        self._open = open_connection
        self._conn: _SqliteConnection | None = None

    async def __aenter__(self) -> _SqliteConnection:
        await self._lock.acquire()
        try:
            self._conn = self._open()
        except BaseException:
            self._lock.release()
            raise
        return self._conn

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        conn = self._conn
        assert conn is not None
        try:
            if kind is None:
                try:
                    await conn.commit()  # held off cancellations itself
                except BaseException:
                    await _roll_back(conn)
                    raise
            else:
                await _roll_back(conn)
        finally:
            self._conn = None
            self._lock.release()


async def _roll_back(conn: _SqliteConnection) -> None:
    with anyio.CancelScope(shield=True), suppress(sqlite3.Error):
        await conn.rollback()


class _AfterFailedCommit(Exception):
    """A pipelined transaction was built after a pipelined commit that failed."""

    def __init__(self) -> None:
        super().__init__("the commit this transaction was queued behind failed; it is done again")


# ---------------------------------------------------------------- leases


def _register_engine(
    conn: sqlite3.Connection, locks: LockWaits, engine_id: str, host: str, pid: int, now: float, lease: float,
    tasks: str,
) -> None:
    with write_transaction(conn, locks):
        for row in conn.execute("SELECT id, host, pid, heartbeat_at FROM engines").fetchall():
            dead = row["host"] == host and not process_alive(row["pid"])
            if dead or row["heartbeat_at"] < now - lease:
                conn.execute(
                    "UPDATE tasks SET lease_owner = NULL, lease_expires_at = NULL WHERE lease_owner = ?", (row["id"],)
                )
                conn.execute("DELETE FROM engines WHERE id = ?", (row["id"],))
        conn.execute(
            "INSERT INTO engines (id, host, pid, started_at, heartbeat_at, tasks) VALUES (?, ?, ?, ?, ?, ?)",
            (engine_id, host, pid, now, now, tasks),
        )


def _heartbeat(conn: sqlite3.Connection, locks: LockWaits, engine_id: str, now: float, lease: float) -> None:
    with write_transaction(conn, locks):
        conn.execute("UPDATE engines SET heartbeat_at = ? WHERE id = ?", (now, engine_id))
        conn.execute("UPDATE tasks SET lease_expires_at = ? WHERE lease_owner = ?", (now + lease, engine_id))


def _claim_tasks(
    conn: sqlite3.Connection, locks: LockWaits, engine_id: str, names: list[str], now: float, lease: float,
    limit: int,
) -> list[TaskRecord]:
    marks = ",".join("?" * len(names))
    # In a transaction of its own: a write waits for the lock only in BEGIN (see LockWaits).
    with write_transaction(conn, locks):
        rows = conn.execute(
            "UPDATE tasks SET lease_owner = ?, lease_expires_at = ? WHERE dispatch_id IN ("
            f"SELECT dispatch_id FROM tasks WHERE task IN ({marks}) "
            "AND (lease_owner IS NULL OR lease_expires_at < ?) ORDER BY created_at LIMIT ?) RETURNING *",
            (engine_id, now + lease, *names, now, limit),
        ).fetchall()
    return [decode.task_record(row) for row in rows]


def _release_engine(conn: sqlite3.Connection, locks: LockWaits, engine_id: str) -> None:
    with write_transaction(conn, locks):
        conn.execute("UPDATE tasks SET lease_owner = NULL, lease_expires_at = NULL WHERE lease_owner = ?", (engine_id,))
        conn.execute("DELETE FROM engines WHERE id = ?", (engine_id,))


# ---------------------------------------------------------------- the dialect


class SqliteDialect(Dialect):
    """A wfc database in one SQLite file (or in memory).

    Opened ``read_only`` it holds one read-only connection: reads work, a
    write in a transaction raises :class:`ReadOnlyDatabaseError`, and no
    engine registration is kept (a reader holds no leases), so opening and
    closing write nothing either.
    """

    name = "sqlite"
    pipelining: ClassVar[Pipelining | None] = "queued"
    compensation_failed: ClassVar[str] = "coalesce(json_extract(state, '$.compensation_failed'), 0) = 1"
    thread_states: ClassVar[str] = (
        "(SELECT group_concat('\"' || number || '\":' || state, ',') FROM "
        "(SELECT number, state FROM run_threads AS t WHERE t.run_id = runs.id ORDER BY number))"
    )
    max_ids: ClassVar[int | None] = _MAX_IDS

    def __init__(
        self, location: str, writer: _Worker, reader: _Worker, locks: LockWaits, *, read_only: bool = False
    ) -> None:
        self.location = location
        self.read_only = read_only
        self._locks = locks
        self._busy_timeout = locks.busy_timeout
        self._writer = writer
        self._reader = reader
        self._lock = asyncio.Lock()
        self._pipeline = _Pipeline()
        # One connection serves both in memory: reads then take the write lock
        # so they never see a transaction in the middle.
        self._shared = writer is reader

    def any_of(self, column: str, values: Sequence[Any]) -> Statement:
        return f"{column} IN ({','.join('?' * len(values))})", list(values)

    async def writes_elsewhere(self, *, wait: bool = True) -> int | None:
        # SQLite's data_version, read on the connection this store commits
        # on: other connections' commits change it, its own do not. A
        # counter in memory, read here unless the connection's thread is
        # busy (then behind what it does, or not at all).
        if self._writer.idle():
            # Here, the connection may not wait for a lock (a read waits
            # while another process holds the file exclusively, or recovers
            # its WAL): if it would have to, asked again on the thread (or
            # not at all).
            with suppress(sqlite3.Error):
                self._writer.without_waiting()
                return _data_version(self._writer.raw)
        if not wait:
            return None
        return await self._writer.run(self._locks.waiting, functools.partial(_data_version, self._writer.raw))

    # ---------------------------------------------------------------- statements

    def transaction(self) -> AbstractAsyncContextManager[Connection]:
        return _Transaction(self._lock, self._connection)

    def _connection(self) -> _SqliteConnection:
        """A write transaction's connection, made once it holds the lock."""
        return _SqliteConnection(self._writer, self._read_only_error(), self._pipeline)

    def _read_only_error(self) -> ReadOnlyDatabaseError | None:
        if not self.read_only:
            return None
        return ReadOnlyDatabaseError(
            self.location,
            "it was opened for reading only (Engine.open(..., read_only=True), as wfc runs list/show/history "
            "do); open it for writing to start or change runs",
        )

    async def fetch(self, statement: str, params: Sequence[Any] = ()) -> list[Row]:
        try:
            if self._shared:
                async with self._lock:
                    return await self._reader.read(statement, params)
            return await self._reader.read(statement, params)
        except sqlite3.DatabaseError as exc:
            # A read that fails for reasons of the file (damaged, locked,
            # tables dropped) is the user's to fix and must be named as such;
            # anything else may be a bug in wfc and stays what it is.
            error = environment_error(self.location, exc, self._busy_timeout)
            if error is None:
                raise
            raise error from None

    async def close(self) -> None:
        # Each close finishes even if the task is cancelled meanwhile (see
        # _call), and the reader's is not skipped then.
        async with self._lock:
            try:
                await self._writer.run(self._writer.raw.close)
            finally:
                self._writer.stop()
                if not self._shared:
                    try:
                        await self._reader.run(self._reader.raw.close)
                    finally:
                        self._reader.stop()

    async def _write(self, fn: Callable[..., T], *args: Any) -> T:
        """An engine's own write (its registration, heartbeat, claims): one
        cancelled (a timeout around ``Engine.open``, a closing engine) ends
        the store's waits for another process's lock (see :meth:`interrupt`)."""
        async with self._lock:
            self._writer.check_file()
            return await self._writer.run(fn, self._writer.raw, self._locks, *args, on_cancel=self._locks.interrupt)

    def interrupt(self) -> None:
        """End a wait for another process's write lock within a slice (see
        :mod:`.sqlite_locks`)."""
        self._locks.interrupt()

    # ---------------------------------------------------------------- errors

    def is_transient(self, error: Exception) -> bool:
        return transient(error)

    def explain(self, error: Exception) -> str:
        return describe(error, None if self.location == ":memory:" else self.location)

    def named_error(self, error: Exception) -> StoreError | None:
        if not isinstance(error, sqlite3.Error):
            return None
        named = environment_error(self.location, error, self._busy_timeout)
        # Locked, read-only, damaged, tables dropped: the same error, with the
        # same advice, as when opening the file met it.
        return named if named is not None and type(named) is not StoreError else None

    # ---------------------------------------------------------------- leases

    async def register_engine(
        self, engine_id: str, host: str, pid: int, now: float, lease: float, tasks: Sequence[str] = ()
    ) -> None:
        try:
            listed = msgspec.json.encode(list(tasks)).decode()
            await self._write(_register_engine, engine_id, host, pid, now, lease, listed)
        except sqlite3.Error as exc:  # the last step of opening: its failure is the database's
            raise explain(self.location, exc, self._busy_timeout) from None

    async def heartbeat(self, engine_id: str, now: float, lease: float) -> None:
        await self._write(_heartbeat, engine_id, now, lease)

    async def claim_tasks(
        self, engine_id: str, tasks: Collection[str], now: float, lease: float, limit: int
    ) -> list[TaskRecord]:
        return await self._write(_claim_tasks, engine_id, sorted(tasks), now, lease, limit)

    async def release_engine(self, engine_id: str) -> None:
        await self._write(_release_engine, engine_id)
