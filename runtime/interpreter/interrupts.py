"""Freezing and thawing threads, and interrupts.

A thread is frozen while the run is HALTED, or while an interrupt of the
thread or of a thread above it is handled (the interrupt handler's own
threads excepted). Freezing withdraws its timers and keeps the time that was
left (the clock of a wait's timeout, a sleep or a retry backoff is *paused*);
a task already running goes on, and its result is kept until the thread
thaws. Thawing re-arms the timers with the time left, picks up a kept result,
and lets a waiting ``wait_for_event`` take an event that arrived meanwhile.

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

from typing import Any

from wfc.runtime.interpreter.base import matches
from wfc.runtime.interpreter.messages import CancelTimer, EventArrived, UnwatchEvent
from wfc.runtime.interpreter.threads import Threads
from wfc.runtime.state import (
    DoneWait,
    EventWait,
    FailedWait,
    InboxEvent,
    Interrupt,
    ResumeWait,
    RetryWait,
    RunStatus,
    SleepWait,
    TaskWait,
    ThreadRun,
    ThreadStatus,
    ThreadsWait,
)


class Interrupts(Threads):
    """Adds freezing, thawing and interrupts."""

    # ------------------------------------------------------------ freezing

    def frozen(self, thread: ThreadRun) -> bool:
        """True while the run is halted or an interrupt above (or of) the
        thread is handled and the thread is not part of the handler."""
        if self.state.status is RunStatus.HALTED:
            return True
        below: ThreadRun | None = None
        current: ThreadRun | None = thread
        while current is not None:
            interrupt = current.interrupt
            if interrupt is not None and current.status.active and (below is None or interrupt.handler != below.number):
                return True
            below, current = current, self.parent(current)
        return False

    def sync_freezes(self) -> bool:
        """Freeze threads that must not move and thaw those that may again."""
        changed = False
        for thread in self.ordered():
            if thread.status is not ThreadStatus.RUNNING:
                continue
            frozen = self.frozen(thread)
            if frozen and not thread.suspended:
                self.suspend(thread)
                changed = True
            elif not frozen and thread.suspended:
                self.thaw(thread)
                changed = True
        return changed

    def suspend(self, thread: ThreadRun) -> None:
        """Freeze a thread: withdraw its timers, keeping the time left."""
        wait = thread.wait
        if isinstance(wait, RetryWait | SleepWait | EventWait | ThreadsWait) and wait.timer is not None:
            timer = wait.timer
            kept = self.kept(wait)
            self.clear_timer(timer)
            thread.wait = kept
        thread.suspended = True
        self.log(thread, "THREAD_PAUSED", thread.node, reason=self.pause_reason(thread))

    def pause_reason(self, thread: ThreadRun) -> str:
        """Why a thread freezes, for the journal."""
        if self.state.status is RunStatus.HALTED:
            return "run halted"
        current: ThreadRun | None = thread
        while current is not None:
            if current.interrupt is not None:
                return f"interrupt {current.interrupt.event!r} of thread {current.number}"
            current = self.parent(current)
        return "halted"

    def clear_timer(self, timer: int) -> None:
        """Withdraw a durable timer."""
        self.effects.append(CancelTimer(timer=timer))

    def rearm(self, wait: RetryWait | SleepWait | EventWait | ThreadsWait) -> None:
        """Set a kept wait's timer again with the time that was left."""
        if wait.remaining is None:
            return
        due = self.now + wait.remaining
        wait.timer = self.new_timer(due)
        wait.due = due
        wait.remaining = None

    def thaw(self, thread: ThreadRun) -> None:
        """Let a frozen thread move again from where it was."""
        thread.suspended = False
        self.log(thread, "THREAD_RESUMED", thread.node)
        wait = thread.wait
        match wait:
            case DoneWait():
                thread.wait = None
                self.proceed(thread, self.node(thread, thread.node))
            case FailedWait(failure=failure, rerun=rerun):
                thread.wait = None
                self.fail_node(thread, failure, rerun)
            case ResumeWait(node=node_id):
                thread.wait = None
                self.queue.append((thread.number, node_id))
            case EventWait():
                for index, queued in enumerate(self.state.inbox):
                    if matches(queued, wait.event, wait.correlation):
                        del self.state.inbox[index]
                        thread.wait = None
                        if wait.correlation is not None:
                            self.effects.append(UnwatchEvent(thread=thread.number))
                        self.consume(thread, queued)
                        return
                self.rearm(wait)
            case RetryWait(remaining=remaining) if remaining is not None and remaining <= 0:
                self.dispatch(thread, wait.task, wait.idempotency_key, wait.attempt, wait.args, wait.timeout)
            case SleepWait(remaining=remaining) if remaining is not None and remaining <= 0:
                thread.wait = None
                self.log(thread, "TIMER_FIRED", thread.node)
                self.proceed(thread, self.node(thread, thread.node))
            case RetryWait() | SleepWait():
                self.rearm(wait)
            case ThreadsWait():
                self.rearm(wait)
                self.check_threads(thread)
            case _:
                pass

    def quiet(self, thread: ThreadRun) -> bool:
        """True when no thread from ``thread`` down has a task running."""
        return not any(isinstance(t.wait, TaskWait) for t in self.subtree(thread) if t.status.active)

    # ------------------------------------------------------------ interrupts

    def interrupt_targets(self, name: str) -> list[tuple[ThreadRun, str]]:
        """Active threads with an interrupt definition for event ``name``,
        with the handler thread of each."""
        found = []
        for thread in self.ordered():
            if thread.status is not ThreadStatus.RUNNING:
                continue
            for definition in self.spec.threads[thread.name].interrupts:
                if definition.event == name:
                    found.append((thread, definition.thread))
                    break
        return found

    def on_interrupt(self, event: EventArrived) -> bool:
        """Queue the interrupts an event triggers; False when it triggers none."""
        targets = self.interrupt_targets(event.name)
        for thread, handler in targets:
            thread.interrupts.append(
                Interrupt(
                    event=event.name,
                    event_id=event.event_id,
                    thread=handler,
                    payload=event.payload,
                    received_at=self.now,
                )
            )
            self.log(thread, "INTERRUPT_RECEIVED", thread.node, event=event.name, event_id=event.event_id)
        return bool(targets)

    def advance_interrupts(self) -> bool:
        """Start queued interrupts of threads that may move, and the handlers
        of interrupted threads whose tasks finished."""
        changed = False
        for thread in self.ordered():
            if thread.status is not ThreadStatus.RUNNING:
                continue
            interrupt = thread.interrupt
            if interrupt is None:
                if thread.interrupts and not self.frozen(thread):
                    thread.interrupt = thread.interrupts.pop(0)
                    self.log(thread, "THREAD_INTERRUPTED", thread.node, event=thread.interrupt.event)
                    changed = True
            elif interrupt.handler is None and self.quiet(thread) and self.state.status is RunStatus.RUNNING:
                self.sync_freezes()
                handler = self.spawn(interrupt.thread, "interrupt", thread, {"event": interrupt.payload})
                interrupt.handler = handler.number
                self.log(
                    thread, "INTERRUPT_HANDLER_STARTED", thread.node, event=interrupt.event, handler=handler.number
                )
                changed = True
        return changed

    # Implemented by the walking layer.

    def dispatch(
        self, thread: ThreadRun, task: str, key: str, attempt: int, args: list[Any], timeout: float | None
    ) -> None:
        """Dispatch an attempt of a task and make the thread wait for it (:mod:`.walk`)."""
        raise NotImplementedError

    def consume(self, thread: ThreadRun, event: InboxEvent) -> None:
        """Give an inbox event to the thread waiting at its node (:mod:`.walk`)."""
        raise NotImplementedError
