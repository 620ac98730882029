"""Expense approval with a deadline: the manager decides, finance leads take
over when the manager does not, and an expense nobody decides on is rejected.

This is the approval with an escalation of the seed stories:

1. The user task ``approve-expense`` is assigned to the employee's
   ``manager``, with the expense in its notes. The status becomes
   ``waiting-for-approval``.
2. A day later, if it is still open, ``remind-approver`` nudges whoever
   holds it.
3. Two days after it was assigned, if still open, it is reassigned to the
   ``finance-leads`` group: any finance lead may claim it and decide.
4. A week after it was assigned, if still open, it is cancelled: the node
   fails with ``USER_TASK_CANCELLED`` and the handler rejects the expense
   (status ``expired``) and tells the employee. An operator cancelling the
   task (``wfc tasks cancel``) is handled the same way.
5. Decided: approved, ``pay-expense`` reimburses the employee and the status
   becomes ``approved``; not approved, the status becomes ``rejected``.
   Either way ``notify-employee`` tells the employee, with the approver's
   comment.

The run's output is the final status.

Deliberate deviation from the seed: after a handler the thread carries on
after the failed node, which has no output; the decision therefore tests
the status first (``expired``: the handler already rejected it) and reads
the form's ``approved`` only for a task that was completed.

Inputs that drive the simulated tasks (see ``expense_approval_tasks.py``):
an ``employee`` containing ``no-bank`` has no bank account on file, so
``pay-expense`` raises ``no-bank-account``.
"""

from __future__ import annotations

from wfc.dsl import Field, UserTaskForm, VariableHandle, Workflow, WorkflowThread

ONE_DAY = 24 * 3600

#: What the approver fills in.
APPROVE_EXPENSE = UserTaskForm(
    "approve-expense",
    approved=Field(bool, display_name="Approve", description="Reimburse the employee for this expense"),
    comment=Field(str, required=False, display_name="Comment", description="Shown to the employee"),
)


def expense_approval(wf: WorkflowThread) -> VariableHandle:
    """Record the expense approval workflow."""
    expense_id = wf.declare_str("expense-id").required().searchable()
    employee = wf.declare_str("employee").required()
    manager = wf.declare_str("manager").required()
    amount = wf.declare_float("amount").required()
    currency = wf.declare_str("currency").default("EUR")
    purpose = wf.declare_str("purpose").default("")
    status = wf.declare_str("status").default("submitted").searchable()

    status.assign("waiting-for-approval")
    approval = wf.assign_user_task(
        APPROVE_EXPENSE, user=manager,
        notes="Expense " + expense_id + " of " + employee + ": " + purpose,
    )
    approval.remind_after(ONE_DAY, "remind-approver", expense_id)
    approval.reassign_after(2 * ONE_DAY, group="finance-leads")
    approval.cancel_after(7 * ONE_DAY)

    def reject_undecided(t: WorkflowThread) -> None:
        status.assign("expired")
        t.execute("notify-employee", expense_id, employee, "expired", "nobody decided on the expense in time",
                  retries=5, timeout=10)

    wf.handle_error(approval, reject_undecided, error="USER_TASK_CANCELLED")

    def pay(t: WorkflowThread) -> None:
        t.execute("pay-expense", expense_id, employee, amount, currency, retries=3, timeout=30)
        status.assign("approved")
        t.execute("notify-employee", expense_id, employee, "approved", approval["comment"], retries=5, timeout=10)

    def reject(t: WorkflowThread) -> None:
        status.assign("rejected")
        t.execute("notify-employee", expense_id, employee, "rejected", approval["comment"], retries=5, timeout=10)

    # An expired task has no form to read: the handler has already dealt with it.
    wf.do_if(status == "expired", lambda t: None).do_elif(approval["approved"] == True, pay).do_else(reject)  # noqa: E712
    return status


expense_approval_wf = Workflow("expense-approval", expense_approval)
