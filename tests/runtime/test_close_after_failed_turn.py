"""Closing an engine gives back its leases even when the last turn failed.

Closing waits until the commit loop took every command queued before it. If
the turn that takes them fails (here a full disk, raised inside the real
transaction; a lock held past the wait does the same), that wait is over
all the same: the engine must still remove its registration and hand its
attempts back, not stop closing there, raise the turn's error out of the
close, and leave its row for other engines to reap once its lease runs out.

To have the close's own command share the failing turn, the turn before is
held up by another connection's write lock while both are queued."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import anyio
import pytest
from faults import Fault, FaultyStore
from rtspec import exit_, spec, wait

from wfc.runtime import Engine
from wfc.runtime.store import open_store

pytestmark = pytest.mark.anyio

WAITS = spec("waits", [("go", wait("go")), ("end", exit_())])


def rows(path: Path, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(path) as conn:
        return conn.execute(sql).fetchall()


async def test_an_engine_whose_last_turn_failed_still_gives_back_its_registration(tmp_path: Path) -> None:
    path = tmp_path / "runs.db"
    url = f"sqlite:///{path}?busy_timeout=5"
    store = FaultyStore(await open_store(url, time.time()))
    failed: list[BaseException] = []

    async def send(run_id: str) -> None:
        try:
            await engine.send_event("go", {}, run_id=run_id)
        except Exception as exc:
            failed.append(exc)

    other = sqlite3.connect(path, isolation_level=None)
    async with anyio.create_task_group() as tg, Engine.open(url, store=store, poll_interval=0.02) as engine:
        await engine.deploy(WAITS)
        await engine.start("waits", run_id="w-1")
        await engine.start("waits", run_id="w-2")
        assert rows(path, "SELECT id FROM engines") == [(engine.engine_id,)]
        other.execute("BEGIN IMMEDIATE")  # the next turn waits for it
        tg.start_soon(send, "w-1")
        await anyio.sleep(0.2)
        store.fail(Fault.DISK_FULL)
        tg.start_soon(send, "w-2")  # queued behind the held turn
        await anyio.sleep(0.05)

        async def release() -> None:
            await anyio.sleep(0.3)  # the engine is closing meanwhile
            other.execute("ROLLBACK")

        tg.start_soon(release)
        # closed: its own command was queued behind w-2's, and failed with it
    other.close()
    assert len(failed) == 2 and all("disk is full" in str(exc) for exc in failed)
    assert rows(path, "SELECT id FROM engines") == []
    assert rows(path, "SELECT status FROM runs ORDER BY id") == [("RUNNING",), ("RUNNING",)]
