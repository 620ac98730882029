"""What only the PostgreSQL store has: its schema and the checks that leave a
foreign or newer schema untouched, URLs and connection errors, claims with
``FOR UPDATE SKIP LOCKED``, sessions as liveness, and ``LISTEN/NOTIFY``.
The Store interface itself is tested on every store in test_store.py.

Needs ``WFC_TEST_POSTGRES_URL`` (each test works in a schema of its own);
the tests that need no server run everywhere.
"""

from __future__ import annotations

import sys
import time

import anyio
import pytest
from rtdb import Db
from rtstore import seed, task_record

from wfc.runtime import Engine, RunStatus
from wfc.runtime import task as wfc_task
from wfc.runtime.errors import NewerDatabaseError, NotAWfcDatabaseError, StoreError
from wfc.runtime.store import Store, TimerRecord, Wakeup, open_store
from wfc.runtime.store.postgres import PostgresDialect
from wfc.runtime.store.postgres_setup import MARKER, latest_version, parse_url

pytestmark = pytest.mark.anyio


def _tables(pg: Db) -> list[tuple[object, ...]]:
    return pg.rows(f"SELECT table_name FROM information_schema.tables WHERE table_schema = '{pg.schema}' ORDER BY 1")


# ---------------------------------------------------------------- URLs, no server needed


def test_urls_name_the_schema_and_hide_the_password() -> None:
    target = parse_url("postgres://ann:s3cret@db.example:5433/app?sslmode=disable&schema=orders")
    assert target is not None
    assert target.schema == "orders"
    assert target.dsn == "postgresql://ann:s3cret@db.example:5433/app?sslmode=disable"
    assert "s3cret" not in target.location and "ann:***@db.example" in target.location
    default = parse_url("postgresql://localhost/app")
    assert default is not None and default.schema == "wfc" and default.channel("tasks") == "wfc.wfc.tasks"
    assert parse_url("sqlite:///x.db") is None
    with pytest.raises(StoreError, match=r"schema='Bad-Name' is not a plain schema name"):
        parse_url("postgresql://localhost/app?schema=Bad-Name")


async def test_without_asyncpg_the_error_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "asyncpg", None)
    with pytest.raises(StoreError, match=r"pip install 'wfc\[postgres\]'"):
        await open_store("postgresql://localhost/app", 1.0)


async def test_an_unreachable_server_is_a_clear_error() -> None:
    pytest.importorskip("asyncpg")
    with pytest.raises(StoreError, match=r"cannot connect to the PostgreSQL server at 127\.0\.0\.1:1 .*is it running"):
        await open_store("postgresql://nobody@127.0.0.1:1/app", 1.0)


# ---------------------------------------------------------------- opening and migrating


async def test_a_new_schema_is_created_migrated_and_marked_as_ours(pg: Db) -> None:
    store = await open_store(pg.url, 5.0)
    await store.close()
    assert pg.rows("SELECT version, name FROM wfc_migrations") == [
        (1, "initial"),
        (2, "state_format"),
        (3, "runs_by_version"),
        (4, "run_threads"),
        (5, "journal_feed"),
        (6, "run_trace"),
        (7, "search"),
        (8, "engine_tasks"),
        (9, "user_tasks"),
    ]
    assert pg.rows("SELECT obj_description('wfc_migrations'::regclass, 'pg_class')") == [(MARKER,)]
    names = {row[0] for row in _tables(pg)}
    assert {"runs", "journal", "tasks", "timers", "events", "event_waits", "specs", "engines"} <= names
    store = await open_store(pg.url, 6.0)  # opening again applies nothing twice
    await store.close()
    assert pg.rows("SELECT count(*) FROM wfc_migrations") == [(latest_version(),)]


async def test_an_empty_schema_becomes_ours(pg: Db) -> None:
    pg.execute(f'CREATE SCHEMA "{pg.schema}"')
    store = await open_store(pg.url, 1.0)
    await store.close()
    assert pg.rows("SELECT count(*) FROM wfc_migrations") == [(latest_version(),)]


