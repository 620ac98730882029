"""Behaviour tests of the example workflows, as you would write them for yours.

``wf_env`` comes from wfc's pytest plugin: a real engine on an in-memory
store with a virtual clock. Tasks are stubbed by name (``returns=``,
``raises=``, ``effect=``); retries, backoffs, timeouts and user task
deadlines pass in virtual time, so a week-long approval takes milliseconds.
Run them with::

    pytest examples/test_examples_behaviour.py

A failed ``assert_path``, ``assert_compensations``, ``assert_output``,
``assert_failure`` or ``assert_journal`` shows a unified diff of what was
expected against what the run did.
"""

from __future__ import annotations

from typing import Any

import pytest
from card_update import card_update_wf
from checkout import checkout_wf
from currency_exchange import currency_exchange_wf
from expense_approval import expense_approval_wf
from order_fulfilment import order_fulfilment_wf
from payment import payment_wf

from wfc.runtime import RunStatus, TaskContext, TaskException
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


async def test_a_declined_card_is_neither_settled_nor_voided(wf_env: WorkflowEnv) -> None:
    wf_env.stub("authorize-payment", returns={"status": "declined", "authorization_id": None})
    wf_env.stub("fraud-check", returns={"score": 0.1})

    run = await wf_env.run(payment_wf, PAYMENT)

    await wf_env.assert_output(run, "declined")
    assert wf_env.calls("settle-payment") == [] and wf_env.calls("void-authorization") == []


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

    await wf_env.assert_failure(run, "TIMEOUT", node="wait-compliance-approved")
    assert wf_env.clock.elapsed.total_seconds() == 3600
    await wf_env.assert_compensations(run, ["release-fx-rate"])


async def test_a_compliance_refusal_fails_the_transfer_and_releases_the_rate(wf_env: WorkflowEnv) -> None:
    stub_exchange(wf_env)
    run_id = await wf_env.start(currency_exchange_wf, TRANSFER)

    await wf_env.send_event("compliance-approved", {"approved": False}, correlation="t-1")
    run = await wf_env.result(run_id)

    await wf_env.assert_failure(run, "compliance-rejected")
    await wf_env.assert_compensations(run, ["release-fx-rate"])
    assert wf_env.calls("debit-account") == []


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


async def test_a_rejected_expense_is_not_paid(wf_env: WorkflowEnv) -> None:
    wf_env.stub("pay-expense")
    notify = wf_env.stub("notify-employee")
    run_id = await wf_env.start(expense_approval_wf, EXPENSE)

    await wf_env.complete_user_task(run_id, {"approved": False, "comment": "no receipt"}, user="mia")
    run = await wf_env.result(run_id)

    await wf_env.assert_output(run, "rejected")
    assert wf_env.calls("pay-expense") == [] and notify.args == [["e-1", "eve", "rejected", "no receipt"]]


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


# ---------------------------------------------------------------- card update: a customer in the loop

CARD = {
    "payment-id": "p-1",
    "customer": "cus-1",
    "customer-email": "ada@example.com",
    "amount": 42.5,
    "card-token": "tok_old",
}
NEW_CARD = {"card_token": "tok_new"}


def stub_card_update(env: WorkflowEnv) -> None:
    """The card on file has expired; every other step succeeds."""
    env.stub("charge-card", raises="card-expired")
    env.stub("send-card-reminder")
    env.stub("send-receipt")


async def test_a_valid_card_is_charged_and_receipted(wf_env: WorkflowEnv) -> None:
    charge = wf_env.stub("charge-card", returns={"charge_id": "ch_1"})
    receipt = wf_env.stub("send-receipt")

    run = await wf_env.run(card_update_wf, CARD)

    await wf_env.assert_output(run, "paid")
    await wf_env.assert_path(run, ["entrypoint", "charge-card", "send-receipt", "exit"])
    assert charge.args == [["p-1", "tok_old", 42.5, "EUR"]]
    assert receipt.args == [["p-1", "ada@example.com", 42.5, "EUR"]]


