"""User tasks: work for a person inside a workflow (LittleHorse's semantics).

Entering a ``user_task`` node evaluates its ``user``, ``group`` and
``notes`` (strings; an empty or null one counts as unset, and at least one
of user and group must be set, else the node fails with
``EXPRESSION_ERROR``), creates the task (:class:`~.state.UserTaskWait`, id
:func:`~.userrecords.user_task_id`) ASSIGNED when it has a user, else
UNASSIGNED, and arms one durable timer per ``node.timers`` entry.

What people do (the five inputs), each journaled with ``user_task`` (its id)
and ``by`` (who did it; absent for the workflow, a timer or an operator), and
each telling the shell the new row (:class:`~.messages.UserTaskChanged`):

* claim(user): UNASSIGNED becomes ASSIGNED to ``user``; claiming one already
  assigned to that user changes nothing;
* release: ASSIGNED with a group becomes UNASSIGNED;
* reassign(user, group): the given ones replace the old (a group alone
  clears the user, so the task is UNASSIGNED in the new group);
* complete(values): values that fit the form (:func:`wfc.specs.form_problems`)
  make the task DONE and are the node's output (:func:`wfc.specs.form_output`);
* cancel(reason): the task is CANCELLED and its node fails with
  ``USER_TASK_CANCELLED`` (kind ``error``, handleable; ``retry`` of a run it
  failed enters the node again, with a new task).

Whether an input may apply is :func:`user_task_refusal`, a pure function of
the state: the shell raises the matching error from it before applying the
input, and :func:`on_user_task` applies nothing it refuses.

A frozen thread (halted run, interrupt) keeps its task open to people:
claim, release and reassign apply at once; a completion or cancellation is
applied to the task at once and reaches the node when the thread thaws
(:class:`~.state.DoneWait`, :class:`~.state.FailedWait`). Its timers are
withdrawn with their time left kept, and re-armed on thaw (:mod:`.interrupts`).

Timers act like the inputs, by nobody (journal ``timer: true``): reassign
and cancel; release, which does nothing to a task with no user or no group
(nor does a reassign whose user and group evaluate to nothing: both journal
``USER_TASK_TIMER_SKIPPED``, for the fired timer leaves the state and the
shell commits only steps that journal or have effects); remind, which
dispatches the reminder task (retried per its task policy by the one retry
scheduler) while the task is open. A reminder's result changes
nothing in the flow; it is journaled, and a reminder still running when the
task closes is abandoned.
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec

from wfc.runtime.interpreter.context import Scope, Step, expression_failure
from wfc.runtime.interpreter.copies import held_timers
from wfc.runtime.interpreter.dispatch import dispatch_effect, holders, new_attempt
from wfc.runtime.interpreter.expressions import ExpressionError, evaluate, type_name
from wfc.runtime.interpreter.messages import (
    CancelUserTask,
    ClaimUserTask,
    CompleteUserTask,
    DispatchTask,
    ReassignUserTask,
    ReleaseUserTask,
    TaskCompleted,
    TaskFailed,
    UserTaskInput,
    attempt_seconds,
)
from wfc.runtime.interpreter.policy import DEFAULT_BACKOFF
from wfc.runtime.interpreter.retries import arm, pause, retry_after
from wfc.runtime.interpreter.secrets import MASK
from wfc.runtime.interpreter.state import (
    DoneWait,
    FailedWait,
    Failure,
    RetryWait,
    RunState,
    TaskWait,
    ThreadRun,
    ThreadStatus,
    UserTaskStatus,
    UserTaskTimerState,
    UserTaskWait,
)
from wfc.runtime.interpreter.threads import fail_node, proceed
from wfc.runtime.interpreter.userrecords import cancel, changed, close, user_task_id
from wfc.specs import Expr, FieldProblem, FormDef, UserTaskNode, UserTaskTimer, WorkflowSpec, form_output, form_problems

RefusalKind = Literal["unknown", "conflict", "invalid"]


class UserTaskRefusal(msgspec.Struct, frozen=True, kw_only=True):
    """Why a user task input cannot apply: the shell raises
    ``UnknownUserTaskError`` (``unknown``), ``UserTaskStateError``
    (``conflict``) or ``UserTaskValuesError`` (``invalid``) from it."""

    kind: RefusalKind
    message: str
    """Why, as a phrase that follows "cannot <action> user task <id>: it is <status>; "."""
    status: UserTaskStatus | None = None
    """The task's status now (``None`` when unknown)."""
    problems: list[FieldProblem] = []
    """For ``invalid``: every problem of the values, each naming its field."""


# ------------------------------------------------------------ finding


