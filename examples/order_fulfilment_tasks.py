"""Simulated tasks of the order fulfilment workflow (``order_fulfilment.py``).

No network: the warehouse and the carrier are a few lines each, ids are
derived from each task's idempotency key, and failures are driven by the
inputs:

* an item whose ``sku`` contains ``no-stock``: ``pick-item`` raises
  ``out-of-stock``, its child thread fails, and so does the order.
* ``order-id`` ending in ``-flaky``: the first ``pack-item`` attempt of each
  item fails technically; the retry succeeds.
"""

from __future__ import annotations

import asyncio
import hashlib
from typing import Any

from wfc.runtime import TaskContext, TaskException, task


def _ref(prefix: str, key: str) -> str:
    return f"{prefix}_{hashlib.sha256(key.encode()).hexdigest()[:12]}"


@task("pick-item", timeout=60)
async def pick_item(order_id: str, sku: str, quantity: int, ctx: TaskContext) -> dict[str, Any]:
    """Pick ``quantity`` units of ``sku`` into a bin; raises ``out-of-stock``."""
    await asyncio.sleep(0.01)
    if "no-stock" in sku:
        raise TaskException("out-of-stock", f"{sku} is out of stock (order {order_id})", {"sku": sku})
    return {"bin": _ref("bin", ctx.idempotency_key), "sku": sku, "quantity": quantity}


@task("pack-item", timeout=60)
async def pack_item(order_id: str, sku: str, bin_id: str, ctx: TaskContext) -> dict[str, Any]:
    """Pack a picked bin into a parcel; the packing station jams now and then."""
    await asyncio.sleep(0.01)
    if order_id.endswith("-flaky") and ctx.attempt == 1:
        raise RuntimeError(f"packing station jammed while packing {sku}")
    return {"parcel_id": _ref("pcl", ctx.idempotency_key), "bin": bin_id}


@task("ship-order", timeout=60)
async def ship_order(order_id: str, parcels: list[Any], ctx: TaskContext) -> dict[str, Any]:
    """Hand every parcel of the order to the carrier."""
    await asyncio.sleep(0.01)
    shipment_id = _ref("shp", ctx.idempotency_key)
    return {"shipment_id": shipment_id, "tracking_number": "TRK" + shipment_id[-8:].upper(), "parcels": parcels}


@task("send-review-reminder", timeout=10)
async def send_review_reminder(
    order_id: str, customer_email: str, tracking_number: str, ctx: TaskContext
) -> dict[str, Any]:
    """Ask the customer to review the order."""
    await asyncio.sleep(0.01)
    return {"message_id": _ref("msg", ctx.idempotency_key), "to": customer_email}


@task("email-customer", timeout=10)
async def email_customer(
    order_id: str, customer_email: str, template: str, failure: dict[str, Any] | None, ctx: TaskContext
) -> dict[str, Any]:
    """Email the customer about a problem with their order."""
    await asyncio.sleep(0.01)
    return {"message_id": _ref("msg", ctx.idempotency_key), "template": template}


@task("cancel-fulfilment", timeout=30)
async def cancel_fulfilment(order_id: str, event: dict[str, Any] | None) -> dict[str, Any]:
    """Stop picking and packing for a cancelled order."""
    await asyncio.sleep(0.01)
    return {"order_id": order_id, "cancelled": True, "reason": (event or {}).get("reason", "")}


#: Every task of the order fulfilment workflow, for ``Engine.open(..., tasks=TASKS)``.
TASKS = [pick_item, pack_item, ship_order, send_review_reminder, email_customer, cancel_fulfilment]
