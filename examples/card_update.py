"""Card update: a payment fails on an expired card, the customer updates it,
and the charge is tried again.

This is the card-update flow of the seed stories (LittleHorse's user task
example), with a person in the loop:

1. ``charge-card`` charges the card on file: 3 retries with exponential
   backoff for technical errors. A card that has expired is a business
   exception, ``card-expired``: retrying the same card cannot help.
2. On ``card-expired`` a handler assigns the user task ``update-card`` to the
   customer (``customer``, their user id), with the ``support`` group
   attached, so support sees it in its inbox too. The status becomes
   ``waiting-for-card``.
3. If the task is still open a day later, ``send-card-reminder`` emails the
   customer (a durable timer: it survives restarts, and it is dropped as
   soon as the task is completed).
4. If it is still open three days after it was assigned, it is reassigned to
   the ``support`` group alone: the customer no longer holds it, and anyone
   in support may claim it (after phoning the customer, say) and complete it.
5. Whoever completes the form gives ``card_token``; it replaces the card on
   file and ``charge-card`` runs again with it. The run then carries on after
   the failed charge: ``send-receipt``, and the status becomes ``paid``.

The run's output is the final status.

Deliberate deviations from the seed: nothing cancels the task on its own (an
operator can, with ``wfc tasks cancel``: the handler then fails with
``USER_TASK_CANCELLED`` and so does the run), and a new card that fails too
fails the run with that failure, for an operator to ``retry`` or cancel.
No step after the charge reads the charge's output: after a handler the
failed node has none, so the receipt is keyed by the payment id.

Inputs that drive the simulated tasks (see ``card_update_tasks.py``): a
``card-token`` containing ``expired`` raises ``card-expired``, one containing
``declined`` raises ``card-declined``, and a ``payment-id`` ending in
``-flaky`` makes the first charge attempt time out.
"""

from __future__ import annotations

from wfc.dsl import Backoff, Field, UserTaskForm, VariableHandle, Workflow, WorkflowThread

ONE_DAY = 24 * 3600

#: What the customer (or support) fills in.
UPDATE_CARD = UserTaskForm(
    "update-card",
    card_token=Field(str, display_name="New card",
                     description="The token the card form gave for the new card (never the card number)"),
    note=Field(str, required=False, display_name="Note", description="Anything support should know"),
)


def card_update(wf: WorkflowThread) -> VariableHandle:
    """Record the card update workflow."""
    payment_id = wf.declare_str("payment-id").required().searchable()
    customer = wf.declare_str("customer").required()
    customer_email = wf.declare_str("customer-email").required()
    amount = wf.declare_float("amount").required()
    currency = wf.declare_str("currency").default("EUR")
    card = wf.declare_str("card-token").required().masked()
    status = wf.declare_str("status").default("pending").searchable()

    backoff = Backoff(initial=1.0, multiplier=2.0, maximum=30.0)
    charge = wf.execute("charge-card", payment_id, card, amount, currency, retries=3, backoff=backoff, timeout=30)

    def ask_for_a_new_card(t: WorkflowThread) -> None:
        status.assign("waiting-for-card")
        update = t.assign_user_task(
            UPDATE_CARD, user=customer, group="support",
            notes="The card on file has expired. Enter a new card to complete payment " + payment_id,
        )
        update.remind_after(ONE_DAY, "send-card-reminder", payment_id, customer_email)
        update.reassign_after(3 * ONE_DAY, group="support")
        card.assign(update["card_token"])
        t.execute("charge-card", payment_id, card, amount, currency, retries=3, backoff=backoff, timeout=30)

    wf.handle_exception(charge, ask_for_a_new_card, name="card-expired")
    wf.execute("send-receipt", payment_id, customer_email, amount, currency, retries=5, timeout=10)
    status.assign("paid")
    return status


card_update_wf = Workflow("card-update", card_update)
