"""The SQLite store: migrations, refusing files that are not ours (leaving
them byte-identical), one atomic transaction per batch, leases."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from wfc.runtime.errors import (
    ConflictError,
    NewerDatabaseError,
    NotAWfcDatabaseError,
    StoreError,
    UnsupportedUrlError,
)
from wfc.runtime.store import (
    JournalRecord,
    RunWrite,
    SpecRecord,
    Store,
    TaskRecord,
    TimerRecord,
    open_store,
    sqlite_path,
)
from wfc.runtime.store.sqlite_setup import APPLICATION_ID, latest_version

pytestmark = pytest.mark.anyio


async def _seed(store: Store, run_id: str = "r1") -> None:
    async with store.transaction() as tx:
        if await tx.get_spec("w", 1, 0) is None:
            await tx.insert_spec(SpecRecord("w", 1, 0, "sha256:x", b"{}", 1.0))
        tx.batch.runs[run_id] = _run(run_id, None)


def _run(run_id: str, expected: int | None, status: str = "RUNNING") -> RunWrite:
    return RunWrite(
        id=run_id,
        workflow="w",
        major=1,
        revision=0,
        status=status,
        state=b'{"s":1}',
        created_at=1.0,
        updated_at=2.0,
        expected_version=expected,
    )


def _task(
    dispatch_id: str, run_id: str = "r1", task: str = "t", owner: str | None = None, expires: float | None = None
) -> TaskRecord:
    return TaskRecord(
        dispatch_id=dispatch_id,
        run_id=run_id,
        workflow="w",
        thread=0,
        node="n",
        task=task,
        args=b"[1]",
        attempt=1,
        idempotency_key=dispatch_id.split("#")[0],
        timeout=None,
        created_at=1.0,
        lease_owner=owner,
        lease_expires_at=expires,
    )


def _rows(path: Path, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(path) as conn:
        return list(conn.execute(sql).fetchall())


async def test_a_new_database_is_migrated_and_marked_as_ours(db_path: Path) -> None:
    store = await open_store(f"sqlite:///{db_path}", 5.0)
    await store.close()
    assert _rows(db_path, "SELECT version, name FROM wfc_migrations") == [(1, "initial")]
    assert _rows(db_path, "PRAGMA application_id") == [(APPLICATION_ID,)]
    assert _rows(db_path, "PRAGMA journal_mode") == [("wal",)]
    tables = {row[0] for row in _rows(db_path, "SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"runs", "journal", "tasks", "timers", "events", "event_waits", "specs", "engines"} <= tables
    columns = {row[1] for row in _rows(db_path, "PRAGMA table_info(runs)")}
    assert {"version", "lease_owner", "lease_expires_at"} <= columns
    # Opening again applies nothing twice.
    store = await open_store(f"sqlite:///{db_path}", 6.0)
    await store.close()
    assert _rows(db_path, "SELECT count(*) FROM wfc_migrations") == [(latest_version(),)]


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


async def test_a_file_that_is_not_sqlite_is_refused_and_untouched(tmp_path: Path) -> None:
    target = tmp_path / "notes.db"
    target.write_bytes(b"hello, these are my notes\n" * 100)
    before = _snapshot(tmp_path)
    with pytest.raises(NotAWfcDatabaseError, match="not a SQLite database") as info:
        await open_store(f"sqlite:///{target}", 1.0)
    assert info.value.location == str(target)
    assert _snapshot(tmp_path) == before


async def test_a_sqlite_database_of_another_application_is_refused_and_untouched(tmp_path: Path) -> None:
    target = tmp_path / "app.db"
    with sqlite3.connect(target) as conn:
        conn.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)")
        conn.execute("INSERT INTO customers (name) VALUES ('ann')")
    conn.close()
    before = _snapshot(tmp_path)
    with pytest.raises(NotAWfcDatabaseError, match=r"another application.*customers"):
        await open_store(f"sqlite:///{target}", 1.0)
    assert _snapshot(tmp_path) == before


async def test_a_database_from_a_newer_wfc_is_refused_and_untouched(db_path: Path) -> None:
    store = await open_store(f"sqlite:///{db_path}", 1.0)
    await store.close()
    conn = sqlite3.connect(db_path)
    with conn:
        conn.execute("INSERT INTO wfc_migrations (version, name, applied_at) VALUES (99, 'future', 0)")
    conn.close()
    before = _snapshot(db_path.parent)
    with pytest.raises(NewerDatabaseError, match="newer wfc") as info:
        await open_store(f"sqlite:///{db_path}", 1.0)
    assert (info.value.found, info.value.supported) == (99, latest_version())
    assert _snapshot(db_path.parent) == before


async def test_an_empty_file_becomes_a_wfc_database(tmp_path: Path) -> None:
    target = tmp_path / "empty.db"
    target.touch()
    store = await open_store(f"sqlite:///{target}", 1.0)
    await store.close()
    assert _rows(target, "PRAGMA application_id") == [(APPLICATION_ID,)]


async def test_bad_urls_and_paths_get_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(UnsupportedUrlError, match=r"sqlite:///relative/path\.db") as info:
        await open_store("postgresql://localhost/wfc", 1.0)
    assert info.value.url == "postgresql://localhost/wfc"
    with pytest.raises(UnsupportedUrlError):
        await open_store("wfc.db", 1.0)
    with pytest.raises(StoreError, match="does not exist"):
        await open_store(f"sqlite:///{tmp_path}/missing/dir/wfc.db", 1.0)
    assert sqlite_path("sqlite:///rel/x.db") == "rel/x.db"
    assert sqlite_path("sqlite:////abs/x.db") == "/abs/x.db"
    assert sqlite_path("sqlite:///:memory:") == ":memory:"


async def test_in_memory_databases_work() -> None:
    store = await open_store("sqlite:///:memory:", 1.0)
    await _seed(store)
    record = await store.get_run("r1")
    assert record is not None and record.version == 1
    await store.close()


async def test_a_transaction_is_all_or_nothing(db_url: str, db_path: Path) -> None:
    store = await open_store(db_url, 1.0)
    await _seed(store)
    with pytest.raises(RuntimeError):
        async with store.transaction() as tx:
            tx.batch.runs["r2"] = _run("r2", None)
            tx.batch.journal.append(JournalRecord("r2", 1, 1.0, 0, None, "RUN_STARTED", None, b"{}"))
            tx.batch.put_task(_task("r2/0/n/1#1", "r2"))
            await tx.put_wait("r1", 0, "paid", "k", 1.0)  # an immediate write, rolled back too
            raise RuntimeError("crash before commit")
    assert await store.get_run("r2") is None
    assert _rows(db_path, "SELECT count(*) FROM tasks") == [(0,)]
    assert _rows(db_path, "SELECT count(*) FROM event_waits") == [(0,)]
    await store.close()


async def test_a_stale_version_is_a_conflict_and_nothing_is_written(db_url: str, db_path: Path) -> None:
    store = await open_store(db_url, 1.0)
    await _seed(store)
    async with store.transaction() as tx:
        tx.batch.runs["r1"] = _run("r1", 1, "COMPLETED")
    record = await store.get_run("r1")
    assert record is not None and (record.version, record.status) == (2, "COMPLETED")
    with pytest.raises(ConflictError) as info:
        async with store.transaction() as tx:
            tx.batch.runs["r1"] = _run("r1", 1, "FAILED")  # read at version 1, but it is 2 now
            tx.batch.journal.append(JournalRecord("r1", 9, 1.0, 0, None, "X", None, b"{}"))
    assert info.value.run_ids == ("r1",)
    assert _rows(db_path, "SELECT status, version FROM runs") == [("COMPLETED", 2)]
    assert _rows(db_path, "SELECT count(*) FROM journal") == [(0,)]
    await store.close()


async def test_the_last_write_to_a_task_or_timer_in_a_batch_wins(db_url: str, db_path: Path) -> None:
    store = await open_store(db_url, 1.0)
    await _seed(store)
    async with store.transaction() as tx:
        tx.batch.put_task(_task("a#1"))
        tx.batch.drop_task("a#1")
        tx.batch.put_task(_task("b#1"))
        tx.batch.put_timer(TimerRecord("r1", 1, 10.0))
        tx.batch.drop_timer("r1", 1)
        tx.batch.put_timer(TimerRecord("r1", 2, 20.0))
    assert _rows(db_path, "SELECT dispatch_id FROM tasks") == [("b#1",)]
    assert _rows(db_path, "SELECT timer FROM timers") == [(2,)]
    assert await store.next_timer_due() == 20.0
    assert [t.timer for t in await store.due_timers(25.0, 10)] == [2]
    assert await store.due_timers(15.0, 10) == []
    async with store.transaction() as tx:
        assert await tx.take_timer("r1", 2) is True
        assert await tx.take_timer("r1", 2) is False
    await store.close()


async def test_correlated_events_are_claimed_oldest_first_once(db_url: str) -> None:
    store = await open_store(db_url, 1.0)
    await _seed(store)
    async with store.transaction() as tx:
        await tx.insert_event("e1", "paid", "k", b"1", None, 1.0)
        await tx.insert_event("e2", "paid", "k", b"2", None, 2.0)
        await tx.insert_event("e3", "paid", "other", b"3", None, 3.0)
        first = await tx.claim_event("paid", "k", "r1", 4.0)
        second = await tx.claim_event("paid", "k", "r1", 4.0)
        third = await tx.claim_event("paid", "k", "r1", 4.0)
    assert first is not None and first.event_id == "e1" and first.run_id == "r1"
    assert second is not None and second.event_id == "e2"
    assert third is None
    assert [e.event_id for e in await store.pending_events()] == ["e3"]
    await store.close()


async def test_task_leases_are_claimed_only_when_free_or_expired(db_url: str, db_path: Path) -> None:
    store = await open_store(db_url, 1.0)
    await _seed(store)
    async with store.transaction() as tx:
        tx.batch.put_task(_task("free#1"))
        tx.batch.put_task(_task("held#1", owner="alive", expires=100.0))
        tx.batch.put_task(_task("expired#1", owner="gone", expires=5.0))
        tx.batch.put_task(_task("other#1", task="not-mine"))
    claimed = await store.claim_tasks("me", {"t"}, 10.0, 30.0, 10)
    assert sorted(t.dispatch_id for t in claimed) == ["expired#1", "free#1"]
    assert all(t.lease_owner == "me" and t.lease_expires_at == 40.0 for t in claimed)
    assert await store.claim_tasks("me", {"t"}, 10.0, 30.0, 10) == []
    await store.heartbeat("me", 20.0, 30.0)
    assert _rows(db_path, "SELECT lease_expires_at FROM tasks WHERE lease_owner = 'me'") == [(50.0,), (50.0,)]
    await store.close()


async def test_leases_of_a_dead_process_on_this_host_are_released_at_once(db_url: str, db_path: Path) -> None:
    store = await open_store(db_url, 1.0)
    await _seed(store)
    await store.register_engine("dead", "this-host", 2**22 + 12345, 1.0, 30.0)  # no such pid
    async with store.transaction() as tx:
        tx.batch.put_task(_task("x#1", owner="dead", expires=1000.0))
    await store.register_engine("new", "this-host", 1, 2.0, 30.0)
    assert _rows(db_path, "SELECT lease_owner FROM tasks") == [(None,)]
    assert _rows(db_path, "SELECT id FROM engines") == [("new",)]
    await store.close()
