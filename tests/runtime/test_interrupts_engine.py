"""Interrupts through the engine on a real database: the ``cancel-order``
interrupt of ``examples/order_fulfilment.py`` (during the week-long sleep and
during the per-item fan-out), interrupts queued in order, and a wait's
timeout clock paused while the handler runs."""

from __future__ import annotations

from typing import Any

import anyio
import pytest
from rtclock import ManualClock, manual_engine
from rtdb import Db
from rtengine import example, kinds, recorded, until
from rtspec import exit_, interrupt, mut, nop, out, spec, task, thread, var, variable, wait

from wfc.runtime import RunStatus, TaskContext, ThreadStatus
from wfc.runtime import task as wfc_task

pytestmark = pytest.mark.anyio

ITEMS = [{"sku": "SKU-KEYBOARD", "quantity": 1}, {"sku": "SKU-MOUSE", "quantity": 2}]


def order(order_id: str) -> dict[str, Any]:
    return {"order-id": order_id, "customer-email": "ada@example.com", "items": ITEMS}


async def test_cancel_order_while_the_reminder_sleeps_runs_the_handler_and_fails_the_order(db_url: str) -> None:
    spec_, tasks = example("order_fulfilment")
    calls: list[tuple[str, list[Any]]] = []
    async with manual_engine(db_url, ManualClock(), tasks=recorded(tasks, calls), poll_interval=0.02) as engine:
        await engine.deploy(spec_)
        run_id = await engine.start("order-fulfilment", order("o-10"), run_id="o-10")
        await until(engine, run_id, lambda r: r.variables["status"] == "shipped")
        sent = await engine.send_event("cancel-order", {"reason": "changed my mind"}, run_id=run_id)
        assert sent.run_id == run_id
        run = await engine.wait(run_id, timeout=10)
        journal = await kinds(engine, run_id)
    assert run.status is RunStatus.FAILED
    assert run.failure is not None and (run.failure.name, run.failure.node) == (
        "order-cancelled",
        "fail-order-cancelled",
    )
    assert run.variables["status"] == "cancelled"
    assert calls[-1] == ("cancel-fulfilment", ["o-10", {"reason": "changed my mind"}])
    assert "send-review-reminder" not in [name for name, _ in calls]
    assert journal.index("INTERRUPT_RECEIVED") < journal.index("THREAD_PAUSED") < journal.index("INTERRUPT_FAILED")
    assert run.pending_events == ()  # an interrupt never goes to the inbox


picking: dict[str, Any] = {}


async def test_cancel_order_during_the_fan_out_lets_running_picks_finish_first(db_url: str) -> None:
    picking.update(started=0, gate=anyio.Event())

    async def slow_pick(order_id: str, sku: str, quantity: int, ctx: TaskContext) -> dict[str, Any]:
        picking["started"] += 1
        await picking["gate"].wait()
        return {"bin": f"bin-{sku}", "sku": sku, "quantity": quantity}

    spec_, tasks = example("order_fulfilment")
    calls: list[tuple[str, list[Any]]] = []
    defs = recorded(tasks, calls, {"pick-item": slow_pick})
    async with manual_engine(db_url, ManualClock(), tasks=defs, poll_interval=0.02) as engine:
        await engine.deploy(spec_)
        run_id = await engine.start("order-fulfilment", order("o-11"))
        with anyio.fail_after(10):
            while picking["started"] < 2:
                await anyio.sleep(0.01)
        await engine.send_event("cancel-order", {"reason": "too slow"}, run_id=run_id)
        info = await until(
            engine,
            run_id,
            lambda r: all(t.waiting_on and "paused" in t.waiting_on for t in r.threads if t.kind == "child"),
        )
        assert "cancel-fulfilment" not in [name for name, _ in calls]  # the picks are still running
        picking["gate"].set()
        run = await engine.wait(run_id, timeout=10)
    names = [name for name, _ in calls]
    assert names.count("pick-item") == 2 and "pack-item" not in names  # kept, never moved on
    assert names[-1] == "cancel-fulfilment"
    assert run.failure is not None and run.failure.name == "order-cancelled"
    assert all(t.status is ThreadStatus.HALTED for t in run.threads if t.kind == "child")
    assert info.status is RunStatus.RUNNING


@wfc_task("note")
async def note(value: Any) -> Any:
    return value


def counting_spec() -> Any:
    handler = thread(
        [
            ("n", task("note", var("event"))),
            ("h", nop(edges=[{"to": "end", "mutations": [mut("seen", "append", var("event"))]}])),
            ("end", exit_()),
        ],
        variables={"event": variable("json")},
    )
    return spec(
        "patient",
        [("w", wait("approve", timeout=60)), ("end", exit_(var("seen")))],
        variables={"seen": variable("json", default=[])},
        threads={"on-ping": handler},
        interrupts=[interrupt("ping", "on-ping")],
    )


async def test_interrupts_are_handled_one_at_a_time_in_arrival_order(db_url: str) -> None:
    # The clock stands still: the wait's 60 s timeout cannot fire, however slow the machine.
    async with manual_engine(db_url, ManualClock(), tasks=[note], poll_interval=0.02) as engine:
        await engine.deploy(counting_spec())
        run_id = await engine.start("patient")
        for n in range(3):
            await engine.send_event("ping", n, run_id=run_id)
        run = await until(engine, run_id, lambda r: r.variables["seen"] == [0, 1, 2])
        assert run.status is RunStatus.RUNNING
        await engine.send_event("ping", "long", run_id=run_id)
        await until(engine, run_id, lambda r: r.variables["seen"][-1:] == ["long"])
        await engine.send_event("approve", "yes", run_id=run_id)
        run = await engine.wait(run_id, timeout=10)
    assert run.status is RunStatus.COMPLETED and run.output == [0, 1, 2, "long"]


handling: dict[str, Any] = {}


@wfc_task("held-note")
async def held_note(value: Any) -> Any:
    handling["started"].set()
    await handling["release"].wait()
    return value


async def test_the_timeout_clock_of_a_wait_does_not_run_while_the_handler_does(db_url: str, db: Db) -> None:
    handling.update(started=anyio.Event(), release=anyio.Event())
    handler = thread([("n", task("held-note", var("event"))), ("end", exit_())], variables={"event": variable("json")})
    s = spec(
        "paused",
        [("w", wait("approve", timeout=20)), ("end", exit_(out("w")))],
        threads={"on-ping": handler},
        interrupts=[interrupt("ping", "on-ping")],
    )
    clock = ManualClock()
    async with manual_engine(db_url, clock, tasks=[held_note], poll_interval=0.02) as engine:
        await engine.deploy(s)
        run_id = await engine.start("paused")
        clock.advance(5)  # 15 s of the timeout left
        await engine.send_event("ping", 1, run_id=run_id)
        with anyio.fail_after(10):
            await handling["started"].wait()
        # The wait's timer is gone while the handler runs: far past the whole
        # timeout, nothing can fire.
        assert db.rows("SELECT count(*) FROM timers") == [(0,)]
        clock.advance(100)
        handling["release"].set()
        await until(
            engine,
            run_id,
            lambda r: any(t.kind == "interrupt" and t.status is ThreadStatus.COMPLETED for t in r.threads),
        )
        # Resumed with what was left: due 15 s after the handler ended.
        assert db.rows("SELECT due_at FROM timers") == [(clock.now + 15,)]
        clock.advance(14)
        await engine.send_event("approve", "in time", run_id=run_id)
        run = await engine.wait(run_id, timeout=10)
    assert run.status is RunStatus.COMPLETED and run.output == "in time"