async def test_an_expired_card_asks_the_customer_then_charges_the_new_card(wf_env: WorkflowEnv) -> None:
    stub_card_update(wf_env)
    run_id = await wf_env.start(card_update_wf, CARD)

    task = await wf_env.user_task(run_id)
    assert (task.form.name, task.user, task.group) == ("update-card", "cus-1", "support")
    wf_env.stub("charge-card", returns={"charge_id": "ch_2"})  # the new card works
    await wf_env.complete_user_task(run_id, NEW_CARD, user="cus-1")
    run = await wf_env.result(run_id)

    await wf_env.assert_output(run, "paid")
    await wf_env.assert_path(
        run,
        {
            0: ["entrypoint", "charge-card", "send-receipt", "exit"],
            1: ["entrypoint", "user-task-update-card", "charge-card", "exit"],  # the card-expired handler
        },
    )
    assert [call.args[1] for call in wf_env.calls("charge-card")] == ["tok_old", "tok_new"]


async def test_the_customer_is_reminded_after_a_day_and_support_takes_over_after_three(wf_env: WorkflowEnv) -> None:
    stub_card_update(wf_env)
    remind = wf_env.stub("send-card-reminder")
    run_id = await wf_env.start(card_update_wf, CARD)

    await wf_env.clock.advance(DAY)
    assert remind.args == [["p-1", "ada@example.com"]]
    await wf_env.clock.advance(2 * DAY)
    task = await wf_env.user_task(run_id)
    assert (task.user, task.group) == (None, "support")

    await wf_env.claim_user_task(run_id, "sam")  # someone in support
    wf_env.stub("charge-card", returns={"charge_id": "ch_2"})
    await wf_env.complete_user_task(run_id, NEW_CARD, user="sam")
    run = await wf_env.result(run_id)

    await wf_env.assert_output(run, "paid")
    await wf_env.assert_journal(
        run,
        [
            "USER_TASK_ASSIGNED user-task-update-card",
            "USER_TASK_REMINDED user-task-update-card",
            "USER_TASK_REASSIGNED user-task-update-card",
            "USER_TASK_CLAIMED user-task-update-card",
            "USER_TASK_COMPLETED user-task-update-card",
            "TASK_COMPLETED charge-card",
            "RUN_COMPLETED",
        ],
    )


async def test_a_card_updated_within_the_day_gets_no_reminder(wf_env: WorkflowEnv) -> None:
    stub_card_update(wf_env)
    remind = wf_env.stub("send-card-reminder")
    run_id = await wf_env.start(card_update_wf, CARD)

    await wf_env.clock.advance(DAY / 2)
    wf_env.stub("charge-card", returns={"charge_id": "ch_2"})
    await wf_env.complete_user_task(run_id, NEW_CARD, user="cus-1")
    await wf_env.clock.advance(7 * DAY)  # well past the reminder and the reassignment

    await wf_env.assert_output(run_id, "paid")
    assert remind.calls == []


async def test_a_charge_that_times_out_is_retried_after_a_backoff(wf_env: WorkflowEnv) -> None:
    async def hangs_once(payment_id: str, card: str, amount: float, currency: str, ctx: TaskContext) -> Any:
        if ctx.attempt == 1:
            await wf_env.clock.sleep(60)  # longer than the charge's 30 s timeout
        return {"charge_id": "ch_1"}

    charge = wf_env.stub("charge-card", effect=hangs_once)
    wf_env.stub("send-receipt")

    run = await wf_env.run(card_update_wf, CARD)

    await wf_env.assert_output(run, "paid")
    first, retry = (call.at - wf_env.clock.start for call in charge.calls)
    assert first == 0 and 30.5 <= retry <= 31  # the 30 s timeout, then a 1 s backoff (jittered: half to all of it)
    await wf_env.assert_journal(run, ["TASK_FAILED charge-card", "TASK_COMPLETED charge-card"])


