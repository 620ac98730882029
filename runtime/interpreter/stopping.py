"""Stopping threads and ending the run.

Threads are structured: when a thread ends, every thread it started that is
still active is halted, so when the run ends no thread is left running. What
a stopped thread waited for is kept (``stopped_wait``) so that ``retry`` of a
failed run can pick it up again. An open user task of a thread that stops
is cancelled (journaled, its row told to the shell, its timers dropped);
``retry`` enters its node again, with a new user task.
"""

from __future__ import annotations

from typing import Any

from wfc.runtime.interpreter.context import Step
from wfc.runtime.interpreter.messages import AbandonTask, CancelTimer, RunFinished, UnwatchEvent
from wfc.runtime.interpreter.retries import kept_timer, next_attempt
from wfc.runtime.interpreter.state import (
    EventWait,
    Failure,
    HaltReason,
    ResumeWait,
    RetryWait,
    RunStatus,
    SleepWait,
    TaskWait,
    ThreadRun,
    ThreadStatus,
    ThreadsWait,
    UserTaskWait,
    Wait,
)
from wfc.runtime.interpreter.userrecords import STOP_REASONS, cancel


def clear_wait(step: Step, thread: ThreadRun, reason: str = "thread-ended") -> None:
    """Withdraw whatever the thread waits for (timers, dispatches, watches;
    an open user task is cancelled, ``reason`` journaled)."""
    match thread.wait:
        case TaskWait(dispatch_id=dispatch_id):
            step.effects.append(AbandonTask(dispatch_id=dispatch_id))
        case RetryWait(timer=timer) | SleepWait(timer=timer) | ThreadsWait(timer=timer):
            if timer is not None:
                step.effects.append(CancelTimer(timer=timer))
        case EventWait(timer=timer, correlation=correlation):
            if timer is not None:
                step.effects.append(CancelTimer(timer=timer))
            if correlation is not None:
                step.effects.append(UnwatchEvent(thread=thread.number))
        case UserTaskWait() as task if task.status.open:
            cancel(step, thread, task, reason)
        case _:
            pass
    thread.wait = None


def kept(step: Step, wait: Wait, node: str = "") -> Wait:
    """The form of ``wait`` kept while it cannot proceed (frozen or
    stopped): timers become time left; a running task becomes its next
    attempt, due at once (same idempotency key); a user task (cancelled as
    its thread stops) becomes entering its node ``node`` again."""
    match wait:
        case TaskWait():
            return next_attempt(wait)
        case UserTaskWait():
            return ResumeWait(node=node)
        case RetryWait() | SleepWait() | EventWait() | ThreadsWait():
            return kept_timer(wait, step.now)
        case _:
            return wait


def pending_move(step: Step, thread: ThreadRun) -> ResumeWait | None:
    """The move of ``thread`` still queued in this step, as a wait that makes
    it when the thread goes on. A thread between two nodes waits for nothing:
    without this, stopping it (then reviving it by ``retry``) would lose
    where it was going and leave it running with nothing to do."""
    for number, node_id in step.queue:
        if number == thread.number:
            return ResumeWait(node=node_id)
    return None


def stop(step: Step, thread: ThreadRun, reason: HaltReason) -> None:
    """Halt ``thread`` and every active thread below it, for good.

    What each waited for is kept in ``stopped_wait`` (``retry`` of a
    failed run picks it up again); tasks running are abandoned.
    """
    for member in step.subtree(thread):
        if not member.status.active:
            continue
        member.stopped_wait = (
            kept(step, member.wait, member.node) if member.wait is not None else pending_move(step, member)
        )
        clear_wait(step, member, STOP_REASONS[reason])
        member.halt_reason = reason
        step.ended(member, ThreadStatus.HALTED)
        step.log(member, "THREAD_HALTED", member.node, reason=reason)


def stop_below(step: Step, thread: ThreadRun, reason: HaltReason) -> None:
    """Halt every active thread below ``thread``."""
    for number in step.children(thread.number):
        child = step.state.threads[number]
        if child.status.active:
            stop(step, child, reason)


def finish(
    step: Step,
    status: RunStatus,
    output: Any = None,
    failure: Failure | None = None,
    shown_output: Any = None,
    reason: str | None = None,
    **detail: Any,
) -> None:
    """End the run: halt every thread, withdraw their waits, journal it."""
    state = step.state
    saga = state.saga
    if saga is not None:
        for draining in saga.draining:
            step.effects.append(AbandonTask(dispatch_id=draining.wait.dispatch_id))
        saga.draining = []
        if isinstance(saga.wait, TaskWait):
            step.effects.append(AbandonTask(dispatch_id=saga.wait.dispatch_id))
        elif saga.wait is not None and saga.wait.timer is not None:
            step.effects.append(CancelTimer(timer=saga.wait.timer))
        saga.wait = None
    halt: HaltReason = "run-ended"
    if status is RunStatus.FAILED:
        halt = "run-failed"
    elif status is RunStatus.CANCELLED:
        halt = "cancelled"
    for thread in step.scan():
        if thread.status.active:  # parents come first: this stops their children too (stop fetches them)
            stop(step, thread, halt)
    state.status = status
    state.output = output
    state.failure = failure
    step.queue.clear()
    if state.migration is not None:  # it never reached a node where it could move
        reason_dropped = f"the run ended ({status.value}) before it could move to version {state.migration.to}"
        step.log(state.root, "MIGRATION_DROPPED", plan=state.migration.plan, reasons=[reason_dropped])
        state.migration = None
    if status is RunStatus.COMPLETED:
        detail["output"] = shown_output
    if failure is not None:
        detail.update(error=failure.name, message=failure.message, failed_node=failure.node)
    step.log(state.root, f"RUN_{status.value}", failure.node if failure else None, reason=reason, **detail)
    step.effects.append(RunFinished(status=status))
