"""The payment flow of the seed, on ``examples/payment.py`` compiled and run
by the engine on a real database: authorize with 3 retries, fraud-check with
2, and settle and notify only when the payment is approved."""

from __future__ import annotations

from typing import Any

import pytest
from rtclock import ManualClock, finish, manual_engine
from rtengine import example, recorded

from wfc.runtime import RunInfo, RunStatus
from wfc.specs import TaskNode

pytestmark = pytest.mark.anyio

SETTLE_AND_NOTIFY = {"settle-payment", "send-notification"}


def inputs(payment_id: str, card: str = "tok_visa", email: str = "ada@example.com") -> dict[str, Any]:
    return {"payment-id": payment_id, "customer-email": email, "amount": 42.5, "card-token": card}


async def pay(
    db_url: str, payment_id: str, replace: dict[str, Any] | None = None, **given: Any
) -> tuple[RunInfo, list[str]]:
    """Run one payment to its end: the run and the names of the tasks called, in order."""
    spec, tasks = example("payment")
    calls: list[tuple[str, list[Any]]] = []
    clock = ManualClock()  # retry backoffs pass in virtual time
    async with manual_engine(db_url, clock, tasks=recorded(tasks, calls, replace), poll_interval=0.02) as engine:
        await engine.deploy(spec)
        run_id = await engine.start("payment", inputs(payment_id, **given), run_id=payment_id)
        run = await finish(engine, clock, run_id)
    return run, [name for name, _ in calls]


def test_authorize_gets_three_retries_and_the_fraud_check_two() -> None:
    spec, _ = example("payment")
    retries = {n.task: n.retries for n in spec.threads["main"].nodes.values() if isinstance(n, TaskNode)}
    assert (retries["authorize-payment"], retries["fraud-check"]) == (3, 2)


async def test_an_approved_payment_is_settled_then_the_customer_notified(db_url: str) -> None:
    run, names = await pay(db_url, "p-ok")
    assert run.status is RunStatus.COMPLETED and run.output == "settled"
    assert names == ["authorize-payment", "fraud-check", "settle-payment", "send-notification"]


async def test_a_declined_card_settles_nothing_and_notifies_no_one(db_url: str) -> None:
    run, names = await pay(db_url, "p-declined", card="tok_declined")
    assert run.status is RunStatus.COMPLETED and run.output == "declined"
    assert names == ["authorize-payment", "fraud-check"]


async def test_a_suspicious_payment_is_voided_not_settled(db_url: str) -> None:
    run, names = await pay(db_url, "p-fraud", email="fraud@example.com")
    assert run.status is RunStatus.COMPLETED and run.output == "held-for-review"
    assert not SETTLE_AND_NOTIFY & set(names)
    assert names[-1] == "void-authorization"


async def test_a_flaky_card_network_is_retried_and_settles(db_url: str) -> None:
    run, names = await pay(db_url, "p-1-flaky")
    assert run.output == "settled" and names.count("authorize-payment") == 2


async def test_an_authorization_that_keeps_failing_is_tried_four_times_and_settles_nothing(db_url: str) -> None:
    def network_down(payment_id: str, card_token: str, amount: float, currency: str) -> None:
        raise TimeoutError("card network did not answer")

    run, names = await pay(db_url, "p-down", replace={"authorize-payment": network_down})
    assert run.status is RunStatus.FAILED and run.failure is not None and run.failure.node == "authorize-payment"
    assert names == ["authorize-payment"] * 4


async def test_a_fraud_check_that_keeps_failing_is_tried_three_times_and_settles_nothing(db_url: str) -> None:
    def scoring_down(payment_id: str, customer_email: str, amount: float, currency: str) -> None:
        raise ConnectionError("scoring service down")

    run, names = await pay(db_url, "p-no-score", replace={"fraud-check": scoring_down})
    assert run.status is RunStatus.FAILED and run.failure is not None and run.failure.node == "fraud-check"
    assert names == ["authorize-payment"] + ["fraud-check"] * 3
