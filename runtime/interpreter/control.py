"""Operator inputs: halt, resume, cancel, retry, and when they are refused.

* ``halt``: the run becomes HALTED; every thread freezes (see
  :mod:`.interrupts`): nothing new is dispatched, timers pause with the time
  left kept, results of tasks already running are kept. A compensation in
  progress pauses too.
* ``resume``: the run is RUNNING again; timers re-arm with the time that was
  left, kept results are applied, the threads go on where they were.
* ``cancel``: every thread stops, tasks still running are abandoned (their
  results ignored), the run ends CANCELLED. With ``compensate`` the run is
  compensated first (see :mod:`.saga`): it ends COMPENSATED, or CANCELLED
  when there was nothing to compensate.
* ``retry`` of a FAILED run: the node that failed (the origin of the failure,
  possibly in a child or handler thread) runs again with the same inputs — a
  task with the same idempotency key, as its next attempt — and the threads
  that failed or were halted because of it pick up where they were. A run
  whose compensation failed retries that compensation and goes on
  compensating. Failures that would only happen again (a ``fail`` node,
  ``EXPRESSION_ERROR``, ``LOOP_LIMIT``, ``INTERNAL_ERROR``) are refused.
"""

from __future__ import annotations

from wfc.runtime.interpreter.compensations import compensable
from wfc.runtime.interpreter.context import Step
from wfc.runtime.interpreter.messages import Cancel, Halt, OperatorInput, Resume, Retry, WatchEvent
from wfc.runtime.interpreter.saga import start_saga
from wfc.runtime.interpreter.state import (
    EventWait,
    Failure,
    ResumeWait,
    RunState,
    RunStatus,
    ThreadRun,
    ThreadStatus,
    ThreadsWait,
)
from wfc.runtime.interpreter.stopping import finish
from wfc.specs import FailNode, WorkflowSpec

#: Failures a retry would only repeat.
NOT_RETRYABLE = {
    "EXPRESSION_ERROR": "an expression of the workflow failed, and evaluates the same way again",
    "LOOP_LIMIT": "a loop ran without waiting, and would again",
    "INTERNAL_ERROR": "wfc itself failed on this run (a bug; please report it with the run's history)",
    "NOT_SUPPORTED": "this wfc version cannot run that node",
    "RUN_SET_ASIDE": "the engine could not commit a step of this run, and would fail the same way again",
}


def origin(state: RunState) -> ThreadRun:
    """The thread whose own node failure failed the run (following the
    chain of failed handlers and children down from the entrypoint)."""
    thread = state.root
    seen = {thread.number}
    while thread.failed_from is not None and thread.failed_from not in seen:
        thread = state.threads[thread.failed_from]
        seen.add(thread.number)
    return thread


def refusal(state: RunState, spec: WorkflowSpec, command: OperatorInput) -> str | None:
    """Why ``command`` makes no sense for the run now, or ``None`` if it does."""
    status = state.status
    match command:
        case Halt():
            if status is RunStatus.HALTED:
                return "it is already halted; resume it to let it go on"
            if status.finished:
                return "it already finished; only a running run can be halted"
        case Resume():
            if status is RunStatus.RUNNING:
                return "it is not halted"
            if status is RunStatus.FAILED:
                return "it failed; a failed run is retried (engine.retry / `wfc runs retry`), not resumed"
            if status.finished:
                return "it already finished; only a halted run can be resumed"
        case Cancel(compensate=compensate):
            if status.finished:
                return "it already finished; only a running or halted run can be cancelled"
            if compensate and state.saga is not None:
                return "it is already being compensated; cancel without compensate to stop the compensation"
        case Retry():
            return _retry_refusal(state, spec)
    return None


def _retry_refusal(state: RunState, spec: WorkflowSpec) -> str | None:
    status = state.status
    if status is RunStatus.COMPENSATED:
        return "its completed steps were compensated (undone); start a new run instead"
    if status is RunStatus.COMPLETED:
        return "it completed; there is nothing to retry"
    if status is RunStatus.CANCELLED:
        return "it was cancelled; start a new run instead"
    if status is not RunStatus.FAILED:
        return "only a FAILED run can be retried; this one has not failed"
    if state.compensation_failed:
        return None
    failure = state.failure
    if failure is not None and failure.name in NOT_RETRYABLE:
        return f"it failed with {failure.name}: {NOT_RETRYABLE[failure.name]}"
    thread = origin(state)
    cause = thread.failure
    if cause is None or thread.status is not ThreadStatus.FAILED:
        return "wfc cannot tell which node failed"
    if cause.name in NOT_RETRYABLE:
        return f"node {cause.node!r} failed with {cause.name}: {NOT_RETRYABLE[cause.name]}"
    node = spec.threads[thread.name].nodes.get(cause.node)
    if isinstance(node, FailNode):
        return (
            f"it failed at fail node {cause.node!r}, which raises {cause.name!r} every time it runs; "
            f"start a new run instead"
        )
    return None


