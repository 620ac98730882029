"""Sagas: compensating the completed steps of a run.

A step with a compensation is recorded when it completes (see
:mod:`.compensations`). When a failure reaches the top
of the run unhandled (and there is something to compensate), when a
``compensate`` node runs, or when an operator cancels with ``compensate``:

1. every thread stops; tasks still running are awaited (not abandoned), so
   a step that completes meanwhile is compensated too;
2. the compensations run one at a time, in reverse order of completion across
   threads, each a durable task dispatch with its own idempotency key (the
   step's key + ``/compensate``) and its own retries;
3. the run ends COMPENSATED (a failure with nothing to compensate ends
   FAILED, a cancellation with nothing to compensate CANCELLED). If a
   compensation still fails after its retries the run ends FAILED with
   ``compensation_failed`` set; the journal shows the failed compensation
   (``COMPENSATION_FAILED``) and each one that did not run
   (``COMPENSATION_SKIPPED``), and ``retry`` runs the failed one again and
   goes on.

The progress lives in the run state (:class:`~wfc.runtime.interpreter.state.Saga`), so a
crash during compensation resumes it; forward steps never run again.
"""

from __future__ import annotations

from wfc.runtime.interpreter.compensations import describe, register_compensation, shown_args
from wfc.runtime.interpreter.context import Step
from wfc.runtime.interpreter.dispatch import dispatch_effect, new_attempt
from wfc.runtime.interpreter.messages import DispatchTask, TaskCompleted, TaskFailed, attempt_seconds
from wfc.runtime.interpreter.policy import DEFAULT_BACKOFF
from wfc.runtime.interpreter.retries import arm, pause, retry_after
from wfc.runtime.interpreter.state import (
    CompensationRecord,
    Draining,
    Failure,
    RetryWait,
    RunStatus,
    Saga,
    SagaCause,
    TaskWait,
)
from wfc.runtime.interpreter.stopping import finish, stop


def start_saga(step: Step, cause: SagaCause, failure: Failure | None, reason: str | None = None) -> None:
    """Stop every thread and start compensating (once running tasks finished)."""
    state = step.state
    saga = Saga(cause=cause, failure=failure, started_at=step.now)
    for seen in step.scan():
        if seen.status.active and isinstance(seen.wait, TaskWait):
            thread = state.threads[seen.number]
            saga.draining.append(Draining(thread=thread.number, node=thread.node, wait=seen.wait))
            thread.wait = None  # not abandoned: its result is awaited
    step.log(
        state.root,
        "COMPENSATION_STARTED",
        cause=cause,
        error=failure.name if failure is not None else None,
        reason=reason,
        completed_steps=len(state.compensations),
        awaiting=[d.wait.task for d in saga.draining] or None,
    )
    for thread in step.scan():
        if thread.status.active:  # stop fetches what it changes
            stop(step, thread, "compensating")
    step.queue.clear()
    state.saga = saga
    state.status = RunStatus.RUNNING


def advance_saga(step: Step) -> bool:
    """Dispatch the next compensation, or end the run when none is left."""
    state = step.state
    saga = state.saga
    if saga is None or state.status.finished:
        return False
    changed = sync_saga_timer(step, saga)
    if state.status is not RunStatus.RUNNING or saga.draining or saga.wait is not None:
        return changed
    if not saga.order and saga.position == 0:
        saga.order = list(reversed(range(len(state.compensations))))
        if saga.order:
            plan = [describe(state.compensations[i]) for i in saga.order]
            step.log(state.root, "COMPENSATION_PLANNED", steps=plan)
    if saga.position >= len(saga.order):
        end_saga(step, saga)
    else:
        dispatch_compensation(step, saga)
    return True


def sync_saga_timer(step: Step, saga: Saga) -> bool:
    """Pause the retry timer of a compensation while the run is halted, and
    arm it again when the run runs."""
    wait = saga.wait
    if not isinstance(wait, RetryWait):
        return False
    status = step.state.status
    if status is RunStatus.HALTED and wait.timer is not None:
        saga.wait = pause(step, wait)
        return True
    if status is RunStatus.RUNNING and wait.timer is None and wait.remaining is not None:
        arm(step, wait)
        return True
    return False


def current(step: Step, saga: Saga) -> CompensationRecord:
    """The compensation running (or failed) now."""
    return step.state.compensations[saga.order[saga.position]]


def dispatch_compensation(step: Step, saga: Saga) -> None:
    """Dispatch the next attempt of the current compensation."""
    record = current(step, saga)
    saga.attempt += 1
    policy = step.policies.get(record.task)
    timeout = policy.timeout if policy is not None else None
    wait = new_attempt(record.task, record.key, saga.attempt, record.args, timeout)
    saga.wait = wait
    step.effects.append(dispatch_effect(step.state, record.thread, record.node, wait))
    step.log(
        step.state.threads.get(record.thread),
        "COMPENSATION_DISPATCHED",
        record.node,
        wait.attempt,
        task=record.task,
        args=shown_args(step, record),
        idempotency_key=record.key,
    )


def saga_redelivery(step: Step, dispatch_id: str) -> DispatchTask | None:
    """The dispatch to repeat when an attempt of the saga (a compensation,
    or a forward task it awaits) lost its process; ``None`` if not the saga's."""
    saga = step.state.saga
    if saga is None or step.state.status.finished:
        return None
    found: tuple[int, str, TaskWait] | None = None
    for draining in saga.draining:
        if draining.wait.dispatch_id == dispatch_id:
            found = (draining.thread, draining.node, draining.wait)
    if isinstance(saga.wait, TaskWait) and saga.wait.dispatch_id == dispatch_id:
        record = current(step, saga)
        found = (record.thread, record.node, saga.wait)
    if found is None:
        return None
    thread, node, wait = found
    return dispatch_effect(step.state, thread, node, wait)