@pytest.mark.parametrize(
    "tables",
    [
        ["CREATE TABLE customers (id serial PRIMARY KEY, name text)", "INSERT INTO customers (name) VALUES ('ann')"],
        # A table named like one of ours, without wfc's migrations table.
        ["CREATE TABLE runs (id text PRIMARY KEY)", "INSERT INTO runs VALUES ('theirs')"],
        # A wfc_migrations table that is not ours (no marker).
        ["CREATE TABLE wfc_migrations (version integer)", "INSERT INTO wfc_migrations VALUES (1)"],
    ],
)
async def test_a_schema_of_another_application_is_refused_and_untouched(pg: Db, tables: list[str]) -> None:
    pg.execute(f'CREATE SCHEMA "{pg.schema}"; SET search_path TO "{pg.schema}"; ' + "; ".join(tables))
    before = (
        _tables(pg),
        pg.rows(
            "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            f"WHERE n.nspname = '{pg.schema}'"
        ),
    )
    with pytest.raises(NotAWfcDatabaseError, match=r"holds tables that are not wfc's.*\?schema=NAME") as info:
        await open_store(pg.url, 1.0)
    assert pg.schema in str(info.value)
    after = (
        _tables(pg),
        pg.rows(
            "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            f"WHERE n.nspname = '{pg.schema}'"
        ),
    )
    assert after == before


async def test_a_schema_from_a_newer_wfc_is_refused_and_untouched(pg: Db) -> None:
    store = await open_store(pg.url, 1.0)
    await store.close()
    pg.execute(f"INSERT INTO \"{pg.schema}\".wfc_migrations (version, name, applied_at) VALUES (99, 'future', 0)")
    before = pg.rows("SELECT version FROM wfc_migrations ORDER BY 1"), _tables(pg)
    with pytest.raises(NewerDatabaseError, match="newer wfc") as info:
        await open_store(pg.url, 1.0)
    assert (info.value.found, info.value.supported) == (99, latest_version())
    assert (pg.rows("SELECT version FROM wfc_migrations ORDER BY 1"), _tables(pg)) == before


async def test_a_missing_database_is_a_clear_error(pg: Db) -> None:
    base = pg.url.split("?")[0].rsplit("/", 1)[0]
    with pytest.raises(StoreError, match=r"database 'wfc_no_such_db' does not exist.*createdb wfc_no_such_db"):
        await open_store(f"{base}/wfc_no_such_db", 1.0)


async def test_processes_opening_together_migrate_once(pg: Db) -> None:
    stores: list[Store] = []

    async def open_one() -> None:
        stores.append(await open_store(pg.url, 1.0))

    async with anyio.create_task_group() as tg:
        for _ in range(4):
            tg.start_soon(open_one)
    for store in stores:
        await store.close()
    assert pg.rows("SELECT count(*) FROM wfc_migrations") == [(latest_version(),)]


# ---------------------------------------------------------------- claims and leases


async def test_a_claim_says_whether_anyone_ever_held_the_attempt(pg: Db) -> None:
    store = await open_store(pg.url, 1.0)
    await seed(store)
    async with store.transaction() as tx:
        tx.batch.put_task(task_record("new#1"))
        tx.batch.put_task(task_record("expired#1", owner="gone", expires=5.0))
    claimed = {t.dispatch_id: t.fresh for t in await store.claim_tasks("me", {"t"}, 10.0, 30.0, 10)}
    assert claimed == {"new#1": True, "expired#1": False}
    await store.release_engine("me")  # released attempts are delivered again through their run
    assert {t.fresh for t in await store.claim_tasks("other", {"t"}, 11.0, 30.0, 10)} == {False}
    await store.close()


async def test_concurrent_claimers_never_get_the_same_attempt(pg: Db) -> None:
    stores = [await open_store(pg.url, 1.0) for _ in range(4)]
    await seed(stores[0])
    async with stores[0].transaction() as tx:
        for index in range(200):
            tx.batch.put_task(task_record(f"d{index}#1"))
    taken: list[str] = []

    async def claim(store: Store, owner: str) -> None:
        while True:
            batch = await store.claim_tasks(owner, {"t"}, 10.0, 30.0, 7)
            if not batch:
                return
            taken.extend(t.dispatch_id for t in batch)

    async with anyio.create_task_group() as tg:
        for index, store in enumerate(stores):
            tg.start_soon(claim, store, f"w{index}")
    assert sorted(taken) == sorted(f"d{index}#1" for index in range(200))
    for store in stores:
        await store.close()


