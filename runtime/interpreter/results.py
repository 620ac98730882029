"""Inputs from the world: task results, timers, events, redeliveries
(those of user tasks' timers and reminders too, see :mod:`.usertasks`)."""

from __future__ import annotations

from typing import Final

from wfc.runtime.interpreter.compensations import register_compensation
from wfc.runtime.interpreter.context import Step, expression_failure, matches
from wfc.runtime.interpreter.copies import TIMED, timer_holders
from wfc.runtime.interpreter.dispatch import dispatch, dispatch_effect, holders
from wfc.runtime.interpreter.inbox import consume
from wfc.runtime.interpreter.interrupts import on_interrupt
from wfc.runtime.interpreter.messages import EventArrived, TaskCompleted, TaskFailed, UnwatchEvent, attempt_seconds
from wfc.runtime.interpreter.policy import effective_backoff, effective_retries
from wfc.runtime.interpreter.retries import arm, next_attempt, retry_after
from wfc.runtime.interpreter.saga import on_saga_result, on_saga_timer, saga_redelivery
from wfc.runtime.interpreter.state import (
    DoneWait,
    EventWait,
    FailedWait,
    Failure,
    FailureKindName,
    InboxEvent,
    RetryWait,
    SleepWait,
    TaskWait,
    ThreadRun,
    ThreadStatus,
    ThreadsWait,
    UserTaskWait,
)
from wfc.runtime.interpreter.stopping import clear_wait, stop
from wfc.runtime.interpreter.threads import fail_node, proceed
from wfc.runtime.interpreter.usertasks import holds_timer, on_reminder_result, on_user_task_timer, reminder_redelivery
from wfc.specs import TaskNode, WaitForEventNode, WaitForThreadsNode


def task_wait(step: Step, dispatch_id: str) -> tuple[ThreadRun, TaskWait] | None:
    """The running thread waiting for this task attempt (frozen or not)."""
    for seen in holders(step.state, dispatch_id):  # read only, and left at the first match
        wait = seen.wait
        if seen.status is ThreadStatus.RUNNING and isinstance(wait, TaskWait) and wait.dispatch_id == dispatch_id:
            thread = step.state.threads[seen.number]
            if isinstance(thread.wait, TaskWait):  # the same wait, fetched to be changed
                return thread, thread.wait
    return None


def on_task_completed(step: Step, event: TaskCompleted) -> None:
    """A task attempt completed: keep its output and move on (on thaw if frozen)."""
    if on_saga_result(step, event) or on_reminder_result(step, event):
        return
    found = task_wait(step, event.dispatch_id)
    if found is None:
        return
    thread, wait = found
    thread.wait = None
    node = step.node(thread, thread.node)
    thread.outputs[thread.node] = event.output
    step.log(
        thread,
        "TASK_COMPLETED",
        thread.node,
        wait.attempt,
        task=wait.task,
        output=step.info.show_output(thread.name, thread.node, event.output),
        duration=attempt_seconds(event),
    )
    error = register_compensation(step, thread, thread.node, wait)
    frozen = step.frozen(thread)
    if error is not None:
        failure = expression_failure(thread, thread.node, error)
        if frozen:
            thread.wait = FailedWait(failure=failure)
        else:
            fail_node(step, thread, failure)
    elif frozen:
        thread.wait = DoneWait()  # moves on when it thaws
    else:
        proceed(step, thread, node)


def on_task_failed(step: Step, event: TaskFailed) -> None:
    """A task attempt failed: retry after its backoff, or fail the node."""
    if on_saga_result(step, event) or on_reminder_result(step, event):
        return
    found = task_wait(step, event.dispatch_id)
    if found is None:
        return
    thread, wait = found
    node = step.node(thread, thread.node)
    frozen = step.frozen(thread)
    kind: FailureKindName = "exception" if event.business else "error"
    if not event.business and isinstance(node, TaskNode):
        policy = step.policies.get(wait.task)
        retries = effective_retries(node, policy)
        retry = retry_after(wait, retries, effective_backoff(node, policy))
        if retry is not None:
            delay = retry.remaining or 0.0
            if not frozen:  # a frozen thread's backoff starts when it thaws
                arm(step, retry)
            thread.wait = retry
            step.log(
                thread,
                "TASK_FAILED",
                thread.node,
                wait.attempt,
                task=wait.task,
                error=event.name,
                message=event.message,
                retry_in=round(delay, 6),
                next_attempt=wait.attempt + 1,
                duration=attempt_seconds(event),
            )
            return
        message = f"{event.message} (attempt {wait.attempt} of {retries + 1}, no retries left)"
    else:
        message = event.message
    step.log(
        thread, "TASK_FAILED", thread.node, wait.attempt, task=wait.task, error=event.name, message=event.message,
        kind=kind, duration=attempt_seconds(event),
    )  # fmt: skip
    thread.wait = None
    failure = Failure(
        name=event.name, message=message, node=thread.node, thread=thread.name, content=event.content, kind=kind
    )
    # What `retry` runs if this fails the run: the next attempt, same key.
    rerun = next_attempt(wait)
    if frozen:
        thread.wait = FailedWait(failure=failure, rerun=rerun)
    else:
        fail_node(step, thread, failure, rerun)