def on_saga_result(step: Step, event: TaskCompleted | TaskFailed) -> bool:
    """Apply a task result that belongs to the saga; False if it does not."""
    saga = step.state.saga
    if saga is None or step.state.status.finished:
        return False
    for index, draining in enumerate(saga.draining):
        if draining.wait.dispatch_id == event.dispatch_id:
            del saga.draining[index]
            drained(step, draining, event)
            return True
    wait = saga.wait
    if not isinstance(wait, TaskWait) or wait.dispatch_id != event.dispatch_id:
        return False
    record = current(step, saga)
    thread = step.state.threads.get(record.thread)
    if isinstance(event, TaskCompleted):
        saga.wait = None
        saga.attempt = 0
        saga.position += 1
        step.log(
            thread, "COMPENSATION_COMPLETED", record.node, wait.attempt, task=record.task,
            duration=attempt_seconds(event),
        )  # fmt: skip
        return True
    policy = step.policies.get(record.task)
    backoff = policy.backoff if policy is not None and policy.backoff is not None else DEFAULT_BACKOFF
    retry = None if event.business else retry_after(wait, record.retries, backoff)
    if retry is not None:
        delay = retry.remaining or 0.0
        saga.wait = retry
        sync_saga_timer(step, saga)
        step.log(
            thread,
            "COMPENSATION_FAILED",
            record.node,
            wait.attempt,
            task=record.task,
            error=event.name,
            message=event.message,
            retry_in=round(delay, 6),
            next_attempt=wait.attempt + 1,
            duration=attempt_seconds(event),
        )
        return True
    saga.wait = None
    fail_saga(step, saga, record, event)
    return True


def on_saga_timer(step: Step, timer: int) -> bool:
    """A compensation's retry is due; False if the timer is not the saga's."""
    saga = step.state.saga
    if saga is None or not isinstance(saga.wait, RetryWait) or saga.wait.timer != timer:
        return False
    saga.wait = None
    if step.state.status is RunStatus.RUNNING:
        dispatch_compensation(step, saga)
    return True


def drained(step: Step, draining: Draining, event: TaskCompleted | TaskFailed) -> None:
    """A task running when compensation began finished."""
    thread = step.state.threads[draining.thread]
    wait = draining.wait
    if isinstance(event, TaskFailed):
        step.log(
            thread, "TASK_FAILED", draining.node, wait.attempt, task=wait.task, error=event.name,
            message=event.message, compensating=True, kind=business_kind(event), duration=attempt_seconds(event),
        )  # fmt: skip
        return
    thread.outputs[draining.node] = event.output
    step.log(
        thread,
        "TASK_COMPLETED",
        draining.node,
        wait.attempt,
        task=wait.task,
        output=step.info.show_output(thread.name, draining.node, event.output),
        compensating=True,
        duration=attempt_seconds(event),
    )
    error = register_compensation(step, thread, draining.node, wait)
    if error is not None:
        step.log(thread, "NODE_FAILED", draining.node, error="EXPRESSION_ERROR", message=error.reason)


def business_kind(event: TaskFailed) -> str | None:
    """``"exception"`` for a business failure (a ``TaskException``), to
    tell it apart in the journal from a technical one, which is left
    unmarked as in every retried failure."""
    return "exception" if event.business else None


def fail_saga(step: Step, saga: Saga, record: CompensationRecord, event: TaskFailed) -> None:
    """A compensation failed for good: the run ends FAILED, flagged."""
    state = step.state
    thread = state.threads.get(record.thread)
    step.log(
        thread,
        "COMPENSATION_FAILED",
        record.node,
        saga.attempt,
        task=record.task,
        error=event.name,
        message=event.message,
        final=True,
        kind=business_kind(event),
        duration=attempt_seconds(event),
    )
    not_run = [state.compensations[i] for i in saga.order[saga.position + 1 :]]
    for skipped in not_run:
        step.log(state.threads.get(skipped.thread), "COMPENSATION_SKIPPED", skipped.node, task=skipped.task)
    cause = saga.failure
    because = f"; compensating because of {cause.name} at node {cause.node!r}" if cause is not None else ""
    failure = Failure(
        name="COMPENSATION_FAILED",
        message=(
            f"compensation {record.task!r} of step {record.node!r} failed ({event.name}: {event.message}); "
            f"{len(not_run)} later compensation(s) did not run{because}. Fix the cause, then retry the run "
            f"to run it again and go on"
        ),
        node=record.node,
        thread=thread.name if thread is not None else "",
        content={
            "error": event.name,
            "message": event.message,
            "not_run": [describe(r) for r in not_run],
            "cause": cause.as_variable() if cause is not None else None,
        },
    )
    state.compensation_failed = True
    finish(step, RunStatus.FAILED, failure=failure, compensation_failed=True)


def end_saga(step: Step, saga: Saga) -> None:
    """Every compensation ran: end the run."""
    ran = [step.state.compensations[i].task for i in saga.order]
    if saga.cause == "failure" and not ran:
        finish(step, RunStatus.FAILED, failure=saga.failure)
    elif saga.cause == "cancel" and not ran:
        finish(step, RunStatus.CANCELLED, reason=saga.failure.message if saga.failure else None)
    else:
        finish(step, RunStatus.COMPENSATED, failure=saga.failure, compensated=ran)
