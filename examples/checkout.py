"""E-commerce checkout as a saga: never "charged but not shipped".

This is the Black-Friday checkout and the saga checkout of the seed stories,
in one workflow:

1. ``validate-cart`` prices the items and checks they exist (2 retries, 10 s).
2. ``create-order`` records the order; undone by ``cancel-order``, which
   marks the order cancelled and tells the customer that it was cancelled
   and that nothing stays charged.
3. ``charge-card`` charges the total: 3 retries with exponential backoff and a
   30 s timeout; undone by ``refund-card``.
4. ``reserve-inventory`` reserves the items: 2 retries with a shorter, 10 s
   timeout; undone by ``release-inventory``.
5. ``create-shipment`` books the carrier: 3 retries, 15 s timeout; undone by
   ``cancel-shipment``.
6. ``send-confirmation`` emails the customer. The email service is flaky, so
   it gets 5 retries; if it still fails (in any way), ``notify-customer``
   tells the customer by SMS, and if that fails too the order still stands:
   an email failure never fails a paid order.

Every failure of the charge (a declined card, and a technical failure such
as a connection error that outlasts the retries), of the reservation and of
the shipment is caught by a handler that marks the order ``cancelled`` and
compensates: every completed step is undone in reverse order of completion
(cancel the shipment, release the inventory, refund the card) and last
``cancel-order`` notifies the customer, so the money is back before the
customer hears about it. The run ends COMPENSATED with the original failure.
The run's output is the shipment's tracking number.

Deliberate deviations from the seeds:

* The customer is notified by ``cancel-order``, the compensation of the first
  step, rather than by a separate step after the refund: wfc's
  ``compensate`` ends the run, and ordering the notification as the last
  compensation is what makes it come after the refund.
* The Step Functions version (``Catch States.ALL -> RefundCard``) refunds
  even a charge that failed. Here a charge that never completed has nothing
  to refund: the charge carries its idempotency key, so a retried or
  uncertain charge is never taken twice, and the handler compensates the
  steps that did complete (the order).

Inputs that drive the simulated tasks (see ``checkout_tasks.py``): a
``card-token`` containing ``declined`` is refused by the bank, an
``order-id`` containing ``bank-down`` finds the payment provider unreachable
on every attempt, ``no-stock`` finds no stock, ``no-carrier`` finds the
carrier API down on every attempt, ``email-down`` makes every email fail,
``sms-down`` every SMS, and an ``order-id`` ending in ``-flaky`` makes the
first email attempt fail.
"""

from __future__ import annotations

from wfc.dsl import Backoff, Expression, VariableHandle, Workflow, WorkflowThread

#: Backoff of the payment provider and the mail service: 1 s, 2 s, 4 s, ...
BACKOFF = Backoff(initial=1.0, multiplier=2.0, maximum=30.0)


def checkout(wf: WorkflowThread) -> Expression:
    """Record the checkout workflow."""
    order_id = wf.declare_str("order-id").required().searchable()
    customer = wf.declare_str("customer-email").required()
    items = wf.declare_json("items").required()
    card = wf.declare_str("card-token").required().masked()
    address = wf.declare_json("shipping-address").required()
    status = wf.declare_str("status").default("new").searchable()

    cart = wf.execute("validate-cart", order_id, items, retries=2, timeout=10)
    order = wf.execute("create-order", order_id, customer, cart["items"], cart["total"], retries=3, timeout=10)
    order.compensate_with("cancel-order", order_id, order["order_number"], customer)
    status.assign("created")

    charge = wf.execute(
        "charge-card", order_id, card, cart["total"], cart["currency"], retries=3, backoff=BACKOFF, timeout=30
    )
    charge.compensate_with("refund-card", order_id, charge["payment_id"], cart["total"], cart["currency"])
    status.assign("paid")

    reservation = wf.execute("reserve-inventory", order_id, cart["items"], retries=2, timeout=10)
    reservation.compensate_with("release-inventory", order_id, reservation["reservation_id"])

    shipment = wf.execute("create-shipment", order_id, reservation["reservation_id"], address, retries=3, timeout=15)
    shipment.compensate_with("cancel-shipment", order_id, shipment["shipment_id"])
    status.assign("confirmed")

    confirmation = wf.execute(
        "send-confirmation", order_id, customer, shipment["tracking_number"],
        retries=5, backoff=Backoff(initial=0.5, multiplier=2.0, maximum=10.0), timeout=10,
    )

    wf.handle_any_failure(charge, lambda t: cancel_order(t, status))
    wf.handle_any_failure(reservation, lambda t: cancel_order(t, status))
    wf.handle_any_failure(shipment, lambda t: cancel_order(t, status))
    wf.handle_any_failure(confirmation, lambda t: confirm_by_sms(t, order_id, customer, status))
    return shipment["tracking_number"]


def cancel_order(t: WorkflowThread, status: VariableHandle) -> None:
    """Undo every completed step, newest first; ``cancel-order`` (the undo of
    the first step) tells the customer once the money is back."""
    status.assign("cancelled")
    t.compensate()


def confirm_by_sms(t: WorkflowThread, order_id: Expression, customer: Expression, status: VariableHandle) -> None:
    """The email did not go out: tell the customer by SMS; the order stands
    whatever happens to the SMS."""
    failure = t.declare_json("failure")
    sms = t.execute("notify-customer", order_id, customer, "confirmation-delayed", failure, retries=3, timeout=10)
    t.handle_any_failure(sms, lambda h: status.assign("confirmed-unannounced"))


checkout_wf = Workflow("checkout", checkout)
