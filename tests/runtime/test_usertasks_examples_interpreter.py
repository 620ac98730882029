"""The user task examples (compiled from the DSL, ``examples/specs/``)
driven through the pure interpreter: the seed's card update and the
approval with a deadline escalation."""

from __future__ import annotations

from pathlib import Path

from rtdrive import Driver
from rtusertasks import Index, the_task

from wfc.runtime.interpreter import (
    CompleteUserTask,
    TaskCompleted,
    TaskFailed,
    UserTaskChanged,
    derive_spec_info,
)
from wfc.runtime.interpreter.state import RunStatus, UserTaskStatus
from wfc.specs import WorkflowSpec, loads

SPECS = Path(__file__).resolve().parents[2] / "examples" / "specs"
DAY = 86400.0


def example(name: str) -> WorkflowSpec:
    return loads((SPECS / f"{name}.json").read_text(encoding="utf-8"))


def test_an_expired_card_asks_the_customer_then_support_and_charges_the_new_card() -> None:
    spec = example("card-update")
    assert {"send-card-reminder", "charge-card", "send-receipt"} <= derive_spec_info(spec).tasks
    inputs = {"payment-id": "p-1", "customer": "cus-1", "customer-email": "c@x", "amount": 9.5, "card-token": "old"}
    d = Driver(spec, inputs, now=0.0)
    index = Index()
    d.feed(TaskFailed(dispatch_id=d.dispatch().dispatch_id, name="card-expired", business=True))
    index.apply(d.last.effects)
    handler = next(t.number for t in d.state.threads.values() if t.kind == "handler")
    task = the_task(d.state, handler)
    assert (task.status, task.user, task.group, task.form) == (
        UserTaskStatus.ASSIGNED,
        "cus-1",
        "support",
        "update-card",
    )
    assert task.notes == "The card on file has expired. Enter a new card to complete payment p-1"
    assert d.state.variables["status"] == "waiting-for-card"

    d.fire()  # a day later: the reminder
    [reminder] = d.dispatched()
    assert (reminder.task, reminder.args, d.now) == ("send-card-reminder", ["p-1", "c@x"], DAY)
    d.feed(TaskCompleted(dispatch_id=reminder.dispatch_id))
    d.fire()  # three days after it was assigned: support's alone
    index.apply(d.last.effects)
    task = the_task(d.state, handler)
    assert (task.status, task.user, task.group, d.now) == (UserTaskStatus.UNASSIGNED, None, "support", 3 * DAY)

    d.feed(CompleteUserTask(task_id=task.id, values={"card_token": "new-card"}, by="sue"))
    index.apply(d.last.effects)
    [done] = [e for e in d.last.effects if isinstance(e, UserTaskChanged)]
    assert (done.status, done.by, done.values) == (UserTaskStatus.DONE, "sue", {"card_token": "***"})
    assert d.entries("USER_TASK_COMPLETED") == [{"user_task": task.id, "values": "***", "by": "sue"}]
    recharge = d.dispatch()
    assert (recharge.task, recharge.args[1]) == ("charge-card", "new-card")
    d.complete()
    d.complete()  # the receipt
    assert d.state.status is RunStatus.COMPLETED and d.state.output == "paid"
    assert index.open() == {}


def test_an_expense_nobody_decides_on_escalates_then_expires() -> None:
    spec = example("expense-approval")
    inputs = {"expense-id": "e-1", "employee": "emp", "manager": "boss", "amount": 12.0}
    d = Driver(spec, inputs, now=0.0)
    task = the_task(d.state)
    assert (task.user, task.status) == ("boss", UserTaskStatus.ASSIGNED)
    seen = []
    while d.state.status is RunStatus.RUNNING and d.pending_timers():
        d.fire()
        seen.append((d.now / DAY, [e.kind for e in d.last.journal][:1]))
        for dispatch in d.dispatched():
            d.feed(TaskCompleted(dispatch_id=dispatch.dispatch_id))
    assert seen[0] == (1.0, ["USER_TASK_REMINDED"])
    assert (2.0, ["USER_TASK_REASSIGNED"]) in seen
    assert d.entries("USER_TASK_CANCELLED")[0]["reason"] == "not completed within 604800 s"
    assert d.state.variables["status"] == "expired"


def test_an_approved_expense_is_paid() -> None:
    spec = example("expense-approval")
    d = Driver(spec, {"expense-id": "e-1", "employee": "emp", "manager": "boss", "amount": 12.0}, now=0.0)
    d.feed(CompleteUserTask(task_id=the_task(d.state).id, values={"approved": True, "comment": "ok"}, by="boss"))
    while d.state.status is RunStatus.RUNNING:
        d.complete()
    assert d.state.output == "approved"
