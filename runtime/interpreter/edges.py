"""Edges: choosing the edge out of a node and applying its mutations."""

from __future__ import annotations

from typing import Any

from wfc.runtime.interpreter.context import Scope, Step
from wfc.runtime.interpreter.expressions import ExpressionError, evaluate, evaluate_condition
from wfc.runtime.interpreter.secrets import MASK
from wfc.runtime.interpreter.state import ThreadRun
from wfc.runtime.interpreter.variables import coerce, mutate
from wfc.specs import Edge, Node


def take_edge(step: Step, thread: ThreadRun, node: Node) -> Edge:
    """Choose the edge out of ``node`` and apply its mutations.

    Raises:
        ExpressionError: no edge applies, or a condition or mutation failed
            (the variables are then left as they were).
    """
    edge = choose_edge(step, thread, node)
    apply_mutations(step, thread, edge)
    return edge


def choose_edge(step: Step, thread: ThreadRun, node: Node) -> Edge:
    """The first edge whose condition holds, else the one without a condition."""
    scope = Scope(step, thread)
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


def apply_mutations(step: Step, thread: ThreadRun, edge: Edge) -> None:
    """Apply an edge's mutations all or nothing."""
    undo: list[tuple[ThreadRun, str, Any]] = []
    scope = Scope(step, thread)
    try:
        for mutation in edge.mutations:
            owner = step.owner(thread, mutation.var)
            if owner is None:
                raise ExpressionError(f"variable {mutation.var!r} is not visible in thread {thread.name!r}")
            operand = evaluate(mutation.value, scope)
            value = mutate(owner.variables[mutation.var], mutation.op, operand, mutation.var)
            definition = step.var_def(owner, mutation.var)
            if definition is not None:
                try:
                    value = coerce(value, definition.type)
                except ValueError as exc:
                    raise ExpressionError(f"cannot set variable {mutation.var!r}: {exc}") from None
            undo.append((owner, mutation.var, owner.variables[mutation.var]))
            owner.variables[mutation.var] = value
            shown = MASK if mutation.var in step.info.masked and value is not None else value
            step.log(thread, "VARIABLE_SET", thread.node, var=mutation.var, op=mutation.op, value=shown)
    except ExpressionError:
        for owner, name, old in reversed(undo):
            owner.variables[name] = old
        raise
