"""A SQLite commit nothing waits behind is made on the event loop's thread.

It spares the two thread switches of a hop (a run alone commits once per
step), but only where that cannot hold up the event loop for long or break
the order of calls: while the connection's thread has nothing queued, while
the last ``COMMIT`` was quick, and never waiting for another process's
write lock (then it is queued on the thread, which waits as configured).
Whichever thread made it, a commit's outcome and the stored state are the
same: a failed one rolled back, its error raised where it always was.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
import pytest
from rtspec import exit_, out, spec, task
from rtstore import run_write, seed

from wfc.runtime import Engine, RunStatus
from wfc.runtime import task as wfc_task
from wfc.runtime.store import SpecRecord, Store, open_store
from wfc.runtime.store import sqlite as sqlite_store
from wfc.runtime.store.sqlite_locks import SLICE
from wfc.specs import body_hash, dumps

pytestmark = pytest.mark.anyio

MAIN = threading.get_ident()
VERSIONS = "SELECT major, revision FROM specs"


@pytest.fixture(autouse=True)
def _quick_disk(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every COMMIT counts as quick (this machine's disk has its slow
    moments) but where a test says otherwise."""
    monkeypatch.setattr(sqlite_store, "INLINE_COMMIT_SECONDS", 5.0)


def _lone() -> bool:
    return False  # no command waits: the commit loop awaits the whole commit


class Commits:
    """The thread of each ``COMMIT`` (and ``BEGIN``) on a store's writer connection."""

    def __init__(self, store: Store) -> None:
        self.threads: list[int] = []
        self.begins: list[int] = []
        self._raw = _writer(store).raw
        self._raw.set_trace_callback(self._traced)

    def _traced(self, statement: str) -> None:
        if statement == "COMMIT":
            self.threads.append(threading.get_ident())
        elif statement.startswith("BEGIN"):
            self.begins.append(threading.get_ident())

    def here(self) -> list[bool]:
        """For each COMMIT so far: made on the event loop's thread."""
        return [ident == MAIN for ident in self.threads]


def _writer(store: Store) -> sqlite_store._Worker:
    dialect = store.dialect
    assert isinstance(dialect, sqlite_store.SqliteDialect)
    return dialect._writer


def _run_ids(path: Path) -> list[str]:
    conn = sqlite3.connect(path)
    try:
        return [row[0] for row in conn.execute("SELECT id FROM runs ORDER BY id")]
    finally:
        conn.close()


@asynccontextmanager
async def _store(url: str) -> AsyncIterator[Store]:
    store = await open_store(url, time.time())
    try:
        yield store
    finally:
        await store.close()


@asynccontextmanager
async def _seeded(url: str) -> AsyncIterator[tuple[Store, Commits]]:
    """A store holding run ``r1``, its COMMITs watched from then on."""
    async with _store(url) as store:
        await seed(store)
        yield store, Commits(store)


async def _write_run(store: Store, run_id: str, pipelined: Callable[[], bool] | None = _lone) -> None:
    async with store.transaction(pipelined=pipelined) as tx:
        tx.batch.runs[run_id] = run_write(run_id, None)
    await tx.committed()


async def test_a_commit_nothing_waits_behind_is_made_on_the_event_loops_thread(
    sqlite_url: str, sqlite_path: Path
) -> None:
    async with _seeded(sqlite_url) as (store, commits):
        await _write_run(store, "r2")  # pipelined, the loop awaiting it whole
        await _write_run(store, "r3", pipelined=None)  # any other transaction
        assert commits.here() == [True, True]
        assert not _writer(store).raw.in_transaction
    assert _run_ids(sqlite_path) == ["r1", "r2", "r3"]


