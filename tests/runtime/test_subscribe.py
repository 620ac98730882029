"""Subscribers: every run's journal from a durable position (Engine.subscribe),
at least once across restarts, and the feed's order with concurrent writers."""

from __future__ import annotations

from typing import Any

import anyio
import pytest
from rtdb import Db
from rtspec import exit_, spec, wait

from wfc.runtime import Engine, FeedEntry, Subscription, UsageError
from wfc.runtime.store import JournalRecord, Store, feed, open_store

pytestmark = pytest.mark.anyio

QUICK = spec("quick", [("end", exit_(1))])
WAITING = spec("waiting", [("w", wait("go")), ("end", exit_(1))])


async def take(subscription: Subscription, count: int, timeout: float = 10) -> list[FeedEntry]:
    """The next ``count`` entries (each body returns at once)."""
    got: list[FeedEntry] = []
    with anyio.fail_after(timeout):
        async for entry in subscription:
            got.append(entry)
            if len(got) == count:
                break
    return got


async def start_quick(engine: Engine, *run_ids: str) -> None:
    await engine.deploy(QUICK)
    for run_id in run_ids:
        await engine.start("quick", {}, run_id=run_id)
        await engine.wait(run_id, timeout=10)


def opened(url: str) -> Any:
    return Engine.open(url, poll_interval=0.05)


async def test_a_named_subscriber_goes_on_where_it_stopped_after_a_restart(db: Db) -> None:
    async with opened(db.url) as engine:
        await start_quick(engine, "r1", "r2", "r3")
        async with engine.subscribe("done", kinds=["RUN_COMPLETED"], poll_interval=0.02) as sub:
            first = await take(sub, 3)
            # the last entry's body returned only once the loop asks again:
            # the block ends first, so it is delivered again after a restart
            assert [e.run_id for e in first] == ["r1", "r2", "r3"]
            assert {e.kind for e in first} == {"RUN_COMPLETED"}
            assert all(e.workflow == "quick" for e in first)
    async with opened(db.url) as engine:
        await start_quick(engine, "r4")
        async with engine.subscribe("done", kinds=["RUN_COMPLETED"], poll_interval=0.02) as sub:
            again = await take(sub, 2)
    assert [e.run_id for e in again] == ["r3", "r4"]
    saved = db.rows("SELECT name FROM subscribers")
    assert saved == [("done",)]


async def test_an_entry_whose_handler_raised_is_delivered_again(db: Db) -> None:
    async with opened(db.url) as engine:
        await start_quick(engine, "r1", "r2")
        with pytest.raises(RuntimeError):
            async with engine.subscribe("alerts", kinds=["RUN_COMPLETED"], poll_interval=0.02) as sub:
                async for entry in sub:
                    if entry.run_id == "r2":
                        raise RuntimeError("handler failed")
        async with engine.subscribe("alerts", kinds=["RUN_COMPLETED"], poll_interval=0.02) as sub:
            got = await take(sub, 1)
    assert [e.run_id for e in got] == ["r2"]


async def test_every_entry_of_every_run_in_seq_order_without_kinds(db: Db) -> None:
    async with opened(db.url) as engine:
        await start_quick(engine, "a", "b")
        history = {r: [h.kind for h in await engine.history(r)] for r in ("a", "b")}
        total = sum(len(k) for k in history.values())
        async with engine.subscribe("all", poll_interval=0.02) as sub:
            got = await take(sub, total)
    for run_id, kinds in history.items():
        mine = [e for e in got if e.run_id == run_id]
        assert [e.kind for e in mine] == kinds
        assert [e.seq for e in mine] == list(range(1, len(kinds) + 1))


async def test_latest_and_unnamed_subscribers_see_only_what_comes_next(db: Db) -> None:
    async with opened(db.url) as engine:
        await start_quick(engine, "old")
        live = engine.subscribe(kinds=["RUN_COMPLETED"], start="latest", poll_interval=0.02)
        named = engine.subscribe("late", kinds=["RUN_COMPLETED"], start="latest", poll_interval=0.02)
        async with live, named, anyio.create_task_group() as group:
            got: dict[str, list[FeedEntry]] = {}

            async def collect(key: str, sub: Subscription) -> None:
                got[key] = []
                while not got[key] or got[key][-1].run_id != "new":
                    got[key] += await take(sub, 1)

            group.start_soon(collect, "live", live)
            group.start_soon(collect, "named", named)
            await anyio.sleep(0.3)  # both have read their starting position
            await start_quick(engine, "new")
    # On PostgreSQL "from now" starts at the oldest transaction still running
    # on the server, so an entry committed just before may come too.
    expected = [["new"]] if db.kind == "sqlite" else [["new"], ["old", "new"]]
    assert [e.run_id for e in got["live"]] in expected
    assert [e.run_id for e in got["named"]] in expected
    assert db.rows("SELECT name FROM subscribers") == [("late",)]


