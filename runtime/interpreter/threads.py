"""Thread lifecycle: starting threads, leaving a node along its edge,
failures and their handlers, ending threads, child threads under the fan-out
cap, and ``wait_for_threads``.

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

from wfc.runtime.interpreter.compensations import compensable
from wfc.runtime.interpreter.context import Step, expression_failure, find_handler
from wfc.runtime.interpreter.edges import take_edge
from wfc.runtime.interpreter.expressions import ExpressionError
from wfc.runtime.interpreter.saga import start_saga
from wfc.runtime.interpreter.state import (
    Failure,
    HandlerWait,
    RunStatus,
    ThreadKind,
    ThreadRun,
    ThreadStatus,
    ThreadsWait,
    Wait,
)
from wfc.runtime.interpreter.stopping import clear_wait, finish, kept, stop, stop_below
from wfc.runtime.interpreter.variables import initial_variables
from wfc.specs import Node

# ------------------------------------------------------------ starting


def spawn(
    step: Step, name: str, kind: ThreadKind, parent: ThreadRun, given: dict[str, Any], queued: bool = False
) -> ThreadRun:
    """Start a thread run of thread spec ``name`` under ``parent``
    (``queued``: created QUEUED, started later by :func:`admit`).

    Raises:
        ExpressionError: a child thread's inputs do not match its
            declared variables.
    """
    problems: list[tuple[str, str]] = []
    defs = step.spec.threads[name].variables
    variables = initial_variables(defs, {k: v for k, v in given.items() if k in defs}, problems)
    if problems and kind == "child":
        listed = "; ".join(f"{var!r}: {reason}" for var, reason in problems)
        raise ExpressionError(f"cannot start thread {name!r}: {listed}")
    variables.update({k: v for k, v in given.items() if k not in defs})
    number = step.state.next_thread
    step.state.next_thread += 1
    child = ThreadRun(
        number=number,
        name=name,
        kind=kind,
        parent=parent.number,
        variables=variables,
        started_at=step.now,
        status=ThreadStatus.QUEUED if queued else ThreadStatus.RUNNING,
    )
    step.add_thread(child)
    if queued:
        step.log(child, "THREAD_QUEUED", name=name, kind=kind, parent=parent.number, cap=step.limits.max_children)
    else:
        step.log(child, "THREAD_STARTED", name=name, kind=kind, parent=parent.number)
        step.queue.append((number, "entrypoint"))
    return child


def running_children(step: Step) -> int:
    """Child threads running now (they count against the fan-out cap)."""
    return sum(1 for t in step.state.threads.values() if t.kind == "child" and t.status is ThreadStatus.RUNNING)


def spawn_children(step: Step, parent: ThreadRun, name: str, inputs: list[dict[str, Any]]) -> list[int]:
    """Start one child per inputs dict; those above the cap are queued."""
    running = running_children(step)
    numbers = []
    for given in inputs:
        child = spawn(step, name, "child", parent, given, queued=running >= step.limits.max_children)
        running += child.status is ThreadStatus.RUNNING
        numbers.append(child.number)
    return numbers


def admit(step: Step) -> bool:
    """Start queued children while the cap leaves room, oldest first."""
    queued = [t.number for t in step.scan() if t.status is ThreadStatus.QUEUED]
    if not queued:
        return False
    free = step.limits.max_children - running_children(step)
    changed = False
    for number in queued:
        if free <= 0:
            break
        if step.frozen(step.peek(number)):
            continue
        thread = step.state.threads[number]
        thread.status = ThreadStatus.RUNNING
        thread.started_at = step.now
        step.log(thread, "THREAD_STARTED", name=thread.name, kind=thread.kind, parent=thread.parent, queued=True)
        step.queue.append((thread.number, "entrypoint"))
        free -= 1
        changed = True
    return changed


# ------------------------------------------------------------ moving on


def leave(step: Step, thread: ThreadRun, node: Node, after_handler: bool = False) -> str | None:
    """Take the first edge whose condition holds and apply its mutations;
    return the next node id (``None`` when that failed the node).

    After a failure handler ran, a failure here is not handled again: the
    handler would only run into it once more.
    """
    try:
        edge = take_edge(step, thread, node)
    except ExpressionError as exc:
        failure = expression_failure(thread, thread.node, exc)
        if after_handler:
            step.log(thread, "NODE_FAILED", thread.node, error=failure.name, message=failure.message)
            fail_thread(step, thread, failure)
        else:
            fail_node(step, thread, failure)
        return None
    return edge.to


def proceed(step: Step, thread: ThreadRun, node: Node, after_handler: bool = False) -> None:
    """Leave the current node along its edges; the next node is entered
    later, from the step's queue (so deep loops never recurse)."""
    target = leave(step, thread, node, after_handler)
    if target is not None:
        step.queue.append((thread.number, target))


