"""The seed's compensation matrix, on ``examples/checkout.py`` compiled and run
by the engine on a real database (SQLite, and PostgreSQL when configured):
the retry and timeout policies the seeds give each step, the happy path, a
failure at each step (exactly the right compensations, in reverse order, the
refund before the customer is told, checked from the tasks' own calls and
from the journal), a technical failure of the charge, email failures that
never fail a paid order, and a compensation that keeps failing (FAILED,
flagged, listed as needing attention)."""

from __future__ import annotations

from typing import Any

import pytest
from rtclock import ManualClock, finish, manual_engine
from rtengine import example, recorded

from wfc.runtime import Engine, RunInfo, RunStatus, TaskException
from wfc.specs import TaskNode

pytestmark = pytest.mark.anyio

ADDRESS = {"street": "Damrak 1", "city": "Amsterdam", "country": "NL"}
ITEMS = [{"sku": "SKU-KEYBOARD", "quantity": 1}, {"sku": "SKU-MOUSE", "quantity": 2}]
FORWARD = ["validate-cart", "create-order", "charge-card", "reserve-inventory", "create-shipment", "send-confirmation"]
UNDO = {"refund-card", "release-inventory", "cancel-shipment", "cancel-order"}


def inputs(order_id: str, card: str = "tok_visa", items: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {
        "order-id": order_id,
        "customer-email": "ada@example.com",
        "items": ITEMS if items is None else items,
        "card-token": card,
        "shipping-address": ADDRESS,
    }


async def checkout(
    db_url: str,
    order_id: str,
    replace: dict[str, Any] | None = None,
    clock: ManualClock | None = None,
    **given: Any,
) -> tuple[RunInfo, list[tuple[str, list[Any]]], list[Any], Engine]:
    """Run one checkout to its end in virtual time: the run, the task calls, the journal."""
    spec, tasks = example("checkout")
    calls: list[tuple[str, list[Any]]] = []
    clock = clock or ManualClock()
    async with manual_engine(db_url, clock, tasks=recorded(tasks, calls, replace), poll_interval=0.02) as engine:
        await engine.deploy(spec)
        run_id = await engine.start("checkout", inputs(order_id, **given), run_id=order_id)
        run = await finish(engine, clock, run_id)
        history = await engine.history(run_id)
    return run, calls, history, engine


def undone(calls: list[tuple[str, list[Any]]]) -> list[str]:
    return [name for name, _ in calls if name in UNDO]


def test_each_step_has_the_retries_and_timeout_of_the_seed() -> None:
    spec, _ = example("checkout")
    steps = {
        node.task: (node.retries, node.timeout)
        for node in spec.threads["main"].nodes.values()
        if isinstance(node, TaskNode)
    }
    assert steps == {
        "validate-cart": (2, 10),
        "create-order": (3, 10),
        "charge-card": (3, 30),
        "reserve-inventory": (2, 10),  # fewer retries and a shorter timeout than the payment
        "create-shipment": (3, 15),
        "send-confirmation": (5, 10),
    }


async def test_the_happy_path_completes_and_compensates_nothing(db_url: str) -> None:
    run, calls, history, _ = await checkout(db_url, "o-happy")
    assert run.status is RunStatus.COMPLETED and str(run.output).startswith("TRK")
    assert [name for name, _ in calls] == FORWARD
    assert run.variables["status"] == "confirmed"
    assert not any(h.kind.startswith("COMPENSATION") for h in history)


async def test_an_invalid_cart_fails_before_anything_needs_undoing(db_url: str) -> None:
    run, calls, _, _ = await checkout(db_url, "o-bad-cart", items=[{"sku": "SKU-NOPE", "quantity": 1}])
    assert run.status is RunStatus.FAILED and run.failure is not None and run.failure.name == "invalid-cart"
    assert [name for name, _ in calls] == ["validate-cart"]


def notified_after_refund(calls: list[tuple[str, list[Any]]]) -> bool:
    """The customer heard (``cancel-order``) only after the money went back."""
    names = [name for name, _ in calls]
    return names.index("cancel-order") > names.index("refund-card")


async def test_a_declined_card_cancels_the_order_and_tells_the_customer(db_url: str) -> None:
    run, calls, history, _ = await checkout(db_url, "o-declined", card="tok_declined")
    assert run.status is RunStatus.COMPENSATED
    assert run.failure is not None and (run.failure.name, run.failure.node) == ("card-declined", "charge-card")
    assert [name for name, _ in calls] == ["validate-cart", "create-order", "charge-card", "cancel-order"]
    assert calls[-1][1][2] == "ada@example.com"
    assert run.variables["status"] == "cancelled"
    assert [h.detail["compensated"] for h in history if h.kind == "RUN_COMPENSATED"] == [["cancel-order"]]


async def test_a_technical_failure_of_the_charge_is_caught_and_compensated(db_url: str) -> None:
    """The Step Functions ``Catch States.ALL``: a connection error that
    outlasts the charge's retries is handled like a declined card."""
    run, calls, history, _ = await checkout(db_url, "o-bank-down-1")
    assert run.status is RunStatus.COMPENSATED
    assert run.failure is not None and (run.failure.name, run.failure.node) == ("TASK_ERROR", "charge-card")
    assert "payment provider unreachable" in run.failure.message
    names = [name for name, _ in calls]
    assert names.count("charge-card") == 4  # the first attempt and 3 retries
    assert undone(calls) == ["cancel-order"]  # nothing was charged, so nothing is refunded
    assert "reserve-inventory" not in names
    assert run.variables["status"] == "cancelled"
    handlers = [(h.node, h.detail["handler"]) for h in history if h.kind == "FAILURE_HANDLER_STARTED"]
    assert handlers == [("charge-card", "charge-card-on-failure")]


async def test_missing_stock_refunds_the_card_then_tells_the_customer(db_url: str) -> None:
    run, calls, history, _ = await checkout(db_url, "o-no-stock-1")
    assert run.status is RunStatus.COMPENSATED
    assert run.failure is not None and run.failure.name == "out-of-stock"
    charge = next(args for name, args in calls if name == "charge-card")
    assert undone(calls) == ["refund-card", "cancel-order"]
    assert notified_after_refund(calls)
    refund_args = next(args for name, args in calls if name == "refund-card")
    assert refund_args[0] == "o-no-stock-1" and refund_args[2:] == [charge[2], "EUR"]
    assert [h.detail["task"] for h in history if h.kind == "COMPENSATION_COMPLETED"] == ["refund-card", "cancel-order"]
    assert run.variables["status"] == "cancelled"


async def test_a_reservation_that_keeps_timing_out_gets_two_retries(db_url: str) -> None:
    def warehouse_slow(order_id: str, items: list[dict[str, Any]]) -> None:
        raise TimeoutError("warehouse did not answer")

    run, calls, _, _ = await checkout(db_url, "o-slow-warehouse", replace={"reserve-inventory": warehouse_slow})
    assert run.status is RunStatus.COMPENSATED
    assert [name for name, _ in calls].count("reserve-inventory") == 3  # the first attempt and 2 retries
    assert undone(calls) == ["refund-card", "cancel-order"]


async def test_a_failed_shipment_releases_the_inventory_refunds_the_card_then_tells_the_customer(
    db_url: str,
) -> None:
    run, calls, history, _ = await checkout(db_url, "o-no-carrier-1")
    assert run.status is RunStatus.COMPENSATED
    assert run.failure is not None and (run.failure.name, run.failure.node) == ("TASK_ERROR", "create-shipment")
    names = [name for name, _ in calls]
    assert names.count("create-shipment") == 4  # the first attempt and 3 retries
    assert undone(calls) == ["release-inventory", "refund-card", "cancel-order"]
    assert notified_after_refund(calls)
    reservation = next(
        h.detail["output"] for h in history if h.kind == "TASK_COMPLETED" and h.node == "reserve-inventory"
    )
    release = next(args for name, args in calls if name == "release-inventory")
    assert release == ["o-no-carrier-1", reservation["reservation_id"]]
    journal = [(h.kind, h.node) for h in history if h.kind in ("COMPENSATION_DISPATCHED", "COMPENSATION_COMPLETED")]
    assert journal == [
        ("COMPENSATION_DISPATCHED", "reserve-inventory"),
        ("COMPENSATION_COMPLETED", "reserve-inventory"),
        ("COMPENSATION_DISPATCHED", "charge-card"),
        ("COMPENSATION_COMPLETED", "charge-card"),
        ("COMPENSATION_DISPATCHED", "create-order"),
        ("COMPENSATION_COMPLETED", "create-order"),
    ]
    assert history[-1].kind == "RUN_COMPENSATED"
    # The card token is masked in the journal, including the refund's arguments.
    assert "tok_visa" not in str([h.detail for h in history])


async def test_a_confirmation_email_that_never_goes_out_keeps_the_order(db_url: str) -> None:
    run, calls, _, _ = await checkout(db_url, "o-email-down-1")
    assert run.status is RunStatus.COMPLETED and str(run.output).startswith("TRK")
    names = [name for name, _ in calls]
    assert names.count("send-confirmation") == 6 and names[-1] == "notify-customer"
    assert undone(calls) == []
    assert run.variables["status"] == "confirmed"


async def test_an_email_and_an_sms_that_both_fail_still_keep_the_paid_order(db_url: str) -> None:
    run, calls, _, _ = await checkout(db_url, "o-email-down-sms-down-1")
    assert run.status is RunStatus.COMPLETED and run.failure is None
    names = [name for name, _ in calls]
    assert names.count("send-confirmation") == 6 and names.count("notify-customer") == 4
    assert undone(calls) == []
    assert run.variables["status"] == "confirmed-unannounced"


async def test_an_email_business_exception_keeps_the_order(db_url: str) -> None:
    def mailbox_refused(order_id: str, customer_email: str, tracking_number: str) -> None:
        raise TaskException("mailbox-refused", f"{customer_email} does not accept mail")

    run, calls, _, _ = await checkout(db_url, "o-mailbox", replace={"send-confirmation": mailbox_refused})
    assert run.status is RunStatus.COMPLETED
    assert [name for name, _ in calls][-2:] == ["send-confirmation", "notify-customer"]
    assert undone(calls) == []


async def test_a_flaky_email_is_retried_and_the_order_completes(db_url: str) -> None:
    run, calls, _, _ = await checkout(db_url, "o-1-flaky")
    assert run.status is RunStatus.COMPLETED
    assert [name for name, _ in calls].count("send-confirmation") == 2


async def test_a_compensation_that_keeps_failing_fails_the_run_flagged_for_attention(db_url: str) -> None:
    def warehouse_down(order_id: str, reservation_id: str) -> None:
        raise ConnectionError("warehouse API down")

    run, calls, history, _ = await checkout(db_url, "o-no-carrier-2", replace={"release-inventory": warehouse_down})
    assert run.status is RunStatus.FAILED and run.compensation_failed and run.needs_attention
    assert run.failure is not None and run.failure.name == "COMPENSATION_FAILED"
    assert undone(calls) == ["release-inventory"] * 4  # 3 retries, then given up; no refund
    failed = [h for h in history if h.kind == "COMPENSATION_FAILED"]
    assert [h.attempt for h in failed] == [1, 2, 3, 4] and failed[-1].detail["final"] is True
    assert [(h.kind, h.detail["task"]) for h in history if h.kind == "COMPENSATION_SKIPPED"] == [
        ("COMPENSATION_SKIPPED", "refund-card"),
        ("COMPENSATION_SKIPPED", "cancel-order"),
    ]
    _, tasks = example("checkout")
    async with Engine.open(db_url, tasks=tasks, serve=False) as engine:
        flagged = await engine.list_runs(needs_attention=True)
        others = await engine.list_runs(needs_attention=False)
        assert [r.id for r in flagged] == ["o-no-carrier-2"]
        assert "o-no-carrier-2" not in [r.id for r in others]


async def test_retrying_the_failed_compensation_finishes_the_saga(db_url: str) -> None:
    down = {"left": 10}

    def flaky_warehouse(order_id: str, reservation_id: str) -> dict[str, Any]:
        if down["left"] > 0:
            down["left"] -= 1
            raise ConnectionError("warehouse API down")
        return {"reservation_id": reservation_id, "released": True}

    clock = ManualClock()
    run, _, _, _ = await checkout(db_url, "o-no-carrier-3", replace={"release-inventory": flaky_warehouse}, clock=clock)
    assert run.status is RunStatus.FAILED and run.compensation_failed
    down["left"] = 0
    _, tasks = example("checkout")
    calls: list[tuple[str, list[Any]]] = []
    defs = recorded(tasks, calls, {"release-inventory": flaky_warehouse})
    async with manual_engine(db_url, clock, tasks=defs, poll_interval=0.02) as engine:
        retried = await engine.retry("o-no-carrier-3")
        assert retried.status is RunStatus.RUNNING and not retried.needs_attention
        run = await finish(engine, clock, "o-no-carrier-3")
        assert await engine.list_runs(needs_attention=True) == []
    assert run.status is RunStatus.COMPENSATED and not run.compensation_failed
    assert [name for name, _ in calls] == ["release-inventory", "refund-card", "cancel-order"]  # no forward step again
