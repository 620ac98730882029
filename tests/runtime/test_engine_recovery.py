"""Recovery: reopening resumes unfinished runs. Timers that came due while no
engine ran fire; task attempts in flight are delivered again with the same
idempotency key; completed steps never run again. The last test SIGKILLs a
real engine process in the middle of a task."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import anyio
import pytest
from rtclock import ManualClock, manual_engine
from rtdb import Db
from rtspec import exit_, out, sleep, spec, task

from wfc.runtime import Engine, RunStatus, TaskContext
from wfc.runtime import task as wfc_task
from wfc.runtime.store import open_store
from wfc.specs import dumps

pytestmark = pytest.mark.anyio


@wfc_task("noop")
async def noop() -> str:
    return "ok"


async def test_a_timer_that_came_due_while_no_engine_ran_fires_on_reopen(db_url: str, db: Db) -> None:
    s = spec("nap", [("zz", sleep(3600)), ("after", task("noop")), ("end", exit_(out("after")))])
    clock = ManualClock()
    async with manual_engine(db_url, clock, tasks=[noop], poll_interval=0.05) as engine:
        await engine.deploy(s)
        run_id = await engine.start("nap", run_id="nap-1")
        run = await engine.get_run(run_id)
        assert run.waiting_on[0].startswith("main@zz: timer until ")
    # Closed: the run is only a row and a timer row, nothing in memory.
    assert db.rows("SELECT due_at FROM timers") == [(clock.now + 3600,)]
    clock.advance(3700)  # an hour and a bit later, while no engine runs
    async with manual_engine(db_url, clock, tasks=[noop], poll_interval=0.05) as engine:
        run = await engine.wait(run_id, timeout=10)
    assert run.status is RunStatus.COMPLETED and run.output == "ok"
    assert db.rows("SELECT count(*) FROM timers") == [(0,)]


async def test_a_sleep_not_yet_due_survives_a_restart(db_url: str, db: Db) -> None:
    s = spec("short-nap", [("zz", sleep(0.3)), ("end", exit_("awake"))])
    clock = ManualClock()
    async with manual_engine(db_url, clock, poll_interval=0.05) as engine:
        await engine.deploy(s)
        run_id = await engine.start("short-nap")
    clock.advance(0.2)  # not due yet when the next engine opens
    async with manual_engine(db_url, clock, poll_interval=0.05) as engine:
        assert (await engine.get_run(run_id)).status is RunStatus.RUNNING
        assert db.rows("SELECT count(*) FROM timers") == [(1,)]
        clock.advance(0.1)
        run = await engine.wait(run_id, timeout=10)
    assert run.output == "awake"


deliveries: list[tuple[str, int]] = []
release = {"event": anyio.Event()}


@wfc_task("blocking")
async def blocking(ctx: TaskContext) -> str:
    deliveries.append((ctx.idempotency_key, ctx.attempt))
    await release["event"].wait()
    return "released"


async def test_a_task_in_flight_at_shutdown_is_delivered_again_on_reopen(db_url: str, db: Db) -> None:
    deliveries.clear()
    release["event"] = anyio.Event()
    s = spec("block", [("b", task("blocking")), ("end", exit_(out("b")))])
    async with Engine.open(db_url, tasks=[blocking], poll_interval=0.05) as engine:
        await engine.deploy(s)
        run_id = await engine.start("block", run_id="blk")
        with anyio.fail_after(5):
            while not deliveries:
                await anyio.sleep(0.01)
    # The attempt stays in the outbox, its lease released by the clean shutdown.
    assert db.rows("SELECT idempotency_key, lease_owner FROM tasks") == [("blk/0/b/1", None)]
    release["event"].set()
    async with Engine.open(db_url, tasks=[blocking], poll_interval=0.05) as engine:
        run = await engine.wait(run_id, timeout=10)
        kinds = [h.kind for h in await engine.history(run_id)]
    assert run.status is RunStatus.COMPLETED and run.output == "released"
    assert deliveries == [("blk/0/b/1", 1), ("blk/0/b/1", 1)]
    assert "TASK_CLAIMED" in kinds


async def test_a_claim_in_flight_when_the_engine_closes_does_not_outlive_it(
    db_url: str, db: Db, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Closing releases the engine's leases; a claim (or heartbeat) of its poll
    loop still in flight must not take them again after that, or the attempt
    would be stranded until the lease expired."""
    deliveries.clear()
    release["event"] = anyio.Event()
    s = spec("block", [("b", task("blocking")), ("end", exit_(out("b")))])
    in_claim, released = anyio.Event(), anyio.Event()
    async with Engine.open(db_url, tasks=[blocking], poll_interval=0.02) as engine:
        store = engine._store
        claim_tasks, release_engine = store.claim_tasks, store.release_engine

        async def late_claim(*args: Any) -> Any:
            in_claim.set()
            # Unfixed, closing releases the engine meanwhile and this claim
            # comes after; fixed, closing waits for it (hence the bound).
            with anyio.move_on_after(1):
                await released.wait()
            return await claim_tasks(*args)

        async def noted_release(engine_id: str) -> None:
            await release_engine(engine_id)
            released.set()

        await engine.deploy(s)
        await engine.start("block", run_id="blk")
        with anyio.fail_after(10):
            while not deliveries:
                await anyio.sleep(0.01)
        monkeypatch.setattr(store, "claim_tasks", late_claim)
        monkeypatch.setattr(store, "release_engine", noted_release)
        with anyio.fail_after(10):
            await in_claim.wait()
    assert db.rows("SELECT idempotency_key, lease_owner FROM tasks") == [("blk/0/b/1", None)]
    assert db.rows("SELECT count(*) FROM engines") == [(0,)]