def open_task(state: RunState, task_id: str) -> tuple[ThreadRun, UserTaskWait] | None:
    """The thread (as it is now, for reading) holding open user task
    ``task_id``, frozen or not, with its wait."""
    for thread in state.threads.values():  # read only
        wait = thread.wait
        if thread.status is ThreadStatus.RUNNING and isinstance(wait, UserTaskWait) and wait.id == task_id:
            return thread, wait
    return None


def form_of(spec: WorkflowSpec, name: str) -> FormDef:
    """The spec's form ``name`` (one with no fields if the spec lacks it)."""
    return spec.forms.get(name) or FormDef(name=name)


# ------------------------------------------------------------ refusals


def user_task_refusal(state: RunState, spec: WorkflowSpec, command: UserTaskInput) -> UserTaskRefusal | None:
    """Why ``command`` cannot apply to the run's user task now, or ``None``
    when it can (claiming a task already assigned to the same user can: it
    changes nothing). Pure: the shell asks before applying the input."""
    found = open_task(state, command.task_id)
    if found is None:
        # Closed, or never one of the run's: the shell tells which from the
        # task's stored row (a closed task is a conflict).
        return UserTaskRefusal(kind="unknown", message=f"run {state.id!r} has no open user task {command.task_id!r}")
    _, wait = found
    status = wait.status

    def conflict(message: str) -> UserTaskRefusal:
        return UserTaskRefusal(kind="conflict", message=message, status=status)

    def invalid(message: str, problems: list[FieldProblem]) -> UserTaskRefusal:
        return UserTaskRefusal(kind="invalid", message=message, status=status, problems=problems)

    match command:
        case ClaimUserTask(user=user):
            if not user:
                return invalid("claiming needs a user", [FieldProblem("user", "must be a non-empty string")])
            if status is UserTaskStatus.ASSIGNED and wait.user != user:
                return conflict(f"it is assigned to {wait.user!r}; release or reassign it first")
        case ReleaseUserTask():
            if status is UserTaskStatus.UNASSIGNED:
                return conflict("it is not assigned to anyone")
            if not wait.group:
                return conflict("it has no group to release it to; reassign it instead")
        case ReassignUserTask(user=user, group=group):
            if not user and not group:
                return invalid(
                    "reassigning needs a user or a group",
                    [FieldProblem("user", "give a user or a group"), FieldProblem("group", "give a user or a group")],
                )
        case CompleteUserTask(values=values, by=by):
            if status is UserTaskStatus.ASSIGNED and by is not None and by != wait.user:
                return conflict(f"it is assigned to {wait.user!r}")
            problems = form_problems(form_of(spec, wait.form), values)
            if problems:
                listed = "; ".join(str(p) for p in problems)
                return invalid(f"the values do not fit form {wait.form!r}: {listed}", problems)
        case CancelUserTask():
            pass
    return None


# ------------------------------------------------------------ entering


def text_of(what: str, node_id: str, value: Any) -> str | None:
    """A user, group or notes value: a string, ``None`` for null or empty.

    Raises:
        ExpressionError: it is something else.
    """
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ExpressionError(f"the {what} of user task {node_id!r} must be a string, got {type_name(value)} {value!r}")
    return value


def optional_text(what: str, node_id: str, expr: Expr | None, scope: Scope) -> str | None:
    """Evaluate a user, group or notes expression (unset: ``None``)."""
    return text_of(what, node_id, evaluate(expr, scope)) if expr is not None else None


def assign(step: Step, thread: ThreadRun, node: UserTaskNode, scope: Scope) -> None:
    """Enter a ``user_task`` node: create the task, arm its timers.

    Raises:
        ExpressionError: user, group or notes is not a string, both user
            and group are unset, or the form is not in the spec.
    """
    node_id = thread.node
    user = optional_text("user", node_id, node.user, scope)
    group = optional_text("group", node_id, node.group, scope)
    notes = optional_text("notes", node_id, node.notes, scope)
    if user is None and group is None:
        raise ExpressionError(f"user task {node_id!r} has neither a user nor a group to assign it to")
    if node.form not in step.spec.forms:
        raise ExpressionError(f"user task {node_id!r} uses form {node.form!r}, which the spec does not declare")
    show = step.info.show
    notes = show(thread.name, node.notes, notes)  # only read by people: never a secret
    task_id = user_task_id(step.state.id, thread.number, node_id, thread.visits[node_id])
    wait = UserTaskWait(
        id=task_id,
        form=node.form,
        status=UserTaskStatus.ASSIGNED if user is not None else UserTaskStatus.UNASSIGNED,
        user=user,
        group=group,
        notes=notes,
        assigned_at=step.now,
    )
    for index, timer in enumerate(node.timers):
        due = step.now + timer.after
        wait.timers.append(UserTaskTimerState(index=index, timer=step.new_timer(due), due=due))
    thread.wait = wait
    step.log(
        thread,
        "USER_TASK_ASSIGNED",
        node_id,
        user_task=task_id,
        form=node.form,
        user=show(thread.name, node.user, user),
        group=show(thread.name, node.group, group),
        notes=notes,
        status=wait.status.value,
    )
    changed(step, thread, wait)


