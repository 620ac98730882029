"""Task failures through the engine: retries as durable timers, business
exceptions, timeouts, failure handlers, unhandled failures."""

from __future__ import annotations

from typing import Any

import anyio
import pytest
from rtclock import ManualClock, finish, manual_engine
from rtdb import Db
from rtengine import until
from rtspec import backoff, edge, exit_, handler, mut, nop, out, spec, task, thread, var, variable

from wfc.runtime import RunStatus, TaskContext, TaskException
from wfc.runtime import task as wfc_task

pytestmark = pytest.mark.anyio

attempts: list[tuple[str, int]] = []
flaky_failures = {"left": 0}


@wfc_task("flaky")
def flaky(ctx: TaskContext) -> str:
    attempts.append((ctx.idempotency_key, ctx.attempt))
    if flaky_failures["left"] > 0:
        flaky_failures["left"] -= 1
        raise ConnectionError("gateway unreachable")
    return "charged"


@wfc_task("declines")
async def declines(amount: float) -> None:
    raise TaskException("card-declined", f"cannot charge {amount}", {"code": 51})


@wfc_task("sleepy", timeout=0.05)
async def sleepy() -> None:
    await anyio.sleep(10)


@wfc_task("note")
async def note(text: Any) -> Any:
    return text


@wfc_task("defaults-retry", retries=2, backoff=0.01)
def defaults_retry(ctx: TaskContext) -> int:
    if ctx.attempt < 3:
        raise RuntimeError("not yet")
    return ctx.attempt


def open_engine(url: str, clock: ManualClock) -> Any:
    """An engine whose durable timers fire only when ``clock`` moves (see :func:`rtclock.finish`)."""
    return manual_engine(url, clock, tasks=[flaky, declines, sleepy, note, defaults_retry], poll_interval=0.05)


async def test_retries_wait_on_durable_timers_and_keep_the_idempotency_key(db_url: str, db: Db) -> None:
    attempts.clear()
    flaky_failures["left"] = 2
    s = spec(
        "charge", [("c", task("flaky", retries=3, backoff=backoff(initial=0.3, maximum=0.3))), ("end", exit_(out("c")))]
    )
    clock = ManualClock()
    async with manual_engine(db_url, clock, tasks=[flaky], poll_interval=0.05) as engine:
        await engine.deploy(s)
        run_id = await engine.start("charge", run_id="o-1")
        for attempt in (2, 3):
            info = await until(engine, run_id, lambda r, a=attempt: f"(attempt {a})" in str(r.waiting_on))
            # Between attempts the run waits on a stored timer, with nothing
            # in the outbox; the clock stands still, so the timer cannot fire yet.
            assert "retry of task 'flaky'" in info.waiting_on[0]
            assert db.rows("SELECT count(*) FROM tasks") == [(0,)]
            assert db.rows("SELECT count(*) FROM timers") == [(1,)]
            clock.advance(0.3)
        run = await engine.wait(run_id, timeout=10)
        history = await engine.history(run_id)
    assert run.status is RunStatus.COMPLETED and run.output == "charged"
    assert attempts == [("o-1/0/c/1", 1), ("o-1/0/c/1", 2), ("o-1/0/c/1", 3)]
    failed = [h for h in history if h.kind == "TASK_FAILED"]
    assert [h.attempt for h in failed] == [1, 2]
    assert all(h.detail["message"] == "ConnectionError: gateway unreachable" for h in failed)
    assert all(0.15 <= h.detail["retry_in"] <= 0.3 for h in failed)
    assert db.rows("SELECT count(*) FROM timers") == [(0,)]


async def test_task_defaults_apply_when_the_spec_sets_no_retries(db_url: str) -> None:
    s = spec("defaults", [("c", task("defaults-retry")), ("end", exit_(out("c")))])
    clock = ManualClock()
    async with open_engine(db_url, clock) as engine:
        await engine.deploy(s)
        run = await finish(engine, clock, await engine.start("defaults"))
    assert run.status is RunStatus.COMPLETED and run.output == 3


