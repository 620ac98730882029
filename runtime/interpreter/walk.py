"""Moving a thread through its nodes: entering each kind of node until the
thread waits or ends, and draining the step's queue of moves."""

from __future__ import annotations

import datetime as dt
from typing import Any

from wfc.runtime.interpreter.context import STEP_BUDGET, Scope, Step, expression_failure
from wfc.runtime.interpreter.dispatch import dispatch
from wfc.runtime.interpreter.expressions import ExpressionError, evaluate, is_number, to_text, type_name
from wfc.runtime.interpreter.inbox import consume, take_queued
from wfc.runtime.interpreter.messages import WatchEvent
from wfc.runtime.interpreter.policy import effective_timeout
from wfc.runtime.interpreter.saga import start_saga
from wfc.runtime.interpreter.state import (
    EventWait,
    Failure,
    HandlerWait,
    ResumeWait,
    RunStatus,
    SleepWait,
    ThreadRun,
    ThreadStatus,
    ThreadsWait,
)
from wfc.runtime.interpreter.threads import (
    check_threads,
    complete_thread,
    fail_node,
    fail_thread,
    leave,
    spawn_children,
)
from wfc.runtime.interpreter.usertasks import assign
from wfc.specs import (
    CompensateNode,
    EntrypointNode,
    ExitNode,
    FailNode,
    Node,
    NopNode,
    SleepNode,
    SleepUntilNode,
    SpawnThreadForEachNode,
    SpawnThreadNode,
    TaskNode,
    UserTaskNode,
    WaitForEventNode,
    WaitForThreadsNode,
    duration_problem,
    moment_problem,
    node_kind,
)


def drain(step: Step) -> None:
    """Run queued (thread, node) moves until every thread waits or the run ends."""
    state = step.state
    while step.queue and state.status is RunStatus.RUNNING:
        number, node_id = step.queue.popleft()
        run(step, state.threads[number], node_id)


def run(step: Step, thread: ThreadRun, node_id: str | None) -> None:
    """Move ``thread`` from ``node_id`` until it waits or ends."""
    while node_id is not None:
        if thread.status is not ThreadStatus.RUNNING or step.state.status is not RunStatus.RUNNING:
            return
        if step.frozen(thread):
            # Froze while this move was due (an interrupt, a halt): made on thaw.
            thread.wait = ResumeWait(node=node_id)
            return
        step.budget -= 1
        if step.budget < 0:
            failure = Failure(
                name="LOOP_LIMIT",
                node=node_id,
                thread=thread.name,
                message=(
                    f"more than {STEP_BUDGET} nodes ran without waiting for a task, event or timer; "
                    f"a loop without one of those never gives control back"
                ),
            )
            step.log(thread, "NODE_FAILED", node_id, error=failure.name, message=failure.message)
            fail_thread(step, thread, failure)
            return
        node_id = enter(step, thread, node_id)


def enter(step: Step, thread: ThreadRun, node_id: str) -> str | None:
    """Enter a node; return the next node when it finishes at once."""
    node = step.node(thread, node_id)
    thread.node = node_id
    thread.visits[node_id] = thread.visits.get(node_id, 0) + 1
    thread.wait = None
    scope = Scope(step, thread)
    info = step.info
    try:
        match node:
            case EntrypointNode() | NopNode():
                step.log(thread, "NODE_ENTERED", node_id, kind=node_kind(node))
                return leave(step, thread, node)
            case ExitNode(output=expr):
                value = evaluate(expr, scope) if expr is not None else None
                step.log(thread, "NODE_ENTERED", node_id, kind="exit", output=info.show(thread.name, expr, value))
                complete_thread(step, thread, value, info.show(thread.name, expr, value))
                return None
            case TaskNode():
                args = [evaluate(arg, scope) for arg in node.args]
                key = f"{step.state.id}/{thread.number}/{node_id}/{thread.visits[node_id]}"
                timeout = effective_timeout(node, step.policies.get(node.task))
                dispatch(step, thread, node.task, key, 1, args, timeout)
                return None
            case WaitForEventNode():
                return enter_wait(step, thread, node, scope)
            case SleepNode(seconds=expr):
                seconds = evaluate(expr, scope)
                if not is_number(seconds) or seconds < 0:
                    raise ExpressionError(f"sleep needs a number of seconds >= 0, got {type_name(seconds)} {seconds!r}")
                too_long = duration_problem(seconds)
                if too_long is not None:
                    raise ExpressionError(f"sleep: {too_long}")
                return sleep(step, thread, node, step.now + seconds)
            case SleepUntilNode(until=expr):
                return sleep(step, thread, node, _moment(evaluate(expr, scope)))
            case FailNode(content=expr):
                # A fail node ends its thread: the failure goes to whoever
                # waits for the thread (the handler's parent, later a
                # wait_for_threads), not to handlers of the fail node.
                content = evaluate(expr, scope) if expr is not None else None
                failure = Failure(
                    name=node.failure,
                    message=node.message,
                    node=node_id,
                    thread=thread.name,
                    content=content,
                    kind="exception",
                )
                step.log(thread, "NODE_FAILED", node_id, error=failure.name, message=failure.message, kind=failure.kind)
                fail_thread(step, thread, failure)
                return None
            case SpawnThreadNode():
                inputs = {name: evaluate(value, scope) for name, value in node.inputs.items()}
                return spawned(step, thread, node, spawn_children(step, thread, node.thread, [inputs]))
            case SpawnThreadForEachNode():
                items = evaluate(node.items, scope)
                if not isinstance(items, list):
                    raise ExpressionError(
                        f"spawn_thread_for_each needs a list of items, got {type_name(items)} {items!r}"
                    )
                inputs = {name: evaluate(value, scope) for name, value in node.inputs.items()}
                given = [{**inputs, node.item_var: item} for item in items]
                return spawned(step, thread, node, spawn_children(step, thread, node.thread, given))
            case WaitForThreadsNode():
                return enter_threads(step, thread, node)
            case CompensateNode():
                step.log(thread, "NODE_ENTERED", node_id, kind="compensate")
                start_saga(step, "compensate", handled_failure(step, thread))
                return None
            case UserTaskNode():
                assign(step, thread, node, scope)
                return None
    except ExpressionError as exc:
        fail_node(step, thread, expression_failure(thread, node_id, exc))
        return None


