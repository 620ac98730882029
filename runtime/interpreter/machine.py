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

from wfc.runtime.interpreter.base import STEP_BUDGET, UNHANDLEABLE, matches
from wfc.runtime.interpreter.control import Control, refusal
from wfc.runtime.interpreter.messages import (
    Cancel,
    EventArrived,
    Halt,
    Input,
    Limits,
    Redeliver,
    Resume,
    Retry,
    TaskCompleted,
    TaskFailed,
    TaskPolicy,
    TimerFired,
    Transition,
    UnwatchEvent,
)
from wfc.runtime.interpreter.policy import effective_backoff, effective_retries, retry_delay
from wfc.runtime.interpreter.variables import prepare_inputs
from wfc.runtime.state import (
    DoneWait,
    EventWait,
    FailedWait,
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
    ThreadsWait,
    clone_state,
)
from wfc.specs import (
    TaskNode,
    WaitForEventNode,
    WaitForThreadsNode,
    WorkflowSpec,
)

__all__ = ["STEP_BUDGET", "UNHANDLEABLE", "begin", "crash", "step"]


def begin(
    spec: WorkflowSpec,
    run_id: str,
    inputs: Mapping[str, Any] | None,
    now: float,
    policies: Mapping[str, TaskPolicy] | None = None,
    limits: Limits | None = None,
) -> Transition:
    """Create run ``run_id`` of ``spec`` and run it until every thread waits.

    Raises:
        InputError: the inputs do not match the spec's variables.
    """
    variables = prepare_inputs(spec, inputs)
    state = RunState(id=run_id, workflow=spec.name, version=spec.version, created_at=now, updated_at=now)
    machine = Machine(state, spec, now, policies, limits)
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
    machine.settle()
    return machine.transition()


def step(
    state: RunState,
    spec: WorkflowSpec,
    event: Input,
    now: float,
    policies: Mapping[str, TaskPolicy] | None = None,
    limits: Limits | None = None,
) -> Transition:
    """Apply one input to a run. ``state`` is not changed; the new state is in
    the result. Inputs that no longer apply (a result for an attempt nobody
    waits for, a timer already cancelled, anything but a retry after the run
    finished, an operator command that makes no sense now — see
    :func:`~.control.refusal`) give a transition with no effects and no
    journal."""
    machine = Machine(clone_state(state), spec, now, policies, limits)
    if machine.accepts(event):
        machine.apply(event)
        machine.settle()
    return machine.transition()


