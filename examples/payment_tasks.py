"""Simulated tasks of the payment workflow (``payment.py``).

No network: each task computes a plausible answer from its inputs, with
deterministic ids derived from the task's idempotency key, so a retried or
recovered task returns the same ids, as a real payment provider keyed by
idempotency key would.

Inputs that trigger failures:

* ``card-token`` containing ``declined``: the authorization is not approved.
* ``customer-email`` containing ``fraud``: fraud score 0.95 (held for review).
* ``payment-id`` ending in ``-flaky``: the first authorization attempt times
  out (a technical error, retried).
"""

from __future__ import annotations

import asyncio
import hashlib
from typing import Any

from wfc.runtime import TaskContext, task


def _ref(prefix: str, key: str) -> str:
    return f"{prefix}_{hashlib.sha256(key.encode()).hexdigest()[:12]}"


@task("authorize-payment", timeout=10)
async def authorize_payment(
    payment_id: str, card_token: str, amount: float, currency: str, ctx: TaskContext
) -> dict[str, Any]:
    """Reserve ``amount`` on the card; ``status`` is ``approved`` or ``declined``."""
    await asyncio.sleep(0.01)  # the card network
    if payment_id.endswith("-flaky") and ctx.attempt == 1:
        raise TimeoutError(f"card network did not answer for payment {payment_id}")
    if "declined" in card_token:
        return {"status": "declined", "authorization_id": None, "reason": "insufficient funds"}
    return {
        "status": "approved",
        "authorization_id": _ref("auth", ctx.idempotency_key),
        "amount": round(amount, 2),
        "currency": currency,
    }


@task("fraud-check", timeout=5)
def fraud_check(payment_id: str, customer_email: str, amount: float, currency: str) -> dict[str, Any]:
    """Score the payment from 0 (fine) to 1 (fraud); runs in a worker thread."""
    score = 0.95 if "fraud" in customer_email else min(0.6, amount / 10_000)
    return {"payment_id": payment_id, "score": round(score, 3), "model": "rules-v2"}


@task("settle-payment", timeout=30)
async def settle_payment(
    payment_id: str, authorization_id: str, amount: float, currency: str, ctx: TaskContext
) -> dict[str, Any]:
    """Capture the authorized amount."""
    await asyncio.sleep(0.01)
    return {
        "settlement_id": _ref("stl", ctx.idempotency_key),
        "authorization_id": authorization_id,
        "amount": round(amount, 2),
        "currency": currency,
    }


@task("void-authorization", timeout=30)
async def void_authorization(payment_id: str, authorization_id: str) -> dict[str, Any]:
    """Release an authorization without capturing it."""
    await asyncio.sleep(0.01)
    return {"authorization_id": authorization_id, "voided": True}


@task("send-notification", timeout=10)
async def send_notification(customer_email: str, template: str, payment_id: str, ctx: TaskContext) -> dict[str, Any]:
    """Email the customer; the idempotency key doubles as the message id,
    so a retried send is deduplicated by the mail provider."""
    await asyncio.sleep(0.01)
    return {"message_id": _ref("msg", ctx.idempotency_key), "to": customer_email, "template": template}


#: Every task of the payment workflow, for ``Engine.open(..., tasks=TASKS)``.
TASKS = [authorize_payment, fraud_check, settle_payment, void_authorization, send_notification]
