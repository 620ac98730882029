"""halt, resume, cancel and retry through the engine on a real database:
durable, journaled, and refused with a RunStateError when they make no sense."""

from __future__ import annotations

from typing import Any

import anyio
import pytest
from rtclock import ManualClock, manual_engine
from rtdb import Db
from rtengine import kinds, until
from rtspec import exit_, fail, out, sleep, spec, task, undo

from wfc.runtime import Engine, RunStateError, RunStatus, TaskContext, UnknownRunError
from wfc.runtime import task as wfc_task

pytestmark = pytest.mark.anyio

gate: dict[str, Any] = {}
calls: list[tuple[str, str, int]] = []


@wfc_task("gated")
async def gated(label: str, ctx: TaskContext) -> str:
    calls.append(("gated", ctx.idempotency_key, ctx.attempt))
    await gate["open"].wait()
    return label


@wfc_task("step")
async def step_(label: str, ctx: TaskContext) -> str:
    calls.append(("step", ctx.idempotency_key, ctx.attempt))
    if gate.get("broken"):
        raise ConnectionError("downstream is down")
    return label


@wfc_task("undo-step")
async def undo_step(label: str, ctx: TaskContext) -> None:
    calls.append(("undo-step", ctx.idempotency_key, ctx.attempt))


TASKS = [gated, step_, undo_step]
TWO = spec("two", [("a", task("gated", "A")), ("b", task("step", "B")), ("end", exit_(out("b")))])


def reset(**state: Any) -> None:
    calls.clear()
    gate.clear()
    gate.update(open=anyio.Event(), **state)


async def test_halt_keeps_the_running_task_result_and_resume_goes_on(db_url: str) -> None:
    reset()
    async with Engine.open(db_url, tasks=TASKS, poll_interval=0.02) as engine:
        await engine.deploy(TWO)
        run_id = await engine.start("two")
        await until(engine, run_id, lambda r: bool(calls))
        halted = await engine.halt(run_id, reason="checking the ledger")
        assert halted.status is RunStatus.HALTED
        gate["open"].set()  # the running attempt finishes while halted
        info = await until(engine, run_id, lambda r: "moving on once resumed" in str(r.waiting_on))
        assert info.status is RunStatus.HALTED and [c[0] for c in calls] == ["gated"]  # nothing new dispatched
        with pytest.raises(RunStateError, match=r"cannot halt: run .* is HALTED; it is already halted"):
            await engine.halt(run_id)
        resumed = await engine.resume(run_id)
        assert resumed.status in (RunStatus.RUNNING, RunStatus.COMPLETED)
        run = await engine.wait(run_id, timeout=10)
        journal = await kinds(engine, run_id)
    assert run.status is RunStatus.COMPLETED and run.output == "B"
    assert [c[0] for c in calls] == ["gated", "step"]
    assert journal.index("RUN_HALTED") < journal.index("TASK_COMPLETED") < journal.index("RUN_RESUMED")


async def test_a_halted_run_stays_halted_across_a_restart(db_url: str, db: Db) -> None:
    reset()
    s = spec("nap", [("z", sleep(20)), ("b", task("step", "B")), ("end", exit_(out("b")))])
    clock = ManualClock()
    async with manual_engine(db_url, clock, tasks=TASKS, poll_interval=0.02) as engine:
        await engine.deploy(s)
        run_id = await engine.start("nap")
        clock.advance(5)
        await engine.halt(run_id)
    # The sleep's clock is paused: its timer is gone, what was left is kept.
    assert db.rows("SELECT count(*) FROM timers") == [(0,)]
    clock.advance(100)  # far past the sleep, while halted
    async with manual_engine(db_url, clock, tasks=TASKS, poll_interval=0.02) as engine:
        info = await engine.get_run(run_id)
        assert info.status is RunStatus.HALTED and calls == []
        assert "timer (15 s left, paused)" in info.waiting_on[0]
        await engine.resume(run_id)
        assert db.rows("SELECT due_at FROM timers") == [(clock.now + 15,)]
        clock.advance(15)
        run = await engine.wait(run_id, timeout=10)
    assert run.output == "B"