async def test_a_client_engine_leaves_tasks_to_a_serving_engine(db_url: str) -> None:
    s = spec("client", [("n", task("noop")), ("end", exit_(out("n")))])
    async with Engine.open(db_url, serve=False) as client:
        await client.deploy(s)  # serve=False does not require the tasks
        run_id = await client.start("client")
        assert (await client.get_run(run_id)).status is RunStatus.RUNNING
        async with Engine.open(db_url, tasks=[noop], poll_interval=0.05) as worker:
            run = await worker.wait(run_id, timeout=10)
        assert run.output == "ok"


CHILD = textwrap.dedent(
    """
    import sys, pathlib, anyio
    from wfc.runtime import Engine, TaskContext, task
    from wfc.specs import loads

    work = pathlib.Path(sys.argv[1])
    url = sys.argv[2]

    def note(line):
        with open(work / "effects.log", "a") as f:
            f.write(line + "\\n")

    @task("step-one")
    def step_one(ctx: TaskContext) -> int:
        note(f"step-one {ctx.idempotency_key}")
        return 1

    @task("slow-step")
    async def slow_step(previous: int, ctx: TaskContext) -> int:
        note(f"slow-step {ctx.idempotency_key} {ctx.attempt}")
        await anyio.sleep_forever()

    @task("step-three")
    def step_three(previous: int) -> str:
        note("step-three")
        return "done"

    async def main():
        async with Engine.open(url, tasks=[step_one, slow_step, step_three], poll_interval=0.05) as engine:
            await engine.deploy(loads((work / "spec.json").read_bytes()))
            await engine.start("crashy", run_id="crash-1")
            note("started")
            await anyio.sleep_forever()

    anyio.run(main)
    """
)


def _note(work: Path, line: str) -> None:
    with open(work / "effects.log", "a") as handle:
        handle.write(line + "\n")


