"""Sagas: compensating the completed steps of a run.

A step (task node) with a compensation is recorded when it completes, with
the compensation's arguments evaluated then. When a failure reaches the top
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

The progress lives in the run state (:class:`~wfc.runtime.state.Saga`), so a
crash during compensation resumes it; forward steps never run again.
"""

from __future__ import annotations

from typing import Any

from wfc.runtime.expressions import ExpressionError, evaluate
from wfc.runtime.interpreter.base import Scope
from wfc.runtime.interpreter.interrupts import Interrupts
from wfc.runtime.interpreter.messages import CancelTimer, DispatchTask, TaskCompleted, TaskFailed
from wfc.runtime.interpreter.policy import DEFAULT_BACKOFF, retry_delay
from wfc.runtime.state import (
    CompensationRecord,
    Draining,
    Failure,
    RetryWait,
    RunStatus,
    Saga,
    SagaCause,
    TaskWait,
    ThreadRun,
)
from wfc.specs import TaskNode


class SagaMachine(Interrupts):
    """Adds compensation."""

    def register_compensation(self, thread: ThreadRun, node_id: str, wait: TaskWait) -> ExpressionError | None:
        """Record a completed step's compensation, if its node has one; the
        arguments are evaluated now (the node's output is already set)."""
        node = self.node(thread, node_id)
        if not isinstance(node, TaskNode) or node.compensation is None:
            return None
        try:
            args = [evaluate(arg, Scope(self, thread)) for arg in node.compensation.args]
        except ExpressionError as exc:
            return exc
        self.state.compensations.append(
            CompensationRecord(
                thread=thread.number,
                node=node_id,
                task=node.compensation.task,
                args=args,
                retries=node.compensation.retries,
                completed_at=self.now,
                idempotency_key=wait.idempotency_key,
            )
        )
        return None

    def compensable(self) -> bool:
        """True when a step completed (or may still complete) that has a compensation."""
        if self.state.compensations:
            return True
        for thread in self.ordered():
            if thread.status.active and isinstance(thread.wait, TaskWait):
                node = self.node(thread, thread.node)
                if isinstance(node, TaskNode) and node.compensation is not None:
                    return True
        return False

    def start_saga(self, cause: SagaCause, failure: Failure | None, reason: str | None = None) -> None:
        """Stop every thread and start compensating (once running tasks finished)."""
        saga = Saga(cause=cause, failure=failure, started_at=self.now)
        for thread in self.ordered():
            if thread.status.active and isinstance(thread.wait, TaskWait):
                saga.draining.append(Draining(thread=thread.number, node=thread.node, wait=thread.wait))
                thread.wait = None  # not abandoned: its result is awaited
        self.log(
            self.state.root,
            "COMPENSATION_STARTED",
            cause=cause,
            error=failure.name if failure is not None else None,
            reason=reason,
            completed_steps=len(self.state.compensations),
            awaiting=[d.wait.task for d in saga.draining] or None,
        )
        for thread in self.ordered():
            if thread.status.active:
                self.stop(thread, "compensating")
        self.queue.clear()
        self.state.saga = saga
        self.state.status = RunStatus.RUNNING

    def advance_saga(self) -> bool:
        """Dispatch the next compensation, or end the run when none is left."""
        saga = self.state.saga
        if saga is None or self.state.status.finished:
            return False
        changed = self.sync_saga_timer(saga)
        if self.state.status is not RunStatus.RUNNING or saga.draining or saga.wait is not None:
            return changed
        if not saga.order and saga.position == 0:
            saga.order = list(reversed(range(len(self.state.compensations))))
            if saga.order:
                plan = [self.describe(self.state.compensations[i]) for i in saga.order]
                self.log(self.state.root, "COMPENSATION_PLANNED", steps=plan)
        if saga.position >= len(saga.order):
            self.end_saga(saga)
        else:
            self.dispatch_compensation(saga)
        return True

    def describe(self, record: CompensationRecord) -> dict[str, Any]:
        """A compensation for the journal."""
        return {"task": record.task, "node": record.node, "thread": record.thread}

    def sync_saga_timer(self, saga: Saga) -> bool:
        """Pause the retry timer of a compensation while the run is halted."""
        wait = saga.wait
        if not isinstance(wait, RetryWait):
            return False
        if self.state.status is RunStatus.HALTED and wait.timer is not None:
            self.effects.append(CancelTimer(timer=wait.timer))
            left = max(0.0, (wait.due or self.now) - self.now)
            wait.timer, wait.due, wait.remaining = None, None, left
            return True
        if self.state.status is RunStatus.RUNNING and wait.timer is None and wait.remaining is not None:
            due = self.now + wait.remaining
            wait.timer, wait.due, wait.remaining = self.new_timer(due), due, None
            return True
        return False

    def current(self, saga: Saga) -> CompensationRecord:
        """The compensation running (or failed) now."""
        return self.state.compensations[saga.order[saga.position]]

    def dispatch_compensation(self, saga: Saga) -> None:
        """Dispatch the next attempt of the current compensation."""
        record = self.current(saga)
        saga.attempt += 1
        policy = self.policies.get(record.task)
        wait = TaskWait(
            dispatch_id=f"{record.key}#{saga.attempt}",
            idempotency_key=record.key,
            task=record.task,
            attempt=saga.attempt,
            args=record.args,
            timeout=policy.timeout if policy is not None else None,
        )
        saga.wait = wait
        effect = self.saga_redelivery(wait.dispatch_id)
        if effect is not None:
            self.effects.append(effect)
        thread = self.state.threads.get(record.thread)
        self.log(
            thread,
            "COMPENSATION_DISPATCHED",
            record.node,
            wait.attempt,
            task=record.task,
            args=self.shown_args(record),
            idempotency_key=record.key,
        )

    def shown_args(self, record: CompensationRecord) -> list[Any]:
        """A compensation's arguments for the journal, masked ones hidden."""
        thread = self.state.threads.get(record.thread)
        if thread is None:
            return record.args
        node = self.node(thread, record.node)
        exprs = node.compensation.args if isinstance(node, TaskNode) and node.compensation is not None else []
        return [
            self.info.show(thread.name, exprs[i] if i < len(exprs) else None, value)
            for i, value in enumerate(record.args)
        ]

    def saga_redelivery(self, dispatch_id: str) -> DispatchTask | None:
        """The dispatch to repeat when an attempt of the saga (a compensation,
        or a forward task it awaits) lost its process; ``None`` if not the saga's."""
        saga = self.state.saga
        if saga is None or self.state.status.finished:
            return None
        found: tuple[int, str, TaskWait] | None = None
        for draining in saga.draining:
            if draining.wait.dispatch_id == dispatch_id:
                found = (draining.thread, draining.node, draining.wait)
        if isinstance(saga.wait, TaskWait) and saga.wait.dispatch_id == dispatch_id:
            record = self.current(saga)
            found = (record.thread, record.node, saga.wait)
        if found is None:
            return None
        thread, node, wait = found
        return DispatchTask(
            dispatch_id=wait.dispatch_id,
            idempotency_key=wait.idempotency_key,
            run_id=self.state.id,
            workflow=self.state.workflow,
            thread=thread,
            node=node,
            task=wait.task,
            args=wait.args,
            attempt=wait.attempt,
            timeout=wait.timeout,
        )

    def on_saga_result(self, event: TaskCompleted | TaskFailed) -> bool:
        """Apply a task result that belongs to the saga; False if it does not."""
        saga = self.state.saga
        if saga is None or self.state.status.finished:
            return False
        for index, draining in enumerate(saga.draining):
            if draining.wait.dispatch_id == event.dispatch_id:
                del saga.draining[index]
                self.drained(draining, event)
                return True
        wait = saga.wait
        if not isinstance(wait, TaskWait) or wait.dispatch_id != event.dispatch_id:
            return False
        record = self.current(saga)
        thread = self.state.threads.get(record.thread)
        if isinstance(event, TaskCompleted):
            saga.wait = None
            saga.attempt = 0
            saga.position += 1
            self.log(thread, "COMPENSATION_COMPLETED", record.node, wait.attempt, task=record.task)
            return True
        policy = self.policies.get(record.task)
        backoff = policy.backoff if policy is not None and policy.backoff is not None else DEFAULT_BACKOFF
        if not event.business and wait.attempt <= record.retries:
            delay = retry_delay(backoff, wait.attempt, record.key)
            retry = RetryWait(
                idempotency_key=record.key,
                task=record.task,
                attempt=wait.attempt + 1,
                args=record.args,
                timeout=wait.timeout,
                remaining=delay,
            )
            saga.wait = retry
            self.sync_saga_timer(saga)
            self.log(
                thread,
                "COMPENSATION_FAILED",
                record.node,
                wait.attempt,
                task=record.task,
                error=event.name,
                message=event.message,
                retry_in=round(delay, 6),
                next_attempt=wait.attempt + 1,
            )
            return True
        saga.wait = None
        self.fail_saga(saga, record, event)
        return True

    def on_saga_timer(self, timer: int) -> bool:
        """A compensation's retry is due; False if the timer is not the saga's."""
        saga = self.state.saga
        if saga is None or not isinstance(saga.wait, RetryWait) or saga.wait.timer != timer:
            return False
        saga.wait = None
        if self.state.status is RunStatus.RUNNING:
            self.dispatch_compensation(saga)
        return True

    def drained(self, draining: Draining, event: TaskCompleted | TaskFailed) -> None:
        """A task running when compensation began finished."""
        thread = self.state.threads[draining.thread]
        wait = draining.wait
        if isinstance(event, TaskFailed):
            self.log(
                thread, "TASK_FAILED", draining.node, wait.attempt, task=wait.task, error=event.name,
                message=event.message, compensating=True,
            )  # fmt: skip
            return
        thread.outputs[draining.node] = event.output
        self.log(
            thread,
            "TASK_COMPLETED",
            draining.node,
            wait.attempt,
            task=wait.task,
            output=self.info.show_output(thread.name, draining.node, event.output),
            compensating=True,
        )
        error = self.register_compensation(thread, draining.node, wait)
        if error is not None:
            self.log(thread, "NODE_FAILED", draining.node, error="EXPRESSION_ERROR", message=error.reason)

    def fail_saga(self, saga: Saga, record: CompensationRecord, event: TaskFailed) -> None:
        """A compensation failed for good: the run ends FAILED, flagged."""
        thread = self.state.threads.get(record.thread)
        self.log(
            thread,
            "COMPENSATION_FAILED",
            record.node,
            saga.attempt,
            task=record.task,
            error=event.name,
            message=event.message,
            final=True,
        )
        not_run = [self.state.compensations[i] for i in saga.order[saga.position + 1 :]]
        for skipped in not_run:
            self.log(self.state.threads.get(skipped.thread), "COMPENSATION_SKIPPED", skipped.node, task=skipped.task)
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
                "not_run": [self.describe(r) for r in not_run],
                "cause": cause.as_variable() if cause is not None else None,
            },
        )
        self.state.compensation_failed = True
        self.finish(RunStatus.FAILED, failure=failure, compensation_failed=True)

    def end_saga(self, saga: Saga) -> None:
        """Every compensation ran: end the run."""
        ran = [self.state.compensations[i].task for i in saga.order]
        if saga.cause == "failure" and not ran:
            self.finish(RunStatus.FAILED, failure=saga.failure)
        elif saga.cause == "cancel" and not ran:
            self.finish(RunStatus.CANCELLED, reason=saga.failure.message if saga.failure else None)
        else:
            self.finish(RunStatus.COMPENSATED, failure=saga.failure, compensated=ran)