# ------------------------------------------------------------ inputs


def on_user_task(step: Step, command: UserTaskInput) -> None:
    """Apply what a person (or a program acting for one) did to a user task.
    Nothing happens when :func:`user_task_refusal` refuses it."""
    if user_task_refusal(step.state, step.spec, command) is not None:
        return
    found = open_task(step.state, command.task_id)
    if found is None:  # pragma: no cover - refused above
        return
    thread = step.state.threads[found[0].number]  # fetched to be changed
    wait = thread.wait
    if not isinstance(wait, UserTaskWait):  # pragma: no cover - the same wait, fetched
        return
    match command:
        case ClaimUserTask(user=user):
            claim(step, thread, wait, user)
        case ReleaseUserTask(by=by):
            release(step, thread, wait, by)
        case ReassignUserTask(user=user, group=group, by=by):
            reassign(step, thread, wait, user or None, group or None, by)
        case CompleteUserTask(values=values, by=by):
            complete(step, thread, wait, values, by)
        case CancelUserTask(reason=reason, by=by):
            cancelled(step, thread, wait, reason or "cancelled", by)


def claim(step: Step, thread: ThreadRun, wait: UserTaskWait, user: str) -> None:
    """``user`` takes the task (nothing to do if it is already theirs)."""
    if wait.status is UserTaskStatus.ASSIGNED and wait.user == user:
        return
    wait.user = user
    wait.status = UserTaskStatus.ASSIGNED
    step.log(thread, "USER_TASK_CLAIMED", thread.node, user_task=wait.id, user=user, by=user)
    changed(step, thread, wait, by=user)


def release(step: Step, thread: ThreadRun, wait: UserTaskWait, by: str | None, timer: bool = False) -> None:
    """The task goes back to its group, unassigned."""
    previous = wait.user
    wait.user = None
    wait.status = UserTaskStatus.UNASSIGNED
    step.log(
        thread,
        "USER_TASK_RELEASED",
        thread.node,
        user_task=wait.id,
        user=previous,
        group=wait.group,
        by=by,
        timer=timer or None,
    )
    changed(step, thread, wait, by=by)


def reassign(
    step: Step,
    thread: ThreadRun,
    wait: UserTaskWait,
    user: str | None,
    group: str | None,
    by: str | None,
    timer: bool = False,
) -> None:
    """Give the task to ``user`` and/or ``group``: a group alone clears the
    user (the task is offered to the new group)."""
    if user is not None:
        wait.user = user
    if group is not None:
        wait.group = group
        if user is None:
            wait.user = None
    wait.status = UserTaskStatus.ASSIGNED if wait.user is not None else UserTaskStatus.UNASSIGNED
    step.log(
        thread,
        "USER_TASK_REASSIGNED",
        thread.node,
        user_task=wait.id,
        user=wait.user,
        group=wait.group,
        status=wait.status.value,
        by=by,
        timer=timer or None,
    )
    changed(step, thread, wait, by=by)


def complete(step: Step, thread: ThreadRun, wait: UserTaskWait, values: dict[str, Any], by: str | None) -> None:
    """The form was submitted: the task is DONE, the values are the node's
    output, the node moves on (when the thread thaws, if it is frozen)."""
    output = form_output(form_of(step.spec, wait.form), values)
    thread.outputs[thread.node] = output
    shown = step.info.show_output(thread.name, thread.node, output)
    step.log(thread, "USER_TASK_COMPLETED", thread.node, user_task=wait.id, values=shown, by=by)
    # The row keeps what was submitted, but not a secret: values that flow
    # into a masked variable are "***" there too.
    kept = dict(values) if shown is output else {k: MASK for k, v in values.items() if v is not None}
    close(step, thread, wait, UserTaskStatus.DONE, by, kept)
    if step.frozen(thread):
        thread.wait = DoneWait()
    else:
        thread.wait = None
        proceed(step, thread, step.node(thread, thread.node))