def on_halt(step: Step, command: Halt) -> None:
    """Halt the run (its threads freeze when the run settles)."""
    step.state.status = RunStatus.HALTED
    step.log(step.state.root, "RUN_HALTED", reason=command.reason or None)


def on_resume(step: Step) -> None:
    """Resume a halted run (its threads thaw when the run settles)."""
    step.state.status = RunStatus.RUNNING
    step.log(step.state.root, "RUN_RESUMED")


def on_cancel(step: Step, command: Cancel) -> None:
    """Cancel the run, compensating first if asked and there is something to undo."""
    reason = command.reason or None
    root = step.state.root
    if command.compensate and compensable(step):
        step.log(root, "RUN_CANCEL_REQUESTED", reason=reason, compensate=True)
        failure = Failure(
            name="CANCELLED",
            message=command.reason or "cancelled by an operator",
            node=root.node,
            thread=root.name,
        )
        start_saga(step, "cancel", failure, reason)
        return
    finish(step, RunStatus.CANCELLED, reason=reason)


def on_retry(step: Step) -> None:
    """Retry a failed run: the failed node (or compensation) runs again."""
    state = step.state
    saga = state.saga
    if state.compensation_failed and saga is not None:
        record = state.compensations[saga.order[saga.position]]
        state.compensation_failed = False
        state.status = RunStatus.RUNNING
        state.failure = saga.failure
        step.log(state.root, "RUN_RETRIED", record.node, compensation=record.task)
        return  # advance_saga dispatches the compensation's next attempt
    start = origin(state)
    failure = state.failure
    state.status = RunStatus.RUNNING
    state.failure = None
    step.log(
        state.root,
        "RUN_RETRIED",
        failure.node if failure else None,
        thread_run=start.number,
        error=failure.name if failure else None,
    )
    # The chain from the entrypoint down to the failed node fails no more.
    chain = [state.root]
    while chain[-1] is not start:
        chain.append(state.threads[chain[-1].failed_from or 0])
    for thread in chain:
        revive(step, thread)
        thread.failed_from = None
    if start.wait is None:
        start.wait = ResumeWait(node=start.node)  # re-enter the failed node
    # Threads halted because the run failed, because a wait the chain
    # resumes failed, or because their (revived) parent failed, go on too.
    revived = {t.number for t in chain}
    awaited = {n for t in chain if isinstance(t.wait, ThreadsWait) for n in t.wait.children}
    for seen in step.scan():
        reason = seen.halt_reason
        if seen.status is not ThreadStatus.HALTED or (
            reason != "run-failed"
            and not (reason == "wait-failed" and seen.number in awaited)
            and not (reason == "parent-ended" and seen.parent in revived)
        ):
            continue
        thread = state.threads[seen.number]
        revive(step, thread)
        revived.add(thread.number)
        if isinstance(thread.wait, ThreadsWait):
            awaited.update(thread.wait.children)


def revive(step: Step, thread: ThreadRun) -> None:
    """Make a failed or halted thread run again from what it waited for
    (thawed when the run settles). One that never started (it was
    queued under the fan-out cap) is queued again."""
    started = bool(thread.visits)
    thread.status = ThreadStatus.RUNNING if started else ThreadStatus.QUEUED
    thread.failure = None
    thread.ended_at = None
    thread.halt_reason = None
    thread.wait = thread.stopped_wait if started else None
    thread.stopped_wait = None
    thread.suspended = started
    step.log(thread, "THREAD_REVIVED", thread.node, queued=None if started else True)
    wait = thread.wait
    if isinstance(wait, EventWait) and wait.correlation is not None:
        step.effects.append(WatchEvent(thread=thread.number, event=wait.event, correlation=wait.correlation))