def spawned(
    step: Step, thread: ThreadRun, node: SpawnThreadNode | SpawnThreadForEachNode, children: list[int]
) -> str | None:
    """Note the children a spawn node started and move on at once."""
    thread.spawned[thread.node] = children
    queued = [n for n in children if step.state.threads[n].status is ThreadStatus.QUEUED]
    step.log(thread, "NODE_ENTERED", thread.node, kind=node_kind(node), children=children, queued=queued or None)
    return leave(step, thread, node)


def enter_threads(step: Step, thread: ThreadRun, node: WaitForThreadsNode) -> str | None:
    """Enter a ``wait_for_threads`` node: wait for the children of its
    spawn nodes (their latest visit), in spawn order."""
    children = [n for spawn in node.threads for n in thread.spawned.get(spawn, [])]
    timer = due = None
    if node.timeout is not None:
        due = step.now + node.timeout
        timer = step.new_timer(due)
    thread.wait = ThreadsWait(children=children, strategy=node.strategy, timer=timer, due=due)
    step.log(thread, "THREADS_WAITING", thread.node, strategy=node.strategy, children=children, timeout=node.timeout)
    check_threads(step, thread)
    return None


def handled_failure(step: Step, thread: ThreadRun) -> Failure | None:
    """The failure a ``compensate`` node's thread handles: the failure of
    the node whose handler it is in (looking up through parents)."""
    current: ThreadRun | None = thread
    while current is not None:
        parent = step.parent(current)
        if current.kind == "handler" and parent is not None and isinstance(parent.wait, HandlerWait):
            return parent.wait.failure
        current = parent
    return None


def enter_wait(step: Step, thread: ThreadRun, node: WaitForEventNode, scope: Scope) -> str | None:
    """Enter a ``wait_for_event`` node: take a queued event, or wait."""
    correlation: str | None = None
    if node.correlation is not None:
        value = evaluate(node.correlation, scope)
        if value is None:
            raise ExpressionError("the correlation key evaluated to null")
        correlation = to_text(value)
    step.log(
        thread,
        "EVENT_WAITING",
        thread.node,
        event=node.event,
        correlation=step.info.show(thread.name, node.correlation, correlation),
        timeout=node.timeout,
    )
    queued = take_queued(step, node.event, correlation)
    if queued is not None:
        consume(step, thread, queued)
        return None
    timer = due = None
    if node.timeout is not None:
        due = step.now + node.timeout
        timer = step.new_timer(due)
    thread.wait = EventWait(event=node.event, correlation=correlation, timer=timer, due=due)
    if correlation is not None:
        step.effects.append(WatchEvent(thread=thread.number, event=node.event, correlation=correlation))
    return None


def sleep(step: Step, thread: ThreadRun, node: Node, due: float) -> str | None:
    """Wait until ``due`` on a durable timer (or move on if it is past)."""
    if due <= step.now:
        step.log(thread, "NODE_ENTERED", thread.node, kind=node_kind(node), until=due)
        return leave(step, thread, node)
    thread.wait = SleepWait(timer=step.new_timer(due), due=due)
    step.log(thread, "SLEEPING", thread.node, until=due)
    return None


def _moment(value: Any) -> float:
    """Epoch seconds from a number or an ISO-8601 string (naive means UTC),
    between year 1 and 9999 (:func:`wfc.specs.moment_problem`)."""
    if is_number(value):
        if (problem := moment_problem(value)) is not None:
            raise ExpressionError(f"sleep_until: {problem}")
        return float(value)
    if isinstance(value, str):
        try:
            moment = dt.datetime.fromisoformat(value)
        except ValueError:
            raise ExpressionError(f"sleep_until cannot read {value!r} as an ISO-8601 moment") from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=dt.UTC)
        epoch = moment.timestamp()
        if (problem := moment_problem(epoch)) is not None:  # 9999-12-31T23:00-05:00 is in year 10000 UTC
            raise ExpressionError(f"sleep_until: {problem}")
        return epoch
    raise ExpressionError(f"sleep_until needs epoch seconds or an ISO-8601 string, got {type_name(value)}")