async def test_bad_arguments_are_refused_with_the_argument_named(db: Db) -> None:
    async with opened(db.url) as engine:
        with pytest.raises(UsageError, match="kinds must be a list"):
            engine.subscribe("x", kinds="RUN_COMPLETED")
        with pytest.raises(UsageError, match="start must be"):
            engine.subscribe("x", start="first")  # type: ignore[arg-type]
        with pytest.raises(UsageError, match="batch must be"):
            engine.subscribe("x", batch=0)
        with pytest.raises(UsageError, match="name"):
            engine.subscribe("")


# ---------------------------------------------------------------- concurrent writers (PostgreSQL)


def _journal(run_id: str, seq: int, kind: str) -> tuple[str, list[Any]]:
    return (
        "INSERT INTO journal (run_id, seq, at, thread, node, kind, attempt, detail) VALUES (?, ?, 1.0, 0, NULL, ?, "
        "NULL, '{}')",
        [run_id, seq, kind],
    )


async def _drain(store: Store, position: str) -> tuple[list[JournalRecord], str]:
    page = await feed.read(store, position, 1000, kinds=["TEST"])
    return [r.journal for r in page.records], page.position


async def _drain_until(
    store: Store, position: str, count: int, timeout: float = 20.0
) -> tuple[list[JournalRecord], str]:
    """Drain until ``count`` rows came: the feed hands out a committed row
    once no older transaction of the whole PostgreSQL cluster is still open,
    and other databases' transactions (other test sessions) may hold that
    back for a while."""
    got: list[JournalRecord] = []
    with anyio.move_on_after(timeout):
        while len(got) < count:
            rows, position = await _drain(store, position)
            got.extend(rows)
            if len(got) < count:
                await anyio.sleep(0.01)
    return got, position


async def _prepare(db: Db) -> None:
    async with Engine.open(db.url, poll_interval=0.05) as engine:
        await engine.deploy(WAITING)
        for run_id in ("r1", "r2", "r3", "r4"):
            await engine.start("waiting", {}, run_id=run_id)


async def test_a_row_written_first_and_committed_last_is_not_skipped(db: Db) -> None:
    if db.kind != "postgres":
        pytest.skip("SQLite has one writer: a second transaction cannot write until the first commits")
    await _prepare(db)
    one, two, reader = [await open_store(db.url, 0.0) for _ in range(3)]
    try:
        position = await feed.head(reader)
        async with one.transaction() as t1:
            # t1 writes its row first (the lower transaction id, the lower key)...
            await t1.connection.fetch(*_journal("r1", 100, "TEST"))
            async with two.transaction() as t2:
                await t2.connection.fetch(*_journal("r2", 100, "TEST"))
            # ... t2 commits first: its row is visible, but not yet safe to hand out
            early, position = await _drain(reader, position)
            assert early == []
        late, position = await _drain_until(reader, position, 2)
        assert [(r.run_id, r.seq) for r in late] == [("r1", 100), ("r2", 100)]
        assert (await _drain(reader, position))[0] == []
    finally:
        for store in (one, two, reader):
            await store.close()


async def test_a_later_writer_of_a_run_with_a_lower_transaction_id_comes_after(db: Db) -> None:
    if db.kind != "postgres":
        pytest.skip("SQLite has one writer: transaction order is commit order")
    await _prepare(db)
    one, two, reader = [await open_store(db.url, 0.0) for _ in range(3)]
    try:
        position = await feed.head(reader)
        async with one.transaction() as t_b:
            # t_b takes its transaction id first (writing run r3)...
            await t_b.connection.fetch(*_journal("r3", 100, "TEST"))
            async with two.transaction() as t_a:
                await t_a.connection.fetch(*_journal("r1", 100, "TEST"))
            # ... and writes run r1 after t_a did, with the lower transaction id
            await t_b.connection.fetch(*_journal("r1", 101, "TEST"))
        got, _ = await _drain_until(reader, position, 3)
        assert [r.seq for r in got if r.run_id == "r1"] == [100, 101]
        assert sorted((r.run_id, r.seq) for r in got) == [("r1", 100), ("r1", 101), ("r3", 100)]
    finally:
        for store in (one, two, reader):
            await store.close()


