"""``wfc migrate`` while another process holds the database's lock past the
wait: ``wfc migrate apply`` exits 1 with the lock message every command
gives (what holds it, ``?busy_timeout=`` / ``?lock_timeout=`` and the
environment variable), not the conflict exit code 3 "changed since the
plan", and nothing stored changes; once the lock is gone the same plan
applies. ``wfc migrate plan`` only reads: it goes on under a lock that
lets readers through (SQLite's write lock, a PostgreSQL row lock) and says
the database is locked under one that does not (a PostgreSQL table lock).

The lock is real: a second ``sqlite3`` connection in ``BEGIN IMMEDIATE``, or
a second PostgreSQL session (asyncpg) in an open transaction; the waits are
set short (0.2 to 0.5 s) so the tests stay quick."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

import anyio
import pytest

sys.path.insert(0, str(Path(__file__).parent))  # run_helpers, with --import-mode=importlib

from rtdb import Db, held, make_db, sqlite_write_lock
from run_helpers import Invoke, make_invoke, no_traceback, wfc_process
from test_cli_migrate_apply import migrated, park, stored, write_plan
from typer.testing import Result

from wfc.runtime import Engine
from wfc.runtime.errors import DatabaseLockedError, DatabaseUnavailableError
from wfc.runtime.store import open_store

#: The tables a migration writes (the engines' own registrations aside).
TABLES = ("runs", "run_threads", "journal", "timers", "event_waits", "tasks", "user_tasks", "run_search")

#: What every command says of a database locked past the wait.
LOCKED = "it is locked by another process"

#: What applying says of runs that changed since the plan (exit code 3).
CONFLICT_WORDS = ("changed since the plan", "could not move now", "not moved now")


@pytest.fixture
def wfc(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Invoke:
    return make_invoke(monkeypatch, tmp_path)


@pytest.fixture
def sqlite_db(tmp_path: Path) -> Db:
    return make_db("sqlite", tmp_path)


def snapshot(db: Db) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the tables a migration writes, in a stable order."""
    return {table: sorted(db.rows(f"SELECT * FROM {table}"), key=repr) for table in TABLES}


def text_of(result: Result | Any) -> str:
    """Both output streams, on one line."""
    return " ".join((result.stdout + (result.stderr or "")).split())


def exit_code(result: Result | Any) -> int:
    return int(result.exit_code if isinstance(result, Result) else result.returncode)


def assert_locked(result: Result | Any, *words: str) -> str:
    """``result`` is the lock error: exit 1, the lock message with ``words``,
    no conflict, no report, no traceback."""
    text = text_of(result)
    assert exit_code(result) == 1, text
    assert LOCKED in text and text.count(LOCKED) == 1, text
    for word in words:
        assert word in text, f"{word!r} not in: {text}"
    for word in CONFLICT_WORDS:
        assert word not in text, f"{word!r} in: {text}"
    assert "migrated" not in result.stdout, text  # no report: it would count runs not moved as a conflict
    assert no_traceback(result) and "internal error" not in text, text
    return text


def applies_after_the_lock(wfc: Invoke, db: Db) -> None:
    """Once the lock is gone the same plan applies: it was never stale."""
    applied = wfc("migrate", "apply", "plan.json", "--db", db.url, "--json")
    assert applied.exit_code == 0, applied.output
    outcomes = {run["run_id"]: run["outcome"] for run in json.loads(applied.stdout)["runs"]}
    assert outcomes == {"ord-a": "migrated", "ord-b": "not_now"}
    runs = stored(db.url, ["ord-a", "ord-b"])
    assert str(runs["ord-a"][0].version) == "1.1" and len(migrated(runs["ord-a"][1])) == 1
    assert str(runs["ord-b"][0].version) == "1.0" and migrated(runs["ord-b"][1]) == []


# ---------------------------------------------------------------- SQLite


def test_apply_on_a_locked_sqlite_file_says_it_is_locked(wfc: Invoke, sqlite_db: Db, tmp_path: Path) -> None:
    park(sqlite_db.url)
    write_plan(wfc, sqlite_db.url, tmp_path / "plan.json")
    before = snapshot(sqlite_db)
    assert sqlite_db.path is not None
    with sqlite_write_lock(sqlite_db.path):
        applied = wfc("migrate", "apply", "plan.json", "--db", f"{sqlite_db.url}?busy_timeout=0.2")
        assert_locked(applied, "0.2 s", "busy_timeout", "WFC_SQLITE_BUSY_TIMEOUT", str(sqlite_db.path))
        as_json = wfc("migrate", "apply", "plan.json", "--json", "--db", f"{sqlite_db.url}?busy_timeout=0.2")
        assert_locked(as_json, "0.2 s")
        assert as_json.stdout.strip() == ""  # no report document either
        # Planning only reads, and SQLite's write lock lets readers through.
        planned = wfc("migrate", "plan", "ship", "--from", "1.0", "--to", "1.1", "--json",
                      "--db", f"{sqlite_db.url}?busy_timeout=0.2")  # fmt: skip
        assert planned.exit_code == 0, planned.output
        assert json.loads(planned.stdout)["summary"] == {"safe_now": 1, "safe_later": 1, "must_drain": 0}
    assert snapshot(sqlite_db) == before  # nothing moved, nothing half done
    applies_after_the_lock(wfc, sqlite_db)