async def test_sigkill_in_the_middle_of_a_task_then_reopen_in_a_new_process(tmp_path: Path, db: Db) -> None:
    s = spec(
        "crashy",
        [
            ("one", task("step-one")),
            ("two", task("slow-step", out("one"))),
            ("three", task("step-three", out("two"))),
            ("end", exit_(out("three"))),
        ],
    )
    (tmp_path / "spec.json").write_bytes(dumps(s))
    (tmp_path / "child.py").write_text(CHILD)
    log = tmp_path / "effects.log"
    child = subprocess.Popen(
        [sys.executable, str(tmp_path / "child.py"), str(tmp_path), db.url],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        with anyio.fail_after(30):
            while not (log.exists() and "slow-step" in log.read_text()):
                if child.poll() is not None:
                    raise AssertionError(f"engine process exited early: {child.communicate()}")
                await anyio.sleep(0.02)
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
    assert child.returncode == -signal.SIGKILL
    assert db.rows("SELECT status FROM runs") == [("RUNNING",)]
    assert db.rows("SELECT node FROM tasks") == [("two",)]  # in the outbox, leased by the dead process

    @wfc_task("step-one")
    def step_one(ctx: TaskContext) -> int:
        _note(tmp_path, f"step-one {ctx.idempotency_key}")
        return 1

    @wfc_task("slow-step")
    async def slow_step(previous: int, ctx: TaskContext) -> int:
        _note(tmp_path, f"slow-step {ctx.idempotency_key} {ctx.attempt}")
        return previous + 1

    @wfc_task("step-three")
    def step_three(previous: int) -> str:
        _note(tmp_path, "step-three")
        return f"done after {previous}"

    # A new engine in this (another) process: the dead process's lease is
    # released at once because its pid (on PostgreSQL: its session) is gone.
    async with Engine.open(db.url, tasks=[step_one, slow_step, step_three], poll_interval=0.05) as engine:
        run = await engine.wait("crash-1", timeout=20)
        history = await engine.history("crash-1")
    assert run.status is RunStatus.COMPLETED and run.output == "done after 2"
    lines = log.read_text().splitlines()
    assert lines.count("step-one crash-1/0/one/1") == 1  # the completed step did not run again
    assert [line for line in lines if line.startswith("slow-step")] == [
        "slow-step crash-1/0/two/1 1",
        "slow-step crash-1/0/two/1 1",  # delivered again, same idempotency key
    ]
    assert lines.count("step-three") == 1
    assert [h.kind for h in history].count("TASK_CLAIMED") == 1
    assert db.rows("SELECT count(*) FROM tasks") == [(0,)]


async def test_closing_does_not_wait_for_a_loop_stuck_in_the_database(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A heartbeat that never returns (a half-open connection) holds the poll
    loop's turn; closing gives up on it after a lease and leaves the leases
    to expire, instead of hanging Ctrl-C for ever."""
    stuck = anyio.Event()
    async with Engine.open(db_url, lease_seconds=1, poll_interval=0.05) as engine:
        store = engine._store

        async def never_answers(*args: object) -> None:
            stuck.set()
            await anyio.sleep_forever()

        monkeypatch.setattr(store, "heartbeat", never_answers)
        with anyio.fail_after(5):
            await stuck.wait()
        started = anyio.current_time()
    assert anyio.current_time() - started < 5


async def test_a_backlog_larger_than_one_claim_is_all_taken_without_waiting_for_the_next_poll(db_url: str) -> None:
    # 300 attempts wait in the outbox (a client dispatched them and runs
    # nothing), more than one claim takes (the first takes 64). The serving
    # engine polls once an hour: a full batch must make it claim again at once.
    s = spec("backlog", [("n", task("noop")), ("end", exit_(out("n")))])
    async with Engine.open(db_url, serve=False) as client:
        await client.deploy(s)
        run_ids = [await client.start("backlog", run_id=f"b{index}") for index in range(300)]
    async with Engine.open(db_url, tasks=[noop], poll_interval=3600) as engine:
        with anyio.fail_after(60):
            runs = [await engine.wait(run_id) for run_id in run_ids]
    assert {run.status for run in runs} == {RunStatus.COMPLETED}


async def test_recovery_claims_in_growing_batches_straight_after_registering(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first claim is small, so the first runs resume after a short turn;
    each full batch makes the next four times larger; registering counts as
    the first heartbeat, so nothing is written between it and the first
    claim."""
    s = spec("backlog", [("n", task("noop")), ("end", exit_(out("n")))])
    async with Engine.open(db_url, serve=False) as client:
        await client.deploy(s)
        run_ids = [await client.start("backlog", run_id=f"g{index}") for index in range(300)]
    store = await open_store(db_url, time.time())
    calls: list[tuple[Any, ...]] = []
    claim_tasks, heartbeat = store.claim_tasks, store.heartbeat

    async def noted_claim(engine_id: str, tasks: Any, now: float, lease: float, limit: int) -> Any:
        found = await claim_tasks(engine_id, tasks, now, lease, limit)
        calls.append(("claim", limit, len(found)))
        return found

    async def noted_heartbeat(*args: Any) -> None:
        calls.append(("heartbeat",))
        await heartbeat(*args)

    monkeypatch.setattr(store, "claim_tasks", noted_claim)
    monkeypatch.setattr(store, "heartbeat", noted_heartbeat)
    async with Engine.open(db_url, tasks=[noop], poll_interval=3600, store=store) as engine:
        with anyio.fail_after(60):
            runs = [await engine.wait(run_id) for run_id in run_ids]
    assert {run.status for run in runs} == {RunStatus.COMPLETED}
    assert calls[:2] == [("claim", 64, 64), ("claim", 256, 236)]
