"""Behaviour tests of the example workflows, as you would write them for yours.

``wf_env`` comes from wfc's pytest plugin: a real engine on an in-memory
store with a virtual clock. Tasks are stubbed by name (``returns=``,
``raises=``, ``effect=``); retries, backoffs, timeouts and user task
deadlines pass in virtual time, so a week-long approval takes milliseconds.
Run them with::

    pytest examples/test_examples_behaviour.py

A failed ``assert_path``, ``assert_compensations``, ``assert_output`` or
``assert_journal`` shows a unified diff of what was expected against what
the run did.
"""

from __future__ import annotations

from typing import Any

import pytest
from checkout import checkout_wf
from currency_exchange import currency_exchange_wf
from expense_approval import expense_approval_wf
from payment import payment_wf

from wfc.runtime import RunStatus, TaskContext
from wfc.testing import WorkflowEnv

pytestmark = pytest.mark.anyio

DAY = 24 * 3600

PAYMENT = {"payment-id": "p-1", "customer-email": "ada@example.com", "amount": 42.5, "card-token": "tok_visa"}
APPROVED = {"status": "approved", "authorization_id": "auth_1"}


# ---------------------------------------------------------------- payment: paths and retries


async def test_an_approved_payment_is_settled_then_notified(wf_env: WorkflowEnv) -> None:
    wf_env.stub("authorize-payment", returns=APPROVED)
    wf_env.stub("fraud-check", returns={"score": 0.1})
    settle = wf_env.stub("settle-payment", returns={"settlement_id": "s_1"})
    wf_env.stub("send-notification")

    run = await wf_env.run(payment_wf, PAYMENT)

    await wf_env.assert_output(run, "settled")
    await wf_env.assert_path(
        run,
        [
            "entrypoint",
            "authorize-payment",
            "fraud-check",
            "if",
            "settle-payment",
            "send-notification",
            "end-if",
            "exit",
        ],
    )
    assert settle.args == [["p-1", "auth_1", 42.5, "EUR"]]


async def test_a_suspicious_payment_is_voided_and_held(wf_env: WorkflowEnv) -> None:
    wf_env.stub("authorize-payment", returns=APPROVED)
    wf_env.stub("fraud-check", returns={"score": 0.95})
    void = wf_env.stub("void-authorization")

    run = await wf_env.run(payment_wf, PAYMENT)

    await wf_env.assert_output(run, "held-for-review")
    assert void.args == [["p-1", "auth_1"]]


async def test_a_card_network_timeout_is_retried_after_a_backoff(wf_env: WorkflowEnv) -> None:
    async def slow_once(payment_id: str, card: str, amount: float, currency: str, ctx: TaskContext) -> Any:
        if ctx.attempt == 1:
            await wf_env.clock.sleep(60)  # longer than the task's 10 s timeout
        return APPROVED

    authorize = wf_env.stub("authorize-payment", effect=slow_once)
    wf_env.stub("fraud-check", returns={"score": 0.1})
    wf_env.stub("settle-payment", returns={})
    wf_env.stub("send-notification")

    run = await wf_env.run(payment_wf, PAYMENT)

    await wf_env.assert_output(run, "settled")
    assert [call.attempt for call in authorize.calls] == [1, 2]
    await wf_env.assert_journal(
        run, ["TASK_FAILED authorize-payment", "TASK_DISPATCHED authorize-payment", "TASK_COMPLETED authorize-payment"]
    )


async def test_a_card_network_that_stays_down_fails_the_payment(wf_env: WorkflowEnv) -> None:
    authorize = wf_env.stub("authorize-payment", raises=ConnectionError("card network down"))

    run = await wf_env.run(payment_wf, PAYMENT)

    assert run.status is RunStatus.FAILED and run.failure is not None
    assert run.failure.node == "authorize-payment" and authorize.call_count == 4  # 1 + 3 retries


# ---------------------------------------------------------------- checkout: compensation order

CHECKOUT = {
    "order-id": "o-1",
    "customer-email": "ada@example.com",
    "items": [{"sku": "mug", "quantity": 2}],
    "card-token": "tok_visa",
    "shipping-address": {"city": "Lyon"},
}


def stub_checkout(env: WorkflowEnv) -> None:
    """Every checkout step succeeds, and every undo too."""
    env.stub("validate-cart", returns={"items": CHECKOUT["items"], "total": 20.0, "currency": "EUR"})
    env.stub("create-order", returns={"order_number": "N-1"})
    env.stub("charge-card", returns={"payment_id": "pay_1"})
    env.stub("reserve-inventory", returns={"reservation_id": "r_1"})
    env.stub("create-shipment", returns={"shipment_id": "sh_1", "tracking_number": "TRACK-1"})
    env.stub("send-confirmation")
    for undo in ("cancel-order", "refund-card", "release-inventory", "cancel-shipment"):
        env.stub(undo)