async def test_a_declined_new_card_fails_the_payment(wf_env: WorkflowEnv) -> None:
    stub_card_update(wf_env)
    run_id = await wf_env.start(card_update_wf, CARD)

    wf_env.stub("charge-card", raises="card-declined")
    await wf_env.complete_user_task(run_id, NEW_CARD, user="cus-1")
    run = await wf_env.result(run_id)

    await wf_env.assert_failure(run, "card-declined", node="charge-card")
    assert run.variables["status"] == "waiting-for-card"
    assert wf_env.calls("send-receipt") == []


async def test_an_operator_cancelling_the_card_update_fails_the_payment(wf_env: WorkflowEnv) -> None:
    stub_card_update(wf_env)
    run_id = await wf_env.start(card_update_wf, CARD)

    await wf_env.cancel_user_task(run_id, reason="customer unreachable", by="ops")
    run = await wf_env.result(run_id)

    await wf_env.assert_failure(run, "USER_TASK_CANCELLED", node="user-task-update-card")


# ---------------------------------------------------------------- order fulfilment: fan-out, fan-in, a week's timer

ORDER = {
    "order-id": "o-1",
    "customer-email": "ada@example.com",
    "items": [{"sku": "mug", "quantity": 2}, {"sku": "tea", "quantity": 1}],
}


def pick(order_id: str, sku: str, quantity: int) -> dict[str, Any]:
    """A pick-item stub: a bin named after the item."""
    return {"bin": f"bin-{sku}"}


def pack(order_id: str, sku: str, bin_id: str) -> dict[str, Any]:
    """A pack-item stub: a parcel named after the item."""
    return {"parcel_id": f"pcl-{sku}"}


def stub_fulfilment(env: WorkflowEnv) -> None:
    """Every item is in stock and packs; the carrier takes the order."""
    env.stub("pick-item", effect=pick)
    env.stub("pack-item", effect=pack)
    env.stub("ship-order", returns={"shipment_id": "shp-1", "tracking_number": "TRK-1"})
    env.stub("send-review-reminder")
    env.stub("email-customer")
    env.stub("cancel-fulfilment")


async def test_every_item_is_packed_then_shipped_and_a_review_asked_for_a_week_later(wf_env: WorkflowEnv) -> None:
    stub_fulfilment(wf_env)
    ship = wf_env.stub("ship-order", returns={"shipment_id": "shp-1", "tracking_number": "TRK-1"})
    review = wf_env.stub("send-review-reminder")

    run = await wf_env.run(order_fulfilment_wf, ORDER)

    assert run.status is RunStatus.COMPLETED and run.variables["status"] == "completed"
    item = ["entrypoint", "pick-item", "pack-item", "exit"]
    await wf_env.assert_path(
        run,
        {
            0: [
                "entrypoint",
                "spawn-fulfil-item",
                "wait-for-threads",
                "ship-order",
                "sleep",
                "send-review-reminder",
                "exit",
            ],
            1: item,  # one thread per line item
            2: item,
        },
    )
    assert ship.args == [["o-1", ["pcl-mug", "pcl-tea"]]]
    assert review.args == [["o-1", "ada@example.com", "TRK-1"]]
    assert review.calls[0].at - wf_env.clock.start == 7 * DAY


async def test_parcels_come_back_in_item_order_whatever_order_they_are_packed_in(wf_env: WorkflowEnv) -> None:
    stub_fulfilment(wf_env)

    async def mugs_are_slow(order_id: str, sku: str, bin_id: str) -> dict[str, Any]:
        await wf_env.clock.sleep(50 if sku == "mug" else 5)
        return pack(order_id, sku, bin_id)

    wf_env.stub("pack-item", effect=mugs_are_slow)
    ship = wf_env.stub("ship-order", returns={"tracking_number": "TRK-1"})

    await wf_env.run(order_fulfilment_wf, ORDER)

    assert [call.args[1] for call in wf_env.calls("pack-item")] == ["mug", "tea"]
    assert ship.args == [["o-1", ["pcl-mug", "pcl-tea"]]] and ship.calls[0].at - wf_env.clock.start == 50


