"""What only the SQLite store has: files and their checks (refusing files that
are not ours, leaving them byte-identical), migrations, ``:memory:``, leases
of dead processes on this host. The Store interface itself is tested on
every store in test_store.py."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from rtstore import seed as _seed
from rtstore import task_record as _task

from wfc.runtime.errors import (
    NewerDatabaseError,
    NotAWfcDatabaseError,
    StoreError,
    UnsupportedUrlError,
)
from wfc.runtime.store import (
    open_store,
    sqlite_path,
)
from wfc.runtime.store.sqlite_locks import LockWaits
from wfc.runtime.store.sqlite_setup import APPLICATION_ID, latest_version, write_transaction

pytestmark = pytest.mark.anyio


def _rows(path: Path, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(path) as conn:
        return list(conn.execute(sql).fetchall())


async def test_a_new_database_is_migrated_and_marked_as_ours(sqlite_path: Path) -> None:
    store = await open_store(f"sqlite:///{sqlite_path}", 5.0)
    await store.close()
    assert _rows(sqlite_path, "SELECT version, name FROM wfc_migrations") == [
        (1, "initial"),
        (2, "state_format"),
        (3, "runs_by_version"),
        (4, "run_threads"),
        (5, "journal_feed"),
        (6, "run_trace"),
        (7, "search"),
        (8, "engine_tasks"),
        (9, "user_tasks"),
        (10, "tasks_keyed"),
    ]
    assert _rows(sqlite_path, "PRAGMA application_id") == [(APPLICATION_ID,)]
    assert _rows(sqlite_path, "PRAGMA journal_mode") == [("wal",)]
    tables = {row[0] for row in _rows(sqlite_path, "SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"runs", "journal", "tasks", "timers", "events", "event_waits", "specs", "engines"} <= tables
    columns = {row[1] for row in _rows(sqlite_path, "PRAGMA table_info(runs)")}
    assert {"version", "lease_owner", "lease_expires_at"} <= columns
    # Opening again applies nothing twice.
    store = await open_store(f"sqlite:///{sqlite_path}", 6.0)
    await store.close()
    assert _rows(sqlite_path, "SELECT count(*) FROM wfc_migrations") == [(latest_version(),)]


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


async def test_a_database_from_a_newer_wfc_is_refused_and_untouched(sqlite_path: Path) -> None:
    store = await open_store(f"sqlite:///{sqlite_path}", 1.0)
    await store.close()
    conn = sqlite3.connect(sqlite_path)
    with conn:
        conn.execute("INSERT INTO wfc_migrations (version, name, applied_at) VALUES (99, 'future', 0)")
    conn.close()
    before = _snapshot(sqlite_path.parent)
    with pytest.raises(NewerDatabaseError, match="newer wfc") as info:
        await open_store(f"sqlite:///{sqlite_path}", 1.0)
    assert (info.value.found, info.value.supported) == (99, latest_version())
    assert _snapshot(sqlite_path.parent) == before


async def test_an_empty_file_becomes_a_wfc_database(tmp_path: Path) -> None:
    target = tmp_path / "empty.db"
    target.touch()
    store = await open_store(f"sqlite:///{target}", 1.0)
    await store.close()
    assert _rows(target, "PRAGMA application_id") == [(APPLICATION_ID,)]


async def test_bad_urls_and_paths_get_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(UnsupportedUrlError, match=r"sqlite:///relative/path\.db.*postgresql://") as info:
        await open_store("mysql://localhost/wfc", 1.0)
    assert info.value.url == "mysql://localhost/wfc"
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


async def test_leases_of_a_dead_process_on_this_host_are_released_at_once(sqlite_url: str, sqlite_path: Path) -> None:
    store = await open_store(sqlite_url, 1.0)
    await _seed(store)
    await store.register_engine("dead", "this-host", 2**22 + 12345, 1.0, 30.0)  # no such pid
    async with store.transaction() as tx:
        tx.batch.put_task(_task("x#1", owner="dead", expires=1000.0))
    await store.register_engine("new", "this-host", 1, 2.0, 30.0)
    assert _rows(sqlite_path, "SELECT lease_owner FROM tasks") == [(None,)]
    assert _rows(sqlite_path, "SELECT id FROM engines") == [("new",)]
    await store.close()


def test_a_write_sqlite_rolled_back_itself_fails_with_its_own_error() -> None:
    """On a full disk (or an I/O error) SQLite rolls the transaction back
    itself: what fails is that error, not a ROLLBACK of nothing after it."""
    conn = sqlite3.connect(":memory:", isolation_level=None)
    locks = LockWaits(1.0)
    with pytest.raises(sqlite3.OperationalError, match="database or disk is full"), write_transaction(conn, locks):
        conn.execute("ROLLBACK")  # what SQLite did
        raise sqlite3.OperationalError("database or disk is full")
    assert not conn.in_transaction
    with write_transaction(conn, locks):  # and the connection takes the next one
        conn.execute("CREATE TABLE t (x)")
    assert conn.execute("SELECT count(*) FROM t").fetchone() == (0,)


@pytest.mark.parametrize("how", ["deleted", "replaced"])
async def test_a_file_deleted_or_replaced_while_open_takes_no_more_writes(sqlite_path: Path, how: str) -> None:
    """SQLite would go on writing to the file it opened, which nobody can
    open any more: every commit since would be lost with it."""
    from rtspec import exit_, lit, spec

    from wfc.runtime import Engine

    flow = spec("flow", [("end", exit_(lit("done")))])
    async with Engine.open(f"sqlite:///{sqlite_path}") as engine:
        await engine.deploy(flow)
        await engine.wait(await engine.start("flow", run_id="before"))
        for suffix in ("", "-wal", "-shm"):
            Path(f"{sqlite_path}{suffix}").unlink(missing_ok=True)
        if how == "replaced":
            sqlite3.connect(sqlite_path).close()  # another, empty file at the same path
        with pytest.raises(StoreError, match="deleted or replaced while this process had it open"):
            await engine.start("flow", run_id="after")
        with pytest.raises(StoreError, match="deleted or replaced"):
            await engine.get_run("before")


def test_a_process_out_of_file_descriptors_is_told_so(tmp_path: Path) -> None:
    """Opening with no file descriptor to spare (``ulimit -n``) fails where
    it happens to need the next one: where the system says so, wfc says
    that, not that the path is too long or the file unreadable. Each limit
    from 3 to 12 is tried in a process of its own."""
    path = tmp_path / "x.db"
    _rows(path, "PRAGMA user_version")  # an existing file: it is looked at before SQLite opens it
    script = (
        "import resource, sys, time\n"
        "from wfc.runtime.store.sqlite_setup import open_file\n"
        "from wfc.runtime.store.sqlite_locks import LockWaits\n"
        "from wfc.runtime.errors import StoreError\n"
        "resource.setrlimit(resource.RLIMIT_NOFILE, (int(sys.argv[1]), int(sys.argv[1])))\n"
        "try:\n"
        f"    open_file({str(path)!r}, time.time(), LockWaits(1.0))\n"
        "except StoreError as exc:\n"
        "    print(exc)\n"
    )
    told = []
    for kept in range(3, 13):
        done = subprocess.run([sys.executable, "-c", script, str(kept)], capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        told.append(done.stdout)
    assert not any("shorter or simpler" in text or "check its permissions" in text for text in told), told
    assert any("`ulimit -n`" in text for text in told), told