def cancelled(
    step: Step, thread: ThreadRun, wait: UserTaskWait, reason: str, by: str | None, timer: bool = False
) -> None:
    """Cancel the task: its node fails with ``USER_TASK_CANCELLED`` (when
    the thread thaws, if it is frozen)."""
    cancel(step, thread, wait, reason, by, timer)
    failure = Failure(name="USER_TASK_CANCELLED", message=reason, node=thread.node, thread=thread.name, kind="error")
    if step.frozen(thread):
        thread.wait = FailedWait(failure=failure)
    else:
        thread.wait = None
        fail_node(step, thread, failure)


# ------------------------------------------------------------ timers


def holds_timer(wait: UserTaskWait, timer: int) -> bool:
    """True when durable timer ``timer`` is one of the open user task's own
    or a reminder's retry backoff (what :func:`~.copies.held_timers` lists,
    and the index of timers' threads is built from)."""
    return timer in held_timers(wait)


def on_user_task_timer(step: Step, thread: ThreadRun, timer: int) -> None:
    """Timer ``timer`` of the user task that ``thread`` (fetched, unfrozen)
    waits at fired (see :func:`holds_timer`): act on the task."""
    wait = thread.wait
    assert isinstance(wait, UserTaskWait)
    for index, attempt in enumerate(wait.reminder_attempts):
        if isinstance(attempt, RetryWait) and attempt.timer == timer:
            remind_again(step, thread, wait, index, attempt)
            return
    state = next(t for t in wait.timers if t.timer == timer)
    wait.timers.remove(state)
    node = step.node(thread, thread.node)
    assert isinstance(node, UserTaskNode)
    action = node.timers[state.index]
    try:
        timer_acts(step, thread, wait, state.index, action)
    except ExpressionError as exc:
        failure = expression_failure(thread, thread.node, exc)
        cancel(step, thread, wait, f"its {action.action} timer failed: {exc.reason}", timer=True)
        thread.wait = None
        fail_node(step, thread, failure)


def timer_acts(step: Step, thread: ThreadRun, wait: UserTaskWait, index: int, action: UserTaskTimer) -> None:
    """Do what timer ``action`` (entry ``index`` of the node's timers) does.

    Raises:
        ExpressionError: its user, group or arguments cannot be evaluated.
    """
    scope = Scope(step, thread)
    match action.action:
        case "reassign":
            user = optional_text("user", thread.node, action.user, scope)
            group = optional_text("group", thread.node, action.group, scope)
            if user is not None or group is not None:
                reassign(step, thread, wait, user, group, None, timer=True)
            else:
                skipped(step, thread, wait, action, "its user and group evaluated to nothing")
        case "release":
            if wait.status is UserTaskStatus.ASSIGNED and wait.group:
                release(step, thread, wait, None, timer=True)
            else:
                why = "it has no group to release it to" if wait.user else "it is not assigned to anyone"
                skipped(step, thread, wait, action, why)
        case "cancel":
            cancelled(step, thread, wait, f"not completed within {action.after:g} s", None, timer=True)
        case "remind":
            remind(step, thread, wait, index, action, scope)


def skipped(step: Step, thread: ThreadRun, wait: UserTaskWait, action: UserTaskTimer, why: str) -> None:
    """A timer that had nothing to do: the task does not change (no row is
    written), but the timer is gone from the state, and a step the shell
    commits has a journal entry saying why."""
    step.log(thread, "USER_TASK_TIMER_SKIPPED", thread.node, user_task=wait.id, action=action.action, reason=why)


def remind(step: Step, thread: ThreadRun, wait: UserTaskWait, index: int, action: UserTaskTimer, scope: Scope) -> None:
    """Dispatch the first attempt of a reminder task.

    Raises:
        ExpressionError: an argument cannot be evaluated.
    """
    task = action.task or ""
    args = [evaluate(arg, scope) for arg in action.args]
    key = f"{step.state.id}/{thread.number}/{thread.node}/{thread.visits.get(thread.node, 0)}/remind/{index}"
    policy = step.policies.get(task)
    attempt = new_attempt(task, key, 1, args, policy.timeout if policy is not None else None)
    shown = [step.info.show(thread.name, action.args[i], v) for i, v in enumerate(args)]
    step.log(
        thread,
        "USER_TASK_REMINDED",
        thread.node,
        1,
        user_task=wait.id,
        task=task,
        args=shown,
        dispatch_id=attempt.dispatch_id,
    )
    start_reminder(step, thread, wait, attempt)


def start_reminder(step: Step, thread: ThreadRun, wait: UserTaskWait, attempt: TaskWait) -> None:
    """Keep a reminder attempt as running and dispatch it."""
    wait.reminder_attempts.append(attempt)
    wait.reminders.append(attempt.dispatch_id)
    step.effects.append(dispatch_effect(step.state, thread.number, thread.node, attempt))


