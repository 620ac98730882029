"""Order fulfilment: pick and pack every line item in parallel, ship, and
remind the customer to leave a review a week later.

This is the order fulfilment flow of the seed stories: a fan-out per line
item and a fan-in, a cancellation that can arrive at any time, and a
durable timer. No deliberate deviation.

1. One child thread per line item (``spawn_thread_for_each``) runs
   ``pick-item`` then ``pack-item`` and returns its parcel.
2. ``wait_for_threads`` waits for all of them; their parcels come back in
   item order. If any item fails (a business exception such as
   ``out-of-stock`` arrives under its own name, a technical one as
   ``CHILD_FAILURE``), ``email-customer`` apologises and the order fails with
   ``fulfilment-failed``.
3. ``ship-order`` hands the parcels to the carrier.
4. A durable sleep of ``reminder-delay`` seconds (a week by default; the
   timer survives restarts), then ``send-review-reminder``.

At any time a ``cancel-order`` event interrupts the run: ``cancel-fulfilment``
stops the warehouse work and the order fails with ``order-cancelled``.

Inputs that drive the simulated tasks (see ``order_fulfilment_tasks.py``): an
item whose ``sku`` contains ``no-stock`` cannot be picked, and an
``order-id`` ending in ``-flaky`` makes the first packing attempt of each
item fail.
"""

from __future__ import annotations

from wfc.dsl import Expression, ThreadStrategy, Workflow, WorkflowThread

ONE_WEEK = 7 * 24 * 3600


def order_fulfilment(wf: WorkflowThread) -> None:
    """Record the order fulfilment workflow."""
    order_id = wf.declare_str("order-id").required().searchable()
    customer = wf.declare_str("customer-email").required()
    items = wf.declare_json("items").required()
    reminder_delay = wf.declare_int("reminder-delay").default(ONE_WEEK)
    status = wf.declare_str("status").default("received").searchable()

    def cancel(t: WorkflowThread) -> None:
        event = t.declare_json("event")
        t.execute("cancel-fulfilment", order_id, event, retries=3, timeout=30)
        status.assign("cancelled")
        t.fail("order-cancelled", "the customer cancelled the order")

    wf.add_interrupt_handler("cancel-order", cancel)

    def fulfil_item(t: WorkflowThread) -> Expression:
        item = t.declare_json("item").required()
        pick = t.execute("pick-item", order_id, item["sku"], item["quantity"], retries=3, timeout=60)
        parcel = t.execute("pack-item", order_id, item["sku"], pick["bin"], retries=3, timeout=60)
        return parcel["parcel_id"]

    children = wf.spawn_thread_for_each(items, fulfil_item, "fulfil-item")
    parcels = wf.wait_for_threads(children, strategy=ThreadStrategy.ALL)
    status.assign("packed")

    def fulfilment_failed(t: WorkflowThread) -> None:
        failure = t.declare_json("failure")
        t.execute("email-customer", order_id, customer, "fulfilment-failed", failure, retries=3, timeout=10)
        status.assign("failed")
        t.fail("fulfilment-failed", "an item could not be picked or packed")

    wf.handle_any_failure(parcels, fulfilment_failed)

    shipment = wf.execute("ship-order", order_id, parcels, retries=3, timeout=60)
    status.assign("shipped")
    wf.sleep(reminder_delay)
    wf.execute("send-review-reminder", order_id, customer, shipment["tracking_number"], retries=5, timeout=10)
    status.assign("completed")


order_fulfilment_wf = Workflow("order-fulfilment", order_fulfilment)
