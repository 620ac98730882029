"""Traversals over expressions and nodes, shared by validation and tools."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TypeVar

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
    UserTaskNode,
    WaitForEventNode,
)

T = TypeVar("T")


def expr_children(expr: Expr) -> list[Expr]:
    """The expressions directly inside ``expr``, left to right."""
    match expr:
        case BinaryExpr(left=left, right=right):
            return [left, right]
        case UnaryExpr(operand=operand):
            return [operand]
        case CallExpr(args=items) | ListExpr(items=items):
            return list(items)
    return []


def walk_expr(expr: Expr) -> Iterator[Expr]:
    """Yield ``expr`` and every expression inside it, parents first, left to
    right. Iterative, so any nesting depth is safe."""
    stack = [expr]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(reversed(expr_children(current)))


def fold_expr(expr: Expr, combine: Callable[[Expr, list[T]], T]) -> T:
    """Compute a result for ``expr`` bottom-up: ``combine(node, results of its
    children)``, children left to right before their parent. Iterative, so any
    nesting depth is safe; the order of ``combine`` calls is the order a
    recursive post-order walk would make them."""
    results: list[T] = []
    stack: list[tuple[Expr, bool]] = [(expr, False)]
    while stack:
        current, expanded = stack.pop()
        children = expr_children(current)
        if expanded or not children:
            count = len(children)
            args = results[len(results) - count:]
            del results[len(results) - count:]
            results.append(combine(current, args))
        else:
            stack.append((current, True))
            stack.extend((child, False) for child in reversed(children))
    return results[0]


def expression_depth(expr: Expr) -> int:
    """Levels of nesting of ``expr``: 1 for a literal or reference, 2 for
    ``a + 1``; compare with :data:`wfc.specs.limits.MAX_EXPRESSION_DEPTH`."""
    deepest = 0
    stack = [(expr, 1)]
    while stack:
        current, depth = stack.pop()
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in expr_children(current))
    return deepest


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
        case UserTaskNode(user=user, group=group, notes=notes, timers=timers):
            texts: list[tuple[str, Expr | None]] = [("user", user), ("group", group), ("notes", notes)]
            for name, text in texts:
                if text is not None:
                    yield f".{name}", text
            for index, timer in enumerate(timers):
                whom: list[tuple[str, Expr | None]] = [("user", timer.user), ("group", timer.group)]
                for name, text in whom:
                    if text is not None:
                        yield f".timers[{index}].{name}", text
                for a_index, arg in enumerate(timer.args):
                    yield f".timers[{index}].args[{a_index}]", arg
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
