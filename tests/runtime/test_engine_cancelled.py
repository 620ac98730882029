"""An engine whose caller is cancelled closes at once, having done what a
close does: a timeout or a task group around ``Engine.open`` (a server
shutting down) cancels the block, and the engine's own loops must outlive
that cancellation until closing ends them. Cancelled with the block, the
commit loop left the close waiting 10 s for an answer nobody would give,
and the engine's registration stayed behind."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import anyio
import pytest
from rtspec import exit_, spec, wait

from wfc.runtime import Engine

pytestmark = pytest.mark.anyio

WAITS = spec("waits", [("go", wait("go")), ("end", exit_())])


@pytest.mark.parametrize("inside", ["move_on_after", "task_group"])
async def test_an_engine_in_a_cancelled_scope_closes_at_once_and_gives_back_its_registration(
    tmp_path: Path, inside: str
) -> None:
    path = tmp_path / "runs.db"
    started: list[str] = []

    async def use() -> None:
        async with Engine.open(f"sqlite:///{path}") as engine:
            await engine.deploy(WAITS)
            started.append(await engine.start("waits", run_id="w-1"))
            await anyio.sleep(30)

    began = time.monotonic()
    if inside == "move_on_after":
        with anyio.move_on_after(0.5):
            await use()
    else:
        async with anyio.create_task_group() as tg:
            tg.start_soon(use)
            await anyio.sleep(0.5)
            tg.cancel_scope.cancel()
    took = time.monotonic() - began
    assert started == ["w-1"]
    assert took < 3, f"closing took {took:.1f}s"
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT count(*) FROM engines").fetchone() == (0,)
        assert conn.execute("SELECT status FROM runs").fetchall() == [("RUNNING",)]