async def test_a_commit_behind_a_call_still_on_the_connections_thread_is_queued_behind_it(
    sqlite_url: str, sqlite_path: Path
) -> None:
    async with _seeded(sqlite_url) as (store, commits):
        release, order = threading.Event(), []

        def busy() -> None:
            release.wait(5)
            order.append("busy call")

        queued = _writer(store).queue(busy)
        async with anyio.create_task_group() as tg:
            tg.start_soon(_write_run, store, "r2")
            await anyio.sleep(0.1)
            assert commits.threads == [] and _run_ids(sqlite_path) == ["r1"]  # waits behind the busy call
            order.append("released")
            release.set()
        await sqlite_store._outcome(queued)
        assert order == ["released", "busy call"] and commits.here() == [False]
        await _write_run(store, "r3")  # the thread idle again: made here
        assert commits.here() == [False, True]
    assert _run_ids(sqlite_path) == ["r1", "r2", "r3"]


async def test_after_a_slow_commit_the_next_is_queued_and_once_commits_are_quick_made_here_again(
    sqlite_url: str,
) -> None:
    async with _seeded(sqlite_url) as (store, commits):
        writer = _writer(store)
        writer.last_commit = 6.0  # as after a slow disk's flush
        await _write_run(store, "r2")
        assert writer.last_commit < 5.0  # measured on the thread
        await _write_run(store, "r3")
        assert commits.here() == [False, True]


