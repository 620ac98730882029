"""Currency exchange between two ledgers, approved by compliance.

This is the currency exchange flow of the seed stories: verify the funds,
lock a rate, wait for compliance, then move the money as a saga that is
undone in reverse order if any later step fails. No deliberate deviation.

1. ``verify-funds`` checks the source account can cover the amount.
2. ``lock-fx-rate`` locks an exchange rate for the transfer; undone by
   ``release-fx-rate``.
3. The run waits up to an hour for the ``compliance-approved`` event,
   correlated by the transfer id (``wfc event send compliance-approved
   --correlation <transfer-id>``). A payload whose ``approved`` is not true
   fails the transfer with ``compliance-rejected``; no answer within the hour
   fails it with ``TIMEOUT``.
4. ``debit-account`` takes the amount from the source ledger (undone by
   ``refund-debit``), ``credit-account`` pays the converted amount into the
   target ledger (undone by ``reverse-credit``), and ``report-transfer``
   files the transfer with the regulator.

Any failure from step 3 on is unhandled, so the completed steps are
compensated in reverse order: the credit is reversed, the debit refunded and
the rate lock released. The run's output is the converted amount.

Inputs that drive the simulated tasks (see ``currency_exchange_tasks.py``):
a ``source-account`` containing ``empty`` has no funds, a
``target-account`` containing ``frozen`` refuses the credit, a
``transfer-id`` containing ``report-fail`` is rejected by the regulator, and
only EUR, USD, GBP, CHF and JPY are traded.
"""

from __future__ import annotations

from wfc.dsl import Expression, Workflow, WorkflowThread

ONE_HOUR = 3600


def currency_exchange(wf: WorkflowThread) -> Expression:
    """Record the currency exchange workflow."""
    transfer_id = wf.declare_str("transfer-id").required().searchable()
    source_account = wf.declare_str("source-account").required()
    target_account = wf.declare_str("target-account").required()
    amount = wf.declare_float("amount").required()
    source_currency = wf.declare_str("source-currency").required()
    target_currency = wf.declare_str("target-currency").required()

    wf.execute("verify-funds", transfer_id, source_account, amount, source_currency, retries=3, timeout=10)
    quote = wf.execute(
        "lock-fx-rate", transfer_id, source_currency, target_currency, amount, retries=3, timeout=10
    )
    quote.compensate_with("release-fx-rate", transfer_id, quote["lock_id"])

    approval = wf.wait_for_event("compliance-approved", timeout=ONE_HOUR, correlation=transfer_id)
    wf.do_if(
        wf.condition("approval.approved != true", approval=approval),
        lambda t: t.fail("compliance-rejected", "compliance did not approve the transfer", approval),
    )

    debit = wf.execute("debit-account", transfer_id, source_account, amount, source_currency, retries=3, timeout=10)
    debit.compensate_with("refund-debit", transfer_id, source_account, amount, source_currency)
    credit = wf.execute(
        "credit-account", transfer_id, target_account, quote["converted_amount"], target_currency,
        retries=3, timeout=10,
    )
    credit.compensate_with(
        "reverse-credit", transfer_id, target_account, quote["converted_amount"], target_currency
    )
    wf.execute(
        "report-transfer", transfer_id, debit["entry_id"], credit["entry_id"], quote["rate"], retries=3, timeout=30
    )
    return quote["converted_amount"]


currency_exchange_wf = Workflow("currency-exchange", currency_exchange)