async def test_a_checkout_ships_and_confirms(wf_env: WorkflowEnv) -> None:
    stub_checkout(wf_env)

    run = await wf_env.run(checkout_wf, CHECKOUT)

    await wf_env.assert_output(run, "TRACK-1")
    await wf_env.assert_compensations(run, [])


async def test_no_carrier_undoes_every_step_newest_first(wf_env: WorkflowEnv) -> None:
    stub_checkout(wf_env)
    wf_env.stub("create-shipment", raises="no-carrier")

    run = await wf_env.run(checkout_wf, CHECKOUT)

    await wf_env.assert_compensations(run, ["release-inventory", "refund-card", "cancel-order"])
    assert run.variables["status"] == "cancelled"


# ---------------------------------------------------------------- currency exchange: an event with a deadline

TRANSFER = {
    "transfer-id": "t-1",
    "source-account": "acc-1",
    "target-account": "acc-2",
    "amount": 100.0,
    "source-currency": "EUR",
    "target-currency": "USD",
}


def stub_exchange(env: WorkflowEnv) -> None:
    """Funds are there, the rate locks, both ledgers book, the regulator files."""
    env.stub("verify-funds")
    env.stub("lock-fx-rate", returns={"lock_id": "lock-1", "rate": 1.1, "converted_amount": 110.0})
    env.stub("debit-account", returns={"entry_id": "d-1"})
    env.stub("credit-account", returns={"entry_id": "c-1"})
    env.stub("report-transfer")
    for undo in ("release-fx-rate", "refund-debit", "reverse-credit"):
        env.stub(undo)


async def test_an_approved_exchange_moves_the_money(wf_env: WorkflowEnv) -> None:
    stub_exchange(wf_env)
    run_id = await wf_env.start(currency_exchange_wf, TRANSFER)

    await wf_env.send_event("compliance-approved", {"approved": True}, correlation="t-1")
    run = await wf_env.result(run_id)

    await wf_env.assert_output(run, 110.0)
    assert wf_env.calls("report-transfer")[0].args == ["t-1", "d-1", "c-1", 1.1]


async def test_no_compliance_answer_within_the_hour_releases_the_rate(wf_env: WorkflowEnv) -> None:
    stub_exchange(wf_env)

    run = await wf_env.run(currency_exchange_wf, TRANSFER)  # nobody sends the event

    assert run.failure is not None and run.failure.name == "TIMEOUT"
    assert wf_env.clock.elapsed.total_seconds() == 3600
    await wf_env.assert_compensations(run, ["release-fx-rate"])


async def test_a_refused_credit_refunds_the_debit_then_releases_the_rate(wf_env: WorkflowEnv) -> None:
    stub_exchange(wf_env)
    wf_env.stub("credit-account", raises="account-frozen")
    run_id = await wf_env.start(currency_exchange_wf, TRANSFER)

    await wf_env.send_event("compliance-approved", {"approved": True}, correlation="t-1")
    run = await wf_env.result(run_id)

    await wf_env.assert_compensations(run, ["refund-debit", "release-fx-rate"])


# ---------------------------------------------------------------- expense approval: a user task with deadlines

EXPENSE = {"expense-id": "e-1", "employee": "eve", "manager": "mia", "amount": 42.5, "purpose": "train"}


async def test_an_approved_expense_is_paid(wf_env: WorkflowEnv) -> None:
    pay = wf_env.stub("pay-expense")
    notify = wf_env.stub("notify-employee")
    run_id = await wf_env.start(expense_approval_wf, EXPENSE)

    await wf_env.complete_user_task(run_id, {"approved": True, "comment": "ok"}, user="mia")
    run = await wf_env.result(run_id)

    await wf_env.assert_output(run, "approved")
    assert pay.args == [["e-1", "eve", 42.5, "EUR"]] and notify.args == [["e-1", "eve", "approved", "ok"]]
    assert wf_env.clock.elapsed.total_seconds() == 0


async def test_an_undecided_expense_is_reminded_reassigned_then_expires_after_a_week(wf_env: WorkflowEnv) -> None:
    remind = wf_env.stub("remind-approver")
    notify = wf_env.stub("notify-employee")
    run_id = await wf_env.start(expense_approval_wf, EXPENSE)

    await wf_env.clock.advance(DAY)
    assert remind.args == [["e-1"]]
    await wf_env.clock.advance(DAY)
    task = await wf_env.user_task(run_id)
    assert (task.user, task.group) == (None, "finance-leads")

    run = await wf_env.result(run_id)  # nobody decides: the cancel timer fires at day 7

    await wf_env.assert_output(run, "expired")
    assert wf_env.clock.elapsed.total_seconds() == 7 * DAY
    assert notify.args == [["e-1", "eve", "expired", "nobody decided on the expense in time"]]
    await wf_env.assert_journal(run, ["USER_TASK_REMINDED", "USER_TASK_REASSIGNED", "USER_TASK_CANCELLED"])