async def test_timers_are_leased_to_one_engine(pg: Db) -> None:
    first, second = await open_store(pg.url, 1.0), await open_store(pg.url, 1.0)
    await seed(first)
    async with first.transaction() as tx:
        tx.batch.put_timer(TimerRecord("r1", 1, 5.0))
        tx.batch.put_timer(TimerRecord("r1", 2, 50.0))
    assert [t.timer for t in await first.claim_timers("a", 10.0, 30.0, 10)] == [1]
    assert await second.claim_timers("b", 10.0, 30.0, 10) == []  # held by a
    assert [t.timer for t in await first.claim_timers("a", 11.0, 30.0, 10)] == [1]  # its own again
    assert [t.timer for t in await second.claim_timers("b", 45.0, 30.0, 10)] == [1]  # a's lease expired
    await first.close()
    await second.close()


async def test_an_engine_whose_session_ended_is_reaped_at_once(pg: Db) -> None:
    doomed = await open_store(pg.url, 1.0)
    survivor = await open_store(pg.url, 1.0)
    now = time.time()
    await doomed.register_engine("doomed", "elsewhere", 1, now, 30.0)
    await survivor.register_engine("survivor", "here", 2, now, 30.0)
    await seed(survivor)
    async with survivor.transaction() as tx:
        tx.batch.put_task(task_record("held#1", owner="doomed", expires=now + 30))
    assert await survivor.reap_engines(now, 30.0) == 0  # alive: its session is open
    await doomed.close()  # its session ends, as when the process is killed
    with anyio.fail_after(5):
        while not await survivor.reap_engines(time.time(), 30.0):
            await anyio.sleep(0.02)
    assert pg.rows("SELECT lease_owner FROM tasks") == [(None,)]
    assert pg.rows("SELECT id FROM engines") == [("survivor",)]
    # An engine whose heartbeat stopped for longer than the lease is gone too.
    pg.execute(
        f'INSERT INTO "{pg.schema}".engines (id, host, pid, started_at, heartbeat_at) '
        f"VALUES ('silent', 'far', 3, {now - 100}, {now - 100})"
    )
    assert await survivor.reap_engines(now, 30.0) == 1
    assert pg.rows("SELECT id FROM engines") == [("survivor",)]
    await survivor.close()


# ---------------------------------------------------------------- notifications


async def test_other_processes_are_woken_by_notifications(pg: Db) -> None:
    sender, listener = await open_store(pg.url, 1.0), await open_store(pg.url, 1.0)
    heard: list[Wakeup] = []
    own: list[Wakeup] = []
    listener.subscribe(heard.append)
    sender.subscribe(own.append)
    await seed(sender)
    async with sender.transaction() as tx:
        tx.batch.put_task(task_record("a#1", task="charge"))
        tx.batch.put_task(task_record("b#1", task="ship", owner="me", expires=100.0))  # leased: no news
        tx.batch.put_timer(TimerRecord("r1", 1, 5.0))
    with anyio.fail_after(5):
        while {w.kind for w in heard} != {"tasks", "timers", "runs"}:
            await anyio.sleep(0.01)
    kinds = {w.kind: w.names for w in heard}
    assert kinds["tasks"] == ("charge",)
    assert "r1" in kinds["runs"]
    assert own == []  # a process is not told about its own commits
    await sender.close()
    await listener.close()


@wfc_task("echo")
async def echo(value: int) -> int:
    return value


async def test_a_client_is_woken_when_a_worker_in_another_engine_finishes_its_run(pg: Db) -> None:
    from rtspec import exit_, out, spec, task

    s = spec("echoing", [("e", task("echo", 7)), ("end", exit_(out("e")))])
    # Polling once a minute: only notifications can make this fast.
    async with (
        Engine.open(pg.url, serve=False, poll_interval=60) as client,
        Engine.open(pg.url, tasks=[echo], poll_interval=60) as worker,
    ):
        await client.deploy(s)
        began = time.monotonic()
        run_id = await client.start("echoing")
        run = await client.wait(run_id, timeout=30)
        assert run.status is RunStatus.COMPLETED and run.output == 7
        assert time.monotonic() - began < 30  # far below the 60 s poll, with room for a loaded machine
        assert worker.counters.claimed == 1 and worker.counters.completed == 1


