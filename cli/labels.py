"""Plain-text labels for nodes and edges, shared by every graph format.

Labels are plain text with ``\\n`` between lines; each format escapes them
its own way.
"""

from __future__ import annotations

from typing import Final

from wfc.specs import (
    CompensateNode,
    Edge,
    ExitNode,
    Expr,
    FailNode,
    FailureHandler,
    Mutation,
    Node,
    SleepNode,
    SleepUntilNode,
    SpawnThreadForEachNode,
    SpawnThreadNode,
    TaskNode,
    UserTaskNode,
    UserTaskTimer,
    VarRef,
    WaitForEventNode,
    WaitForThreadsNode,
    format_expr,
    node_kind,
)

_OPERATORS: Final = {"assign": "=", "add": "+=", "subtract": "-=", "multiply": "*=", "divide": "/="}


def node_label(node_id: str, node: Node) -> str:
    """The node id, then its kind and what it runs or waits for."""
    return "\n".join(node_lines(node_id, node))


def node_lines(node_id: str, node: Node) -> list[str]:
    """The lines of a node's label in a drawing: its id, then its summary, a
    user task's summary in two lines (the form, then who it is for)."""
    summary = node_summary(node)
    if summary == node_id:
        return [node_id]
    if isinstance(node, UserTaskNode):
        return [node_id, f"user_task {node.form}", assignee_text(node.user, node.group)]
    return [node_id, summary]


def assignee_text(user: Expr | None, group: Expr | None) -> str:
    """Who a user task (or a reassign timer) is for, e.g. ``user customer, group "support"``."""
    return ", ".join(f"{role} {format_expr(value)}" for role, value in (("user", user), ("group", group))
                     if value is not None)


def node_summary(node: Node) -> str:
    """Kind and the one fact that matters most, e.g. ``task charge-card (retries 3)``."""
    match node:
        case TaskNode(task=task, retries=retries, compensation=compensation):
            text = f"task {task}" + (f" (retries {retries})" if retries is not None else "")
            return text + (f", undo {compensation.task}" if compensation else "")
        case WaitForEventNode(event=event, timeout=timeout):
            return f"wait_for_event {event}" + (f" (timeout {timeout:g}s)" if timeout is not None else "")
        case SleepNode(seconds=seconds):
            return f"sleep {format_expr(seconds)} seconds"
        case SleepUntilNode(until=until):
            return f"sleep_until {format_expr(until)}"
        case SpawnThreadNode(thread=thread):
            return f"spawn_thread {thread}"
        case SpawnThreadForEachNode(thread=thread, items=items):
            return f"spawn_thread_for_each {thread} over {format_expr(items)}"
        case WaitForThreadsNode(threads=threads, strategy=strategy):
            return f"wait_for_threads {strategy} of {', '.join(threads)}"
        case FailNode(failure=failure):
            return f"fail {failure}"
        case ExitNode(output=output):
            return "exit" + (f" with {format_expr(output)}" if output is not None else "")
        case CompensateNode():
            return "compensate"
        case UserTaskNode(form=form, user=user, group=group):
            return f"user_task {form} ({assignee_text(user, group)})"
    return node_kind(node)


def timer_text(timer: UserTaskTimer) -> str:
    """A user task timer as a line, e.g. ``after 3d: reassign to group 'support'``."""
    when = f"after {duration_text(timer.after)}"
    match timer.action:
        case "reassign":
            return f"{when}: reassign to {assignee_text(timer.user, timer.group)}"
        case "release":
            return f"{when}: release to its group"
        case "remind":
            return f"{when}: remind {timer.task}({', '.join(format_expr(arg) for arg in timer.args)})"
    return f"{when}: cancel"


def duration_text(seconds: float) -> str:
    """``3d``, ``12h``, ``90m`` or ``45s``: the largest unit that divides ``seconds``."""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds / size:g}{unit}"
    return f"{seconds:g}s"


def edge_label(node: Node, edge: Edge) -> str:
    """The edge's condition, ``else`` for the fallback of a branch, and its
    mutations, one per line; empty for a plain edge."""
    lines = []
    if edge.when is not None:
        lines.append(format_expr(edge.when))
    elif len(node.edges) > 1:
        lines.append("else")
    lines.extend(mutation_text(mutation) for mutation in edge.mutations)
    return "\n".join(lines)


def mutation_text(mutation: Mutation) -> str:
    """A mutation as a statement, e.g. ``total += @charge-card.amount``."""
    target = format_expr(VarRef(name=mutation.var))
    value = format_expr(mutation.value)
    if mutation.op in _OPERATORS:
        return f"{target} {_OPERATORS[mutation.op]} {value}"
    if mutation.op == "remove_key":
        return f"del {target}[{value}]"
    return f"{target}.{mutation.op}({value})"


def handler_text(handler: FailureHandler) -> str:
    """What a failure handler catches, e.g. ``on error TIMEOUT``."""
    return f"on {handler.on}" + (f" {handler.name}" if handler.name else "")
