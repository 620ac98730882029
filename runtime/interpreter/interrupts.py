"""Freezing and thawing threads, and interrupts.

A thread is frozen while the run is HALTED, or while an interrupt of the
thread or of a thread above it is handled (the interrupt handler's own
threads excepted). Freezing withdraws its timers and keeps the time that was
left (the clock of a wait's timeout, a sleep or a retry backoff is *paused*);
a task already running goes on, and its result is kept until the thread
thaws. Thawing re-arms the timers with the time left, picks up a kept result,
and lets a waiting ``wait_for_event`` take an event that arrived meanwhile.
A user task stays open to people while its thread is frozen; its timers
pause and re-arm the same way (see :mod:`.usertasks`).

Interrupts (LittleHorse's semantics): an event named by the interrupt
definition of an active thread interrupts it instead of going to the inbox.
The thread and its children freeze at once; when none of them has a task
running any more the handler thread starts, as a child of the interrupted
thread with the payload in its ``event`` variable; when it completes the
thread resumes where it was. A handler that fails fails the interrupted
thread. Interrupts of a thread queue in arrival order, one handled at a time;
an interrupt of a frozen thread waits until it thaws.
"""

from __future__ import annotations

from wfc.runtime.interpreter.context import Step
from wfc.runtime.interpreter.dispatch import dispatch
from wfc.runtime.interpreter.inbox import consume, take_queued
from wfc.runtime.interpreter.messages import EventArrived, UnwatchEvent
from wfc.runtime.interpreter.retries import arm, pause
from wfc.runtime.interpreter.state import (
    DoneWait,
    EventWait,
    FailedWait,
    Interrupt,
    ResumeWait,
    RetryWait,
    RunStatus,
    SleepWait,
    TaskWait,
    ThreadRun,
    ThreadStatus,
    ThreadsWait,
    UserTaskWait,
)
from wfc.runtime.interpreter.threads import check_threads, fail_node, proceed, spawn
from wfc.runtime.interpreter.usertasks import arm_user_task, pause_user_task

# ------------------------------------------------------------ freezing


def sync_freezes(step: Step) -> bool:
    """Freeze threads that must not move and thaw those that may again."""
    changed = False
    for seen in step.scan():
        if seen.status is not ThreadStatus.RUNNING:
            continue
        frozen = step.frozen(seen)
        if frozen and not seen.suspended:
            suspend(step, step.state.threads[seen.number])
            changed = True
        elif not frozen and seen.suspended:
            thaw(step, step.state.threads[seen.number])
            changed = True
    return changed


def suspend(step: Step, thread: ThreadRun) -> None:
    """Freeze a thread: withdraw its timers, keeping the time left."""
    wait = thread.wait
    if isinstance(wait, RetryWait | SleepWait | EventWait | ThreadsWait) and wait.timer is not None:
        thread.wait = pause(step, wait)
    elif isinstance(wait, UserTaskWait):
        pause_user_task(step, wait)
    thread.suspended = True
    step.log(thread, "THREAD_PAUSED", thread.node, reason=pause_reason(step, thread))


def pause_reason(step: Step, thread: ThreadRun) -> str:
    """Why a thread freezes, for the journal."""
    if step.state.status is RunStatus.HALTED:
        return "run halted"
    current: ThreadRun | None = thread
    while current is not None:
        if current.interrupt is not None:
            return f"interrupt {current.interrupt.event!r} of thread {current.number}"
        current = step.parent(current)
    return "halted"


def thaw(step: Step, thread: ThreadRun) -> None:
    """Let a frozen thread move again from where it was."""
    thread.suspended = False
    step.log(thread, "THREAD_RESUMED", thread.node)
    wait = thread.wait
    match wait:
        case DoneWait():
            thread.wait = None
            proceed(step, thread, step.node(thread, thread.node))
        case FailedWait(failure=failure, rerun=rerun):
            thread.wait = None
            fail_node(step, thread, failure, rerun)
        case ResumeWait(node=node_id):
            thread.wait = None
            step.queue.append((thread.number, node_id))
        case EventWait():
            queued = take_queued(step, wait.event, wait.correlation)
            if queued is None:
                arm(step, wait)
                return
            thread.wait = None
            if wait.correlation is not None:
                step.effects.append(UnwatchEvent(thread=thread.number))
            consume(step, thread, queued)
        case RetryWait(remaining=remaining) if remaining is not None and remaining <= 0:
            dispatch(step, thread, wait.task, wait.idempotency_key, wait.attempt, wait.args, wait.timeout)
        case SleepWait(remaining=remaining) if remaining is not None and remaining <= 0:
            thread.wait = None
            step.log(thread, "TIMER_FIRED", thread.node)
            proceed(step, thread, step.node(thread, thread.node))
        case RetryWait() | SleepWait():
            arm(step, wait)
        case ThreadsWait():
            arm(step, wait)
            check_threads(step, thread)
        case UserTaskWait():
            arm_user_task(step, wait)
        case _:
            pass


def quiet(step: Step, thread: ThreadRun) -> bool:
    """True when no thread from ``thread`` down has a task running."""
    return not any(isinstance(t.wait, TaskWait) for t in step.subtree(thread) if t.status.active)


# ------------------------------------------------------------ interrupts


def interrupt_targets(step: Step, name: str) -> list[tuple[ThreadRun, str]]:
    """Active threads with an interrupt definition for event ``name``,
    with the handler thread of each."""
    found = []
    for thread in step.scan():
        if thread.status is not ThreadStatus.RUNNING:
            continue
        for definition in step.spec.threads[thread.name].interrupts:
            if definition.event == name:
                found.append((step.state.threads[thread.number], definition.thread))
                break
    return found


def on_interrupt(step: Step, event: EventArrived) -> bool:
    """Queue the interrupts an event triggers; False when it triggers none."""
    targets = interrupt_targets(step, event.name)
    for thread, handler in targets:
        thread.interrupts.append(
            Interrupt(
                event=event.name,
                event_id=event.event_id,
                thread=handler,
                payload=event.payload,
                received_at=step.now,
            )
        )
        step.log(thread, "INTERRUPT_RECEIVED", thread.node, event=event.name, event_id=event.event_id)
    return bool(targets)


def advance_interrupts(step: Step) -> bool:
    """Start queued interrupts of threads that may move, and the handlers
    of interrupted threads whose tasks finished."""
    changed = False
    for seen in step.scan():
        if seen.status is not ThreadStatus.RUNNING or (seen.interrupt is None and not seen.interrupts):
            continue  # nothing to do: not fetched
        thread = step.state.threads[seen.number]
        interrupt = thread.interrupt
        if interrupt is None:
            if not step.frozen(thread):
                thread.interrupt = thread.interrupts.pop(0)
                step.log(thread, "THREAD_INTERRUPTED", thread.node, event=thread.interrupt.event)
                changed = True
        elif interrupt.handler is None and quiet(step, thread) and step.state.status is RunStatus.RUNNING:
            sync_freezes(step)
            handler = spawn(step, interrupt.thread, "interrupt", thread, {"event": interrupt.payload})
            interrupt.handler = handler.number
            step.log(thread, "INTERRUPT_HANDLER_STARTED", thread.node, event=interrupt.event, handler=handler.number)
            changed = True
    return changed