def remind_again(step: Step, thread: ThreadRun, wait: UserTaskWait, index: int, retry: RetryWait) -> None:
    """A reminder's backoff ran out: dispatch its next attempt."""
    del wait.reminder_attempts[index]
    attempt = new_attempt(retry.task, retry.idempotency_key, retry.attempt, retry.args, retry.timeout)
    step.log(
        thread,
        "USER_TASK_REMINDED",
        thread.node,
        attempt.attempt,
        user_task=wait.id,
        task=attempt.task,
        dispatch_id=attempt.dispatch_id,
    )
    start_reminder(step, thread, wait, attempt)


# ------------------------------------------------------------ reminders' results


def reminder_of(step: Step, dispatch_id: str) -> tuple[ThreadRun, UserTaskWait, TaskWait] | None:
    """The open task (fetched) whose reminder attempt ``dispatch_id`` is running."""
    for seen in holders(step.state, dispatch_id):  # read only, and left at the first match
        wait = seen.wait
        if seen.status is ThreadStatus.RUNNING and isinstance(wait, UserTaskWait) and dispatch_id in wait.reminders:
            thread = step.state.threads[seen.number]
            fetched = thread.wait
            assert isinstance(fetched, UserTaskWait)
            for attempt in fetched.reminder_attempts:
                if isinstance(attempt, TaskWait) and attempt.dispatch_id == dispatch_id:
                    return thread, fetched, attempt
    return None


def on_reminder_result(step: Step, event: TaskCompleted | TaskFailed) -> bool:
    """A reminder attempt finished: journal it, retry a technical failure
    per the task's policy; the flow does not change. False when
    ``event`` is no running reminder's (a reminder of a task that closed
    was abandoned: its result is ignored)."""
    found = reminder_of(step, event.dispatch_id)
    if found is None:
        return False
    thread, wait, attempt = found
    wait.reminder_attempts.remove(attempt)
    wait.reminders.remove(attempt.dispatch_id)
    common: dict[str, Any] = {"user_task": wait.id, "task": attempt.task, "duration": attempt_seconds(event)}
    if isinstance(event, TaskCompleted):
        step.log(thread, "USER_TASK_REMINDER_COMPLETED", thread.node, attempt.attempt, **common)
        return True
    policy = step.policies.get(attempt.task)
    retries = policy.retries if policy is not None and policy.retries is not None else 0
    backoff = policy.backoff if policy is not None and policy.backoff is not None else DEFAULT_BACKOFF
    retry = None if event.business else retry_after(attempt, retries, backoff)
    detail: dict[str, Any] = {"error": event.name, "message": event.message, **common}
    if event.business:
        detail["kind"] = "exception"
    if retry is None:
        step.log(thread, "USER_TASK_REMINDER_FAILED", thread.node, attempt.attempt, final=True, **detail)
        return True
    delay = retry.remaining or 0.0
    if not step.frozen(thread):  # a frozen thread's backoff starts when it thaws
        arm(step, retry)
    wait.reminder_attempts.append(retry)
    step.log(
        thread,
        "USER_TASK_REMINDER_FAILED",
        thread.node,
        attempt.attempt,
        retry_in=round(delay, 6),
        next_attempt=retry.attempt,
        **detail,
    )
    return True


def reminder_redelivery(step: Step, dispatch_id: str) -> DispatchTask | None:
    """The dispatch to repeat when a running reminder attempt lost its
    process; ``None`` if ``dispatch_id`` is no running reminder's."""
    found = reminder_of(step, dispatch_id)
    if found is None:
        return None
    thread, _, attempt = found
    return dispatch_effect(step.state, thread.number, thread.node, attempt)


# ------------------------------------------------------------ freezing


def pause_user_task(step: Step, wait: UserTaskWait) -> None:
    """Withdraw the task's timers (its own and its reminders' backoffs),
    keeping the time left."""
    wait.timers = [pause(step, t) if t.timer is not None else t for t in wait.timers]
    wait.reminder_attempts = [
        pause(step, a) if isinstance(a, RetryWait) and a.timer is not None else a for a in wait.reminder_attempts
    ]


def arm_user_task(step: Step, wait: UserTaskWait) -> None:
    """Re-arm the timers :func:`pause_user_task` withdrew, with the time left."""
    for timer in wait.timers:
        if timer.timer is None:
            arm(step, timer)
    for attempt in wait.reminder_attempts:
        if isinstance(attempt, RetryWait) and attempt.timer is None:
            arm(step, attempt)