async def test_exhausted_retries_fail_the_run_with_task_error(db_url: str) -> None:
    flaky_failures["left"] = 10
    s = spec("charge", [("c", task("flaky", retries=1, backoff=backoff(initial=0.01))), ("end", exit_())])
    clock = ManualClock()
    async with open_engine(db_url, clock) as engine:
        await engine.deploy(s)
        run = await finish(engine, clock, await engine.start("charge"))
    assert run.status is RunStatus.FAILED
    assert run.failure is not None
    assert (run.failure.name, run.failure.node, run.failure.kind) == ("TASK_ERROR", "c", "error")
    assert "attempt 2 of 2" in run.failure.message


async def test_a_task_exception_is_not_retried_and_carries_its_content(db_url: str) -> None:
    s = spec("pay", [("c", task("declines", 12.5, retries=5)), ("end", exit_())])
    async with open_engine(db_url, ManualClock()) as engine:
        await engine.deploy(s)
        run_id = await engine.start("pay")
        run = await engine.wait(run_id, timeout=10)
        dispatches = [h for h in await engine.history(run_id) if h.kind == "TASK_DISPATCHED"]
    assert len(dispatches) == 1
    assert run.failure is not None
    assert (run.failure.name, run.failure.message, run.failure.content, run.failure.kind) == (
        "card-declined",
        "cannot charge 12.5",
        {"code": 51},
        "exception",
    )


async def test_a_slow_attempt_times_out(db_url: str) -> None:
    s = spec("slow", [("c", task("sleepy")), ("end", exit_())])
    async with open_engine(db_url, ManualClock()) as engine:
        await engine.deploy(s)
        run = await engine.wait(await engine.start("slow"), timeout=10)
    assert run.failure is not None and run.failure.name == "TIMEOUT"


async def test_handlers_run_then_the_thread_continues_after_the_failed_node(db_url: str) -> None:
    s = spec(
        "recovering",
        [
            ("charge", task("declines", 5, handlers=[handler("exception", "on-decline", "card-declined")])),
            ("after", task("note", "continued")),
            ("end", exit_(var("events"))),
        ],
        variables={"events": variable("json", default=[])},
        threads={
            "on-decline": thread(
                [
                    (
                        "log",
                        task(
                            "note",
                            var("failure", "name"),
                            edges=[edge("end", None, mut("events", "append", out("log")))],
                        ),
                    ),
                    ("end", exit_()),
                ],
                variables={"failure": variable("json")},
            )
        },
    )
    async with open_engine(db_url, ManualClock()) as engine:
        await engine.deploy(s)
        run_id = await engine.start("recovering")
        run = await engine.wait(run_id, timeout=10)
        kinds = [(h.kind, h.thread) for h in await engine.history(run_id)]
    assert run.status is RunStatus.COMPLETED and run.output == ["card-declined"]
    assert ("FAILURE_HANDLER_STARTED", 0) in kinds and ("THREAD_COMPLETED", 1) in kinds
    assert {t.kind for t in run.threads} == {"entrypoint", "handler"}


async def test_an_expression_error_fails_the_run_with_a_named_error(db_url: str) -> None:
    s = spec(
        "bad",
        [("c", task("note", var("order", "missing"))), ("end", exit_())],
        variables={"order": variable("json", default={})},
    )
    async with open_engine(db_url, ManualClock()) as engine:
        await engine.deploy(s)
        run = await engine.wait(await engine.start("bad"), timeout=10)
    assert run.failure is not None
    assert (run.failure.name, run.failure.node) == ("EXPRESSION_ERROR", "c")
    assert "variable 'order' has no key 'missing'" in run.failure.message


async def test_an_error_in_the_callers_block_propagates_unwrapped(db_url: str) -> None:
    with pytest.raises(KeyError, match="mine"):
        async with open_engine(db_url, ManualClock()):
            raise KeyError("mine")


async def test_many_concurrent_runs_complete(db_url: str) -> None:
    s = spec("chain", [("a", task("note", 1)), ("b", task("note", 2)), ("c", nop()), ("end", exit_(out("b")))])
    async with open_engine(db_url, ManualClock()) as engine:
        await engine.deploy(s)
        ids = [await engine.start("chain") for _ in range(50)]
        results = []
        for run_id in ids:
            results.append(await engine.wait(run_id, timeout=30))
    assert {r.status for r in results} == {RunStatus.COMPLETED}