class Machine(Control):
    """Adds the handling of inputs, and settling the run after each."""

    def accepts(self, event: Input) -> bool:
        """True when ``event`` applies to the run in its current status."""
        if isinstance(event, Cancel | Halt | Resume | Retry):
            return refusal(self.state, self.spec, event) is None
        return not self.state.status.finished

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
            case Cancel():
                self.on_cancel(event)
            case Halt():
                self.on_halt(event)
            case Resume():
                self.on_resume()
            case Retry():
                self.on_retry()
            case Redeliver(dispatch_id=dispatch_id):
                self.on_redeliver(dispatch_id)

    def settle(self) -> None:
        """Run the work the input caused until nothing more can happen now:
        threads move, freeze and thaw, queued children start, interrupts
        start, compensation goes on."""
        state = self.state
        while True:
            self.drain()
            if state.status.finished:
                return
            # One pass to learn which of the slower passes can have work.
            interrupts = suspended = queued = False
            for thread in state.threads.values():
                interrupts = interrupts or thread.interrupt is not None or bool(thread.interrupts)
                suspended = suspended or thread.suspended
                queued = queued or thread.status is ThreadStatus.QUEUED
            halted = state.status is RunStatus.HALTED
            changed = [
                (halted or interrupts or suspended) and self.sync_freezes(),
                queued and self.admit(),
                interrupts and self.advance_interrupts(),
                state.saga is not None and self.advance_saga(),
            ]
            if not any(changed) and not self.queue:
                return

    # ------------------------------------------------------------ inputs

    def task_wait(self, dispatch_id: str) -> tuple[ThreadRun, TaskWait] | None:
        """The running thread waiting for this task attempt (frozen or not)."""
        for thread in self.ordered():
            wait = thread.wait
            if thread.status is ThreadStatus.RUNNING and isinstance(wait, TaskWait) and wait.dispatch_id == dispatch_id:
                return thread, wait
        return None

    def on_task_completed(self, event: TaskCompleted) -> None:
        if self.on_saga_result(event):
            return
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
        error = self.register_compensation(thread, thread.node, wait)
        frozen = self.frozen(thread)
        if error is not None:
            failure = self.expression_failure(thread, thread.node, error)
            if frozen:
                thread.wait = FailedWait(failure=failure)
            else:
                self.fail_node(thread, failure)
        elif frozen:
            thread.wait = DoneWait()  # moves on when it thaws
        else:
            self.proceed(thread, node)

    def on_task_failed(self, event: TaskFailed) -> None:
        if self.on_saga_result(event):
            return
        found = self.task_wait(event.dispatch_id)
        if found is None:
            return
        thread, wait = found
        node = self.node(thread, thread.node)
        frozen = self.frozen(thread)
        kind: FailureKindName = "exception" if event.business else "error"
        if not event.business and isinstance(node, TaskNode):
            policy = self.policies.get(wait.task)
            retries = effective_retries(node, policy)
            if wait.attempt <= retries:
                delay = retry_delay(effective_backoff(node, policy), wait.attempt, wait.idempotency_key)
                retry = RetryWait(
                    idempotency_key=wait.idempotency_key,
                    task=wait.task,
                    attempt=wait.attempt + 1,
                    args=wait.args,
                    timeout=wait.timeout,
                    remaining=delay,
                )
                if not frozen:  # a frozen thread's backoff starts when it thaws
                    retry.due = self.now + delay
                    retry.timer = self.new_timer(retry.due)
                    retry.remaining = None
                thread.wait = retry
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
        failure = Failure(
            name=event.name, message=message, node=thread.node, thread=thread.name, content=event.content, kind=kind
        )
        # What `retry` runs if this fails the run: the next attempt, same key.
        rerun = self.next_attempt(wait)
        if frozen:
            thread.wait = FailedWait(failure=failure, rerun=rerun)
        else:
            self.fail_node(thread, failure, rerun)

    def on_timer(self, timer: int) -> None:
        if self.on_saga_timer(timer):
            return
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
            case ThreadsWait():
                self.threads_timed_out(thread, wait, node.timeout if isinstance(node, WaitForThreadsNode) else None)
            case RetryWait():
                self.dispatch(thread, wait.task, wait.idempotency_key, wait.attempt, wait.args, wait.timeout)
            case _:
                pass

    def threads_timed_out(self, thread: ThreadRun, wait: ThreadsWait, timeout: float | None) -> None:
        """A ``wait_for_threads`` timed out: halt the children, fail with TIMEOUT."""
        wait.timer = wait.due = None
        running = [n for n in wait.children if self.state.threads[n].status.active]
        for number in running:
            self.stop(self.state.threads[number], "wait-failed")
        thread.wait = None
        self.log(thread, "THREADS_TIMEOUT", thread.node, strategy=wait.strategy, running=running)
        # A retry waits again for the same children, with the whole timeout.
        rerun = ThreadsWait(children=wait.children, strategy=wait.strategy, remaining=timeout)
        self.fail_node(
            thread,
            Failure(
                name="TIMEOUT",
                message=f"threads {running} did not finish within {timeout:g} s"
                if timeout is not None
                else f"threads {running} did not finish in time",
                node=thread.node,
                thread=thread.name,
            ),
            rerun,
        )

    def on_event(self, event: EventArrived) -> None:
        if self.on_interrupt(event):
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
        again = self.saga_redelivery(dispatch_id)
        if again is not None:
            self.effects.append(again)
            return
        found = self.task_wait(dispatch_id)
        if found is None:
            return
        thread, wait = found
        self.log(
            thread, "TASK_CLAIMED", thread.node, wait.attempt, task=wait.task, idempotency_key=wait.idempotency_key
        )
        self.effects.append(self.dispatch_effect(thread, wait))


def crash(state: RunState, spec: WorkflowSpec, message: str, now: float, name: str = "INTERNAL_ERROR") -> Transition:
    """Fail a run with ``name``: what the engine does when applying an input
    raised instead of returning a transition (``INTERNAL_ERROR``, a wfc bug),
    or when the transition could not be committed (``RUN_SET_ASIDE``), so one
    broken run never stops the engine. No compensation runs: the run's state
    is not to be trusted further."""
    machine = Machine(clone_state(state), spec, now, None)
    if not machine.state.status.finished:
        root = machine.state.root
        failure = Failure(name=name, message=message, node=root.node, thread=root.name)
        machine.finish(RunStatus.FAILED, failure=failure)
    return machine.transition()
