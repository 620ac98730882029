"""Run state carries its format: a run stored by a newer wfc is refused with
an error that names it and says to upgrade, and nothing stored changes. Rows
written before the format was recorded read as format 1. On both stores."""

from __future__ import annotations

import sqlite3
from typing import Any

import msgspec
import pytest
from rtdb import Db
from rtspec import exit_, out, spec, wait
from rtstore import run_write
from rtstore import seed as _seed

from wfc.runtime import Engine, NewerRunStateError
from wfc.runtime.store import STATE_FORMAT, RunFilter, Store, open_store
from wfc.runtime.store.schema import migrations
from wfc.runtime.store.sqlite_setup import APPLICATION_ID

pytestmark = pytest.mark.anyio

NEWER = STATE_FORMAT + 1


def _stored(db: Db) -> dict[str, list[tuple[Any, ...]]]:
    """Everything a refused call could have changed."""
    return {
        "runs": db.rows("SELECT id, status, version, state, state_format, updated_at FROM runs ORDER BY id"),
        "journal": db.rows("SELECT run_id, seq, kind FROM journal ORDER BY run_id, seq"),
        "events": db.rows("SELECT event_id, run_id FROM events ORDER BY seq"),
        "tasks": db.rows("SELECT dispatch_id FROM tasks ORDER BY dispatch_id"),
        "timers": db.rows("SELECT run_id, timer FROM timers ORDER BY run_id, timer"),
        "waits": db.rows("SELECT run_id, thread FROM event_waits ORDER BY run_id, thread"),
    }


async def _store_newer(store: Store, run_id: str) -> None:
    """Rewrite the run as a newer wfc would: same state, a newer format."""
    record = await store.get_run(run_id)
    assert record is not None and record.state_format == STATE_FORMAT
    async with store.transaction() as tx:
        tx.batch.runs[run_id] = msgspec.structs.replace(
            run_write(run_id, record.version, record.status),
            workflow=record.workflow,
            major=record.major,
            revision=record.revision,
            state=record.state,
            created_at=record.created_at,
            updated_at=record.updated_at,
            state_format=NEWER,
        )


def _check(error: NewerRunStateError, run_id: str) -> None:
    assert (error.run_id, error.found, error.supported) == (run_id, NEWER, STATE_FORMAT)
    message = str(error)
    assert repr(run_id) in message and f"run state format {NEWER}" in message
    assert "Upgrade wfc" in message and "nothing was changed" in message


async def test_the_store_writes_and_reads_the_state_format(db: Db) -> None:
    store = await open_store(db.url, 1.0)
    await _seed(store)
    record = await store.get_run("r1")
    assert record is not None and record.state_format == STATE_FORMAT
    assert db.rows("SELECT state_format FROM runs") == [(STATE_FORMAT,)]
    await store.close()


async def test_every_read_of_a_newer_run_refuses_it_and_changes_nothing(db: Db) -> None:
    store = await open_store(db.url, 1.0)
    await _seed(store)
    await _seed(store, "r2")
    await _store_newer(store, "r1")
    before = _stored(db)
    with pytest.raises(NewerRunStateError) as info:
        await store.get_run("r1")
    _check(info.value, "r1")
    # A listing hands the row over with its format: the reader shows the
    # run as unreadable rather than hide the others (test_unreadable_runs).
    listed = {record.id: record.state_format for record in await store.list_runs(RunFilter())}
    assert listed["r1"] > STATE_FORMAT and listed["r2"] == STATE_FORMAT
    for read in ("run_versions", "load_runs"):
        with pytest.raises(NewerRunStateError) as info:
            async with store.transaction() as tx:
                tx.batch.runs["r2"] = run_write("r2", 1, "COMPLETED")  # queued before the refusal
                await getattr(tx, read)(["r1", "r2"])
        _check(info.value, "r1")
    assert _stored(db) == before
    record = await store.get_run("r2")  # the other runs are read as before
    assert record is not None and (record.status, record.version) == ("RUNNING", 1)
    await store.close()


async def test_an_engine_refuses_a_newer_run_and_leaves_it_as_stored(db: Db, caplog: pytest.LogCaptureFixture) -> None:
    s = spec("one", [("w", wait("paid")), ("end", exit_(out("w")))])
    async with Engine.open(db.url, poll_interval=0.05) as engine:
        await engine.deploy(s)
        run_id = await engine.start("one")
        other = await engine.start("one")
    store = await open_store(db.url, 2.0)
    await _store_newer(store, run_id)
    await store.close()
    before = _stored(db)
    async with Engine.open(db.url, poll_interval=0.05) as engine:
        for call in (
            lambda: engine.get_run(run_id),
            lambda: engine.send_event("paid", 1, run_id=run_id),
            lambda: engine.cancel(run_id),
            lambda: engine.halt(run_id),
        ):
            with pytest.raises(NewerRunStateError) as info:
                await call()
            _check(info.value, run_id)
        listed = {run.id: run.unreadable for run in await engine.list_runs()}
        assert listed[other] is None and "stored by a newer wfc" in (listed[run_id] or "")
        await engine.send_event("paid", 7, run_id=other)  # the engine serves the other runs
        assert (await engine.wait(other, timeout=10)).output == 7
    # The refusal says it all: logged in one line, with no traceback to bury it (the CLI shows the log).
    refusals = [record for record in caplog.records if "stored by a newer wfc" in record.getMessage()]
    assert refusals and all(record.exc_info is None for record in refusals)
    after = _stored(db)
    assert [row for row in after["runs"] if row[0] == run_id] == [row for row in before["runs"] if row[0] == run_id]
    assert [row for row in after["journal"] if row[0] == run_id] == [
        row for row in before["journal"] if row[0] == run_id
    ]
    assert [row for row in after["events"] if row[1] == run_id] == []


def _create_schema_1(db: Db) -> None:
    """A wfc database as wfc wrote it before runs recorded their state format."""
    first = migrations("sqlite" if db.kind == "sqlite" else "postgres")[0]
    rows = (
        "INSERT INTO wfc_migrations (version, name, applied_at) VALUES (1, 'initial', 1.0);"
        "INSERT INTO specs (name, major, revision, hash, body, deployed_at) VALUES ('w', 1, 0, 'sha256:x', '{}', 1.0);"
        "INSERT INTO runs (id, workflow, major, revision, status, version, state, created_at, updated_at) "
        "VALUES ('old', 'w', 1, 0, 'RUNNING', 3, '{\"s\":1}', 1.0, 2.0);"
    )
    if db.kind == "sqlite":
        conn = sqlite3.connect(str(db.path))
        conn.executescript(f"{first.sql};{rows}PRAGMA application_id = {APPLICATION_ID};")
        conn.close()
    else:
        db.execute(f'CREATE SCHEMA "{db.schema}"; SET search_path TO "{db.schema}"; {first.sql}; {rows}')


async def test_runs_stored_before_formats_were_recorded_read_as_format_1(db: Db) -> None:
    _create_schema_1(db)
    store = await open_store(db.url, 5.0)  # migrates to the current schema
    record = await store.get_run("old")
    assert record is not None and (record.state_format, record.version, record.state) == (1, 3, b'{"s":1}')
    async with store.transaction() as tx:
        assert (await tx.load_runs(["old"]))["old"].state_format == 1
    await store.close()
