"""What a step writes on SQLite: the outbox is one B-tree keyed by dispatch
id (schema 10, which keeps the rows a schema 9 database held), and the
``status`` column, with its index, is written only when a run's status
changed. Both keep the pages each commit writes to the WAL down."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import msgspec
import pytest
from rtspec import exit_, out, spec, task, wait
from rtstore import run_write as run_write_row
from rtstore import seed

from wfc.runtime import Engine, RunStatus
from wfc.runtime import task as wfc_task
from wfc.runtime._run_rows import run_write
from wfc.runtime.errors import StaleRunError
from wfc.runtime.interpreter.state import RunState
from wfc.runtime.store import open_store
from wfc.runtime.store.schema import migrations
from wfc.runtime.store.sqlite_setup import APPLICATION_ID
from wfc.specs import Version

pytestmark = pytest.mark.anyio

OUTBOX_ROW = (
    "r1/0/charge/1#1", "r1", 0, "charge", "charge", "[5]", 1, "r1/0/charge/1", 30.0, "w", 1.5, "engine-a", 9.5,
)  # fmt: skip
COLUMNS = (
    "dispatch_id, run_id, thread, node, task, args, attempt, idempotency_key, timeout, workflow, created_at, "
    "lease_owner, lease_expires_at"
)


def _schema_9(path: Path) -> None:
    """A wfc database as wfc wrote it at schema 9, an attempt in its outbox."""
    nine = migrations("sqlite")[:9]
    conn = sqlite3.connect(path)
    try:
        conn.executescript(";".join(m.sql for m in nine) + f";PRAGMA application_id = {APPLICATION_ID};")
        conn.executemany(
            "INSERT INTO wfc_migrations (version, name, applied_at) VALUES (?, ?, 1.0)",
            [(m.version, m.name) for m in nine],
        )
        conn.execute(
            "INSERT INTO specs (name, major, revision, hash, body, deployed_at) "
            "VALUES ('w', 1, 0, 'sha256:x', '{}', 1.0)"
        )
        conn.execute(
            "INSERT INTO runs (id, workflow, major, revision, status, version, state, created_at, updated_at) "
            "VALUES ('r1', 'w', 1, 0, 'RUNNING', 2, '{}', 1.0, 2.0)"
        )
        conn.execute(f"INSERT INTO tasks ({COLUMNS}) VALUES ({', '.join('?' * len(OUTBOX_ROW))})", OUTBOX_ROW)
        conn.commit()
    finally:
        conn.close()


def _schema(path: Path) -> dict[str, str]:
    conn = sqlite3.connect(path)
    try:
        return {name: sql for name, sql in conn.execute("SELECT name, sql FROM sqlite_master WHERE tbl_name = 'tasks'")}
    finally:
        conn.close()


async def test_schema_10_keys_the_outbox_by_dispatch_id_and_keeps_its_rows(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    _schema_9(path)
    assert "tasks_by_lease" in _schema(path)
    store = await open_store(f"sqlite:///{path}", 5.0)  # migrates
    await store.close()
    schema = _schema(path)
    assert "WITHOUT ROWID" in schema["tasks"]
    assert sorted(schema) == ["tasks", "tasks_by_run"]  # no rowid twin of the key, no lease index
    conn = sqlite3.connect(path)
    try:
        assert conn.execute(f"SELECT {COLUMNS} FROM tasks").fetchall() == [OUTBOX_ROW]
        assert conn.execute("SELECT max(version) FROM wfc_migrations").fetchone() == (10,)
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    finally:
        conn.close()


def _state(status: RunStatus) -> RunState:
    return RunState(id="r", workflow="w", version=Version(major=1, revision=0), status=status)


def test_a_write_names_the_status_only_when_it_may_have_changed() -> None:
    running, done = _state(RunStatus.RUNNING), _state(RunStatus.COMPLETED)
    same = run_write("r", running, running, True, 3, None)
    assert not same.status_changed
    assert run_write("r", running, done, True, 3, None).status_changed
    # A second transition of the run in the same transaction: the stored
    # status is the one before the first.
    changed_first = run_write("r", running, done, True, 3, None)
    assert run_write("r", done, done, True, 3, changed_first).status_changed
    assert not run_write("r", running, running, True, 3, same).status_changed


@wfc_task("slow-step")
async def _slow_step(n: int) -> int:
    return n


async def test_the_status_column_follows_the_run_through_halt_resume_and_its_end(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'w.db'}"
    flow = spec(
        "halting",
        [
            ("first", task("slow-step", 1)),
            ("go", wait("go")),
            ("second", task("slow-step", 2)),
            ("done", exit_(out("second"))),
        ],
    )

    def column(run_id: str) -> Any:
        conn = sqlite3.connect(tmp_path / "w.db")
        try:
            return conn.execute("SELECT status FROM runs WHERE id = ?", (run_id,)).fetchone()[0]
        finally:
            conn.close()

    async with Engine.open(url, tasks=[_slow_step], poll_interval=0.05) as engine:
        await engine.deploy(flow)
        run_id = await engine.start("halting")
        assert column(run_id) == "RUNNING"
        await engine.halt(run_id)
        assert column(run_id) == "HALTED"
        await engine.resume(run_id)
        assert column(run_id) == "RUNNING"
        await engine.send_event("go", 1, run_id=run_id)
        assert (await engine.wait(run_id, timeout=10)).status is RunStatus.COMPLETED
    assert column(run_id) == "COMPLETED"


async def test_a_stale_write_that_leaves_the_status_out_is_refused_and_changes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    store = await open_store(f"sqlite:///{path}", 5.0)
    try:
        await seed(store, "r1")
        await seed(store, "r2")
        with pytest.raises(StaleRunError) as info:
            async with store.transaction() as tx:
                tx.batch.runs["r1"] = msgspec.structs.replace(run_write_row("r1", 1), status_changed=False)
                tx.batch.runs["r2"] = msgspec.structs.replace(run_write_row("r2", 7), status_changed=False)
        assert list(info.value.run_ids) == ["r2"]
    finally:
        await store.close()
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("SELECT id, version, state FROM runs ORDER BY id").fetchall() == [
            ("r1", 1, '{"s":1}'),
            ("r2", 1, '{"s":1}'),
        ]
    finally:
        conn.close()
