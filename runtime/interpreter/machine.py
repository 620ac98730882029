"""The interpreter: a pure state machine over a run's threads.

:func:`begin` creates a run; :func:`step` applies one input. Both return a
:class:`Transition` (new state, effects, journal) and never do I/O or read a
clock: ``now`` is an argument. A thread advances through non-blocking nodes
until it reaches one that waits (a task, an event, a timer, a handler thread);
the work is a queue of (thread, node) so deep loops and nested handlers never
recurse.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from wfc.runtime.expressions import ExpressionError, evaluate
from wfc.runtime.interpreter.base import STEP_BUDGET, UNHANDLEABLE, Scope, matches
from wfc.runtime.interpreter.messages import (
    Cancel,
    EventArrived,
    Input,
    Redeliver,
    TaskCompleted,
    TaskFailed,
    TaskPolicy,
    TimerFired,
    Transition,
    UnwatchEvent,
)
from wfc.runtime.interpreter.policy import effective_backoff, effective_retries, retry_delay
from wfc.runtime.interpreter.variables import prepare_inputs
from wfc.runtime.interpreter.walk import Walker
from wfc.runtime.state import (
    CompensationRecord,
    EventWait,
    Failure,
    FailureKindName,
    InboxEvent,
    RetryWait,
    RunState,
    RunStatus,
    SleepWait,
    TaskWait,
    ThreadRun,
    ThreadStatus,
    clone_state,
)
from wfc.specs import (
    TaskNode,
    WaitForEventNode,
    WorkflowSpec,
)

__all__ = ["STEP_BUDGET", "UNHANDLEABLE", "begin", "crash", "step"]


def begin(
    spec: WorkflowSpec,
    run_id: str,
    inputs: Mapping[str, Any] | None,
    now: float,
    policies: Mapping[str, TaskPolicy] | None = None,
) -> Transition:
    """Create run ``run_id`` of ``spec`` and run it until every thread waits.

    Raises:
        InputError: the inputs do not match the spec's variables.
    """
    variables = prepare_inputs(spec, inputs)
    state = RunState(id=run_id, workflow=spec.name, version=spec.version, created_at=now, updated_at=now)
    machine = Machine(state, spec, now, policies)
    root = ThreadRun(number=0, name=spec.entrypoint, kind="entrypoint", variables=variables, started_at=now)
    state.threads[0] = root
    machine.log(
        root,
        "RUN_STARTED",
        workflow=spec.name,
        version=str(spec.version),
        inputs=machine.info.show_variables(dict(inputs or {})),
    )
    machine.queue.append((0, "entrypoint"))
    machine.drain()
    return machine.transition()


def step(
    state: RunState,
    spec: WorkflowSpec,
    event: Input,
    now: float,
    policies: Mapping[str, TaskPolicy] | None = None,
) -> Transition:
    """Apply one input to a run. ``state`` is not changed; the new state is in
    the result. Inputs that no longer apply (a result for an attempt nobody
    waits for, a timer already cancelled, anything after the run finished) give
    a transition with no effects and no journal."""
    machine = Machine(clone_state(state), spec, now, policies)
    if machine.state.status is RunStatus.RUNNING:
        machine.apply(event)
        machine.drain()
    return machine.transition()


class Machine(Walker):
    """Adds the handling of inputs."""

    # ------------------------------------------------------------ inputs

    def apply(self, event: Input) -> None:
        match event:
            case TaskCompleted():
                self.on_task_completed(event)
            case TaskFailed():
                self.on_task_failed(event)
            case TimerFired(timer=timer):
                self.on_timer(timer)
            case EventArrived():
                self.on_event(event)
            case Cancel(reason=reason):
                self.finish(RunStatus.CANCELLED, reason=reason or None)
            case Redeliver(dispatch_id=dispatch_id):
                self.on_redeliver(dispatch_id)

    def task_wait(self, dispatch_id: str) -> tuple[ThreadRun, TaskWait] | None:
        thread = self.waiting(lambda w: isinstance(w, TaskWait) and w.dispatch_id == dispatch_id)
        if thread is None or not isinstance(thread.wait, TaskWait):
            return None
        return thread, thread.wait

    def on_task_completed(self, event: TaskCompleted) -> None:
        found = self.task_wait(event.dispatch_id)
        if found is None:
            return
        thread, wait = found
        thread.wait = None
        node = self.node(thread, thread.node)
        thread.outputs[thread.node] = event.output
        self.log(
            thread,
            "TASK_COMPLETED",
            thread.node,
            wait.attempt,
            task=wait.task,
            output=self.info.show_output(thread.name, thread.node, event.output),
        )
        if isinstance(node, TaskNode) and node.compensation is not None:
            try:
                args = [evaluate(arg, Scope(self, thread)) for arg in node.compensation.args]
            except ExpressionError as exc:
                self.fail_node(thread, self.expression_failure(thread, thread.node, exc))
                return
            self.state.compensations.append(
                CompensationRecord(
                    thread=thread.number,
                    node=thread.node,
                    task=node.compensation.task,
                    args=args,
                    retries=node.compensation.retries,
                    completed_at=self.now,
                    idempotency_key=wait.idempotency_key,
                )
            )
        self.proceed(thread, node)

    def on_task_failed(self, event: TaskFailed) -> None:
        found = self.task_wait(event.dispatch_id)
        if found is None:
            return
        thread, wait = found
        node = self.node(thread, thread.node)
        kind: FailureKindName = "exception" if event.business else "error"
        if not event.business and isinstance(node, TaskNode):
            policy = self.policies.get(wait.task)
            retries = effective_retries(node, policy)
            if wait.attempt <= retries:
                delay = retry_delay(effective_backoff(node, policy), wait.attempt, wait.idempotency_key)
                due = self.now + delay
                timer = self.new_timer(due)
                thread.wait = RetryWait(
                    timer=timer,
                    due=due,
                    idempotency_key=wait.idempotency_key,
                    task=wait.task,
                    attempt=wait.attempt + 1,
                    args=wait.args,
                    timeout=wait.timeout,
                )
                self.log(
                    thread,
                    "TASK_FAILED",
                    thread.node,
                    wait.attempt,
                    task=wait.task,
                    error=event.name,
                    message=event.message,
                    retry_in=round(delay, 6),
                    next_attempt=wait.attempt + 1,
                )
                return
            message = f"{event.message} (attempt {wait.attempt} of {retries + 1}, no retries left)"
        else:
            message = event.message
        self.log(
            thread,
            "TASK_FAILED",
            thread.node,
            wait.attempt,
            task=wait.task,
            error=event.name,
            message=event.message,
            kind=kind,
        )
        thread.wait = None
        self.fail_node(
            thread,
            Failure(
                name=event.name, message=message, node=thread.node, thread=thread.name, content=event.content, kind=kind
            ),
        )

    def on_timer(self, timer: int) -> None:
        thread = self.waiting(lambda w: getattr(w, "timer", None) == timer)
        if thread is None:
            return
        wait = thread.wait
        node = self.node(thread, thread.node)
        match wait:
            case SleepWait():
                thread.wait = None
                self.log(thread, "TIMER_FIRED", thread.node)
                self.proceed(thread, node)
            case EventWait(event=name, correlation=correlation):
                thread.wait = None
                if correlation is not None:
                    self.effects.append(UnwatchEvent(thread=thread.number))
                timeout = node.timeout if isinstance(node, WaitForEventNode) else None
                self.log(thread, "EVENT_TIMEOUT", thread.node, event=name)
                self.fail_node(
                    thread,
                    Failure(
                        name="TIMEOUT",
                        message=f"no event {name!r} arrived within {timeout:g} s"
                        if timeout is not None
                        else f"no event {name!r} arrived in time",
                        node=thread.node,
                        thread=thread.name,
                    ),
                )
            case RetryWait():
                self.dispatch(thread, wait.task, wait.idempotency_key, wait.attempt, wait.args, wait.timeout)
            case _:
                pass

    def on_event(self, event: EventArrived) -> None:
        for thread in self.state.threads.values():
            if thread.status is ThreadStatus.RUNNING and any(
                i.event == event.name for i in self.spec.threads[thread.name].interrupts
            ):
                self.unsupported(thread, thread.node, f"event {event.name!r} is an interrupt, and interrupts are")
                return
        if any(queued.id == event.event_id for queued in self.state.inbox):
            return
        inbox_event = InboxEvent(
            id=event.event_id,
            name=event.name,
            payload=event.payload,
            correlation=event.correlation,
            received_at=self.now,
        )
        self.log(None, "EVENT_RECEIVED", event=event.name, event_id=event.event_id, correlation=event.correlation)
        waiter = self.waiting(lambda w: isinstance(w, EventWait) and matches(inbox_event, w.event, w.correlation))
        if waiter is None:
            self.state.inbox.append(inbox_event)
            return
        self.clear_wait(waiter)
        self.consume(waiter, inbox_event)

    def on_redeliver(self, dispatch_id: str) -> None:
        found = self.task_wait(dispatch_id)
        if found is None:
            return
        thread, wait = found
        self.log(
            thread, "TASK_CLAIMED", thread.node, wait.attempt, task=wait.task, idempotency_key=wait.idempotency_key
        )
        self.effects.append(self.dispatch_effect(thread, wait))


def crash(state: RunState, spec: WorkflowSpec, message: str, now: float) -> Transition:
    """Fail a run with ``INTERNAL_ERROR``: what the engine does when applying an
    input raised instead of returning a transition (a wfc bug), so one broken
    run never stops the engine."""
    machine = Machine(clone_state(state), spec, now, None)
    if machine.state.status is RunStatus.RUNNING:
        root = machine.state.root
        failure = Failure(name="INTERNAL_ERROR", message=message, node=root.node, thread=root.name)
        machine.finish(RunStatus.FAILED, failure=failure)
    return machine.transition()
