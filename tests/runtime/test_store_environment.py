"""The user's database environment gets the user's error, never "a bug in
wfc": read-only files and folders, locks held too long, damaged files,
databases missing wfc's tables, bad URLs and unreachable servers, and
processes racing to create the same database.

Read-only files and folders are made with ``chattr +i``: these tests run as
root, whom ``chmod`` does not stop from writing, while an immutable file or
folder refuses every writer, root included, exactly like a read-only mount.
Those tests are skipped (with the reason) where ``chattr`` is not available.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from rtdb import SKIP_REASON, Db, postgres_base_url, sqlite_write_lock, unresolvable_invalid_hosts, with_schema
from rtspec import exit_, spec

from wfc.runtime import Engine, UnsupportedUrlError
from wfc.runtime.errors import (
    CorruptDatabaseError,
    DatabaseLockedError,
    DatabaseUnreachableError,
    DatabaseUrlError,
    MissingTablesError,
    NotAWfcDatabaseError,
    ReadOnlyDatabaseError,
    StoreError,
)
from wfc.runtime.store import open_store
from wfc.runtime.store.sqlite_setup import latest_version
from wfc.specs import WfcError

#: The documented variable setting how long to wait for a lock.
BUSY_TIMEOUT_ENV = "WFC_SQLITE_BUSY_TIMEOUT"

pytestmark = pytest.mark.anyio

# ---------------------------------------------------------------- helpers


async def _make_database(path: Path) -> None:
    """A wfc database at ``path``, closed cleanly (no -wal/-shm left)."""
    store = await open_store(f"sqlite:///{path}", 1.0)
    await store.close()
    assert not Path(f"{path}-wal").exists()


def _rows(path: Path, sql: str) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(path)
    try:
        return list(conn.execute(sql).fetchall())
    finally:
        conn.close()


def _execute(path: Path, *statements: str) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        for statement in statements:
            conn.execute(statement)
    finally:
        conn.close()


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


@contextmanager
def _immutable(path: Path) -> Iterator[None]:
    """``path`` (a file or a folder) refuses every writer while in the block."""
    chattr = shutil.which("chattr")
    if chattr is None:
        pytest.skip("needs chattr to make a file read-only for root")
    done = subprocess.run([chattr, "+i", str(path)], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"chattr +i is not supported here: {done.stderr.strip()}")
    try:
        yield
    finally:
        subprocess.run([chattr, "-i", str(path)], check=True)


async def _run_count(url: str, *, read_only: bool) -> int:
    async with Engine.open(url, serve=False, read_only=read_only) as engine:
        return len(await engine.list_runs(limit=None))


# ---------------------------------------------------------------- read-only files and folders


async def test_a_read_only_file_can_be_read_but_not_written(tmp_path: Path) -> None:
    path = tmp_path / "wfc.db"
    await _make_database(path)
    url = f"sqlite:///{path}"
    with _immutable(path):
        before = _snapshot(tmp_path)
        assert await _run_count(url, read_only=True) == 0
        with pytest.raises(ReadOnlyDatabaseError, match=r"the file is read-only.*wfc runs list.*chmod u\+w") as info:
            async with Engine.open(url, serve=False):
                pass
        assert info.value.location == str(path)
        assert _snapshot(tmp_path)["wfc.db"] == before["wfc.db"]


async def test_a_file_in_a_read_only_folder_can_be_read_but_not_written(tmp_path: Path) -> None:
    """No -wal/-shm file can be created next to the database: reading opens
    it immutable, writing says the folder is the problem."""
    folder = tmp_path / "ro"
    folder.mkdir()
    path = folder / "wfc.db"
    await _make_database(path)
    url = f"sqlite:///{path}"
    with _immutable(folder):
        before = _snapshot(folder)
        assert await _run_count(url, read_only=True) == 0
        with pytest.raises(ReadOnlyDatabaseError, match=r"its folder .* is read-only.*wfc\.db-wal.*writable folder"):
            async with Engine.open(url, serve=False):
                pass
        assert _snapshot(folder) == before


async def test_opening_for_reading_writes_nothing_not_even_the_journal_mode(tmp_path: Path) -> None:
    path = tmp_path / "wfc.db"
    await _make_database(path)
    _execute(path, "PRAGMA journal_mode = DELETE")  # as a copy made by a tool might be
    before = path.read_bytes()
    assert await _run_count(f"sqlite:///{path}", read_only=True) == 0
    assert path.read_bytes() == before
    assert _rows(path, "PRAGMA journal_mode") == [("delete",)]
    assert _rows(path, "SELECT count(*) FROM engines") == [(0,)]  # no registration either


async def test_a_reading_engine_writes_nothing_and_refuses_to_deploy_or_start_runs(db: Db) -> None:
    store = await open_store(db.url, 1.0)
    await store.close()
    done = spec("done", [("end", exit_())])
    async with Engine.open(db.url, serve=False, read_only=True) as engine:
        assert db.rows("SELECT count(*) FROM engines") == [(0,)]  # no registration
        with pytest.raises(ReadOnlyDatabaseError, match="opened for reading only"):
            await engine.deploy(done)
    async with Engine.open(db.url, serve=False) as engine:
        await engine.deploy(done)
    async with Engine.open(db.url, serve=False, read_only=True) as engine:
        assert [found.name for found in await engine.list_specs()] == ["done"]
        with pytest.raises(ReadOnlyDatabaseError, match="opened for reading only"):
            await engine.start("done", {}, run_id="r1")
        assert await engine.list_runs(limit=None) == []
    assert db.rows("SELECT count(*) FROM runs") == [(0,)]


async def test_a_reading_engine_cannot_serve() -> None:
    with pytest.raises(WfcError, match="read_only=True\\) needs serve=False"):
        async with Engine.open("sqlite:///:memory:", read_only=True):
            pass


async def test_reading_a_database_that_still_needs_creating_creates_it_when_it_can(tmp_path: Path) -> None:
    path = tmp_path / "empty.db"
    path.touch()
    assert await _run_count(f"sqlite:///{path}", read_only=True) == 0
    assert _rows(path, "SELECT count(*) FROM wfc_migrations") == [(latest_version(),)]


async def test_reading_an_empty_read_only_file_says_it_has_no_tables_yet(tmp_path: Path) -> None:
    path = tmp_path / "empty.db"
    path.touch()
    with _immutable(path), pytest.raises(ReadOnlyDatabaseError, match=r"no wfc tables yet.*read-only"):
        await open_store(f"sqlite:///{path}", 1.0, read_only=True)


async def test_reading_a_file_whose_wal_cannot_be_indexed_in_a_read_only_folder(tmp_path: Path) -> None:
    """A -wal file left with changes (its writer was killed) needs a -shm
    file to be read: in a read-only folder that is impossible, and reading
    the file alone would silently show old data."""
    source = tmp_path / "source.db"
    await _make_database(source)
    writer = sqlite3.connect(source, isolation_level=None)
    try:
        writer.execute("PRAGMA wal_autocheckpoint = 0")
        writer.execute(
            "INSERT INTO runs (id, workflow, major, revision, status, version, state, created_at, updated_at) "
            "VALUES ('r1', 'w', 1, 0, 'COMPLETED', 1, '{}', 1.0, 1.0)"
        )
        folder = tmp_path / "ro"
        folder.mkdir()
        shutil.copy(source, folder / "wfc.db")
        shutil.copy(f"{source}-wal", folder / "wfc.db-wal")
    finally:
        writer.close()
    with _immutable(folder), pytest.raises(ReadOnlyDatabaseError, match=r"wfc\.db-wal next to it holds changes"):
        await open_store(f"sqlite:///{folder / 'wfc.db'}", 1.0, read_only=True)
    assert _rows(folder / "wfc.db", "SELECT id FROM runs") == [("r1",)]  # writable again: the change is there


# ---------------------------------------------------------------- locks


async def test_a_lock_held_too_long_is_named_after_the_configured_wait(tmp_path: Path) -> None:
    path = tmp_path / "wfc.db"
    await _make_database(path)
    with sqlite_write_lock(path):
        started = time.monotonic()
        with pytest.raises(DatabaseLockedError, match=r"locked by another process.*0\.3 s.*busy_timeout") as info:
            # A serving engine registers itself while opening: that write meets the lock.
            async with Engine.open(f"sqlite:///{path}?busy_timeout=0.3"):
                pass
        waited = time.monotonic() - started
        assert info.value.waited == 0.3
        assert 0.3 <= waited < 5
        # Readers are not blocked by a writer: reading still works.
        assert await _run_count(f"sqlite:///{path}", read_only=True) == 0


async def test_a_purge_and_a_subscriber_meeting_a_lock_say_so(tmp_path: Path) -> None:
    # Outside the commit loop they wrote in transactions of their own, and the
    # driver's "database is locked" reached the caller as it was (the CLI: an internal error).
    path = tmp_path / "wfc.db"
    await _make_database(path)
    async with Engine.open(f"sqlite:///{path}?busy_timeout=0.2", serve=False) as engine:
        with sqlite_write_lock(path):
            with pytest.raises(DatabaseLockedError, match=r"locked by another process.*0\.2 s"):
                await engine.purge_runs(finished_before=time.time())
            subscription = engine.subscribe("ops", start="earliest")
            with pytest.raises(DatabaseLockedError, match=r"locked by another process"):
                await subscription.__anext__()
        assert await engine.purge_runs(finished_before=time.time()) == 0  # the lock gone, it works


async def test_the_wait_for_a_lock_can_be_set_in_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "wfc.db"
    await _make_database(path)
    monkeypatch.setenv(BUSY_TIMEOUT_ENV, "0.2")
    with sqlite_write_lock(path), pytest.raises(DatabaseLockedError, match=BUSY_TIMEOUT_ENV) as info:
        async with Engine.open(f"sqlite:///{path}"):  # registering the engine writes
            pass
    assert info.value.waited == 0.2


@pytest.mark.parametrize(
    ("suffix", "message"),
    [
        ("?busy_timeout=soon", r"busy_timeout=soon is not a number of seconds"),
        ("?busy_timeout=-1", r"busy_timeout=-1 is not a number of seconds"),
        ("?timeout=3", r"unknown URL parameter 'timeout'.*busy_timeout"),
    ],
)
async def test_a_bad_sqlite_url_parameter_is_refused(tmp_path: Path, suffix: str, message: str) -> None:
    with pytest.raises(DatabaseUrlError, match=message):
        await open_store(f"sqlite:///{tmp_path / 'wfc.db'}{suffix}", 1.0)
    assert not (tmp_path / "wfc.db").exists()


# ---------------------------------------------------------------- damaged files


async def _database_with_runs(path: Path, count: int = 200) -> None:
    await _make_database(path)
    rows = ", ".join(f"('r{i}', 'w', 1, 0, 'COMPLETED', 1, '{'x' * 300}', 1.0, 1.0)" for i in range(count))
    _execute(
        path,
        "INSERT INTO runs (id, workflow, major, revision, status, version, state, created_at, updated_at) "
        f"VALUES {rows}",
        "PRAGMA wal_checkpoint(TRUNCATE)",
    )


async def test_a_truncated_file_is_named_damaged_with_the_way_out(tmp_path: Path) -> None:
    path = tmp_path / "wfc.db"
    await _database_with_runs(path)
    with path.open("r+b") as handle:
        handle.truncate(path.stat().st_size // 3)
    with pytest.raises(CorruptDatabaseError, match=r"damaged.*PRAGMA integrity_check.*backup"):
        async with Engine.open(f"sqlite:///{path}", serve=False, read_only=True) as engine:
            await engine.list_runs(limit=None)


async def test_garbage_in_the_pages_is_named_damaged(tmp_path: Path) -> None:
    path = tmp_path / "wfc.db"
    await _database_with_runs(path)
    page = _rows(path, "PRAGMA page_size")[0][0]
    with path.open("r+b") as handle:
        handle.seek(page)  # page 1 (the header and the schema) stays readable
        handle.write(os.urandom(path.stat().st_size - page))
    with pytest.raises(CorruptDatabaseError, match=r"PRAGMA integrity_check.*backup"):
        async with Engine.open(f"sqlite:///{path}", serve=False, read_only=True) as engine:
            await engine.list_runs(limit=None)


async def test_garbage_instead_of_a_database_points_to_the_backup(tmp_path: Path) -> None:
    path = tmp_path / "wfc.db"
    path.write_bytes(os.urandom(8192))
    with pytest.raises(NotAWfcDatabaseError, match=r"not a SQLite database.*restore it from a backup"):
        await open_store(f"sqlite:///{path}", 1.0)


# ---------------------------------------------------------------- missing tables


@pytest.mark.parametrize("table", ["runs", "wfc_migrations"])
async def test_a_wfc_database_whose_tables_were_dropped_is_a_clear_error(tmp_path: Path, table: str) -> None:
    path = tmp_path / "wfc.db"
    await _make_database(path)
    _execute(path, f"DROP TABLE {table}")
    before = path.read_bytes()
    for read_only in (True, False):
        with pytest.raises(MissingTablesError, match=rf"wfc database, but its tables .*{table}.* are gone.*backup"):
            await open_store(f"sqlite:///{path}", 1.0, read_only=read_only)
    assert path.read_bytes() == before


@pytest.mark.parametrize("table", ["runs", "journal"])
async def test_a_wfc_schema_whose_tables_were_dropped_is_a_clear_error(table: str) -> None:
    """Only while wfc's marked ``wfc_migrations`` table is there: without it
    the schema cannot be told from an application's, and is refused as such."""
    base = postgres_base_url()
    if base is None:
        pytest.skip(SKIP_REASON)
    import uuid

    schema = f"wfc_test_{uuid.uuid4().hex[:12]}"
    url = with_schema(base, schema)
    try:
        store = await open_store(url, 1.0)
        await store.close()
        _pg_rows(base, f'DROP TABLE "{schema}".{table} CASCADE')
        with pytest.raises(MissingTablesError, match=rf"wfc database, but its tables .*{table}.* are gone") as info:
            await open_store(url, 1.0)
        assert info.value.missing == (table,)
    finally:
        _pg_rows(base, f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


async def test_an_empty_sqlite_database_is_initialised(tmp_path: Path) -> None:
    path = tmp_path / "wfc.db"
    _execute(path, "PRAGMA user_version = 0", "VACUUM")
    assert path.stat().st_size > 0
    store = await open_store(f"sqlite:///{path}", 1.0)
    await store.close()
    assert _rows(path, "SELECT count(*) FROM wfc_migrations") == [(latest_version(),)]


async def test_a_database_of_another_application_is_not_a_wfc_database(tmp_path: Path) -> None:
    path = tmp_path / "app.db"
    _execute(path, "CREATE TABLE invoices (id INTEGER PRIMARY KEY)")
    with pytest.raises(NotAWfcDatabaseError, match=r"another application.*invoices"):
        await open_store(f"sqlite:///{path}", 1.0, read_only=True)


# ---------------------------------------------------------------- URLs and servers (no server contacted)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("postgresql://nobody:pw@127.0.0.1:abc/app", r"port 'abc' is not a port number"),
        ("postgresql://nobody@127.0.0.1:70000/app", r"port '70000' is not a port number"),
        ("postgresql://nobody@127.0.0.1:5432", r"names no database"),
        ("postgresql://nobody@127.0.0.1:5432/", r"names no database"),
        ("postgresql://nobody:pw@[::1/app", r"malformed"),
    ],
)
async def test_a_malformed_postgres_url_is_refused_before_connecting(url: str, message: str) -> None:
    with pytest.raises(DatabaseUrlError, match=message) as info:
        await open_store(url, 1.0)
    assert ":pw@" not in str(info.value)


