"""Commits that fail: disk full, I/O errors, a connection lost in the middle
of a transaction or while its commit was in flight (see :mod:`faults`), at
chosen and at seeded random points, on both stores; heartbeats and claims
that fail; and how each store classifies real driver errors.

Whatever fails, the engine says so clearly (a caller gets a StoreError naming
the database and what to do; the log names them too), acts on nothing that did
not commit (no task attempt starts, no event is taken, no timer fires), and
picks up where it was once the fault clears: every run completes, every task
ran exactly once, and no journal entry is written twice.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
import pytest
from faults import Fault, FaultyStore, journal_has
from rtdb import Db
from rtspec import exit_, out, sleep, spec, task, wait

from wfc.runtime import Engine, RunStatus, StoreError, TaskContext
from wfc.runtime import task as wfc_task
from wfc.runtime.errors import DatabaseUnavailableError
from wfc.runtime.store import Store, open_store

pytestmark = pytest.mark.anyio

calls: Counter[tuple[str, str]] = Counter()
"""Task invocations by (run id, node)."""


@wfc_task("step")
def step(n: int, ctx: TaskContext) -> int:
    calls[(ctx.run_id, ctx.node_id)] += 1
    return n + 1


STEPS = spec("steps", [("a", task("step", 1)), ("b", task("step", out("a"))), ("end", exit_(out("b")))])
NAP = spec("nap", [("zz", sleep(0.01)), ("a", task("step", 1)), ("end", exit_(out("a")))])
GATE = spec("gate", [("go", wait("go")), ("a", task("step", out("go"))), ("end", exit_(out("a")))])
SOAK = spec(
    "soak",
    [("a", task("step", 1)), ("b", task("step", out("a"))), ("zz", sleep(0.01)), ("c", task("step", out("b"))),
     ("end", exit_(out("c")))],
)  # fmt: skip


@pytest.fixture(autouse=True)
def _fresh_calls() -> None:
    calls.clear()


@asynccontextmanager
async def faulty_engine(db: Db, seed: int = 0, max_batch: int = 1000) -> AsyncIterator[tuple[Engine, FaultyStore]]:
    """An engine on ``db`` whose store fails commits when told to."""
    store = FaultyStore(await open_store(db.url, time.time()), seed=seed)
    async with Engine.open(db.url, tasks=[step], poll_interval=0.02, max_batch=max_batch, store=store) as engine:
        for workflow in (STEPS, NAP, GATE, SOAK):
            await engine.deploy(workflow)
        yield engine, store


#: Faults that strike before the commit: nothing of the transaction is saved.
BEFORE_COMMIT = [Fault.DISK_FULL, Fault.IO_ERROR, Fault.CONNECTION_LOST]


def usable(db: Db, fault: Fault) -> None:
    """Skip the faults the store of ``db`` cannot have."""
    if db.kind == "sqlite" and fault in (Fault.CONNECTION_LOST, Fault.COMMIT_UNKNOWN):
        pytest.skip("SQLite has no connection to lose")


async def assert_ran_once(engine: Engine, run_id: str, nodes: list[str]) -> None:
    """Each task node of the run ran once, and its journal holds each step once."""
    assert {node: calls[(run_id, node)] for node in nodes} == dict.fromkeys(nodes, 1)
    history = await engine.history(run_id)
    assert [h.seq for h in history] == list(range(1, len(history) + 1))
    for kind in ("RUN_STARTED", "TASK_DISPATCHED", "TASK_COMPLETED", "RUN_COMPLETED"):
        counted = Counter(h.node for h in history if h.kind == kind)
        assert all(n == 1 for n in counted.values()), (kind, counted)
    assert Counter(h.kind for h in history)["TASK_COMPLETED"] == len(nodes)


def stored_kinds(db: Db, run_id: str) -> list[str]:
    return [kind for (kind,) in db.rows(f"SELECT kind FROM journal WHERE run_id = '{run_id}' ORDER BY seq")]


# ---------------------------------------------------------------- chosen points


@pytest.mark.parametrize("fault", BEFORE_COMMIT, ids=lambda f: f.name.lower())
async def test_a_task_result_that_cannot_be_committed_starts_nothing_until_the_fault_clears(
    db: Db, fault: Fault, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, "wfc.runtime")
    usable(db, fault)
    async with faulty_engine(db) as (engine, store):
        store.fail(fault, when=journal_has("TASK_COMPLETED", "a"))  # until cleared
        run_id = await engine.start("steps", run_id="r1")
        await store.injected_at_least(3)  # the result of `a` was tried three times
        # Nothing acted on the uncommitted result: `b` never started, and the
        # database still says that `a` is running.
        assert calls == {("r1", "a"): 1}
        assert stored_kinds(db, run_id)[-1] == "TASK_DISPATCHED"
        assert (await engine.get_run(run_id)).status is RunStatus.RUNNING
        store.clear()
        run = await engine.wait(run_id, timeout=10)
        assert run.status is RunStatus.COMPLETED and run.output == 3
        await assert_ran_once(engine, run_id, ["a", "b"])
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any(store.location in w and "commit" in w and "(" in w for w in warnings), warnings
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]  # no traceback for the database's trouble


@pytest.mark.parametrize("fault", BEFORE_COMMIT, ids=lambda f: f.name.lower())
async def test_a_start_that_cannot_be_committed_tells_the_caller_and_starts_nothing(db: Db, fault: Fault) -> None:
    usable(db, fault)
    async with faulty_engine(db) as (engine, store):
        store.fail(fault, times=1)
        with pytest.raises(StoreError) as caught:
            await engine.start("steps", run_id="r1")
        message = str(caught.value)
        assert message.startswith(f"cannot use database {store.location}: could not commit: ")
        assert "call again once that is fixed" in message and "same run_id" in message
        assert db.rows("SELECT count(*) FROM runs") == [(0,)]
        assert db.rows("SELECT count(*) FROM tasks") == [(0,)]
        # Called again, as the message says: the run starts once.
        assert await engine.start("steps", run_id="r1") == "r1"
        run = await engine.wait("r1", timeout=10)
        assert run.status is RunStatus.COMPLETED
        await assert_ran_once(engine, "r1", ["a", "b"])


async def test_starts_whose_shared_turn_keeps_conflicting_are_each_tried_alone(db: Db) -> None:
    # Another process keeps writing rows that a turn of several starts
    # touches (here: every turn that writes more than one run conflicts).
    # After its retries the turn is split, and each start, alone, commits;
    # before, all of them failed with the conflict.
    async with faulty_engine(db) as (engine, store):
        store.fail(Fault.CONFLICT, when=lambda batch: len(batch.runs) > 1)
        run_ids = [f"r{index}" for index in range(6)]
        async with anyio.create_task_group() as tg:
            for run_id in run_ids:
                tg.start_soon(engine.start, "steps", None, run_id)
        assert store.injected, "no turn held more than one start: nothing was tested"
        for run_id in run_ids:
            assert (await engine.wait(run_id, timeout=10)).status is RunStatus.COMPLETED
            await assert_ran_once(engine, run_id, ["a", "b"])


@pytest.mark.parametrize("fault", BEFORE_COMMIT, ids=lambda f: f.name.lower())
async def test_an_event_that_cannot_be_committed_is_not_taken(db: Db, fault: Fault) -> None:
    usable(db, fault)
    async with faulty_engine(db) as (engine, store):
        run_id = await engine.start("gate", run_id="g1")
        store.fail(fault, times=1)
        with pytest.raises(StoreError, match="same event_id"):
            await engine.send_event("go", 41, run_id=run_id, event_id="e1")
        assert db.rows("SELECT count(*) FROM events") == [(0,)]
        assert "EVENT_RECEIVED" not in stored_kinds(db, run_id)
        assert (await engine.get_run(run_id)).waiting_on == ["main@go: event 'go'"]
        assert not calls
        sent = await engine.send_event("go", 41, run_id=run_id, event_id="e1")
        assert not sent.duplicate
        run = await engine.wait(run_id, timeout=10)
        assert run.output == 42
        await assert_ran_once(engine, run_id, ["a"])


@pytest.mark.parametrize("fault", BEFORE_COMMIT, ids=lambda f: f.name.lower())
async def test_a_timer_whose_firing_cannot_be_committed_fires_once_the_fault_clears(db: Db, fault: Fault) -> None:
    usable(db, fault)
    async with faulty_engine(db) as (engine, store):
        store.fail(fault, when=journal_has("TIMER_FIRED"))
        run_id = await engine.start("nap", run_id="n1")
        await store.injected_at_least(3)
        assert not calls
        assert db.rows("SELECT count(*) FROM timers") == [(1,)]  # still there, to fire again
        assert "TIMER_FIRED" not in stored_kinds(db, run_id)
        store.clear()
        run = await engine.wait(run_id, timeout=10)
        assert run.status is RunStatus.COMPLETED
        await assert_ran_once(engine, run_id, ["a"])
        assert stored_kinds(db, run_id).count("TIMER_FIRED") == 1
        assert db.rows("SELECT count(*) FROM timers") == [(0,)]


async def test_a_commit_whose_reply_was_lost_neither_loses_nor_repeats_a_step(db: Db) -> None:
    usable(db, Fault.COMMIT_UNKNOWN)
    async with faulty_engine(db) as (engine, store):
        # The result of `a` is committed (and `b` dispatched), but the engine
        # only sees the connection drop.
        store.fail(Fault.COMMIT_UNKNOWN, times=1, when=journal_has("TASK_COMPLETED", "a"))
        run_id = await engine.start("steps", run_id="r1")
        run = await engine.wait(run_id, timeout=10)
        assert run.status is RunStatus.COMPLETED and run.output == 3
        await assert_ran_once(engine, run_id, ["a", "b"])
        assert len(store.injected) == 1


async def test_a_step_whose_commit_failed_then_went_through_unseen_starts_its_attempt(
    db: Db, caplog: pytest.LogCaptureFixture
) -> None:
    """The result of `a` fails to commit (connection lost), and the engine
    watches whether that commit went through after all. Before that watch
    looks, the result's second try commits, but its reply is lost too. The
    attempt of `b` both tries would start must start, from the second one's
    commit: it used to wait for the watch of the first try, which found that
    try's entries missing, and `b`'s outbox row, leased to this engine, was
    left until its lease ran out."""
    usable(db, Fault.COMMIT_UNKNOWN)
    async with faulty_engine(db) as (engine, store):
        result_of_a = journal_has("TASK_COMPLETED", "a")
        store.fail(Fault.CONNECTION_LOST, times=1, when=result_of_a)
        store.fail(Fault.COMMIT_UNKNOWN, times=1, when=result_of_a)
        store.hold_history()  # the watch of the first try looks only once the second try failed too
        run_id = await engine.start("steps", run_id="r1")
        with anyio.fail_after(10):  # both failures told (the engine watches a commit right after saying it failed)
            while sum("failed" in r.getMessage() for r in caplog.records if r.name == "wfc.runtime") < 2:
                await anyio.sleep(0.005)
        store.release_history()
        run = await engine.wait(run_id, timeout=10)
        assert run.status is RunStatus.COMPLETED and run.output == 3
        await assert_ran_once(engine, run_id, ["a", "b"])
        assert [i.fault for i in store.injected] == [Fault.CONNECTION_LOST, Fault.COMMIT_UNKNOWN]


async def test_a_batch_that_cannot_be_committed_is_not_split_into_as_many_failing_commits(db: Db) -> None:
    async with faulty_engine(db) as (engine, store):
        failures: list[StoreError] = []

        async def start(run_id: str) -> None:
            with pytest.raises(StoreError) as caught:
                await engine.start("steps", run_id=run_id)
            failures.append(caught.value)

        store.hold()  # the commit loop waits: the five starts queue up behind the first
        async with anyio.create_task_group() as tg:
            for index in range(6):
                tg.start_soon(start, f"r{index}")
                if index == 0:
                    await store.holding()
            with anyio.fail_after(10):
                while engine._loop.queued < 5:
                    await anyio.sleep(0.005)
            store.fail(Fault.DISK_FULL)  # until cleared
            store.release()
    # The disk is full for every command alike: one failed commit for the first
    # start and one for the five others, not one more for each of them.
    assert len(failures) == 6
    assert [len(i.runs) for i in store.injected] == [1, 5]
    assert db.rows("SELECT count(*) FROM runs") == [(0,)]


@pytest.mark.parametrize("fault", [Fault.DISK_FULL, Fault.IO_ERROR], ids=lambda f: f.name.lower())
async def test_heartbeats_and_claims_that_fail_are_told_in_one_line_and_tried_again(
    db: Db, fault: Fault, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, "wfc.runtime")
    async with faulty_engine(db) as (engine, store):
        store.fail_polls(fault)
        run_id = await engine.start("nap", run_id="n1")
        await store.polls_failed_at_least(6)
        assert not calls  # the timer could not be looked for
        store.clear()
        run = await engine.wait(run_id, timeout=10)
        assert run.status is RunStatus.COMPLETED
        await assert_ran_once(engine, run_id, ["a"])
    warnings = {r.getMessage().split(" failed, trying again: ")[0] for r in caplog.records}
    assert {"looking for due timers", "polling the database"} <= warnings
    reason = str(store.inner.explain(store._error(fault)))
    expected = f" failed, trying again: cannot use database {store.location}: {reason}"
    assert all(r.getMessage().endswith(expected) for r in caplog.records), [r.getMessage() for r in caplog.records]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]  # no traceback for the database's trouble


# ---------------------------------------------------------------- random points


async def start_until_committed(engine: Engine, run_id: str) -> None:
    """Start a run, calling again after a failed commit (as the error says)."""
    while True:
        try:
            await engine.start("soak", run_id=run_id)
            return
        except StoreError:
            continue


async def all_finished(engine: Engine, run_ids: list[str]) -> bool:
    for run_id in run_ids:
        if not (await engine.get_run(run_id)).status.finished:
            return False
    return True


@pytest.mark.parametrize("seed", [1, 2])
async def test_runs_survive_commits_failing_at_random(db: Db, seed: int) -> None:
    runs = [f"s{i}" for i in range(24)]
    # Small batches: more commits to fail, some of them holding many runs.
    async with faulty_engine(db, seed=seed, max_batch=3) as (engine, store):
        store.fail_randomly(0.5, limit=25)
        async with anyio.create_task_group() as tg:
            for run_id in runs:
                tg.start_soon(start_until_committed, engine, run_id)
        with anyio.fail_after(20):  # faults go on while the runs advance, until the limit is used up
            while store.random_faults_left and not await all_finished(engine, runs):
                await anyio.sleep(0.01)
        store.clear()
        for run_id in runs:
            run = await engine.wait(run_id, timeout=20)
            assert run.status is RunStatus.COMPLETED and run.output == 4, run_id
            await assert_ran_once(engine, run_id, ["a", "b", "c"])
        assert len(store.injected) >= 10
        assert {i.fault for i in store.injected} == set(store.faults)
    assert db.rows("SELECT count(*) FROM tasks") == [(0,)]
    assert db.rows("SELECT count(*) FROM timers") == [(0,)]


# ---------------------------------------------------------------- what the stores make of real errors


def real_sqlite_errors() -> dict[str, sqlite3.Error]:
    """Errors SQLite itself raised: a full database, a refused value, a missing table."""
    conn = sqlite3.connect(":memory:", isolation_level=None)
    conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, x)")
    conn.execute("INSERT INTO t VALUES (1, 1)")
    conn.execute("PRAGMA max_page_count = 2")  # the disk is "full" at two pages
    found: dict[str, sqlite3.Error] = {}
    for name, sql in [
        ("full", "INSERT INTO t (x) VALUES (randomblob(100000))"),
        ("refused", "INSERT INTO t VALUES (1, 2)"),
        ("no-table", "SELECT * FROM nope"),
    ]:
        with pytest.raises(sqlite3.Error) as caught:
            conn.execute(sql)
        found[name] = caught.value
    conn.close()
    return found


async def test_sqlite_retries_a_full_disk_but_not_a_refused_value(sqlite_url: str) -> None:
    store: Store = await open_store(sqlite_url, 1.0)
    try:
        errors = real_sqlite_errors()
        assert store.is_transient(errors["full"])
        assert not store.is_transient(errors["refused"])  # the same data fails again
        assert not store.is_transient(errors["no-table"])
        full = store.commit_failed(errors["full"])
        assert isinstance(full, DatabaseUnavailableError)  # the database's trouble, and it may pass
        assert type(store.commit_failed(errors["refused"])) is StoreError  # the data's: it fails again
        message = str(full)
        assert message.startswith(f"cannot use database {store.location}: could not commit: database or disk is full")
        assert "free space on the disk" in message and "call again" in message
        assert "call again" not in str(store.commit_failed(errors["refused"]))
    finally:
        await store.close()


async def test_postgres_retries_a_lost_connection_and_a_full_disk_but_not_a_refused_value(db: Db) -> None:
    if db.kind != "postgres":
        pytest.skip("classification of PostgreSQL errors; SQLite has its own test")
    import asyncpg  # type: ignore[import-untyped]

    store: Store = await open_store(db.url, 1.0)
    conn = await asyncpg.connect(db.url.split("?")[0])
    try:
        with pytest.raises(asyncpg.DataError) as refused:
            await conn.execute("SELECT 'a\\u0000b'::text::jsonb")
        with pytest.raises(asyncpg.PostgresError) as killed:
            await conn.execute("SELECT pg_terminate_backend(pg_backend_pid())")
        assert not store.is_transient(refused.value)
        assert store.is_transient(killed.value)
        message = str(store.commit_failed(killed.value))
        assert message.startswith(f"cannot use database {store.location}: could not commit: ")
        assert "check that the PostgreSQL server is up and reachable" in message and "call again" in message
        full = asyncpg.DiskFullError("could not extend file: No space left on device")
        assert store.is_transient(full) and "free space on the PostgreSQL server" in store.explain(full)
    finally:
        conn.terminate()
        await store.close()


async def test_an_outage_asks_the_database_at_a_bounded_rate(db: Db, monkeypatch: pytest.MonkeyPatch) -> None:
    """While commits and reads fail, the result of `a` is resubmitted again
    and again with the same next attempt (`b`): one watcher looks for it,
    backing off, not one more per failed commit (which asked a database that
    is down ever faster: thousands of reads a second within seconds)."""
    reads = 0
    async with faulty_engine(db) as (engine, store):
        inner_history = store.history

        async def failing_history(*args: object, **kwargs: object) -> list[object]:
            nonlocal reads
            reads += 1
            raise StoreError(store.location, "the disk reported an I/O error")

        monkeypatch.setattr(store, "history", failing_history)
        store.fail(Fault.IO_ERROR, when=journal_has("TASK_COMPLETED", "a"))
        run_id = await engine.start("steps", {}, run_id="s1")
        await anyio.sleep(1.5)  # 75 poll intervals of outage
        assert 0 < reads <= 12, f"{reads} reads in 1.5 s of outage"
        store.clear()
        monkeypatch.setattr(store, "history", inner_history)
        with anyio.fail_after(10):
            assert (await engine.wait(run_id)).status is RunStatus.COMPLETED
    assert calls[("s1", "a")] == calls[("s1", "b")] == 1
