"""Moving a thread through its nodes: entering each kind, edges, mutations."""

from __future__ import annotations

import datetime as dt
from typing import Any

from wfc.runtime.expressions import ExpressionError, evaluate, evaluate_condition, is_number, to_text, type_name
from wfc.runtime.interpreter.base import STEP_BUDGET, Scope, matches
from wfc.runtime.interpreter.messages import (
    DispatchTask,
    WatchEvent,
)
from wfc.runtime.interpreter.policy import effective_timeout
from wfc.runtime.interpreter.saga import SagaMachine
from wfc.runtime.interpreter.secrets import MASK
from wfc.runtime.interpreter.variables import coerce, mutate
from wfc.runtime.state import (
    EventWait,
    Failure,
    HandlerWait,
    InboxEvent,
    ResumeWait,
    RunStatus,
    SleepWait,
    TaskWait,
    ThreadRun,
    ThreadStatus,
    ThreadsWait,
)
from wfc.specs import (
    CompensateNode,
    Edge,
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
    WaitForEventNode,
    WaitForThreadsNode,
    duration_problem,
    moment_problem,
    node_kind,
)


class Walker(SagaMachine):
    """Adds node execution."""

    # ------------------------------------------------------------ nodes

    def run(self, thread: ThreadRun, node_id: str | None) -> None:
        """Move ``thread`` from ``node_id`` until it waits or ends."""
        while node_id is not None:
            if thread.status is not ThreadStatus.RUNNING or self.state.status is not RunStatus.RUNNING:
                return
            if self.frozen(thread):
                # Froze while this move was due (an interrupt, a halt): made on thaw.
                thread.wait = ResumeWait(node=node_id)
                return
            self.budget -= 1
            if self.budget < 0:
                failure = Failure(
                    name="LOOP_LIMIT",
                    node=node_id,
                    thread=thread.name,
                    message=(
                        f"more than {STEP_BUDGET} nodes ran without waiting for a task, event or timer; "
                        f"a loop without one of those never gives control back"
                    ),
                )
                self.log(thread, "NODE_FAILED", node_id, error=failure.name, message=failure.message)
                self.fail_thread(thread, failure)
                return
            node_id = self.enter(thread, node_id)

    def enter(self, thread: ThreadRun, node_id: str) -> str | None:
        """Enter a node; return the next node when it finishes at once."""
        node = self.node(thread, node_id)
        thread.node = node_id
        thread.visits[node_id] = thread.visits.get(node_id, 0) + 1
        thread.wait = None
        scope = Scope(self, thread)
        try:
            match node:
                case EntrypointNode() | NopNode():
                    self.log(thread, "NODE_ENTERED", node_id, kind=node_kind(node))
                    return self.leave(thread, node)
                case ExitNode(output=expr):
                    value = evaluate(expr, scope) if expr is not None else None
                    self.log(
                        thread, "NODE_ENTERED", node_id, kind="exit", output=self.info.show(thread.name, expr, value)
                    )
                    self.complete_thread(thread, value, self.info.show(thread.name, expr, value))
                    return None
                case TaskNode():
                    args = [evaluate(arg, scope) for arg in node.args]
                    key = f"{self.state.id}/{thread.number}/{node_id}/{thread.visits[node_id]}"
                    timeout = effective_timeout(node, self.policies.get(node.task))
                    self.dispatch(thread, node.task, key, 1, args, timeout)
                    return None
                case WaitForEventNode():
                    return self.enter_wait(thread, node, scope)
                case SleepNode(seconds=expr):
                    seconds = evaluate(expr, scope)
                    if not is_number(seconds) or seconds < 0:
                        raise ExpressionError(
                            f"sleep needs a number of seconds >= 0, got {type_name(seconds)} {seconds!r}"
                        )
                    too_long = duration_problem(seconds)
                    if too_long is not None:
                        raise ExpressionError(f"sleep: {too_long}")
                    return self.sleep(thread, node, self.now + seconds)
                case SleepUntilNode(until=expr):
                    return self.sleep(thread, node, _moment(evaluate(expr, scope)))
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
                    self.log(
                        thread, "NODE_FAILED", node_id, error=failure.name, message=failure.message, kind=failure.kind
                    )
                    self.fail_thread(thread, failure)
                    return None
                case SpawnThreadNode():
                    inputs = {name: evaluate(value, scope) for name, value in node.inputs.items()}
                    children = self.spawn_children(thread, node.thread, [inputs])
                    return self.spawned(thread, node, children)
                case SpawnThreadForEachNode():
                    items = evaluate(node.items, scope)
                    if not isinstance(items, list):
                        raise ExpressionError(
                            f"spawn_thread_for_each needs a list of items, got {type_name(items)} {items!r}"
                        )
                    inputs = {name: evaluate(value, scope) for name, value in node.inputs.items()}
                    given = [{**inputs, node.item_var: item} for item in items]
                    return self.spawned(thread, node, self.spawn_children(thread, node.thread, given))
                case WaitForThreadsNode():
                    return self.enter_threads(thread, node)
                case CompensateNode():
                    self.log(thread, "NODE_ENTERED", node_id, kind="compensate")
                    self.start_saga("compensate", self.handled_failure(thread))
                    return None
        except ExpressionError as exc:
            self.fail_node(thread, self.expression_failure(thread, node_id, exc))
            return None

    def spawned(
        self, thread: ThreadRun, node: SpawnThreadNode | SpawnThreadForEachNode, children: list[int]
    ) -> str | None:
        """Note the children a spawn node started and move on at once."""
        thread.spawned[thread.node] = children
        queued = [n for n in children if self.state.threads[n].status is ThreadStatus.QUEUED]
        self.log(thread, "NODE_ENTERED", thread.node, kind=node_kind(node), children=children, queued=queued or None)
        return self.leave(thread, node)

    def enter_threads(self, thread: ThreadRun, node: WaitForThreadsNode) -> str | None:
        """Enter a ``wait_for_threads`` node: wait for the children of its
        spawn nodes (their latest visit), in spawn order."""
        children = [n for spawn in node.threads for n in thread.spawned.get(spawn, [])]
        timer = due = None
        if node.timeout is not None:
            due = self.now + node.timeout
            timer = self.new_timer(due)
        thread.wait = ThreadsWait(children=children, strategy=node.strategy, timer=timer, due=due)
        self.log(
            thread, "THREADS_WAITING", thread.node, strategy=node.strategy, children=children, timeout=node.timeout
        )
        self.check_threads(thread)
        return None

    def handled_failure(self, thread: ThreadRun) -> Failure | None:
        """The failure a ``compensate`` node's thread handles: the failure of
        the node whose handler it is in (looking up through parents)."""
        current: ThreadRun | None = thread
        while current is not None:
            parent = self.parent(current)
            if current.kind == "handler" and parent is not None and isinstance(parent.wait, HandlerWait):
                return parent.wait.failure
            current = parent
        return None

    def leave(self, thread: ThreadRun, node: Node, after_handler: bool = False) -> str | None:
        """Take the first edge whose condition holds and apply its mutations.

        After a failure handler ran, a failure here is not handled again: the
        handler would only run into it once more.
        """
        try:
            edge = self.choose_edge(thread, node)
            self.apply_mutations(thread, edge)
        except ExpressionError as exc:
            failure = self.expression_failure(thread, thread.node, exc)
            if after_handler:
                self.log(thread, "NODE_FAILED", thread.node, error=failure.name, message=failure.message)
                self.fail_thread(thread, failure)
            else:
                self.fail_node(thread, failure)
            return None
        return edge.to

    def choose_edge(self, thread: ThreadRun, node: Node) -> Edge:
        """The first edge whose condition holds, else the one without a condition."""
        scope = Scope(self, thread)
        fallback: Edge | None = None
        for edge in node.edges:
            if edge.when is None:
                fallback = fallback or edge
            elif evaluate_condition(edge.when, scope):
                return edge
        if fallback is None:
            raise ExpressionError(
                f"no edge out of node {thread.node!r} applies: every condition is false and no edge lacks one"
            )
        return fallback

    def apply_mutations(self, thread: ThreadRun, edge: Edge) -> None:
        """Apply an edge's mutations all or nothing."""
        undo: list[tuple[ThreadRun, str, Any]] = []
        scope = Scope(self, thread)
        try:
            for mutation in edge.mutations:
                owner = self.owner(thread, mutation.var)
                if owner is None:
                    raise ExpressionError(f"variable {mutation.var!r} is not visible in thread {thread.name!r}")
                operand = evaluate(mutation.value, scope)
                value = mutate(owner.variables[mutation.var], mutation.op, operand, mutation.var)
                definition = self.var_def(owner, mutation.var)
                if definition is not None:
                    try:
                        value = coerce(value, definition.type)
                    except ValueError as exc:
                        raise ExpressionError(f"cannot set variable {mutation.var!r}: {exc}") from None
                undo.append((owner, mutation.var, owner.variables[mutation.var]))
                owner.variables[mutation.var] = value
                shown = MASK if mutation.var in self.info.masked and value is not None else value
                self.log(thread, "VARIABLE_SET", thread.node, var=mutation.var, op=mutation.op, value=shown)
        except ExpressionError:
            for owner, name, old in reversed(undo):
                owner.variables[name] = old
            raise

    def dispatch_effect(self, thread: ThreadRun, wait: TaskWait) -> DispatchTask:
        """The effect that runs the attempt a thread waits for."""
        return DispatchTask(
            dispatch_id=wait.dispatch_id,
            idempotency_key=wait.idempotency_key,
            run_id=self.state.id,
            workflow=self.state.workflow,
            thread=thread.number,
            node=thread.node,
            task=wait.task,
            args=wait.args,
            attempt=wait.attempt,
            timeout=wait.timeout,
        )

    def dispatch(
        self, thread: ThreadRun, task: str, key: str, attempt: int, args: list[Any], timeout: float | None
    ) -> None:
        """Dispatch an attempt of a task and make the thread wait for it."""
        wait = TaskWait(
            dispatch_id=f"{key}#{attempt}", idempotency_key=key, task=task, attempt=attempt, args=args, timeout=timeout
        )
        thread.wait = wait
        self.effects.append(self.dispatch_effect(thread, wait))
        node = self.node(thread, thread.node)
        exprs = node.args if isinstance(node, TaskNode) else []
        shown = [self.info.show(thread.name, exprs[i] if i < len(exprs) else None, v) for i, v in enumerate(args)]
        self.log(thread, "TASK_DISPATCHED", thread.node, attempt, task=task, args=shown, idempotency_key=key)

    def enter_wait(self, thread: ThreadRun, node: WaitForEventNode, scope: Scope) -> str | None:
        """Enter a ``wait_for_event`` node: take a queued event, or wait."""
        correlation: str | None = None
        if node.correlation is not None:
            value = evaluate(node.correlation, scope)
            if value is None:
                raise ExpressionError("the correlation key evaluated to null")
            correlation = to_text(value)
        self.log(
            thread,
            "EVENT_WAITING",
            thread.node,
            event=node.event,
            correlation=self.info.show(thread.name, node.correlation, correlation),
            timeout=node.timeout,
        )
        for index, queued in enumerate(self.state.inbox):
            if matches(queued, node.event, correlation):
                del self.state.inbox[index]
                self.consume(thread, queued)
                return None
        timer = due = None
        if node.timeout is not None:
            due = self.now + node.timeout
            timer = self.new_timer(due)
        thread.wait = EventWait(event=node.event, correlation=correlation, timer=timer, due=due)
        if correlation is not None:
            self.effects.append(WatchEvent(thread=thread.number, event=node.event, correlation=correlation))
        return None

    def consume(self, thread: ThreadRun, event: InboxEvent) -> None:
        """Give an event to the thread waiting at its node, and move on."""
        thread.outputs[thread.node] = event.payload
        self.log(
            thread,
            "EVENT_CONSUMED",
            thread.node,
            event=event.name,
            event_id=event.id,
            payload=self.info.show_output(thread.name, thread.node, event.payload),
        )
        self.proceed(thread, self.node(thread, thread.node))

    def sleep(self, thread: ThreadRun, node: Node, due: float) -> str | None:
        """Wait until ``due`` on a durable timer (or move on if it is past)."""
        if due <= self.now:
            self.log(thread, "NODE_ENTERED", thread.node, kind=node_kind(node), until=due)
            return self.leave(thread, node)
        thread.wait = SleepWait(timer=self.new_timer(due), due=due)
        self.log(thread, "SLEEPING", thread.node, until=due)
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
