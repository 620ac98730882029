"""Thread lifecycle: starting, ending and stopping threads, failures and
their handlers, child threads under the fan-out cap, ``wait_for_threads``,
and ending the run.

Threads are structured: when a thread ends, every thread it started that is
still active is halted, so when the run ends no thread is left running.

How a ``wait_for_threads`` node ends (LittleHorse's strategies): ``ALL``
completes when every child completed and fails as soon as one fails (with
that child's failure); ``FIRST`` ends with the first child to end, completed
or failed; ``ANY`` completes with the first child to complete and fails only
when every child failed (with the failure of the first to fail). An optional
timeout fails the node with ``TIMEOUT``. Children still running when the wait ends are halted. The node's
output is the list of the children's outputs in spawn order (``null`` for a
child that did not complete). A child's business exception reaches the
parent under its own name; a technical error (or a halted child) arrives as
``CHILD_FAILURE``, its content the child's failure.
"""

from __future__ import annotations

from typing import Any

import msgspec

from wfc.runtime.expressions import ExpressionError
from wfc.runtime.interpreter.base import MachineBase, find_handler
from wfc.runtime.interpreter.messages import AbandonTask, CancelTimer, RunFinished, UnwatchEvent
from wfc.runtime.interpreter.variables import initial_variables
from wfc.runtime.state import (
    EventWait,
    Failure,
    HaltReason,
    HandlerWait,
    RetryWait,
    RunStatus,
    SleepWait,
    TaskWait,
    ThreadKind,
    ThreadRun,
    ThreadStatus,
    ThreadsWait,
    Wait,
)


