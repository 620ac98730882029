"""Snapshot tests of the example workflows, as you would write them for yours.

``wf_snapshot`` comes from wfc's pytest plugin (installed with wfc; it needs
the ``test`` extra for syrupy). Each test compiles a workflow and compares
its spec with ``__snapshots__/test_examples_snapshot/<test>[<workflow>].json``;
after an intended change, accept the new specs with::

    pytest examples/test_examples_snapshot.py --snapshot-update

and review the JSON diff like any other code change.
"""

from __future__ import annotations

from card_update import card_update_wf
from checkout import checkout_wf
from currency_exchange import currency_exchange_wf
from expense_approval import expense_approval_wf
from order_fulfilment import order_fulfilment_wf
from payment import payment_wf

from wfc.testing import WorkflowSnapshot


def test_payment_spec(wf_snapshot: WorkflowSnapshot) -> None:
    assert wf_snapshot(payment_wf)


def test_checkout_spec(wf_snapshot: WorkflowSnapshot) -> None:
    assert wf_snapshot(checkout_wf)


def test_currency_exchange_spec(wf_snapshot: WorkflowSnapshot) -> None:
    assert wf_snapshot(currency_exchange_wf)


def test_order_fulfilment_spec(wf_snapshot: WorkflowSnapshot) -> None:
    assert wf_snapshot(order_fulfilment_wf)


def test_card_update_spec(wf_snapshot: WorkflowSnapshot) -> None:
    assert wf_snapshot(card_update_wf)


def test_expense_approval_spec(wf_snapshot: WorkflowSnapshot) -> None:
    assert wf_snapshot(expense_approval_wf)
