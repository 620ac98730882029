"""Simulated tasks of the card update workflow (``card_update.py``).

No network: ids are derived from each task's idempotency key, so a retried
or recovered task returns the same ids, as a real payment provider keyed by
idempotency key would.

Inputs that trigger failures:

* ``card-token`` containing ``expired``: ``charge-card`` raises the business
  exception ``card-expired`` (the customer is asked for a new card).
* ``card-token`` containing ``declined``: ``charge-card`` raises
  ``card-declined`` (not handled: the run fails).
* ``payment-id`` ending in ``-flaky``: the first ``charge-card`` attempt
  times out (a technical error, retried).
"""

from __future__ import annotations

import asyncio
import hashlib
from typing import Any

from wfc.runtime import TaskContext, TaskException, task


def _ref(prefix: str, key: str) -> str:
    return f"{prefix}_{hashlib.sha256(key.encode()).hexdigest()[:12]}"


@task("charge-card", timeout=30)
async def charge_card(
    payment_id: str, card_token: str, amount: float, currency: str, ctx: TaskContext
) -> dict[str, Any]:
    """Charge ``amount`` to the card; raises ``card-expired`` or ``card-declined``."""
    await asyncio.sleep(0.01)  # the card network
    if payment_id.endswith("-flaky") and ctx.attempt == 1:
        raise TimeoutError(f"card network did not answer for payment {payment_id}")
    if "expired" in card_token:
        raise TaskException("card-expired", f"the card of payment {payment_id} has expired",
                            {"payment_id": payment_id})
    if "declined" in card_token:
        raise TaskException("card-declined", f"the bank declined payment {payment_id}", {"payment_id": payment_id})
    return {"charge_id": _ref("ch", ctx.idempotency_key), "amount": round(amount, 2), "currency": currency}


@task("send-card-reminder", timeout=10)
async def send_card_reminder(payment_id: str, customer_email: str, ctx: TaskContext) -> dict[str, Any]:
    """Email the customer that a payment waits for a new card; the
    idempotency key doubles as the message id, so a retried send is
    deduplicated by the mail provider."""
    await asyncio.sleep(0.01)
    return {"message_id": _ref("msg", ctx.idempotency_key), "to": customer_email, "template": "update-your-card"}


@task("send-receipt", timeout=10)
async def send_receipt(
    payment_id: str, customer_email: str, amount: float, currency: str, ctx: TaskContext
) -> dict[str, Any]:
    """Email the receipt of the payment."""
    await asyncio.sleep(0.01)
    return {"message_id": _ref("msg", ctx.idempotency_key), "to": customer_email, "amount": round(amount, 2),
            "currency": currency}


#: Every task of the card update workflow, for ``Engine.open(..., tasks=TASKS)``.
TASKS = [charge_card, send_card_reminder, send_receipt]
