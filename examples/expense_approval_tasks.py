"""Simulated tasks of the expense approval workflow (``expense_approval.py``).

No network: ids are derived from each task's idempotency key, so a retried
or recovered task returns the same ids.

Inputs that trigger failures:

* ``employee`` containing ``no-bank``: ``pay-expense`` raises the business
  exception ``no-bank-account`` (not handled: the run fails).
"""

from __future__ import annotations

import asyncio
import hashlib
from typing import Any

from wfc.runtime import TaskContext, TaskException, task


def _ref(prefix: str, key: str) -> str:
    return f"{prefix}_{hashlib.sha256(key.encode()).hexdigest()[:12]}"


@task("remind-approver", timeout=10)
async def remind_approver(expense_id: str, ctx: TaskContext) -> dict[str, Any]:
    """Nudge whoever holds the approval (the chat bot looks the task up by
    its expense id); the idempotency key doubles as the message id."""
    await asyncio.sleep(0.01)
    return {"message_id": _ref("msg", ctx.idempotency_key), "expense_id": expense_id}


@task("pay-expense", timeout=30)
async def pay_expense(expense_id: str, employee: str, amount: float, currency: str, ctx: TaskContext) -> dict[str, Any]:
    """Reimburse the employee; raises ``no-bank-account``."""
    await asyncio.sleep(0.01)
    if "no-bank" in employee:
        raise TaskException("no-bank-account", f"{employee} has no bank account on file", {"expense_id": expense_id})
    return {"transfer_id": _ref("trf", ctx.idempotency_key), "amount": round(amount, 2), "currency": currency}


@task("notify-employee", timeout=10)
async def notify_employee(
    expense_id: str, employee: str, decision: str, comment: str | None, ctx: TaskContext
) -> dict[str, Any]:
    """Tell the employee the decision, with the approver's comment if any."""
    await asyncio.sleep(0.01)
    return {"message_id": _ref("msg", ctx.idempotency_key), "to": employee, "decision": decision,
            "comment": comment or ""}


#: Every task of the expense approval workflow, for ``Engine.open(..., tasks=TASKS)``.
TASKS = [remind_approver, pay_expense, notify_employee]
