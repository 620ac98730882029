"""Simulated tasks of the currency exchange workflow (``currency_exchange.py``).

No network: rates come from a fixed table, ledger entry ids are derived from
each task's idempotency key (so a retried debit books the same entry once),
and failures are driven by the inputs:

* ``source-account`` containing ``empty``: ``verify-funds`` raises
  ``insufficient-funds``.
* a currency outside EUR, USD, GBP, CHF, JPY: ``lock-fx-rate`` raises
  ``unsupported-currency``.
* ``target-account`` containing ``frozen``: ``credit-account`` raises
  ``account-frozen`` (the debit and the rate lock are then undone).
* ``transfer-id`` containing ``report-fail``: ``report-transfer`` raises
  ``report-rejected`` (everything is undone).
"""

from __future__ import annotations

import asyncio
import hashlib
from typing import Any

from wfc.runtime import TaskContext, TaskException, task

#: Value of one unit of each currency in EUR.
EUR_PER_UNIT: dict[str, float] = {"EUR": 1.0, "USD": 0.92, "GBP": 1.17, "CHF": 1.05, "JPY": 0.0061}


def _ref(prefix: str, key: str) -> str:
    return f"{prefix}_{hashlib.sha256(key.encode()).hexdigest()[:12]}"


@task("verify-funds", timeout=10)
async def verify_funds(transfer_id: str, account: str, amount: float, currency: str) -> dict[str, Any]:
    """Check the account can cover ``amount``; raises ``insufficient-funds``."""
    await asyncio.sleep(0.01)
    if "empty" in account:
        raise TaskException("insufficient-funds", f"account {account} cannot cover {amount:.2f} {currency}")
    return {"account": account, "available": True}


@task("lock-fx-rate", timeout=10)
async def lock_fx_rate(
    transfer_id: str, source_currency: str, target_currency: str, amount: float, ctx: TaskContext
) -> dict[str, Any]:
    """Lock a rate for the transfer and quote the converted amount."""
    await asyncio.sleep(0.01)
    for currency in (source_currency, target_currency):
        if currency not in EUR_PER_UNIT:
            raise TaskException("unsupported-currency", f"{currency} is not traded; use one of {sorted(EUR_PER_UNIT)}")
    rate = round(EUR_PER_UNIT[source_currency] / EUR_PER_UNIT[target_currency], 6)
    return {
        "lock_id": _ref("fx", ctx.idempotency_key),
        "rate": rate,
        "converted_amount": round(amount * rate, 2),
    }


@task("release-fx-rate", timeout=10)
async def release_fx_rate(transfer_id: str, lock_id: str) -> dict[str, Any]:
    """Release a rate lock (compensation of ``lock-fx-rate``)."""
    await asyncio.sleep(0.01)
    return {"lock_id": lock_id, "released": True}


@task("debit-account", timeout=10)
async def debit_account(
    transfer_id: str, account: str, amount: float, currency: str, ctx: TaskContext
) -> dict[str, Any]:
    """Book a debit on the source ledger."""
    await asyncio.sleep(0.01)
    return {"entry_id": _ref("dr", ctx.idempotency_key), "account": account, "amount": -amount, "currency": currency}


@task("refund-debit", timeout=10)
async def refund_debit(transfer_id: str, account: str, amount: float, currency: str) -> dict[str, Any]:
    """Book the opposite of the debit (compensation of ``debit-account``)."""
    await asyncio.sleep(0.01)
    return {"entry_id": _ref("dr-rev", transfer_id), "account": account, "amount": amount, "currency": currency}


@task("credit-account", timeout=10)
async def credit_account(
    transfer_id: str, account: str, amount: float, currency: str, ctx: TaskContext
) -> dict[str, Any]:
    """Book a credit on the target ledger; raises ``account-frozen``."""
    await asyncio.sleep(0.01)
    if "frozen" in account:
        raise TaskException("account-frozen", f"account {account} is frozen and cannot receive funds")
    return {"entry_id": _ref("cr", ctx.idempotency_key), "account": account, "amount": amount, "currency": currency}


@task("reverse-credit", timeout=10)
async def reverse_credit(transfer_id: str, account: str, amount: float, currency: str) -> dict[str, Any]:
    """Book the opposite of the credit (compensation of ``credit-account``)."""
    await asyncio.sleep(0.01)
    return {"entry_id": _ref("cr-rev", transfer_id), "account": account, "amount": -amount, "currency": currency}


@task("report-transfer", timeout=30)
async def report_transfer(transfer_id: str, debit_entry: str, credit_entry: str, rate: float) -> dict[str, Any]:
    """File the transfer with the regulator; raises ``report-rejected``."""
    await asyncio.sleep(0.01)
    if "report-fail" in transfer_id:
        raise TaskException("report-rejected", f"the regulator rejected the report of transfer {transfer_id}")
    return {"report_id": _ref("rpt", transfer_id), "entries": [debit_entry, credit_entry], "rate": rate}


#: Every task of the currency exchange workflow, for ``Engine.open(..., tasks=TASKS)``.
TASKS = [
    verify_funds,
    lock_fx_rate,
    release_fx_rate,
    debit_account,
    refund_debit,
    credit_account,
    reverse_credit,
    report_transfer,
]