# ------------------------------------------------------------ failing and ending


def fail_node(step: Step, thread: ThreadRun, failure: Failure, rerun: Wait | None = None) -> None:
    """The current node of ``thread`` failed: run its handler, or fail the
    thread (``rerun``: what ``retry`` resumes, if not re-entering the node)."""
    step.log(thread, "NODE_FAILED", thread.node, error=failure.name, message=failure.message, kind=failure.kind)
    node = step.node(thread, thread.node)
    handler = find_handler(node.handlers, failure)
    if handler is None:
        thread.stopped_wait = rerun
        fail_thread(step, thread, failure)
        return
    thread.failed_from = None
    step.log(
        thread,
        "FAILURE_HANDLER_STARTED",
        thread.node,
        handler=handler.thread,
        handler_thread=step.state.next_thread,
        error=failure.name,
    )
    child = spawn(step, handler.thread, "handler", thread, {"failure": failure.as_variable()})
    thread.wait = HandlerWait(handler=child.number, failure=failure)


def fail_thread(step: Step, thread: ThreadRun, failure: Failure) -> None:
    """End a thread with an unhandled failure. The entrypoint thread's
    reaches the top of the run (compensation, or FAILED); a failure
    handler's or interrupt handler's fails its parent; a child's goes to
    the ``wait_for_threads`` of its parent."""
    if thread.wait is not None:
        thread.stopped_wait = kept(step, thread.wait, thread.node)
    clear_wait(step, thread, "thread-failed")
    thread.failure = failure
    step.ended(thread, ThreadStatus.FAILED)
    parent = step.parent(thread)
    if parent is None:  # the threads still active stop in the saga or finish
        if compensable(step):
            start_saga(step, "failure", failure)
        else:
            finish(step, RunStatus.FAILED, failure=failure)
        return
    stop_below(step, thread, "parent-ended")
    step.log(thread, "THREAD_FAILED", thread.node, error=failure.name, message=failure.message)
    if parent.status is not ThreadStatus.RUNNING:
        return
    wait = parent.wait
    if thread.kind == "handler" and isinstance(wait, HandlerWait) and wait.handler == thread.number:
        # The handler of the parent's failed node failed: the parent fails
        # with the handler's failure, unhandled.
        parent.failed_from = thread.number
        fail_thread(step, parent, failure)
    elif thread.kind == "interrupt" and parent.interrupt is not None and parent.interrupt.handler == thread.number:
        step.log(parent, "INTERRUPT_FAILED", parent.node, event=parent.interrupt.event, error=failure.name)
        parent.failed_from = thread.number
        fail_thread(step, parent, failure)
    elif thread.kind == "child":
        child_ended(step, thread)


