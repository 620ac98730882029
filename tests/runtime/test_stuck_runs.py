"""Stuck runs (``Engine.count_stuck``, ``list_runs_page(stuck_for=)``) on
real stored state, both stores: an attempt nobody serves and a timer nobody
fired make a run stuck; an hour-long event wait, a sleep not yet due and an
attempt a live engine runs do not; an engine process SIGKILLed in the
middle of a task leaves its run stuck once its lease has expired."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import anyio
import pytest
from rtdb import Db
from rtspec import exit_, out, spec, task
from rtstuck import HOUR, started_an_hour_ago

from wfc.runtime import Engine, RunStatus, UsageError
from wfc.runtime import task as wfc_task
from wfc.specs import dumps

pytestmark = pytest.mark.anyio

async def test_what_nobody_does_makes_a_run_stuck_and_waiting_does_not(db_url: str, db: Db) -> None:
    await started_an_hour_ago(db_url)
    assert db.rows("SELECT run_id, lease_owner FROM tasks") == [("orphan", None)]
    async with Engine.open(db_url, serve=False) as reader:
        assert await reader.count_stuck(300) == 2
        runs = await reader.list_runs(stuck_for=dt.timedelta(minutes=5))
        assert sorted(run.id for run in runs) == ["napper", "orphan"]
        why = {run.id: run.stuck for run in runs}
        (dispatch,) = why["orphan"]
        assert dispatch.kind == "dispatch" and dispatch.task == "nobody-serves" and dispatch.node == "charge"
        assert dispatch.holder is None and dispatch.lease_expired_at is None
        assert "no worker claimed it" in dispatch.message and "task 'nobody-serves'" in dispatch.message
        assert abs(dispatch.since.timestamp() - (time.time() - HOUR)) < 60
        (timer,) = why["napper"]
        assert timer.kind == "timer" and "was not fired" in timer.message
        assert abs(timer.since.timestamp() - (time.time() - HOUR + 60)) < 60
        # Owed for an hour, not two: a window longer than that finds nothing.
        assert await reader.count_stuck(2 * HOUR) == 0
        assert await reader.list_runs(stuck_for=2 * HOUR) == []
        # Other filters combine with it; a listing without it says nothing of stuck.
        assert [r.id for r in await reader.list_runs(stuck_for=300, workflow="orphaned")] == ["orphan"]
        assert await reader.list_runs(stuck_for=300, status="HALTED") == []
        assert all(run.stuck == () for run in await reader.list_runs())


async def test_a_halted_run_is_not_stuck(db_url: str) -> None:
    await started_an_hour_ago(db_url)
    async with Engine.open(db_url, serve=False) as client:
        await client.halt("orphan", "looking into it")
        assert [r.id for r in await client.list_runs(stuck_for=300)] == ["napper"]


@wfc_task("held")
async def held(gate: str) -> str:
    await anyio.sleep_forever()
    return gate


async def test_an_attempt_a_live_engine_runs_is_progress_not_stuck(db_url: str, db: Db) -> None:
    s = spec("busy", [("work", task("held", "x")), ("end", exit_(out("work")))])
    async with Engine.open(db_url, tasks=[held], poll_interval=0.05) as engine:
        await engine.deploy(s)
        await engine.start("busy", run_id="busy-1")
        with anyio.fail_after(10):
            while db.rows("SELECT lease_owner FROM tasks") != [(engine.engine_id,)]:
                await anyio.sleep(0.02)
        # Dispatched before the window even for a window of 0 s, but held.
        assert await engine.count_stuck(0) == 0
        assert await engine.list_runs(stuck_for=0) == []
        assert (await engine.get_run("busy-1")).status is RunStatus.RUNNING


async def test_stuck_for_must_be_a_duration(db_url: str) -> None:
    async with Engine.open(db_url, serve=False) as reader:
        for wrong in (-1, float("nan"), "5m", True):
            with pytest.raises(UsageError, match="stuck_for"):
                await reader.count_stuck(wrong)  # type: ignore[arg-type]
            with pytest.raises(UsageError, match="stuck_for"):
                await reader.list_runs(stuck_for=wrong)  # type: ignore[arg-type]


CHILD = textwrap.dedent(
    """
    import sys, pathlib, anyio
    from wfc.runtime import Engine, task
    from wfc.specs import loads

    work, url = pathlib.Path(sys.argv[1]), sys.argv[2]

    @task("slow-step")
    async def slow_step() -> int:
        (work / "running").write_text("yes")
        await anyio.sleep_forever()

    async def main():
        async with Engine.open(url, tasks=[slow_step], poll_interval=0.05, lease_seconds=30) as engine:
            await engine.deploy(loads((work / "spec.json").read_bytes()))
            await engine.start("crashy", run_id="crash-1")
            (work / "engine").write_text(engine.engine_id)
            await anyio.sleep_forever()

    anyio.run(main)
    """
)


async def test_a_run_whose_engine_was_sigkilled_is_stuck_once_its_lease_expired(tmp_path: Path, db: Db) -> None:
    s = spec("crashy", [("two", task("slow-step")), ("end", exit_(out("two")))])
    (tmp_path / "spec.json").write_bytes(dumps(s))
    (tmp_path / "child.py").write_text(CHILD)
    child = subprocess.Popen([sys.executable, str(tmp_path / "child.py"), str(tmp_path), db.url],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
    try:
        with anyio.fail_after(30):
            while not ((tmp_path / "running").exists() and (tmp_path / "engine").exists()):
                if child.poll() is not None:
                    raise AssertionError(f"engine process exited early: {child.communicate()}")
                await anyio.sleep(0.02)
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
    assert child.returncode == -signal.SIGKILL
    dead = (tmp_path / "engine").read_text()
    ((owner, expires),) = db.rows("SELECT lease_owner, lease_expires_at FROM tasks")
    assert owner == dead and expires > time.time()  # the lease outlives the process for up to 30 s
    async with Engine.open(db.url, serve=False) as now_reader:
        assert await now_reader.count_stuck(0) == 0  # still leased: the engine may only be slow
    later = expires + 1
    async with Engine.open(db.url, serve=False, clock=lambda: later) as late_reader:
        assert await late_reader.count_stuck(0.5) == 1
        (run,) = await late_reader.list_runs(stuck_for=0.5)
    assert run.id == "crash-1" and run.status is RunStatus.RUNNING
    (reason,) = run.stuck
    assert reason.holder == dead and reason.lease_expired_at is not None
    assert reason.lease_expired_at.timestamp() == pytest.approx(expires)
    assert f"the lease of engine {dead} expired" in reason.message