async def test_the_review_reminder_waits_as_long_as_the_order_says(wf_env: WorkflowEnv) -> None:
    stub_fulfilment(wf_env)

    run = await wf_env.run(order_fulfilment_wf, {**ORDER, "reminder-delay": 3600})

    assert run.status is RunStatus.COMPLETED and wf_env.clock.elapsed.total_seconds() == 3600


async def test_an_item_out_of_stock_apologises_and_fails_the_order(wf_env: WorkflowEnv) -> None:
    stub_fulfilment(wf_env)

    def no_tea(order_id: str, sku: str, quantity: int) -> dict[str, Any]:
        if sku == "tea":
            raise TaskException("out-of-stock", f"{sku} is out of stock", {"sku": sku})
        return pick(order_id, sku, quantity)

    wf_env.stub("pick-item", effect=no_tea)
    email = wf_env.stub("email-customer")

    run = await wf_env.run(order_fulfilment_wf, ORDER)

    await wf_env.assert_failure(run, "fulfilment-failed")
    assert run.variables["status"] == "failed"
    [(order_id, to, template, failure)] = email.args
    assert (order_id, to, template, failure["name"]) == ("o-1", "ada@example.com", "fulfilment-failed", "out-of-stock")
    assert wf_env.calls("ship-order") == [] and wf_env.calls("send-review-reminder") == []


async def test_a_jammed_packing_station_is_retried(wf_env: WorkflowEnv) -> None:
    stub_fulfilment(wf_env)

    def jams_once(order_id: str, sku: str, bin_id: str, ctx: TaskContext) -> dict[str, Any]:
        if ctx.attempt == 1:
            raise RuntimeError(f"packing station jammed while packing {sku}")
        return pack(order_id, sku, bin_id)

    packing = wf_env.stub("pack-item", effect=jams_once)

    run = await wf_env.run(order_fulfilment_wf, ORDER)

    assert run.status is RunStatus.COMPLETED
    assert sorted((call.args[1], call.attempt) for call in packing.calls) == [
        ("mug", 1),
        ("mug", 2),
        ("tea", 1),
        ("tea", 2),
    ]


async def test_a_cancellation_during_the_week_stops_the_warehouse_and_fails_the_order(wf_env: WorkflowEnv) -> None:
    stub_fulfilment(wf_env)
    cancel = wf_env.stub("cancel-fulfilment")
    run_id = await wf_env.start(order_fulfilment_wf, ORDER)

    await wf_env.clock.advance(2 * DAY)  # shipped, and waiting to ask for a review
    await wf_env.send_event("cancel-order", {"reason": "changed my mind"}, run=run_id)
    run = await wf_env.result(run_id)

    await wf_env.assert_failure(run, "order-cancelled")
    assert cancel.args == [["o-1", {"reason": "changed my mind"}]]
    assert run.variables["status"] == "cancelled" and wf_env.calls("send-review-reminder") == []


async def test_a_cancellation_while_packing_halts_every_item_and_ships_nothing(wf_env: WorkflowEnv) -> None:
    stub_fulfilment(wf_env)
    wf_env.stub("pack-item", returns={"parcel_id": "pcl-1"}, takes=30)  # each parcel takes 30 s to pack
    run_id = await wf_env.start(order_fulfilment_wf, ORDER)

    await wf_env.clock.advance(10)
    await wf_env.send_event("cancel-order", {"reason": "changed my mind"}, run=run_id)
    run = await wf_env.result(run_id)

    await wf_env.assert_failure(run, "order-cancelled")
    await wf_env.assert_journal(
        run,
        [
            "INTERRUPT_RECEIVED wait-for-threads",
            "TASK_COMPLETED cancel-fulfilment [thread 3]",
            "THREAD_HALTED pack-item [thread 1]",
            "THREAD_HALTED pack-item [thread 2]",
            "RUN_FAILED",
        ],
    )
    assert wf_env.calls("ship-order") == []
