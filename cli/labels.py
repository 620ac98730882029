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
    FailNode,
    FailureHandler,
    Mutation,
    Node,
    SleepNode,
    SleepUntilNode,
    SpawnThreadForEachNode,
    SpawnThreadNode,
    TaskNode,
    VarRef,
    WaitForEventNode,
    WaitForThreadsNode,
    format_expr,
    node_kind,
)

_OPERATORS: Final = {"assign": "=", "add": "+=", "subtract": "-=", "multiply": "*=", "divide": "/="}


def node_label(node_id: str, node: Node) -> str:
    """The node id, then its kind and what it runs or waits for."""
    summary = node_summary(node)
    return node_id if summary == node_id else f"{node_id}\n{summary}"


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
    return node_kind(node)


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
