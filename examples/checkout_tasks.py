"""Simulated tasks of the checkout workflow (``checkout.py``).

No network: prices come from a small catalogue, ids are derived from each
task's idempotency key (stable across retries and crash recovery, like the
idempotency keys of a real payment provider), and failures are driven by the
inputs:

* ``card-token`` containing ``declined``: ``charge-card`` raises the business
  exception ``card-declined``.
* ``order-id`` containing ``bank-down``: ``charge-card`` fails technically
  (``ConnectionError``) on every attempt, so its retries run out.
* ``order-id`` containing ``no-stock``: ``reserve-inventory`` raises
  ``out-of-stock``.
* ``order-id`` containing ``no-carrier``: ``create-shipment`` fails
  technically on every attempt (its retries run out).
* ``order-id`` containing ``email-down``: every ``send-confirmation`` attempt
  fails.
* ``order-id`` containing ``sms-down``: every ``notify-customer`` attempt
  fails.
* ``order-id`` ending in ``-flaky``: the first ``send-confirmation`` attempt
  fails, the retry succeeds.
* an unknown SKU or a quantity below 1: ``validate-cart`` raises
  ``invalid-cart``.
"""

from __future__ import annotations

import asyncio
import hashlib
from typing import Any

from wfc.runtime import TaskContext, TaskException, task

#: Unit prices in EUR of what the simulated shop sells.
CATALOGUE: dict[str, float] = {
    "SKU-KEYBOARD": 89.0,
    "SKU-MOUSE": 29.5,
    "SKU-MONITOR": 249.0,
    "SKU-CABLE": 9.99,
}


def _ref(prefix: str, key: str) -> str:
    return f"{prefix}_{hashlib.sha256(key.encode()).hexdigest()[:12]}"


@task("validate-cart", timeout=10)
def validate_cart(order_id: str, items: list[dict[str, Any]]) -> dict[str, Any]:
    """Price the cart; raises ``invalid-cart`` for unknown SKUs or bad quantities."""
    if not items:
        raise TaskException("invalid-cart", f"order {order_id} has no items")
    priced = []
    for item in items:
        sku, quantity = item.get("sku"), item.get("quantity", 1)
        if sku not in CATALOGUE or not isinstance(quantity, int) or quantity < 1:
            raise TaskException("invalid-cart", f"order {order_id}: cannot sell {quantity!r} x {sku!r}", item)
        priced.append({"sku": sku, "quantity": quantity, "unit_price": CATALOGUE[sku]})
    total = round(sum(i["unit_price"] * i["quantity"] for i in priced), 2)
    return {"items": priced, "total": total, "currency": "EUR"}


@task("create-order", timeout=10)
async def create_order(
    order_id: str, customer_email: str, items: list[dict[str, Any]], total: float, ctx: TaskContext
) -> dict[str, Any]:
    """Record the order in the order database."""
    await asyncio.sleep(0.01)
    return {"order_number": _ref("ord", ctx.idempotency_key), "items": len(items), "total": total}


@task("cancel-order", timeout=10)
async def cancel_order(order_id: str, order_number: str, customer_email: str) -> dict[str, Any]:
    """Mark the order cancelled and tell the customer (compensation of
    ``create-order``, the last to run, so after the refund)."""
    await asyncio.sleep(0.01)
    return {"order_number": order_number, "cancelled": True, "notified": customer_email}


@task("charge-card", timeout=30)
async def charge_card(
    order_id: str, card_token: str, amount: float, currency: str, ctx: TaskContext
) -> dict[str, Any]:
    """Charge the card; raises ``card-declined`` when the bank refuses."""
    await asyncio.sleep(0.01)  # the payment provider
    if "bank-down" in order_id:
        raise ConnectionError(f"payment provider unreachable (attempt {ctx.attempt})")
    if "declined" in card_token:
        raise TaskException(
            "card-declined", f"the bank declined the card for order {order_id}", {"decline_code": "do_not_honor"}
        )
    return {"payment_id": _ref("pay", ctx.idempotency_key), "amount": amount, "currency": currency}


@task("refund-card", timeout=30)
async def refund_card(order_id: str, payment_id: str, amount: float, currency: str) -> dict[str, Any]:
    """Refund a charge in full (compensation of ``charge-card``)."""
    await asyncio.sleep(0.01)
    return {"refund_id": _ref("re", payment_id), "payment_id": payment_id, "amount": amount}


@task("reserve-inventory", timeout=10)
async def reserve_inventory(order_id: str, items: list[dict[str, Any]], ctx: TaskContext) -> dict[str, Any]:
    """Reserve the items in the warehouse; raises ``out-of-stock``."""
    await asyncio.sleep(0.01)
    if "no-stock" in order_id:
        raise TaskException("out-of-stock", f"no stock for order {order_id}", [i["sku"] for i in items])
    return {"reservation_id": _ref("rsv", ctx.idempotency_key), "items": len(items)}


@task("release-inventory", timeout=10)
async def release_inventory(order_id: str, reservation_id: str) -> dict[str, Any]:
    """Give reserved items back (compensation of ``reserve-inventory``)."""
    await asyncio.sleep(0.01)
    return {"reservation_id": reservation_id, "released": True}


@task("create-shipment", timeout=15)
async def create_shipment(
    order_id: str, reservation_id: str, address: dict[str, Any], ctx: TaskContext
) -> dict[str, Any]:
    """Book the carrier; fails technically when the carrier API is down."""
    await asyncio.sleep(0.01)
    if "no-carrier" in order_id:
        raise ConnectionError(f"carrier API unreachable (attempt {ctx.attempt})")
    shipment_id = _ref("shp", ctx.idempotency_key)
    return {
        "shipment_id": shipment_id,
        "tracking_number": "TRK" + shipment_id[-8:].upper(),
        "country": address.get("country", "NL"),
    }


@task("cancel-shipment", timeout=30)
async def cancel_shipment(order_id: str, shipment_id: str) -> dict[str, Any]:
    """Cancel a booked shipment (compensation of ``create-shipment``)."""
    await asyncio.sleep(0.01)
    return {"shipment_id": shipment_id, "cancelled": True}


@task("send-confirmation", timeout=10)
async def send_confirmation(
    order_id: str, customer_email: str, tracking_number: str, ctx: TaskContext
) -> dict[str, Any]:
    """Email the order confirmation through a flaky mail service."""
    await asyncio.sleep(0.01)
    if "email-down" in order_id or (order_id.endswith("-flaky") and ctx.attempt == 1):
        raise ConnectionError(f"mail service unavailable (attempt {ctx.attempt})")
    return {"message_id": _ref("msg", ctx.idempotency_key), "to": customer_email, "tracking": tracking_number}


@task("notify-customer", timeout=10)
async def notify_customer(
    order_id: str, customer_email: str, reason: str, failure: dict[str, Any] | None, ctx: TaskContext
) -> dict[str, Any]:
    """Tell the customer by SMS what went wrong with their order."""
    await asyncio.sleep(0.01)
    if "sms-down" in order_id:
        raise ConnectionError(f"SMS gateway unavailable (attempt {ctx.attempt})")
    detail = (failure or {}).get("message", "")
    return {"message_id": _ref("sms", ctx.idempotency_key), "reason": reason, "detail": detail}


#: Every task of the checkout workflow, for ``Engine.open(..., tasks=TASKS)``.
TASKS = [
    validate_cart,
    create_order,
    cancel_order,
    charge_card,
    refund_card,
    reserve_inventory,
    release_inventory,
    create_shipment,
    cancel_shipment,
    send_confirmation,
    notify_customer,
]