async def test_a_commit_never_waits_on_the_event_loop_for_another_processs_write_lock(
    sqlite_path: Path, sqlite_url: str
) -> None:
    async with _seeded(f"{sqlite_url}?busy_timeout=10") as (store, commits):
        other = sqlite3.connect(sqlite_path, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")  # another process writes, and takes its time
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                await anyio.sleep(0.01)
                ticks += 1

        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(ticker)
                writing = anyio.Event()

                async def write() -> None:
                    await _write_run(store, "r2")
                    writing.set()

                tg.start_soon(write)
                await anyio.sleep(0.5)
                assert not writing.is_set() and ticks >= 5  # the loop went on meanwhile (held, none)
                other.execute("ROLLBACK")
                with anyio.fail_after(5):
                    await writing.wait()  # waited for the lock on its thread: not refused at once
                tg.cancel_scope.cancel()
        finally:
            other.close()
        assert commits.here() == [False]
        await _write_run(store, "r3")  # the lock free: made here again
        assert commits.here() == [False, True]
    assert _run_ids(sqlite_path) == ["r1", "r2", "r3"]


async def test_a_commit_made_here_that_fails_rolls_back_and_raises_where_a_queued_one_would(
    sqlite_url: str, sqlite_path: Path
) -> None:
    async with _seeded(sqlite_url) as (store, commits):
        with pytest.raises(sqlite3.IntegrityError):
            await _write_run(store, "r1", pipelined=None)  # r1 exists: raised by the commit
        async with store.transaction(pipelined=_lone) as tx:
            tx.batch.runs["r1"] = run_write("r1", None)
        with pytest.raises(sqlite3.IntegrityError):
            await tx.committed()  # pipelined: raised when its commit is awaited
        assert commits.here() == [] and not _writer(store).raw.in_transaction
        assert commits.begins == [MAIN, MAIN]  # both made here
        await _write_run(store, "r2")
        assert commits.here() == [True]
    assert _run_ids(sqlite_path) == ["r1", "r2"]


async def test_a_big_batch_or_a_transaction_begun_on_the_thread_is_committed_there(sqlite_url: str) -> None:
    async with _seeded(sqlite_url) as (store, commits):
        async with store.transaction(pipelined=_lone) as tx:
            for n in range(sqlite_store.INLINE_COMMIT_ROWS + 1):
                tx.batch.runs[f"big{n}"] = run_write(f"big{n}", None)
        await tx.committed()
        async with store.transaction(pipelined=_lone) as tx:
            assert await tx.get_spec("w", 1, 0) is not None  # a statement: the transaction begins on the thread
            tx.batch.runs["r2"] = run_write("r2", None)
        await tx.committed()
        await _write_run(store, "r3")
        assert commits.here() == [False, False, True]


@wfc_task("inline-add")
async def inline_add(x: int) -> int:
    return x + 1


async def test_a_run_alone_commits_every_step_on_the_event_loops_thread(sqlite_url: str) -> None:
    steps = spec(
        "inline",
        [("a", task("inline-add", 1)), ("b", task("inline-add", out("a"))), ("end", exit_(out("b")))],
    )
    async with Engine.open(sqlite_url, tasks=[inline_add], poll_interval=60) as engine:
        await engine.deploy(steps)
        await engine.wait(await engine.start("inline", {}))  # the first run opens the threads
        commits = Commits(engine._store)
        run = await engine.wait(await engine.start("inline", {}))
        assert run.status is RunStatus.COMPLETED and run.output == 3
        assert commits.here().count(True) == 3  # started, a done, b done (a heartbeat is the thread's)


async def test_a_start_reads_the_deployed_versions_again_only_once_another_connection_committed(
    sqlite_url: str, sqlite_path: Path
) -> None:
    first = spec("versioned", [("end", exit_(1))])
    second = spec("versioned", [("end", exit_(2))], version=(2, 0))
    async with Engine.open(sqlite_url, poll_interval=60) as engine:  # no poll makes the writer busy
        reads: list[str] = []
        reader = engine._store.dialect._reader.raw  # type: ignore[attr-defined]
        reader.set_trace_callback(lambda s: reads.append(s) if s.startswith(VERSIONS) else None)
        await engine.deploy(first)
        for _ in range(3):
            run = await engine.wait(await engine.start("versioned", {}))
            assert (run.version.major, run.output) == (1, 1)
        assert len(reads) == 1  # kept since the first start: nothing else committed
        async with Engine.open(sqlite_url, serve=False) as other:  # as another process would
            await other.deploy(second)
        run = await engine.wait(await engine.start("versioned", {}))
        assert (run.version.major, run.output) == (2, 2)
        assert len(reads) == 2


async def test_the_mark_of_other_connections_commits_is_read_here_or_while_the_writer_is_busy_not_at_all(
    sqlite_url: str,
) -> None:
    async with _store(sqlite_url) as store, _store(sqlite_url) as other:
        before = await store.writes_elsewhere(wait=False)
        await seed(store)  # its own commit
        assert before is not None and await store.writes_elsewhere(wait=False) == before
        await seed(other, "r2")
        after = await store.writes_elsewhere(wait=False)
        assert after is not None and after != before
        release = threading.Event()
        queued = _writer(store).queue(lambda: release.wait(5))
        assert await store.writes_elsewhere(wait=False) is None  # would wait behind the busy call
        async with anyio.create_task_group() as tg:
            tg.start_soon(anyio.to_thread.run_sync, lambda: (time.sleep(0.05), release.set()))
            assert await store.writes_elsewhere() == after  # waited for
        await sqlite_store._outcome(queued)


async def test_the_mark_read_here_never_waits_for_another_processs_lock(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A read of the file waits, as configured, while another process holds
    it exclusively or recovers its WAL (on the writer's thread a slice at a
    time, see sqlite_locks); on the event loop's thread the mark is read
    with ``busy_timeout`` 0, as a commit begun there is."""
    async with _seeded(f"{sqlite_url}?busy_timeout=3") as (store, _):
        writer = _writer(store)
        timeouts: list[tuple[bool, int]] = []
        read_mark = sqlite_store._data_version

        def watched(conn: sqlite3.Connection) -> int:
            timeouts.append((threading.get_ident() == MAIN, conn.execute("PRAGMA busy_timeout").fetchone()[0]))
            return read_mark(conn)

        monkeypatch.setattr(sqlite_store, "_data_version", watched)
        await writer.run(lambda: None)  # a call on the thread: it waits for locks as configured
        assert await store.writes_elsewhere(wait=False) is not None
        release = threading.Event()
        queued = writer.queue(lambda: release.wait(5))  # busy: the mark is read on the thread, after it
        async with anyio.create_task_group() as tg:
            tg.start_soon(anyio.to_thread.run_sync, lambda: (time.sleep(0.05), release.set()))
            assert await store.writes_elsewhere() is not None
        await sqlite_store._outcome(queued)
        assert timeouts == [(True, 0), (False, int(SLICE * 1000))]


class _RefusingLockWaits:
    """A connection on which setting a lock wait above 0 fails, as on a
    connection gone bad; every other call goes through."""

    def __init__(self, raw: sqlite3.Connection) -> None:
        self._raw = raw

    def execute(self, statement: str, *args: object) -> sqlite3.Cursor:
        if statement.startswith("PRAGMA busy_timeout = ") and not statement.endswith("= 0"):
            raise sqlite3.OperationalError("refused, for the test")
        return self._raw.execute(statement, *args)

    def __getattr__(self, name: str) -> object:
        return getattr(self._raw, name)


async def test_a_queued_commit_runs_even_where_its_lock_wait_cannot_be_set_back(
    sqlite_url: str, sqlite_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Skipped with it, a pipelined commit would never tell its waiter
    that its batch was written, and that waiter waits shielded."""
    async with _seeded(sqlite_url) as (store, commits):
        writer = _writer(store)
        monkeypatch.setattr(writer, "raw", _RefusingLockWaits(writer.raw))
        writer.without_waiting()  # as after a call made on the event loop's thread
        writer.last_commit = 6.0  # a slow disk: the commit is queued on the thread
        with anyio.fail_after(5):
            await _write_run(store, "r2")
        assert commits.here() == [False]
    assert _run_ids(sqlite_path) == ["r1", "r2"]


async def test_a_commit_cancelled_while_queued_still_lands(sqlite_url: str, sqlite_path: Path) -> None:
    async with _store(sqlite_url) as store:
        await seed(store)
        release = threading.Event()
        queued = _writer(store).queue(lambda: release.wait(5))
        outcome: list[str] = []

        async def write() -> None:
            with anyio.CancelScope() as scope:
                scopes.append(scope)
                await _write_run(store, "r2")
                outcome.append("committed")
                await anyio.sleep(5)
            outcome.append("cancelled" if scope.cancelled_caught else "went on")

        scopes: list[anyio.CancelScope] = []
        async with anyio.create_task_group() as tg:
            tg.start_soon(write)
            await anyio.sleep(0.05)
            scopes[0].cancel()  # while its commit waits behind the busy call
            await anyio.sleep(0.05)
            assert outcome == [] and _run_ids(sqlite_path) == ["r1"]
            release.set()
        await sqlite_store._outcome(queued)
        assert outcome == ["committed", "cancelled"]
    assert _run_ids(sqlite_path) == ["r1", "r2"]


async def test_a_run_alone_on_a_memory_database_commits_on_the_event_loops_thread() -> None:
    steps = spec("inline-memory", [("a", task("inline-add", 4)), ("end", exit_(out("a")))])
    async with Engine.open("sqlite:///:memory:", tasks=[inline_add], poll_interval=60) as engine:
        await engine.deploy(steps)
        await engine.wait(await engine.start("inline-memory", {}))
        commits = Commits(engine._store)
        run = await engine.wait(await engine.start("inline-memory", {}))
        assert run.status is RunStatus.COMPLETED and run.output == 5
        assert commits.here().count(True) == 2


async def test_a_deploy_is_seen_by_the_next_start_whichever_engine_stored_it(db_url: str) -> None:
    versions = [spec("versioned", [("end", exit_(major))], version=(major, 0)) for major in (1, 2, 3)]
    async with (
        Engine.open(db_url, poll_interval=60) as engine,  # the versions it keeps are not aged out meanwhile
        Engine.open(db_url, serve=False, poll_interval=60) as other,
    ):
        forgotten: list[str] = []
        forget = engine._specs.forget_versions
        engine._specs.forget_versions = lambda names=(): (forgotten.extend(names), forget(names))[1]  # type: ignore[method-assign]

        async def latest() -> int:
            run = await engine.wait(await engine.start("versioned", {}))
            assert run.output == run.version.major
            return run.version.major

        await engine.deploy(versions[0])
        assert [await latest(), await latest()] == [1, 1]
        await engine.deploy(versions[1])  # by this engine: its own commits leave SQLite's mark as it was
        assert await latest() == 2
        async with other._store.transaction() as tx:  # stored elsewhere, its notice lost (PostgreSQL)
            third = versions[2]
            await tx.insert_spec(SpecRecord("versioned", 3, 0, body_hash(third), dumps(third), 1.0))
        forgotten.clear()
        assert await engine.deploy(third) is False  # found deployed
        assert forgotten == ["versioned"]
        assert await latest() == 3