def complete_thread(step: Step, thread: ThreadRun, output: Any, shown: Any) -> None:
    """End a thread with its output: a failure handler's parent carries on
    after its failed node, an interrupt handler's resumes, a child's
    parent may stop waiting."""
    thread.output = output
    step.ended(thread, ThreadStatus.COMPLETED)
    parent = step.parent(thread)
    if parent is None:
        finish(step, RunStatus.COMPLETED, output=output, shown_output=shown)
        return
    stop_below(step, thread, "parent-ended")
    step.log(thread, "THREAD_COMPLETED", thread.node, output=shown)
    if parent.status is not ThreadStatus.RUNNING:
        return
    wait = parent.wait
    if thread.kind == "handler" and isinstance(wait, HandlerWait) and wait.handler == thread.number:
        parent.wait = None
        step.log(parent, "FAILURE_HANDLED", parent.node, error=wait.failure.name)
        proceed(step, parent, step.node(parent, parent.node), after_handler=True)
    elif thread.kind == "interrupt" and parent.interrupt is not None and parent.interrupt.handler == thread.number:
        step.log(parent, "INTERRUPT_HANDLED", parent.node, event=parent.interrupt.event, handler=thread.number)
        parent.interrupt = None  # the thread thaws when the run settles
    elif thread.kind == "child":
        child_ended(step, thread)


# ------------------------------------------------------------ wait_for_threads


def child_ended(step: Step, child: ThreadRun) -> None:
    """Tell the parent's ``wait_for_threads`` that a child ended."""
    parent = step.parent(child)
    if parent is None or parent.status is not ThreadStatus.RUNNING:
        return
    wait = parent.wait
    if isinstance(wait, ThreadsWait) and child.number in wait.children and not step.frozen(parent):
        check_threads(step, parent)


def check_threads(step: Step, thread: ThreadRun) -> None:
    """End the thread's ``wait_for_threads`` if its strategy is decided."""
    wait = thread.wait
    if not isinstance(wait, ThreadsWait):
        return
    children = [step.peek(n) for n in wait.children]  # read; stop fetches what it changes
    ended = sorted((c for c in children if not c.status.active), key=lambda c: c.ended_seq)
    done = [c for c in ended if c.status is ThreadStatus.COMPLETED]
    failed = [c for c in ended if c.status is not ThreadStatus.COMPLETED]
    if not children:
        threads_done(step, thread, wait, children)
    elif wait.strategy == "FIRST":
        if ended and ended[0].status is ThreadStatus.COMPLETED:
            threads_done(step, thread, wait, children)
        elif ended:
            threads_failed(step, thread, wait, ended[0])
    elif wait.strategy == "ANY":
        if done:
            threads_done(step, thread, wait, children)
        elif len(failed) == len(children):
            threads_failed(step, thread, wait, failed[0])
    elif failed:  # ALL
        threads_failed(step, thread, wait, failed[0])
    elif len(done) == len(children):
        threads_done(step, thread, wait, children)


def threads_done(step: Step, thread: ThreadRun, wait: ThreadsWait, children: list[ThreadRun]) -> None:
    """The wait completed: halt the children still running, hand back the outputs."""
    outputs = [c.output if c.status is ThreadStatus.COMPLETED else None for c in children]
    for child in children:
        if child.status.active:
            stop(step, child, "wait-finished")
    clear_wait(step, thread)
    thread.outputs[thread.node] = outputs
    completed = [c.number for c in children if c.status is ThreadStatus.COMPLETED]
    step.log(thread, "THREADS_COMPLETED", thread.node, strategy=wait.strategy, completed=completed)
    proceed(step, thread, step.node(thread, thread.node))


def threads_failed(step: Step, thread: ThreadRun, wait: ThreadsWait, child: ThreadRun) -> None:
    """The wait failed because of ``child``: halt the others, fail the node."""
    for other in (step.peek(n) for n in wait.children):
        if other.status.active:
            stop(step, other, "wait-failed")
    rerun = kept(step, wait)
    clear_wait(step, thread)
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
    step.log(thread, "THREADS_FAILED", thread.node, strategy=wait.strategy, child=child.number, error=failure.name)
    thread.failed_from = child.number
    fail_node(step, thread, failure, rerun=rerun)
