"""The two user task examples end to end through the engine, on every store,
in virtual time: ``examples/card_update.py`` (an expired card, a reminder
after a day, support after three, the charge again with the new card) and
``examples/expense_approval.py`` (approved, rejected, and expired by its
cancel timer, which the ``USER_TASK_CANCELLED`` handler rejects)."""

from __future__ import annotations

from typing import Any

import anyio
import pytest
from rtclock import ManualClock, manual_engine
from rtdb import Db
from rtengine import example, recorded

from wfc.runtime import Engine, RunStatus, UserTask, UserTaskStatus

pytestmark = pytest.mark.anyio
DAY = 86400


async def the_task(engine: Engine, run_id: str, status: UserTaskStatus | None = None) -> UserTask:
    """The run's one user task, once it exists (and has ``status``)."""
    with anyio.fail_after(10):
        while True:
            tasks = await engine.list_user_tasks(run_id=run_id, status=None)
            if len(tasks) == 1 and (status is None or tasks[0].status is status):
                return tasks[0]
            assert len(tasks) <= 1, tasks
            await anyio.sleep(0.01)


async def test_card_update_reminds_reassigns_to_support_and_charges_the_new_card(db: Db) -> None:
    spec, tasks = example("card_update")
    calls: list[tuple[str, list[Any]]] = []
    clock = ManualClock()
    async with manual_engine(db.url, clock, tasks=recorded(tasks, calls)) as engine:
        await engine.deploy(spec)
        run_id = await engine.start("card-update", {
            "payment-id": "p-1", "customer": "cust-42", "customer-email": "ana@example.com", "amount": 19.9,
            "card-token": "tok_expired_1"}, run_id="p-1")
        task = await the_task(engine, run_id)
        assert (task.status, task.user, task.group, task.form.name) == (UserTaskStatus.ASSIGNED, "cust-42",
                                                                          "support", "update-card")
        assert task.notes == "The card on file has expired. Enter a new card to complete payment p-1"
        assert (await engine.get_run(run_id)).variables["status"] == "waiting-for-card"

        clock.advance(DAY + 1)
        with anyio.fail_after(10):
            while not any(name == "send-card-reminder" for name, _ in calls):
                await anyio.sleep(0.01)
        assert ("send-card-reminder", ["p-1", "ana@example.com"]) in calls
        assert (await the_task(engine, run_id)).status is UserTaskStatus.ASSIGNED

        clock.advance(2 * DAY)
        task = await the_task(engine, run_id, UserTaskStatus.UNASSIGNED)
        assert (task.user, task.group) == (None, "support")
        await engine.claim_user_task(task.id, "sam")
        await engine.complete_user_task(task.id, {"card_token": "tok_visa_4242"}, user="sam")
        run = await engine.wait(run_id, timeout=10)

    assert run.status is RunStatus.COMPLETED and run.output == "paid"
    charges = [args for name, args in calls if name == "charge-card"]
    assert [args[1] for args in charges] == ["tok_expired_1", "tok_visa_4242"]
    assert [name for name, _ in calls].count("send-receipt") == 1


async def decide(db: Db, employee: str, values: dict[str, Any] | None) -> tuple[Any, list[tuple[str, list[Any]]]]:
    """Run an expense approval; the manager completes it with ``values``, or
    nobody does and the clock runs out."""
    spec, tasks = example("expense_approval")
    calls: list[tuple[str, list[Any]]] = []
    clock = ManualClock()
    async with manual_engine(db.url, clock, tasks=recorded(tasks, calls)) as engine:
        await engine.deploy(spec)
        run_id = await engine.start("expense-approval", {
            "expense-id": "e-1", "employee": employee, "manager": "mia", "amount": 42.5,
            "purpose": "train to Lyon"}, run_id="e-1")
        task = await the_task(engine, run_id)
        assert (task.user, task.group, task.notes) == ("mia", None, "Expense e-1 of " + employee + ": train to Lyon")
        if values is not None:
            await engine.complete_user_task(task.id, values, user="mia")
        else:
            clock.advance(2 * DAY + 1)
            task = await the_task(engine, run_id, UserTaskStatus.UNASSIGNED)
            assert task.group == "finance-leads"
            clock.advance(5 * DAY)
            assert (await the_task(engine, run_id, UserTaskStatus.CANCELLED)).group == "finance-leads"
        run = await engine.wait(run_id, timeout=10)
    return run, calls


async def test_an_approved_expense_is_paid(db: Db) -> None:
    run, calls = await decide(db, "eve", {"approved": True, "comment": "ok"})
    assert run.status is RunStatus.COMPLETED and run.output == "approved"
    assert [name for name, _ in calls] == ["pay-expense", "notify-employee"]
    assert calls[1][1] == ["e-1", "eve", "approved", "ok"]


async def test_a_rejected_expense_is_not_paid(db: Db) -> None:
    run, calls = await decide(db, "eve", {"approved": False})
    assert run.status is RunStatus.COMPLETED and run.output == "rejected"
    assert calls == [("notify-employee", ["e-1", "eve", "rejected", None])]


async def test_an_expense_nobody_decides_on_is_reminded_escalated_and_rejected_as_expired(db: Db) -> None:
    run, calls = await decide(db, "eve", None)
    assert run.status is RunStatus.COMPLETED and run.output == "expired"
    assert [name for name, _ in calls] == ["remind-approver", "notify-employee"]
    assert calls[1][1] == ["e-1", "eve", "expired", "nobody decided on the expense in time"]