async def test_a_client_reads_a_run_a_worker_steps_only_when_it_ended(pg: Db) -> None:
    # Every commit of the worker tells the client which runs changed; only
    # the notice of the runs that ended may make a waiter read. Before, each
    # step of the worker cost the client a read of the run's status.
    from rtspec import exit_, out, spec, task

    steps = 8
    nodes = [(f"e{index}", task("echo", index)) for index in range(steps)]
    s = spec("echoing-on", [*nodes, ("end", exit_(out(f"e{steps - 1}")))])
    client_store = await open_store(pg.url, time.time())
    reads: list[str] = []
    real_get_run, real_statuses = client_store.get_run, client_store.run_statuses

    async def counting_get_run(run_id: str) -> object:
        reads.append(f"run {run_id}")
        return await real_get_run(run_id)

    async def counting_statuses(run_ids: object) -> object:
        reads.append(f"status {list(run_ids)}")  # type: ignore[call-overload]
        return await real_statuses(run_ids)  # type: ignore[arg-type]

    client_store.get_run = counting_get_run  # type: ignore[method-assign]
    client_store.run_statuses = counting_statuses  # type: ignore[method-assign]
    async with Engine.open(pg.url, serve=False, poll_interval=60, store=client_store) as client:
        await client.deploy(s)
        async with Engine.open(pg.url, tasks=[echo], poll_interval=60) as worker:
            # Until a worker first tells of a run that ended, the client takes
            # it for an older wfc and looks at what its notices name.
            await client.wait(await client.start("echoing-on"), timeout=30)
            await client.start("echoing-on", run_id="r1")
            reads.clear()  # a start with a run id looks whether it exists
            began = time.monotonic()
            run = await client.wait("r1", timeout=30)
            assert time.monotonic() - began < 30  # far below the 60 s poll: the notice woke it
            assert worker.counters.completed == 2 * steps
    assert run.status is RunStatus.COMPLETED and run.output == steps - 1
    # One read of the whole run, once the notice said it ended; before it,
    # one look at the status if the worker's first notice of r1 came before
    # the wait began (the client no longer takes it for in flight then).
    # Before, each step the worker committed made it read the status.
    assert reads in (["run r1"], ["status ['r1']", "run r1"])
    assert len(pg.rows("SELECT seq FROM journal WHERE run_id = 'r1'")) > steps  # the worker did step it


async def test_a_client_waiting_on_a_worker_that_tells_no_ends_is_still_woken_at_once(pg: Db) -> None:
    # An older wfc worker sends "runs" notices but no "ended": the client
    # then looks at the awaited runs those notices name (one status query
    # for all named meanwhile), rather than leaving its waiters to the poll.
    from rtspec import exit_, out, spec, task

    s = spec("echoing-old", [("a", task("echo", 1)), ("b", task("echo", 2)), ("end", exit_(out("b")))])
    worker_store = await open_store(pg.url, time.time())
    session = worker_store.dialect._session  # type: ignore[attr-defined]
    send = session.notify
    session.notify = lambda kind, names=("*",): None if kind == "ended" else send(kind, names)
    async with Engine.open(pg.url, serve=False, poll_interval=60) as client:
        await client.deploy(s)
        run_id = await client.start("echoing-old")
        async with Engine.open(pg.url, tasks=[echo], poll_interval=60, store=worker_store):
            began = time.monotonic()
            run = await client.wait(run_id, timeout=30)
            assert time.monotonic() - began < 30  # far below the 60 s poll
    assert run.status is RunStatus.COMPLETED and run.output == 2


@wfc_task("prepare")
async def prepare(order: str) -> str:
    await anyio.sleep(0.001 * (hash(order) % 5))
    return order


