"""Card payment: authorize, screen for fraud, settle, tell the customer.

This is the payment flow of the seed stories: authorize (3 retries), check
for fraud (2 retries), and settle and notify only when the payment is
approved.

1. ``authorize-payment`` reserves the amount on the card. The card network
   times out now and then, so it gets 3 retries with exponential backoff.
2. ``fraud-check`` scores the payment from 0 (fine) to 1 (fraud), 2 retries.
3. Approved (the card network approved it and the score is below 0.7):
   ``settle-payment`` captures the money and ``send-notification`` emails the
   receipt; the status becomes ``settled``. Anything else settles nothing and
   notifies no one: not approved by the card network, the status becomes
   ``declined``; approved but suspicious, the status becomes
   ``held-for-review``.

Deliberate deviation from the seed: a suspicious payment's authorization is
released with ``void-authorization``, so the customer's card is not left
with a hold on it while the payment waits for review.

The run's output is the final status. Inputs that drive the simulated tasks
(see ``payment_tasks.py``): a ``card-token`` containing ``declined`` is not
approved, a ``customer-email`` containing ``fraud`` scores 0.95, and a
``payment-id`` ending in ``-flaky`` makes the first authorization attempt
time out.
"""

from __future__ import annotations

from wfc.dsl import Backoff, VariableHandle, Workflow, WorkflowThread


def payment(wf: WorkflowThread) -> VariableHandle:
    """Record the payment workflow."""
    payment_id = wf.declare_str("payment-id").required().searchable()
    customer = wf.declare_str("customer-email").required()
    amount = wf.declare_float("amount").required()
    currency = wf.declare_str("currency").default("EUR")
    card = wf.declare_str("card-token").required().masked()
    status = wf.declare_str("status").default("pending").searchable()

    auth = wf.execute(
        "authorize-payment", payment_id, card, amount, currency,
        retries=3, backoff=Backoff(initial=1.0, multiplier=2.0, maximum=30.0), timeout=10,
    )
    fraud = wf.execute("fraud-check", payment_id, customer, amount, currency, retries=2, timeout=5)

    def settle(t: WorkflowThread) -> None:
        t.execute("settle-payment", payment_id, auth["authorization_id"], amount, currency, retries=3, timeout=30)
        status.assign("settled")
        t.execute("send-notification", customer, "payment-settled", payment_id, retries=5, timeout=10)

    def hold(t: WorkflowThread) -> None:
        t.execute("void-authorization", payment_id, auth["authorization_id"], retries=3, timeout=30)
        status.assign("held-for-review")

    def decline(t: WorkflowThread) -> None:
        status.assign("declined")

    approved = auth["status"] == "approved"
    wf.do_if(approved & (fraud["score"] < 0.7), settle).do_elif(approved, hold).do_else(decline)
    return status


payment_wf = Workflow("payment", payment)