_RUNNING: Final = ThreadStatus.RUNNING  # looked up once: an enum member costs a class attribute lookup


def timer_holder(step: Step, timer: int) -> ThreadRun | None:
    """The running, unfrozen thread whose wait holds durable timer ``timer``
    (fetched): a wait's own timer, or one of its open user task's
    (:func:`~.usertasks.holds_timer`), a user task's first.

    It runs for every timer that fires, and a run with many threads fires
    many timers: it looks only at the threads that may hold the timer
    (:func:`~.copies.timer_holders`, in thread order, as a pass over every
    thread would), reading each wait once."""
    found: ThreadRun | None = None
    threads = step.state.threads
    for number in timer_holders(threads, timer):
        seen = dict.__getitem__(threads, number)  # read only; the holder is fetched
        wait = seen.wait
        kind = type(wait)
        if kind in TIMED:
            if (
                found is None
                and wait.timer == timer  # type: ignore[union-attr]
                and seen.status is _RUNNING
                and not seen.suspended
                and not step.frozen(seen)
            ):
                found = seen
        elif kind is UserTaskWait:
            assert isinstance(wait, UserTaskWait)
            if holds_timer(wait, timer) and seen.status is _RUNNING and not seen.suspended and not step.frozen(seen):
                return step.state.threads[seen.number]
    return None if found is None else step.state.threads[found.number]


def on_timer(step: Step, timer: int) -> None:
    """A durable timer fired: a sleep ends, a wait times out, a retry is
    due, a user task's timer acts."""
    if on_saga_timer(step, timer):
        return
    thread = timer_holder(step, timer)
    if thread is None:
        return
    if isinstance(thread.wait, UserTaskWait):
        on_user_task_timer(step, thread, timer)
        return
    wait = thread.wait
    node = step.node(thread, thread.node)
    match wait:
        case SleepWait():
            thread.wait = None
            step.log(thread, "TIMER_FIRED", thread.node)
            proceed(step, thread, node)
        case EventWait(event=name, correlation=correlation):
            thread.wait = None
            if correlation is not None:
                step.effects.append(UnwatchEvent(thread=thread.number))
            timeout = node.timeout if isinstance(node, WaitForEventNode) else None
            step.log(thread, "EVENT_TIMEOUT", thread.node, event=name)
            fail_node(
                step,
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
            threads_timed_out(step, thread, wait, node.timeout if isinstance(node, WaitForThreadsNode) else None)
        case RetryWait():
            dispatch(step, thread, wait.task, wait.idempotency_key, wait.attempt, wait.args, wait.timeout)
        case _:
            pass


def threads_timed_out(step: Step, thread: ThreadRun, wait: ThreadsWait, timeout: float | None) -> None:
    """A ``wait_for_threads`` timed out: halt the children, fail with TIMEOUT."""
    wait.timer = wait.due = None
    running = [n for n in wait.children if step.peek(n).status.active]
    for number in running:
        stop(step, step.state.threads[number], "wait-failed")
    thread.wait = None
    step.log(thread, "THREADS_TIMEOUT", thread.node, strategy=wait.strategy, running=running)
    # A retry waits again for the same children, with the whole timeout.
    rerun = ThreadsWait(children=wait.children, strategy=wait.strategy, remaining=timeout)
    fail_node(
        step,
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


def on_event(step: Step, event: EventArrived) -> None:
    """An event arrived: an interrupt, the event a thread waits for, or one for the inbox."""
    if on_interrupt(step, event):
        return
    state = step.state
    if any(queued.id == event.event_id for queued in state.inbox):
        return
    inbox_event = InboxEvent(
        id=event.event_id,
        name=event.name,
        payload=event.payload,
        correlation=event.correlation,
        received_at=step.now,
    )
    step.log(None, "EVENT_RECEIVED", event=event.name, event_id=event.event_id, correlation=event.correlation)
    waiter = step.waiting(lambda w: isinstance(w, EventWait) and matches(inbox_event, w.event, w.correlation))
    if waiter is None:
        state.inbox.append(inbox_event)
        return
    clear_wait(step, waiter)
    consume(step, waiter, inbox_event)


def on_redeliver(step: Step, dispatch_id: str) -> None:
    """An attempt lost its process: dispatch it again, same dispatch id."""
    again = saga_redelivery(step, dispatch_id) or reminder_redelivery(step, dispatch_id)
    if again is not None:
        step.effects.append(again)
        return
    found = task_wait(step, dispatch_id)
    if found is None:
        return
    thread, wait = found
    step.log(thread, "TASK_CLAIMED", thread.node, wait.attempt, task=wait.task, idempotency_key=wait.idempotency_key)
    step.effects.append(dispatch_effect(step.state, thread.number, thread.node, wait))