async def test_cancel_ignores_the_running_task_and_refuses_a_second_time(db_url: str) -> None:
    reset()
    async with Engine.open(db_url, tasks=TASKS, poll_interval=0.02) as engine:
        await engine.deploy(TWO)
        run_id = await engine.start("two")
        await until(engine, run_id, lambda r: bool(calls))
        cancelled = await engine.cancel(run_id, reason="duplicate")
        assert cancelled.status is RunStatus.CANCELLED
        with pytest.raises(RunStateError, match=r"cannot cancel: run .* is CANCELLED; it already finished"):
            await engine.cancel(run_id)
        with pytest.raises(RunStateError, match=r"cannot retry: .* it was cancelled; start a new run instead"):
            await engine.retry(run_id)
        with pytest.raises(RunStateError, match=r"cannot resume: .* it already finished"):
            await engine.resume(run_id)
        with pytest.raises(UnknownRunError):
            await engine.halt("no-such-run")
        journal = await kinds(engine, run_id)
    assert journal[-1] == "RUN_CANCELLED" and [c[0] for c in calls] == ["gated"]


async def test_cancel_with_compensate_undoes_what_completed(db_url: str) -> None:
    reset()
    s = spec(
        "undoable",
        [("b", task("step", "B", compensation=undo("undo-step", "B"))), ("a", task("gated", "A")), ("end", exit_())],
    )
    async with Engine.open(db_url, tasks=TASKS, poll_interval=0.02) as engine:
        await engine.deploy(s)
        run_id = await engine.start("undoable")
        await until(engine, run_id, lambda r: len(calls) == 2)
        await engine.cancel(run_id, reason="customer asked", compensate=True)
        gate["open"].set()  # the running task is awaited before compensating
        run = await engine.wait(run_id, timeout=10)
    assert run.status is RunStatus.COMPENSATED
    assert run.failure is not None and (run.failure.name, run.failure.message) == ("CANCELLED", "customer asked")
    assert [c[0] for c in calls] == ["step", "gated", "undo-step"]
    assert calls[-1][1].endswith("/0/b/1/compensate")


async def test_retry_re_runs_only_the_failed_node_with_the_same_key(db_url: str) -> None:
    reset(broken=True)
    gate["open"].set()
    async with Engine.open(db_url, tasks=TASKS, poll_interval=0.02) as engine:
        await engine.deploy(TWO)
        run_id = await engine.start("two", run_id="r-retry")
        failed = await engine.wait(run_id, timeout=10)
        assert failed.status is RunStatus.FAILED and failed.failure is not None
        gate["broken"] = False
        retried = await engine.retry(run_id)
        assert retried.status in (RunStatus.RUNNING, RunStatus.COMPLETED)
        run = await engine.wait(run_id, timeout=10)
        with pytest.raises(RunStateError, match=r"cannot retry: .* it completed; there is nothing to retry"):
            await engine.retry(run_id)
        journal = await kinds(engine, run_id)
    assert run.status is RunStatus.COMPLETED and run.output == "B"
    assert calls == [("gated", "r-retry/0/a/1", 1), ("step", "r-retry/0/b/1", 1), ("step", "r-retry/0/b/1", 2)]
    assert "RUN_RETRIED" in journal


async def test_retry_is_refused_for_a_run_that_failed_at_a_fail_node(db_url: str) -> None:
    reset()
    async with Engine.open(db_url, tasks=TASKS, poll_interval=0.02) as engine:
        await engine.deploy(spec("doomed", [("f", fail("not-allowed", "policy says no"))]))
        run_id = await engine.start("doomed")
        with pytest.raises(RunStateError, match="fail node 'f', which raises 'not-allowed' every time") as info:
            await engine.retry(run_id)
    assert info.value.action == "retry" and info.value.status == "FAILED"


async def test_retry_is_refused_for_a_compensated_run(db_url: str) -> None:
    reset()
    gate["open"].set()
    s = spec("undone", [("b", task("step", "B", compensation=undo("undo-step", "B"))), ("f", fail("boom"))])
    async with Engine.open(db_url, tasks=TASKS, poll_interval=0.02) as engine:
        await engine.deploy(s)
        run = await engine.wait(await engine.start("undone"), timeout=10)
        assert run.status is RunStatus.COMPENSATED
        with pytest.raises(RunStateError, match="its completed steps were compensated"):
            await engine.retry(run.id)
