"""Whether every node of a thread can reach its end: a spec in which some
node cannot loops (or waits) forever, and validation refuses it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from wfc.specs.expressions import Expr, LiteralExpr
from wfc.specs.nodes import TERMINAL_NODES
from wfc.specs.workflow import ThreadSpec

__all__ = ["Graph", "trapped_nodes", "trapped_reason", "unfinishable"]


def trapped_reason(paths: list[str]) -> str:
    """The message for nodes that can never reach the end of their thread."""
    many = len(paths) > 1
    return (f"{'nodes' if many else 'node'} {', '.join(paths)} can never reach an exit, fail or compensate "
            f"node, so a run that gets there never ends; give {'them' if many else 'it'} a way out (a loop "
            "condition that can become false, or a branch that completes or fails)")


def trapped_nodes(thread: ThreadSpec) -> list[str]:
    """Ids of the nodes of ``thread`` from which no path of edges leads to an
    exit, fail or compensate node: first those where a run gets stuck (on a
    loop, or at a node without an edge it can take), then those that only
    lead there, each group in the thread's order.

    An edge counts if it can ever be taken: an edge whose condition is the
    literal ``false`` never is, and once an edge's condition is the literal
    ``true`` neither the later conditional edges nor the fallback are. A
    failure handler runs another thread and then goes on along the failed
    node's edges, so it opens no other way out of this thread.
    """
    return unfinishable({
        node_id: (isinstance(node, TERMINAL_NODES), [(edge.to, edge.when) for edge in node.edges])
        for node_id, node in thread.nodes.items()
    })


#: A thread's graph for :func:`unfinishable`: node id -> (ends the thread, its
#: edges as (target id, condition or None), in order).
Graph = Mapping[str, tuple[bool, Sequence[tuple[str, Expr | None]]]]


def unfinishable(graph: Graph) -> list[str]:
    """The nodes of ``graph`` that cannot reach a node that ends the thread;
    the rule of :func:`trapped_nodes`, for the compiler's graphs too."""
    into: dict[str, list[str]] = {node_id: [] for node_id in graph}
    for node_id, (_, edges) in graph.items():
        for target in _takeable(edges):
            if target in into:
                into[target].append(node_id)
    ending = [node_id for node_id, (ends, _) in graph.items() if ends]
    can_end = set(ending)
    stack = list(ending)
    while stack:
        for source in into[stack.pop()]:
            if source not in can_end:
                can_end.add(source)
                stack.append(source)
    trapped = [node_id for node_id in graph if node_id not in can_end]
    # Name where runs get stuck first (a loop, a dead end), then what only leads there.
    return sorted(trapped, key=lambda node_id: not _stuck_at(graph, node_id))


def _stuck_at(graph: Graph, start: str) -> bool:
    """Whether a run gets stuck at ``start`` itself: it is on a cycle, or has no edge to take."""
    targets = [target for target in _takeable(graph[start][1]) if target in graph]
    seen: set[str] = set()
    while targets:
        node_id = targets.pop()
        if node_id == start:
            return True
        if node_id not in seen:
            seen.add(node_id)
            targets.extend(target for target in _takeable(graph[node_id][1]) if target in graph)
    return not any(target in graph for target in _takeable(graph[start][1]))


def _takeable(edges: Sequence[tuple[str, Expr | None]]) -> list[str]:
    """Targets of the edges some run may take (see :func:`trapped_nodes`)."""
    targets: list[str] = []
    fallback: str | None = None
    for target, when in edges:
        match when:
            case None:
                fallback = target if fallback is None else fallback
            case LiteralExpr(value=False):
                pass
            case LiteralExpr(value=True):
                return [*targets, target]
            case _:
                targets.append(target)
    return targets if fallback is None else [*targets, fallback]
