"""The record of a user task: its id, its row, closing it.

Every change of a user task is told to the shell by one
:class:`~.messages.UserTaskChanged` effect holding the whole new row (the
inbox and lookup index the shell writes in the same commit as the run), and
closing one (DONE or CANCELLED) withdraws what it still holds: its timers,
and the reminder attempts running or waiting to be retried. This module is
low in the layer order because stopping a thread (:mod:`.stopping`) cancels
its open user task; what people and timers do to user tasks is in
:mod:`.usertasks`.
"""

from __future__ import annotations

import hashlib
from typing import Any

from wfc.runtime.interpreter.context import Step
from wfc.runtime.interpreter.messages import AbandonTask, CancelTimer, UserTaskChanged
from wfc.runtime.interpreter.state import (
    HaltReason,
    RetryWait,
    TaskWait,
    ThreadRun,
    UserTaskStatus,
    UserTaskWait,
)


def user_task_id(run_id: str, thread: int, node: str, visit: int) -> str:
    """The id of the user task that visit ``visit`` of node ``node`` of
    thread ``thread`` of run ``run_id`` creates: deterministic (a replay
    gives the same id), unique across runs (the run id is hashed in) and
    new each time the node is entered again (a loop, a ``retry`` after a
    cancellation)."""
    digest = hashlib.sha256(f"{run_id}\x00{thread}\x00{node}\x00{visit}".encode()).hexdigest()
    return f"ut-{digest[:20]}"


def changed(
    step: Step, thread: ThreadRun, wait: UserTaskWait, by: str | None = None, values: dict[str, Any] | None = None
) -> None:
    """Tell the shell the user task's new row."""
    step.effects.append(
        UserTaskChanged(
            id=wait.id,
            thread=thread.number,
            node=thread.node,
            form=wait.form,
            status=wait.status,
            created_at=wait.assigned_at,
            updated_at=step.now,
            user=wait.user,
            group=wait.group,
            notes=wait.notes,
            values=values,
            by=by,
        )
    )


def withdraw(step: Step, wait: UserTaskWait) -> None:
    """Cancel the task's armed timers and abandon its reminder attempts (a
    reminder still running when the task closes is not awaited; its result
    is ignored)."""
    for timer in wait.timers:
        if timer.timer is not None:
            step.effects.append(CancelTimer(timer=timer.timer))
    for attempt in wait.reminder_attempts:
        if isinstance(attempt, TaskWait):
            step.effects.append(AbandonTask(dispatch_id=attempt.dispatch_id))
        elif isinstance(attempt, RetryWait) and attempt.timer is not None:
            step.effects.append(CancelTimer(timer=attempt.timer))
    wait.timers = []
    wait.reminders = []
    wait.reminder_attempts = []


def close(
    step: Step,
    thread: ThreadRun,
    wait: UserTaskWait,
    status: UserTaskStatus,
    by: str | None = None,
    values: dict[str, Any] | None = None,
) -> None:
    """End the task DONE or CANCELLED: withdraw what it holds and write its
    row. The run state keeps no list of closed tasks (it would grow with
    every loop through the node): the row is what tells an input to a closed
    task (a conflict) from one to a task that never was."""
    withdraw(step, wait)
    wait.status = status
    changed(step, thread, wait, by, values)


def cancel(
    step: Step, thread: ThreadRun, wait: UserTaskWait, reason: str, by: str | None = None, timer: bool = False
) -> None:
    """Cancel the open task ``wait`` of ``thread``, journaled. What the
    node does next (fail with ``USER_TASK_CANCELLED``, or nothing because
    its thread stops) is the caller's."""
    step.log(thread, "USER_TASK_CANCELLED", thread.node, user_task=wait.id, reason=reason, by=by, timer=timer or None)
    close(step, thread, wait, UserTaskStatus.CANCELLED, by)


#: The reason journaled when a user task is cancelled because its thread stopped.
STOP_REASONS: dict[HaltReason, str] = {
    "run-ended": "run-ended",
    "run-failed": "run-failed",
    "cancelled": "run-cancelled",
    "compensating": "run-compensating",
    "wait-finished": "wait-finished",
    "wait-failed": "wait-failed",
    "parent-ended": "parent-ended",
}