async def test_many_concurrent_writers_lose_nothing_and_repeat_nothing(db: Db) -> None:
    if db.kind != "postgres":
        pytest.skip("SQLite has one writer")
    await _prepare(db)
    writers = [await open_store(db.url, 0.0) for _ in range(4)]
    reader = await open_store(db.url, 0.0)
    seen: list[tuple[str, int]] = []
    try:
        position = await feed.head(reader)
        done = anyio.Event()

        async def write(index: int, store: Store) -> None:
            for n in range(25):
                async with store.transaction() as tx:
                    await tx.connection.fetch(*_journal(f"r{index + 1}", 100 + n, "TEST"))
                    await anyio.sleep(0.001 * ((n + index) % 3))

        async def read() -> None:
            nonlocal position
            while not done.is_set():
                rows, position = await _drain(reader, position)
                seen.extend((r.run_id, r.seq) for r in rows)
                await anyio.sleep(0.002)
            # Every writer committed: what is missing comes once the
            # cluster's older transactions end; then nothing more may come.
            rows, position = await _drain_until(reader, position, 100 - len(seen))
            seen.extend((r.run_id, r.seq) for r in rows)
            rows, position = await _drain(reader, position)
            seen.extend((r.run_id, r.seq) for r in rows)

        async with anyio.create_task_group() as group:
            group.start_soon(read)
            async with anyio.create_task_group() as writing:
                for index, store in enumerate(writers):
                    writing.start_soon(write, index, store)
            done.set()
        assert len(seen) == len(set(seen)) == 100
        for run_id in ("r1", "r2", "r3", "r4"):
            assert [seq for r, seq in seen if r == run_id] == list(range(100, 125))
    finally:
        for store in (*writers, reader):
            await store.close()


# ---------------------------------------------------------------- migration 5 (the feed) on a database with a journal


def _create_schema_3(db: Db) -> None:
    """A wfc database as wfc wrote it before the journal had a feed order."""
    from wfc.runtime.store.schema import migrations
    from wfc.runtime.store.sqlite_setup import APPLICATION_ID

    scripts = ";".join(m.sql for m in migrations("sqlite" if db.kind == "sqlite" else "postgres")[:3])
    rows = (
        "INSERT INTO wfc_migrations (version, name, applied_at) VALUES (1, 'initial', 1.0), (2, 'state_format', 1.0), "
        "(3, 'runs_by_version', 1.0);"
        "INSERT INTO specs (name, major, revision, hash, body, deployed_at) VALUES ('w', 1, 0, 'sha256:x', '{}', 1.0);"
        "INSERT INTO runs (id, workflow, major, revision, status, version, state, created_at, updated_at) "
        "VALUES ('b', 'w', 1, 0, 'COMPLETED', 3, '{}', 1.0, 2.0), ('a', 'w', 1, 0, 'COMPLETED', 3, '{}', 1.0, 2.0);"
        "INSERT INTO journal (run_id, seq, at, thread, node, kind, attempt, detail) VALUES "
        "('b', 1, 1.0, 0, NULL, 'RUN_STARTED', NULL, '{}'), ('a', 1, 1.5, 0, NULL, 'RUN_STARTED', NULL, '{}'), "
        "('b', 2, 2.0, 0, 'n', 'RUN_COMPLETED', NULL, '{\"x\": 1}'), "
        "('a', 2, 2.5, 0, NULL, 'RUN_COMPLETED', NULL, '{}');"
    )
    if db.kind == "sqlite":
        import sqlite3

        conn = sqlite3.connect(str(db.path))
        conn.executescript(f"{scripts};{rows}PRAGMA application_id = {APPLICATION_ID};")
        conn.close()
    else:
        db.execute(f'CREATE SCHEMA "{db.schema}"; SET search_path TO "{db.schema}"; {scripts}; {rows}')


async def test_migration_5_keeps_every_journal_row_and_feeds_them_in_time_order(db: Db) -> None:
    _create_schema_3(db)
    before = db.rows("SELECT run_id, seq, at, thread, node, kind, attempt, detail FROM journal ORDER BY run_id, seq")
    store = await open_store(db.url, 5.0)  # migrates to the current schema
    try:
        page = await feed.read(store, feed.START, 100)
        new = await store.history("a")
    finally:
        await store.close()
    after = db.rows("SELECT run_id, seq, at, thread, node, kind, attempt, detail FROM journal ORDER BY run_id, seq")
    assert after == before and len(after) == 4
    got = [(r.journal.run_id, r.journal.seq) for r in page.records]
    if db.kind == "sqlite":
        assert got == [("b", 1), ("a", 1), ("b", 2), ("a", 2)]  # the order they were written in
    else:
        assert got == [("a", 1), ("a", 2), ("b", 1), ("b", 2)]  # all committed long ago: by run
    assert [h.kind for h in new] == ["RUN_STARTED", "RUN_COMPLETED"]