async def test_correlated_sends_and_waits_in_different_engines_never_miss_each_other(pg: Db) -> None:
    from rtspec import exit_, out, spec, task, var, variable, wait

    s = spec(
        "payment",
        [("prep", task("prepare", var("order"))), ("pay", wait("paid", correlation=var("order"))),
         ("end", exit_(out("pay")))],
        variables={"order": variable("str", required=True)},
    )  # fmt: skip
    orders = [f"o-{index}" for index in range(60)]
    async with (
        Engine.open(pg.url, tasks=[prepare], poll_interval=0.05) as waiter,
        Engine.open(pg.url, serve=False, poll_interval=0.05) as sender,
    ):
        await waiter.deploy(s)
        async with anyio.create_task_group() as tg:
            # Each run starts waiting while its event is being sent from the
            # other engine: before, during or after its wait is recorded.
            for order in orders:

                async def send(order: str = order) -> None:
                    await sender.send_event("paid", {"order": order}, correlation=order)

                tg.start_soon(waiter.start, "payment", {"order": order}, order)
                tg.start_soon(send)
        runs = [await waiter.wait(order, timeout=30) for order in orders]
    assert [run.output for run in runs] == [{"order": order} for order in orders]
    assert pg.rows("SELECT count(*) FROM events WHERE run_id IS NULL") == [(0,)]
    assert pg.rows("SELECT count(*) FROM event_waits") == [(0,)]


gate = {"open": anyio.Event()}


@wfc_task("gated")
async def gated() -> str:
    await gate["open"].wait()
    return "through"


async def test_an_engine_survives_losing_its_connections(pg: Db) -> None:
    from rtspec import exit_, out, spec, task

    gate["open"] = anyio.Event()
    s = spec("gate", [("g", task("gated")), ("end", exit_(out("g")))])
    async with Engine.open(pg.url, tasks=[gated], poll_interval=0.05, lease_seconds=1.5) as engine:
        await engine.deploy(s)
        run_id = await engine.start("gate")
        store = engine._store.dialect
        assert isinstance(store, PostgresDialect)
        # The server ends the transaction connection and the listening session
        # (a restart, a proxy, an administrator) while the task runs.
        writers = [c.get_server_pid() for c in store._opened if not c.is_closed()]
        pids = [*writers, store._session._conn.get_server_pid()]
        pg.execute(f"SELECT pg_terminate_backend(pid) FROM unnest(ARRAY{pids}) AS pid")
        gate["open"].set()
        run = await engine.wait(run_id, timeout=20)  # the result is committed on a new connection
        assert run.status is RunStatus.COMPLETED and run.output == "through"
        with anyio.fail_after(10):  # the heartbeat reconnects the session and registers it again
            while not store._session.alive:
                await anyio.sleep(0.05)
        assert pg.rows(f"SELECT count(*) FROM engines WHERE id = '{engine.engine_id}'") == [(1,)]
        again = await engine.start("gate")
        assert (await engine.wait(again, timeout=20)).status is RunStatus.COMPLETED


async def test_a_deploy_in_another_process_is_started_on_at_once_though_versions_are_kept(pg: Db) -> None:
    """A serving engine keeps each workflow's list of versions (a start
    without a version used to read it, one round trip per start); a deploy
    by another process is told by a notification, so the next start after
    it takes the new version, long before the list would expire (here 60 s)."""
    from rtversions import BRANCH, V1

    async with Engine.open(pg.url, serve=False) as deployer, Engine.open(pg.url, serve=False,
                                                                          poll_interval=60.0) as starter:  # fmt: skip
        await deployer.deploy(V1)
        first = await starter.start("order", {"order-id": "a", "amount": 1.0})
        assert str((await starter.get_run(first)).version) == "1.0"
        await deployer.deploy(BRANCH)
        with anyio.fail_after(10):
            while True:
                run_id = await starter.start("order", {"order-id": "b", "amount": 1.0})
                if str((await starter.get_run(run_id)).version) == "1.1":
                    break
                await anyio.sleep(0.05)
        kept = await starter.start("order", {"order-id": "c", "amount": 1.0})
        assert str((await starter.get_run(kept)).version) == "1.1"
