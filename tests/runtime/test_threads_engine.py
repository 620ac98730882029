"""Child threads through the engine on a real database: the per-item fan-out
of ``examples/order_fulfilment.py``, siblings' tasks running at the same
time, the fan-out cap (extra children wait durably, across a restart), and
strategies."""

from __future__ import annotations

from typing import Any

import anyio
import pytest
from rtclock import ManualClock, finish, manual_engine
from rtengine import example, recorded, until
from rtspec import exit_, for_each, out, spawn, spec, task, thread, var, variable, wait_threads

from wfc.runtime import Engine, RunStatus, ThreadStatus
from wfc.runtime import task as wfc_task

pytestmark = pytest.mark.anyio

ITEMS = [
    {"sku": "SKU-KEYBOARD", "quantity": 1},
    {"sku": "SKU-MOUSE", "quantity": 2},
    {"sku": "SKU-CABLE", "quantity": 3},
]


def order(order_id: str, items: list[dict[str, Any]] | None = None, **more: Any) -> dict[str, Any]:
    return {"order-id": order_id, "customer-email": "ada@example.com", "items": items or ITEMS, **more}


async def test_order_fulfilment_fans_out_per_item_and_ships_the_parcels_in_item_order(db_url: str) -> None:
    spec_, tasks = example("order_fulfilment")
    calls: list[tuple[str, list[Any]]] = []
    clock = ManualClock()
    async with manual_engine(db_url, clock, tasks=recorded(tasks, calls), poll_interval=0.02) as engine:
        await engine.deploy(spec_)
        run_id = await engine.start("order-fulfilment", order("o-1-flaky", **{"reminder-delay": 2}))
        run = await finish(engine, clock, run_id)
        history = await engine.history(run_id)
    assert run.status is RunStatus.COMPLETED and run.variables["status"] == "completed"
    picks = [args[1] for name, args in calls if name == "pick-item"]
    assert sorted(picks) == sorted(i["sku"] for i in ITEMS)
    assert [name for name, _ in calls].count("pack-item") == 6  # every first packing attempt jams
    ship = next(args for name, args in calls if name == "ship-order")
    packed = {
        h.thread: h.detail["output"]["parcel_id"]
        for h in history
        if h.kind == "TASK_COMPLETED" and h.node == "pack-item"
    }
    assert ship[1] == [packed[1], packed[2], packed[3]]  # spawn (item) order
    children = [t for t in run.threads if t.kind == "child"]
    assert [t.status for t in children] == [ThreadStatus.COMPLETED] * 3


async def test_an_item_out_of_stock_makes_the_order_apologise_and_fail(db_url: str) -> None:
    spec_, tasks = example("order_fulfilment")
    clock = ManualClock()
    async with manual_engine(db_url, clock, tasks=tasks, poll_interval=0.02) as engine:
        await engine.deploy(spec_)
        items = [ITEMS[0], {"sku": "SKU-no-stock", "quantity": 1}]
        run_id = await engine.start("order-fulfilment", order("o-2", items))
        run = await finish(engine, clock, run_id)
        history = await engine.history(run_id)
    assert run.status is RunStatus.FAILED
    # The child's business exception reached the parent under its own name and
    # the handler of any failure on wait-for-threads apologised, then failed the order.
    handled = [e for e in history if e.kind == "FAILURE_HANDLER_STARTED"]
    assert handled and handled[0].node == "wait-for-threads"
    emails = [e for e in history if e.kind == "TASK_COMPLETED" and e.node == "email-customer"]
    assert len(emails) == 1
    assert run.failure is not None and run.failure.name == "fulfilment-failed"
    assert run.variables["status"] == "failed"


running: dict[str, int] = {"now": 0, "most": 0}
gate: dict[str, anyio.Event] = {}


@wfc_task("slow-item")
async def slow_item(item: int) -> int:
    running["now"] += 1
    running["most"] = max(running["most"], running["now"])
    try:
        await gate["open"].wait()
    finally:
        running["now"] -= 1
    return item * 10


def fan_out() -> Any:
    item_thread = thread(
        [("t", task("slow-item", var("item"))), ("end", exit_(out("t")))],
        variables={"item": variable("json", required=True)},
    )
    return spec(
        "fan",
        [("each", for_each("item-thread", var("items"))), ("w", wait_threads("each")), ("end", exit_(out("w")))],
        variables={"items": variable("json")},
        threads={"item-thread": item_thread},
    )


async def test_sibling_tasks_run_at_the_same_time(db_url: str) -> None:
    running.update(now=0, most=0)
    gate["open"] = anyio.Event()
    async with Engine.open(db_url, tasks=[slow_item], poll_interval=0.02) as engine:
        await engine.deploy(fan_out())
        run_id = await engine.start("fan", {"items": [1, 2, 3, 4]})
        with anyio.fail_after(10):
            while running["now"] < 4:
                await anyio.sleep(0.01)
        gate["open"].set()
        run = await engine.wait(run_id, timeout=10)
    assert run.output == [10, 20, 30, 40] and running["most"] == 4


async def test_the_fan_out_cap_queues_children_durably_even_across_a_restart(db_url: str) -> None:
    running.update(now=0, most=0)
    gate["open"] = anyio.Event()
    async with Engine.open(db_url, tasks=[slow_item], poll_interval=0.02, max_children_per_run=2) as engine:
        await engine.deploy(fan_out())
        run_id = await engine.start("fan", {"items": [1, 2, 3, 4, 5]}, run_id="capped")
        info = await until(engine, run_id, lambda r: running["now"] == 2)
        queued = [t for t in info.threads if t.status is ThreadStatus.QUEUED]
        assert len(queued) == 3 and queued[0].waiting_on == "a slot under the run's fan-out cap"
    # The engine closed with two children running and three queued; a new one goes on.
    gate["open"].set()
    async with Engine.open(db_url, tasks=[slow_item], poll_interval=0.02, max_children_per_run=2) as engine:
        run = await engine.wait("capped", timeout=10)
    assert run.status is RunStatus.COMPLETED and run.output == [10, 20, 30, 40, 50]
    assert running["most"] <= 2


@wfc_task("quick")
async def quick(label: str) -> str:
    if label == "slow":
        await anyio.sleep_forever()  # only halting its thread ends it
    return label


async def test_first_takes_the_fastest_child_and_halts_the_slow_one(db_url: str) -> None:
    racer = thread([("t", task("quick", var("label"))), ("end", exit_(out("t")))], variables={"label": variable("str")})
    s = spec(
        "race",
        [
            ("a", spawn("racer", label="slow")),
            ("b", spawn("racer", label="fast")),
            ("w", wait_threads("a", "b", strategy="FIRST")),
            ("end", exit_(out("w"))),
        ],
        threads={"racer": racer},
    )
    async with Engine.open(db_url, tasks=[quick], poll_interval=0.02) as engine:
        await engine.deploy(s)
        with anyio.fail_after(3):
            run = await engine.wait(await engine.start("race"), timeout=3)
    assert run.output == [None, "fast"]
    assert [t.status for t in run.threads[1:]] == [ThreadStatus.HALTED, ThreadStatus.COMPLETED]
    assert run.threads[1].halt_reason == "wait-finished"


async def test_max_children_per_run_is_checked(db_url: str) -> None:
    from wfc.runtime import UsageError

    with pytest.raises(UsageError, match="max_children_per_run must be an int >= 1, got 0"):
        async with Engine.open(db_url, max_children_per_run=0):
            pass