class Threads(MachineBase):
    """Adds thread lifecycle to the base."""

    # ------------------------------------------------------------ starting

    def spawn(
        self, name: str, kind: ThreadKind, parent: ThreadRun, given: dict[str, Any], queued: bool = False
    ) -> ThreadRun:
        """Start a thread run of thread spec ``name`` under ``parent``
        (``queued``: created QUEUED, started later by :meth:`admit`).

        Raises:
            ExpressionError: a child thread's inputs do not match its
                declared variables.
        """
        problems: list[tuple[str, str]] = []
        defs = self.spec.threads[name].variables
        variables = initial_variables(defs, {k: v for k, v in given.items() if k in defs}, problems)
        if problems and kind == "child":
            listed = "; ".join(f"{var!r}: {reason}" for var, reason in problems)
            raise ExpressionError(f"cannot start thread {name!r}: {listed}")
        variables.update({k: v for k, v in given.items() if k not in defs})
        number = self.state.next_thread
        self.state.next_thread += 1
        child = ThreadRun(
            number=number,
            name=name,
            kind=kind,
            parent=parent.number,
            variables=variables,
            started_at=self.now,
            status=ThreadStatus.QUEUED if queued else ThreadStatus.RUNNING,
        )
        self.state.threads[number] = child
        self._children = None
        if queued:
            self.log(child, "THREAD_QUEUED", name=name, kind=kind, parent=parent.number, cap=self.limits.max_children)
        else:
            self.log(child, "THREAD_STARTED", name=name, kind=kind, parent=parent.number)
            self.queue.append((number, "entrypoint"))
        return child

    def running_children(self) -> int:
        """Child threads running now (they count against the fan-out cap)."""
        return sum(1 for t in self.state.threads.values() if t.kind == "child" and t.status is ThreadStatus.RUNNING)

    def spawn_children(self, parent: ThreadRun, name: str, inputs: list[dict[str, Any]]) -> list[int]:
        """Start one child per inputs dict; those above the cap are queued."""
        running = self.running_children()
        numbers = []
        for given in inputs:
            child = self.spawn(name, "child", parent, given, queued=running >= self.limits.max_children)
            running += child.status is ThreadStatus.RUNNING
            numbers.append(child.number)
        return numbers

    def admit(self) -> bool:
        """Start queued children while the cap leaves room, oldest first."""
        queued = [t for t in self.ordered() if t.status is ThreadStatus.QUEUED]
        if not queued:
            return False
        free = self.limits.max_children - self.running_children()
        changed = False
        for thread in queued:
            if free <= 0:
                break
            if self.frozen(thread):
                continue
            thread.status = ThreadStatus.RUNNING
            thread.started_at = self.now
            self.log(thread, "THREAD_STARTED", name=thread.name, kind=thread.kind, parent=thread.parent, queued=True)
            self.queue.append((thread.number, "entrypoint"))
            free -= 1
            changed = True
        return changed

    # ------------------------------------------------------------ waits

    def clear_wait(self, thread: ThreadRun) -> None:
        """Withdraw whatever the thread waits for (timers, dispatches, watches)."""
        match thread.wait:
            case TaskWait(dispatch_id=dispatch_id):
                self.effects.append(AbandonTask(dispatch_id=dispatch_id))
            case RetryWait(timer=timer) | SleepWait(timer=timer) | ThreadsWait(timer=timer):
                if timer is not None:
                    self.effects.append(CancelTimer(timer=timer))
            case EventWait(timer=timer, correlation=correlation):
                if timer is not None:
                    self.effects.append(CancelTimer(timer=timer))
                if correlation is not None:
                    self.effects.append(UnwatchEvent(thread=thread.number))
            case _:
                pass
        thread.wait = None

    def kept(self, wait: Wait) -> Wait:
        """The form of ``wait`` kept while it cannot proceed (frozen or
        stopped): timers become time left; a running task becomes its next
        attempt, due at once (same idempotency key)."""
        match wait:
            case TaskWait():
                return self.next_attempt(wait)
            case RetryWait() | SleepWait() | EventWait() | ThreadsWait():
                remaining = wait.remaining if wait.due is None else max(0.0, wait.due - self.now)
                return msgspec.structs.replace(wait, timer=None, due=None, remaining=remaining)
            case _:
                return wait

    def next_attempt(self, wait: TaskWait) -> RetryWait:
        """The next attempt of a task, same idempotency key, due at once."""
        return RetryWait(
            remaining=0.0,
            idempotency_key=wait.idempotency_key,
            task=wait.task,
            attempt=wait.attempt + 1,
            args=wait.args,
            timeout=wait.timeout,
        )

    # ------------------------------------------------------------ ending threads

    def stop(self, thread: ThreadRun, reason: HaltReason) -> None:
        """Halt ``thread`` and every active thread below it, for good.

        What each waited for is kept in ``stopped_wait`` (``retry`` of a
        failed run picks it up again); tasks running are abandoned.
        """
        for member in self.subtree(thread):
            if not member.status.active:
                continue
            member.stopped_wait = self.kept(member.wait) if member.wait is not None else None
            self.clear_wait(member)
            member.halt_reason = reason
            self.ended(member, ThreadStatus.HALTED)
            self.log(member, "THREAD_HALTED", member.node, reason=reason)

    def stop_below(self, thread: ThreadRun, reason: HaltReason) -> None:
        """Halt every active thread below ``thread``."""
        for number in self.children(thread.number):
            child = self.state.threads[number]
            if child.status.active:
                self.stop(child, reason)

    def fail_node(self, thread: ThreadRun, failure: Failure, rerun: Wait | None = None) -> None:
        """The current node of ``thread`` failed: run its handler, or fail the
        thread (``rerun``: what ``retry`` resumes, if not re-entering the node)."""
        self.log(thread, "NODE_FAILED", thread.node, error=failure.name, message=failure.message, kind=failure.kind)
        node = self.node(thread, thread.node)
        handler = find_handler(node.handlers, failure)
        if handler is None:
            thread.stopped_wait = rerun
            self.fail_thread(thread, failure)
            return
        thread.failed_from = None
        self.log(
            thread,
            "FAILURE_HANDLER_STARTED",
            thread.node,
            handler=handler.thread,
            handler_thread=self.state.next_thread,
            error=failure.name,
        )
        child = self.spawn(handler.thread, "handler", thread, {"failure": failure.as_variable()})
        thread.wait = HandlerWait(handler=child.number, failure=failure)

    def fail_thread(self, thread: ThreadRun, failure: Failure) -> None:
        """End a thread with an unhandled failure. The entrypoint thread's
        reaches the top of the run (compensation, or FAILED); a failure
        handler's or interrupt handler's fails its parent; a child's goes to
        the ``wait_for_threads`` of its parent."""
        if thread.wait is not None:
            thread.stopped_wait = self.kept(thread.wait)
        self.clear_wait(thread)
        thread.failure = failure
        self.ended(thread, ThreadStatus.FAILED)
        parent = self.parent(thread)
        if parent is None:  # the threads still active stop in the saga or finish
            if self.compensable():
                self.start_saga("failure", failure)
            else:
                self.finish(RunStatus.FAILED, failure=failure)
            return
        self.stop_below(thread, "parent-ended")
        self.log(thread, "THREAD_FAILED", thread.node, error=failure.name, message=failure.message)
        if parent.status is not ThreadStatus.RUNNING:
            return
        wait = parent.wait
        if thread.kind == "handler" and isinstance(wait, HandlerWait) and wait.handler == thread.number:
            # The handler of the parent's failed node failed: the parent fails
            # with the handler's failure, unhandled.
            parent.failed_from = thread.number
            self.fail_thread(parent, failure)
        elif thread.kind == "interrupt" and parent.interrupt is not None and parent.interrupt.handler == thread.number:
            self.log(parent, "INTERRUPT_FAILED", parent.node, event=parent.interrupt.event, error=failure.name)
            parent.failed_from = thread.number
            self.fail_thread(parent, failure)
        elif thread.kind == "child":
            self.child_ended(thread)

    def complete_thread(self, thread: ThreadRun, output: Any, shown: Any) -> None:
        """End a thread with its output: a failure handler's parent carries on
        after its failed node, an interrupt handler's resumes, a child's
        parent may stop waiting."""
        thread.output = output
        self.ended(thread, ThreadStatus.COMPLETED)
        parent = self.parent(thread)
        if parent is None:
            self.finish(RunStatus.COMPLETED, output=output, shown_output=shown)
            return
        self.stop_below(thread, "parent-ended")
        self.log(thread, "THREAD_COMPLETED", thread.node, output=shown)
        if parent.status is not ThreadStatus.RUNNING:
            return
        wait = parent.wait
        if thread.kind == "handler" and isinstance(wait, HandlerWait) and wait.handler == thread.number:
            parent.wait = None
            self.log(parent, "FAILURE_HANDLED", parent.node, error=wait.failure.name)
            self.proceed(parent, self.node(parent, parent.node), after_handler=True)
        elif thread.kind == "interrupt" and parent.interrupt is not None and parent.interrupt.handler == thread.number:
            self.log(parent, "INTERRUPT_HANDLED", parent.node, event=parent.interrupt.event, handler=thread.number)
            parent.interrupt = None  # the thread thaws when the run settles
        elif thread.kind == "child":
            self.child_ended(thread)

    # ------------------------------------------------------------ wait_for_threads

    def child_ended(self, child: ThreadRun) -> None:
        """Tell the parent's ``wait_for_threads`` that a child ended."""
        parent = self.parent(child)
        if parent is None or parent.status is not ThreadStatus.RUNNING:
            return
        wait = parent.wait
        if isinstance(wait, ThreadsWait) and child.number in wait.children and not self.frozen(parent):
            self.check_threads(parent)

    def check_threads(self, thread: ThreadRun) -> None:
        """End the thread's ``wait_for_threads`` if its strategy is decided."""
        wait = thread.wait
        if not isinstance(wait, ThreadsWait):
            return
        children = [self.state.threads[n] for n in wait.children]
        ended = sorted((c for c in children if not c.status.active), key=lambda c: c.ended_seq)
        done = [c for c in ended if c.status is ThreadStatus.COMPLETED]
        failed = [c for c in ended if c.status is not ThreadStatus.COMPLETED]
        if not children:
            self.threads_done(thread, wait, children)
        elif wait.strategy == "FIRST":
            if ended and ended[0].status is ThreadStatus.COMPLETED:
                self.threads_done(thread, wait, children)
            elif ended:
                self.threads_failed(thread, wait, ended[0])
        elif wait.strategy == "ANY":
            if done:
                self.threads_done(thread, wait, children)
            elif len(failed) == len(children):
                self.threads_failed(thread, wait, failed[0])
        elif failed:  # ALL
            self.threads_failed(thread, wait, failed[0])
        elif len(done) == len(children):
            self.threads_done(thread, wait, children)

    def threads_done(self, thread: ThreadRun, wait: ThreadsWait, children: list[ThreadRun]) -> None:
        """The wait completed: halt the children still running, hand back the outputs."""
        outputs = [c.output if c.status is ThreadStatus.COMPLETED else None for c in children]
        for child in children:
            if child.status.active:
                self.stop(child, "wait-finished")
        self.clear_wait(thread)
        thread.outputs[thread.node] = outputs
        completed = [c.number for c in children if c.status is ThreadStatus.COMPLETED]
        self.log(thread, "THREADS_COMPLETED", thread.node, strategy=wait.strategy, completed=completed)
        self.proceed(thread, self.node(thread, thread.node))

    def threads_failed(self, thread: ThreadRun, wait: ThreadsWait, child: ThreadRun) -> None:
        """The wait failed because of ``child``: halt the others, fail the node."""
        for other in (self.state.threads[n] for n in wait.children):
            if other.status.active:
                self.stop(other, "wait-failed")
        kept = self.kept(wait)
        self.clear_wait(thread)
        cause = child.failure
        if cause is not None and cause.kind == "exception":
            failure = Failure(
                name=cause.name,
                message=cause.message,
                content=cause.content,
                kind="exception",
                node=thread.node,
                thread=thread.name,
            )
        else:
            why = (
                f"failed with {cause.name} at node {cause.node!r}: {cause.message}"
                if cause is not None
                else f"was halted ({child.halt_reason})"
            )
            failure = Failure(
                name="CHILD_FAILURE",
                message=f"child thread {child.name!r} (#{child.number}) {why}",
                content=cause.as_variable() if cause is not None else None,
                node=thread.node,
                thread=thread.name,
            )
        self.log(thread, "THREADS_FAILED", thread.node, strategy=wait.strategy, child=child.number, error=failure.name)
        thread.failed_from = child.number
        self.fail_node(thread, failure, rerun=kept)

    # ------------------------------------------------------------ the run

    def finish(
        self,
        status: RunStatus,
        output: Any = None,
        failure: Failure | None = None,
        shown_output: Any = None,
        reason: str | None = None,
        **detail: Any,
    ) -> None:
        """End the run: halt every thread, withdraw their waits, journal it."""
        state = self.state
        saga = state.saga
        if saga is not None:
            for draining in saga.draining:
                self.effects.append(AbandonTask(dispatch_id=draining.wait.dispatch_id))
            saga.draining = []
            if isinstance(saga.wait, TaskWait):
                self.effects.append(AbandonTask(dispatch_id=saga.wait.dispatch_id))
            elif saga.wait is not None and saga.wait.timer is not None:
                self.effects.append(CancelTimer(timer=saga.wait.timer))
            saga.wait = None
        halt: HaltReason = "run-ended"
        if status is RunStatus.FAILED:
            halt = "run-failed"
        elif status is RunStatus.CANCELLED:
            halt = "cancelled"
        for thread in self.ordered():
            if thread.status.active:  # parents come first: this stops their children too
                self.stop(thread, halt)
        state.status = status
        state.output = output
        state.failure = failure
        self.queue.clear()
        if status is RunStatus.COMPLETED:
            detail["output"] = shown_output
        if failure is not None:
            detail.update(error=failure.name, message=failure.message, failed_node=failure.node)
        self.log(state.root, f"RUN_{status.value}", failure.node if failure else None, reason=reason, **detail)
        self.effects.append(RunFinished(status=status))
