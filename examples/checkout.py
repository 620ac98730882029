"""E-commerce checkout as a saga: never "charged but not shipped".

1. ``validate-cart`` prices the items and checks they exist.
2. ``charge-card`` charges the total (3 retries); undone by ``refund-card``.
3. ``reserve-inventory`` reserves the items; undone by ``release-inventory``.
4. ``create-shipment`` books the carrier; undone by ``cancel-shipment``.
5. ``send-confirmation`` emails the customer. The email service is flaky, so
   it gets 5 retries; if it still fails, ``notify-customer`` tells the
   customer by another channel and the order stands.

A declined card, missing stock or no carrier is handled the same way:
``notify-customer`` explains what happened, then every completed step is
compensated in reverse order (refund, release, cancel) and the run ends
COMPENSATED. The run's output is the shipment's tracking number.

Inputs that drive the simulated tasks (see ``checkout_tasks.py``): a
``card-token`` containing ``declined`` is refused by the bank, an
``order-id`` containing ``no-stock`` finds no stock, ``no-carrier`` finds
the carrier API down on every attempt, ``email-down`` makes every email
fail, and an ``order-id`` ending in ``-flaky`` makes the first email attempt
fail.
"""

from __future__ import annotations

from collections.abc import Callable

from wfc.dsl import Backoff, Expression, Workflow, WorkflowThread


def checkout(wf: WorkflowThread) -> Expression:
    """Record the checkout workflow."""
    order_id = wf.declare_str("order-id").required().searchable()
    customer = wf.declare_str("customer-email").required()
    items = wf.declare_json("items").required()
    card = wf.declare_str("card-token").required().masked()
    address = wf.declare_json("shipping-address").required()
    status = wf.declare_str("status").default("new").searchable()

    cart = wf.execute("validate-cart", order_id, items, retries=2, timeout=10)
    charge = wf.execute(
        "charge-card", order_id, card, cart["total"], cart["currency"],
        retries=3, backoff=Backoff(initial=1.0, multiplier=2.0, maximum=30.0), timeout=30,
    )
    charge.compensate_with("refund-card", order_id, charge["payment_id"], cart["total"], cart["currency"])
    status.assign("paid")

    reservation = wf.execute("reserve-inventory", order_id, cart["items"], retries=3, timeout=10)
    reservation.compensate_with("release-inventory", order_id, reservation["reservation_id"])

    shipment = wf.execute("create-shipment", order_id, reservation["reservation_id"], address, retries=3, timeout=30)
    shipment.compensate_with("cancel-shipment", order_id, shipment["shipment_id"])
    status.assign("confirmed")

    confirmation = wf.execute(
        "send-confirmation", order_id, customer, shipment["tracking_number"],
        retries=5, backoff=Backoff(initial=0.5, multiplier=2.0, maximum=10.0), timeout=10,
    )

    def undo_order(reason: str) -> Callable[[WorkflowThread], None]:
        def handler(t: WorkflowThread) -> None:
            failure = t.declare_json("failure")
            t.execute("notify-customer", order_id, customer, reason, failure, retries=3, timeout=10)
            status.assign("cancelled")
            t.compensate()

        return handler

    def confirm_another_way(t: WorkflowThread) -> None:
        failure = t.declare_json("failure")
        t.execute("notify-customer", order_id, customer, "confirmation-delayed", failure, retries=3, timeout=10)

    wf.handle_exception(charge, undo_order("payment-declined"), name="card-declined")
    wf.handle_any_failure(reservation, undo_order("out-of-stock"))
    wf.handle_any_failure(shipment, undo_order("shipping-unavailable"))
    wf.handle_error(confirmation, confirm_another_way)
    return shipment["tracking_number"]


checkout_wf = Workflow("checkout", checkout)
