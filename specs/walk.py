"""Traversals over expressions and nodes, shared by validation and tools."""

from __future__ import annotations

from collections.abc import Iterator

from wfc.specs.expressions import BinaryExpr, CallExpr, Expr, ListExpr, UnaryExpr, VarRef
from wfc.specs.nodes import (
    ExitNode,
    FailNode,
    Node,
    SleepNode,
    SleepUntilNode,
    SpawnThreadForEachNode,
    SpawnThreadNode,
    TaskNode,
    WaitForEventNode,
)


def walk_expr(expr: Expr) -> Iterator[Expr]:
    """Yield ``expr`` and every expression inside it, parents first."""
    yield expr
    match expr:
        case BinaryExpr(left=left, right=right):
            yield from walk_expr(left)
            yield from walk_expr(right)
        case UnaryExpr(operand=operand):
            yield from walk_expr(operand)
        case CallExpr(args=items) | ListExpr(items=items):
            for item in items:
                yield from walk_expr(item)
        case _:
            pass


def node_expressions(node: Node) -> Iterator[tuple[str, Expr]]:
    """Yield ``(relative $.path, expression)`` for every expression a node holds."""
    match node:
        case TaskNode(args=args, compensation=compensation):
            for index, arg in enumerate(args):
                yield f".args[{index}]", arg
            if compensation is not None:
                for index, arg in enumerate(compensation.args):
                    yield f".compensation.args[{index}]", arg
        case ExitNode(output=output) if output is not None:
            yield ".output", output
        case WaitForEventNode(correlation=correlation) if correlation is not None:
            yield ".correlation", correlation
        case SleepNode(seconds=seconds):
            yield ".seconds", seconds
        case SleepUntilNode(until=until):
            yield ".until", until
        case SpawnThreadNode(inputs=inputs):
            for name, value in sorted(inputs.items()):
                yield f".inputs.{name}", value
        case SpawnThreadForEachNode(items=items, inputs=inputs):
            yield ".items", items
            for name, value in sorted(inputs.items()):
                yield f".inputs.{name}", value
        case FailNode(content=content) if content is not None:
            yield ".content", content
        case _:
            pass
    for index, edge in enumerate(node.edges):
        if edge.when is not None:
            yield f".edges[{index}].when", edge.when
        for m_index, mutation in enumerate(edge.mutations):
            yield f".edges[{index}].mutations[{m_index}].value", mutation.value


def referenced_vars(node: Node) -> set[str]:
    """Names of every variable a node reads or changes."""
    names = {m.var for edge in node.edges for m in edge.mutations}
    for _, expr in node_expressions(node):
        names.update(sub.name for sub in walk_expr(expr) if isinstance(sub, VarRef))
    return names