def test_apply_from_another_process_reads_the_wait_from_the_environment(
    wfc: Invoke, sqlite_db: Db, tmp_path: Path
) -> None:
    park(sqlite_db.url)
    write_plan(wfc, sqlite_db.url, tmp_path / "plan.json")
    before = snapshot(sqlite_db)
    assert sqlite_db.path is not None
    with sqlite_write_lock(sqlite_db.path):
        applied = wfc_process(tmp_path, "migrate", "apply", "plan.json", "--json", "--db", sqlite_db.url,
                              env={"WFC_SQLITE_BUSY_TIMEOUT": "0.2"})  # fmt: skip
    assert_locked(applied, "0.2 s", "WFC_SQLITE_BUSY_TIMEOUT")
    assert applied.stdout.strip() == ""
    assert snapshot(sqlite_db) == before
    applies_after_the_lock(wfc, sqlite_db)


def test_the_engine_raises_the_lock_error_rather_than_report_runs_not_moved(
    wfc: Invoke, sqlite_db: Db, tmp_path: Path
) -> None:
    park(sqlite_db.url)
    plan = write_plan(wfc, sqlite_db.url, tmp_path / "plan.json")
    before = snapshot(sqlite_db)

    async def apply() -> None:
        async with Engine.open(f"{sqlite_db.url}?busy_timeout=0.2", serve=False, check_tasks=False) as engine:
            assert sqlite_db.path is not None
            locked = pytest.raises(DatabaseLockedError, match=r"locked by another process.*0\.2 s")
            with sqlite_write_lock(sqlite_db.path), locked as caught:
                await engine.apply_migration(plan)
            assert caught.value.waited == 0.2
            report = await engine.apply_migration(plan)  # the lock gone: the same engine applies it
            assert report.complete and report.counts()["migrated"] == 1

    anyio.run(apply)
    after = snapshot(sqlite_db)
    assert after["runs"] != before["runs"]  # moved by the second call only
    assert str(stored(sqlite_db.url, ["ord-a"])["ord-a"][0].version) == "1.1"


def test_a_full_disk_stops_applying_with_its_own_error_and_leaves_the_runs(
    wfc: Invoke, sqlite_db: Db, tmp_path: Path
) -> None:
    """A commit failed for a reason that may pass (here SQLite's own "database
    or disk is full", raised inside the real transaction) is the database's,
    not the run's: applying raises it, rather than report the run as changed
    since the plan, and applies once the disk has room."""
    from faults import Fault, FaultyStore

    park(sqlite_db.url)
    plan = write_plan(wfc, sqlite_db.url, tmp_path / "plan.json")
    before = snapshot(sqlite_db)

    async def apply() -> None:
        store = FaultyStore(await open_store(sqlite_db.url, time.time()))
        async with Engine.open(sqlite_db.url, serve=False, check_tasks=False, store=store) as engine:
            store.fail(Fault.DISK_FULL)
            with pytest.raises(DatabaseUnavailableError, match=r"database or disk is full.*call again"):
                await engine.apply_migration(plan)
            assert snapshot(sqlite_db) == before
            store.clear()
            report = await engine.apply_migration(plan)
            assert report.complete and report.counts()["migrated"] == 1

    anyio.run(apply)
    assert str(stored(sqlite_db.url, ["ord-a"])["ord-a"][0].version) == "1.1"


# ---------------------------------------------------------------- PostgreSQL


PLAN_ARGS = ("migrate", "plan", "ship", "--from", "1.0", "--to", "1.1", "--json")

ROW_LOCK = "SELECT * FROM {schema}.runs WHERE id = 'ord-a' FOR UPDATE"
TABLE_LOCK = "LOCK TABLE {schema}.runs IN ACCESS EXCLUSIVE MODE"


@pytest.mark.parametrize("lock", [ROW_LOCK, TABLE_LOCK], ids=["row-lock", "table-lock"])
def test_apply_on_postgres_under_another_sessions_lock_says_it_is_locked(
    wfc: Invoke, pg: Db, tmp_path: Path, lock: str
) -> None:
    park(pg.url)
    write_plan(wfc, pg.url, tmp_path / "plan.json")
    before = snapshot(pg)

    async def under_lock() -> tuple[Any, Any, Any]:
        async with held(pg, lock):
            in_url = await asyncio.to_thread(
                wfc_process, tmp_path, "migrate", "apply", "plan.json", "--db", f"{pg.url}&lock_timeout=0.5"
            )
            in_env = await asyncio.to_thread(
                wfc_process, tmp_path, "migrate", "apply", "plan.json", "--json", "--db", pg.url,
                env={"WFC_PG_LOCK_TIMEOUT": "0.5"},
            )  # fmt: skip
            planned = await asyncio.to_thread(
                wfc_process, tmp_path, *PLAN_ARGS, "--db", pg.url, env={"WFC_PG_LOCK_TIMEOUT": "0.5"}
            )
            return in_url, in_env, planned

    in_url, in_env, planned = asyncio.run(under_lock())
    assert_locked(in_url, "0.5 s", "?lock_timeout=SECONDS", "WFC_PG_LOCK_TIMEOUT", pg.schema or "")
    assert_locked(in_env, "0.5 s", "WFC_PG_LOCK_TIMEOUT")
    assert in_env.stdout.strip() == ""
    if lock == ROW_LOCK:  # planning only reads: a row lock lets it through
        assert planned.returncode == 0, planned.stderr
        assert json.loads(planned.stdout)["summary"] == {"safe_now": 1, "safe_later": 1, "must_drain": 0}
    else:  # a table lock stops readers too: the same lock message, no conflict
        assert_locked(planned, "0.5 s", "WFC_PG_LOCK_TIMEOUT")
    assert snapshot(pg) == before  # nothing moved, nothing half done
    applies_after_the_lock(wfc, pg)