async def test_an_unknown_scheme_lists_the_urls_wfc_takes() -> None:
    with pytest.raises(UnsupportedUrlError, match=r"mysql://.*sqlite:///.*postgresql://"):
        await open_store("mysql://127.0.0.1/app", 1.0)


async def test_nothing_listening_on_the_port_is_unreachable() -> None:
    pytest.importorskip("asyncpg")
    with pytest.raises(DatabaseUnreachableError, match=r"127\.0\.0\.1:1 .*is it running.*host and port"):
        await open_store("postgresql://nobody@127.0.0.1:1/app", 1.0)


@pytest.mark.parametrize(
    ("url", "server"),
    [
        ("postgresql://nobody:pw@127.0.0.1:1,127.0.0.2:2/app", "127.0.0.1:1,127.0.0.2:2"),  # several hosts
        ("postgresql:///app?host=127.0.0.1&port=1", "127.0.0.1:1"),  # libpq's query form
    ],
)
async def test_the_server_named_is_the_one_the_url_names(url: str, server: str) -> None:
    pytest.importorskip("asyncpg")
    with pytest.raises(DatabaseUnreachableError, match=f"server at {server} "):
        await open_store(url, 1.0)


async def test_a_host_that_does_not_resolve_is_unreachable(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("asyncpg")
    unresolvable_invalid_hosts(monkeypatch)  # no query leaves this machine
    with pytest.raises(DatabaseUnreachableError, match=r"host 'nonexistent\.invalid' cannot be found.*DNS"):
        await open_store("postgresql://nobody@nonexistent.invalid:5432/app", 1.0)


# ---------------------------------------------------------------- racing to create a database

_OPENER = textwrap.dedent(
    """
    import sys

    import anyio

    from wfc.runtime import Engine

    async def open_once(url: str, now: float) -> None:
        async with Engine.open(url, serve=False, clock=lambda: now) as engine:
            await engine.list_runs(limit=1)

    now = float(sys.argv[1])
    print("ready", flush=True)
    for line in sys.stdin:
        try:
            anyio.run(open_once, line.strip(), now)
            print("ok", flush=True)
        except Exception as exc:
            print(f"error {type(exc).__name__}: {exc}".replace("\\n", " "), flush=True)
    """
)


def _race(urls: list[str], processes: int = 8) -> list[list[str]]:
    """Open each URL from ``processes`` processes at the same moment: every
    process has imported wfc and waits on its stdin; the URL is written to
    all of them at once. The answers, one list per URL."""
    children = [
        subprocess.Popen(
            [sys.executable, "-c", _OPENER, str(index + 1)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for index in range(processes)
    ]
    try:
        for child in children:
            assert child.stdout is not None and child.stdout.readline().strip() == "ready"
        answers = []
        for url in urls:
            for child in children:  # the start barrier: all are blocked on this line
                assert child.stdin is not None
                child.stdin.write(url + "\n")
                child.stdin.flush()
            answers.append([child.stdout.readline().strip() for child in children if child.stdout is not None])
        return answers
    finally:
        for child in children:
            if child.stdin is not None:
                child.stdin.close()
        for child in children:
            child.wait(timeout=30)


def test_eight_processes_creating_the_same_sqlite_file_all_succeed(tmp_path: Path) -> None:
    paths = [tmp_path / f"race{round_}.db" for round_ in range(8)]
    answers = _race([f"sqlite:///{path}" for path in paths])
    for path, answer in zip(paths, answers, strict=True):
        assert answer == ["ok"] * 8, answer
        migrations = _rows(path, "SELECT version, applied_at FROM wfc_migrations ORDER BY version")
        assert [version for version, _ in migrations] == list(range(1, latest_version() + 1))
        assert len({applied for _, applied in migrations}) == 1  # one process migrated
        assert _rows(path, "SELECT count(*) FROM engines") == [(0,)]  # every process registered and left


def test_eight_processes_creating_the_same_postgres_schema_all_succeed() -> None:
    base = postgres_base_url()
    if base is None:
        pytest.skip(SKIP_REASON)
    import uuid

    schemas = [f"wfc_race_{uuid.uuid4().hex[:10]}" for _ in range(3)]
    try:
        answers = _race([with_schema(base, schema) for schema in schemas])
        for schema, answer in zip(schemas, answers, strict=True):
            assert answer == ["ok"] * 8, answer
            migrations = _pg_rows(base, f'SELECT version, applied_at FROM "{schema}".wfc_migrations ORDER BY 1')
            assert [version for version, _ in migrations] == list(range(1, _pg_latest() + 1))
            assert len({applied for _, applied in migrations}) == 1
    finally:
        for schema in schemas:
            _pg_rows(base, f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def _pg_latest() -> int:
    from wfc.runtime.store.postgres_setup import latest_version as pg_latest

    return pg_latest()


def _pg_rows(url: str, sql: str) -> list[tuple[Any, ...]]:
    from rtdb import run_sync

    async def fetch() -> list[tuple[Any, ...]]:
        import asyncpg  # type: ignore[import-untyped]

        conn = await asyncpg.connect(url)
        try:
            return [tuple(row) for row in await conn.fetch(sql)]
        finally:
            await conn.close()

    return run_sync(fetch)


def test_every_environment_error_is_a_store_error() -> None:
    for error in (
        ReadOnlyDatabaseError,
        DatabaseLockedError,
        CorruptDatabaseError,
        MissingTablesError,
        DatabaseUrlError,
        DatabaseUnreachableError,
    ):
        assert issubclass(error, StoreError)
