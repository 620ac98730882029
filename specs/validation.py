"""What a spec's types alone cannot check: names, references, ranges.

Raises the first :class:`SpecError` found, its path naming the exact field.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from typing import Any

import msgspec

from wfc.specs.errors import SpecError
from wfc.specs.expressions import FUNCTIONS, CallExpr, Expr, LiteralExpr, OutputRef, VarRef
from wfc.specs.formats import SCHEMA_WFC_1, schema_problem
from wfc.specs.forms import FormDef, has_field_type
from wfc.specs.graph import trapped_nodes, trapped_reason
from wfc.specs.limits import MAX_EXPRESSION_DEPTH, duration_problem, json_problems, moment_problem
from wfc.specs.nodes import (
    TERMINAL_NODES,
    Backoff,
    EntrypointNode,
    Node,
    SleepNode,
    SleepUntilNode,
    SpawnThreadForEachNode,
    SpawnThreadNode,
    TaskNode,
    UserTaskNode,
    UserTaskTimer,
    WaitForEventNode,
    WaitForThreadsNode,
    node_kind,
)
from wfc.specs.walk import expression_depth, node_expressions, walk_expr
from wfc.specs.workflow import SCHEMA_ID, VariableDef, WorkflowSpec

_ENTRY = "entrypoint"
_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.:-]*")
_VAR_NAME = re.compile(r"[^\W\d][\w.:-]*")
_NAME_RULE = "letters, digits, '_', '-', '.' or ':'"
#: Largest major or revision number: a 32-bit integer column of the database.
_MAX_VERSION = 2**31 - 1


def validate(spec: WorkflowSpec) -> None:
    """Check a decoded spec; raises the first :class:`SpecError` found.

    Besides names and references, this applies the limits of
    :mod:`wfc.specs.limits` (so every spec that passes can be stored and run)
    and refuses a graph in which some node can never reach an exit, fail or
    compensate node (:func:`trapped_nodes`).
    """
    _check_schema(spec.schema)
    _check_expression_depths(spec)  # first: what follows may recurse into expressions
    _check_stored_values(spec)
    _check_name(spec.name, "workflow name", "$.name")
    if spec.entrypoint not in spec.threads:
        raise SpecError(f"thread {spec.entrypoint!r} does not exist; threads are {sorted(spec.threads)}",
                        "$.entrypoint")
    if not (1 <= spec.version.major <= _MAX_VERSION and 0 <= spec.version.revision <= _MAX_VERSION):
        raise SpecError(f"major must be 1 to {_MAX_VERSION} and revision 0 to {_MAX_VERSION}", "$.version")
    _check_variables(spec.variables, "$.variables")
    for form_name, form in spec.forms.items():
        _check_form(form_name, form, f"$.forms.{form_name}")
    for thread_name, thread in spec.threads.items():
        path = f"$.threads.{thread_name}"
        _check_name(thread_name, "thread name", path)
        _check_variables(thread.variables, f"{path}.variables")
        _validate_thread(spec, thread_name, thread.nodes, path)
        for index, interrupt in enumerate(thread.interrupts):
            _check_thread(spec, interrupt.thread, f"{path}.interrupts[{index}].thread")
            _check_label(interrupt.event, "event name", f"{path}.interrupts[{index}].event")
    known = set(spec.variables).union(*(t.variables for t in spec.threads.values()))
    for thread_name, thread in spec.threads.items():
        for node_id, node in thread.nodes.items():
            _check_declared(node, known, f"$.threads.{thread_name}.nodes.{node_id}")
    for thread_name, thread in spec.threads.items():
        trapped = trapped_nodes(thread)
        if trapped:
            paths = [f"$.threads.{thread_name}.nodes.{node_id}" for node_id in trapped]
            raise SpecError(trapped_reason(paths), paths[0])


def _check_expression_depths(spec: WorkflowSpec) -> None:
    for thread_name, thread in spec.threads.items():
        for node_id, node in thread.nodes.items():
            for expr_path, expr in node_expressions(node):
                depth = expression_depth(expr)
                if depth > MAX_EXPRESSION_DEPTH:
                    raise SpecError(expression_depth_reason(depth),
                                    f"$.threads.{thread_name}.nodes.{node_id}{expr_path}")


def expression_depth_reason(depth: int) -> str:
    """The message for an expression nested past :data:`MAX_EXPRESSION_DEPTH`."""
    return (f"the expression nests {depth} levels deep, more than the {MAX_EXPRESSION_DEPTH} allowed (a chain "
            f"of n terms like `a and b and c` nests n levels); split it, e.g. compute parts into variables in "
            "earlier steps")


def _check_stored_values(spec: WorkflowSpec) -> None:
    """Literal values and defaults are JSON within the limits, and nothing in
    the document is a number or string JSON and the database cannot hold."""
    for path, value in _literal_values(spec):
        problems = json_problems(value)
        if problems:
            raise SpecError(problems[0].reason, path + problems[0].path[1:])
    # Expression depth is checked, so turning the spec into builtins cannot recurse too far.
    problems = json_problems(msgspec.to_builtins(spec), max_depth=None)
    if problems:
        raise SpecError(problems[0].reason, problems[0].path)


def _literal_values(spec: WorkflowSpec) -> Iterator[tuple[str, Any]]:
    for name, variable in spec.variables.items():
        yield f"$.variables.{name}.default", variable.default
    for thread_name, thread in spec.threads.items():
        base = f"$.threads.{thread_name}"
        for name, variable in thread.variables.items():
            yield f"{base}.variables.{name}.default", variable.default
        for node_id, node in thread.nodes.items():
            for expr_path, expr in node_expressions(node):
                for sub in walk_expr(expr):
                    if isinstance(sub, LiteralExpr):
                        yield f"{base}.nodes.{node_id}{expr_path}", sub.value


def _check_label(text: str, what: str, path: str) -> None:
    """Names stored in their own database column: no NUL, which PostgreSQL text refuses."""
    if "\x00" in text:
        raise SpecError(f"{what} contains a NUL character, which the database cannot store", path)


def _check_schema(schema: str) -> None:
    problem = schema_problem(schema)
    if problem is not None:
        raise SpecError(problem, "$.schema")


def _check_name(name: str, what: str, path: str) -> None:
    if not _NAME.fullmatch(name):
        raise SpecError(f"{what} {name!r} must be {_NAME_RULE}", path)


def _check_variables(variables: dict[str, VariableDef], path: str) -> None:
    for name, variable in variables.items():
        here = f"{path}.{name}"
        if not _VAR_NAME.fullmatch(name):
            raise SpecError(f"variable name {name!r} must start with a letter or '_' and be {_NAME_RULE}", here)
        if variable.masked and variable.searchable:
            # The index stores values in the clear (a hash of a short secret
            # such as a card number is reversed by trying them all).
            raise SpecError(
                f"variable {name!r} is both masked and searchable: a masked value must not be indexed; "
                f"drop .searchable(), or search by another variable (an id) that is not secret",
                here,
            )
        if variable.default is not None and not has_field_type(variable.default, variable.type):
            raise SpecError(f"default {variable.default!r} is not of type {variable.type}", f"{here}.default")


def _check_form(key: str, form: FormDef, path: str) -> None:
    _check_name(key, "form name", path)
    if form.name != key:
        raise SpecError(f"the form under {key!r} is named {form.name!r}; file each form under its own name",
                        f"{path}.name")
    seen: set[str] = set()
    for index, field in enumerate(form.fields):
        here = f"{path}.fields[{index}]"
        if not _VAR_NAME.fullmatch(field.name):
            raise SpecError(f"field name {field.name!r} must start with a letter or '_' and be {_NAME_RULE}",
                            f"{here}.name")
        if field.name in seen:
            raise SpecError(f"form {key!r} has two fields named {field.name!r}", f"{here}.name")
        seen.add(field.name)
        if field.display_name is not None:
            if not field.display_name.strip():
                raise SpecError("display_name is empty; leave it out to show the field's name",
                                f"{here}.display_name")
            _check_label(field.display_name, "display_name", f"{here}.display_name")
        _check_label(field.description, "description", f"{here}.description")


def _check_thread(spec: WorkflowSpec, name: str, path: str) -> None:
    if name not in spec.threads:
        raise SpecError(f"thread {name!r} does not exist; threads are {sorted(spec.threads)}", path)


def _validate_thread(spec: WorkflowSpec, thread_name: str, nodes: dict[str, Node], path: str) -> None:
    if not isinstance(nodes.get(_ENTRY), EntrypointNode):
        raise SpecError(f"thread needs an entrypoint node with id {_ENTRY!r}", f"{path}.nodes")
    if not any(isinstance(n, TERMINAL_NODES) for n in nodes.values()):
        raise SpecError("thread has no exit, fail or compensate node, so it can never end", f"{path}.nodes")
    for node_id, node in nodes.items():
        here = f"{path}.nodes.{node_id}"
        _check_name(node_id, "node id", here)
        if isinstance(node, EntrypointNode) and node_id != _ENTRY:
            raise SpecError(f"only the node {_ENTRY!r} may be an entrypoint", here)
        _check_edges(node, nodes, thread_name, here)
        for index, handler in enumerate(node.handlers):
            _check_thread(spec, handler.thread, f"{here}.handlers[{index}].thread")
        _validate_node(spec, nodes, node, here)


def _check_edges(node: Node, nodes: dict[str, Node], thread_name: str, here: str) -> None:
    kind = node_kind(node)
    if isinstance(node, TERMINAL_NODES):
        if node.edges:
            article = "an" if kind[0] in "aeiou" else "a"
            raise SpecError(f"{article} {kind} node ends its thread and cannot have edges", f"{here}.edges")
        return
    if not node.edges:
        raise SpecError("node has no outgoing edge; only exit, fail and compensate nodes end a thread",
                        f"{here}.edges")
    for index, edge in enumerate(node.edges):
        if edge.to not in nodes:
            raise SpecError(f"edge to node {edge.to!r}, which is not in thread {thread_name!r}",
                            f"{here}.edges[{index}].to")


def _validate_node(spec: WorkflowSpec, nodes: dict[str, Node], node: Node, here: str) -> None:
    match node:
        case TaskNode(task=task, retries=retries, timeout=timeout, backoff=backoff, compensation=compensation):
            _check_label(task, "task name", f"{here}.task")
            if retries is not None:
                _check_retries(spec, retries, f"{here}.retries")
            _positive(timeout, f"{here}.timeout")
            if backoff is not None:
                _check_backoff(backoff, f"{here}.backoff")
            if compensation is not None:
                _check_label(compensation.task, "task name", f"{here}.compensation.task")
                _at_least_zero(compensation.retries, f"{here}.compensation.retries")
        case WaitForEventNode(event=event, timeout=timeout):
            _check_label(event, "event name", f"{here}.event")
            _positive(timeout, f"{here}.timeout")
        case SleepNode(seconds=LiteralExpr(value=int() | float() as seconds)) if not isinstance(seconds, bool):
            problem = duration_problem(seconds)  # a negative one fails the node when it runs
            if problem is not None:
                raise SpecError(problem, f"{here}.seconds")
        case SleepUntilNode(until=LiteralExpr(value=int() | float() as moment)) if not isinstance(moment, bool):
            problem = moment_problem(moment)
            if problem is not None:
                raise SpecError(problem, f"{here}.until")
        case SpawnThreadNode(thread=thread) | SpawnThreadForEachNode(thread=thread):
            _check_thread(spec, thread, f"{here}.thread")
        case UserTaskNode():
            _check_user_task(spec, node, here)
        case WaitForThreadsNode(threads=spawns, timeout=timeout):
            _positive(timeout, f"{here}.timeout")
            for index, spawn in enumerate(spawns):
                if not isinstance(nodes.get(spawn), SpawnThreadNode | SpawnThreadForEachNode):
                    raise SpecError(f"{spawn!r} is not a spawn node of this thread", f"{here}.threads[{index}]")
        case _:
            pass
    for expr_path, expr in node_expressions(node):
        _validate_expr(nodes, expr, f"{here}{expr_path}")


def _check_user_task(spec: WorkflowSpec, node: UserTaskNode, here: str) -> None:
    if node.form not in spec.forms:
        known = ", ".join(sorted(spec.forms)) or "none"
        raise SpecError(f"form {node.form!r} is not in the spec's forms (forms: {known})", f"{here}.form")
    if node.user is None and node.group is None:
        raise SpecError("a user task needs a user or a group (or both), so someone can see it", f"{here}.user")
    for name, value in (("user", node.user), ("group", node.group), ("notes", node.notes)):
        _check_text_literal(value, name, f"{here}.{name}")
    for index, timer in enumerate(node.timers):
        _check_user_task_timer(timer, f"{here}.timers[{index}]")


def _check_text_literal(value: Expr | None, what: str, path: str) -> None:
    """A constant user, group or notes is a string; user and group not empty."""
    if not isinstance(value, LiteralExpr):
        return
    if not isinstance(value.value, str):
        raise SpecError(f"{what} must be a string, got {type(value.value).__name__}", path)
    if what != "notes" and not value.value.strip():
        raise SpecError(f"{what} is an empty string; leave it out instead", path)
    _check_label(value.value, what, path)


def _check_user_task_timer(timer: UserTaskTimer, path: str) -> None:
    if not (math.isfinite(timer.after) and timer.after > 0):
        raise SpecError("after must be > 0 seconds", f"{path}.after")
    problem = duration_problem(timer.after)
    if problem is not None:
        raise SpecError(problem, f"{path}.after")
    if timer.action != "remind":
        if timer.task is not None:
            raise SpecError(f"a {timer.action} timer runs no task; only remind timers have one", f"{path}.task")
        if timer.args:
            raise SpecError(f"a {timer.action} timer takes no args; only remind timers have them", f"{path}.args")
    if timer.action != "reassign":
        for name, value in (("user", timer.user), ("group", timer.group)):
            if value is not None:
                raise SpecError(f"a {timer.action} timer has no {name}; only reassign timers have one",
                                f"{path}.{name}")
    if timer.action == "reassign":
        if timer.user is None and timer.group is None:
            raise SpecError("a reassign timer needs a user or a group (or both)", f"{path}.user")
        _check_text_literal(timer.user, "user", f"{path}.user")
        _check_text_literal(timer.group, "group", f"{path}.group")
    if timer.action == "remind":
        if timer.task is None or not timer.task.strip():
            raise SpecError("a remind timer needs the name of the task it runs", f"{path}.task")
        _check_label(timer.task, "task name", f"{path}.task")


def _at_least_zero(value: int, path: str) -> None:
    if value < 0:
        raise SpecError("retries must be >= 0", path)


def _check_retries(spec: WorkflowSpec, retries: int, path: str) -> None:
    _at_least_zero(retries, path)
    if retries == 0 and spec.schema == SCHEMA_WFC_1:
        # wfc/1 writes an unset count as 0, so "no retries" would read back as "unset".
        raise SpecError(f"retries 0 (no retries) cannot be written in format {SCHEMA_WFC_1!r}, where 0 means "
                        f"unset; leave retries unset (None) or use format {SCHEMA_ID!r}", path)


def _positive(value: float | None, path: str) -> None:
    if value is None:
        return
    if not (math.isfinite(value) and value > 0):
        raise SpecError("timeout must be > 0 seconds", path)
    problem = duration_problem(value)
    if problem is not None:
        raise SpecError(problem, path)


def _check_backoff(backoff: Backoff, path: str) -> None:
    values = {"initial": backoff.initial, "multiplier": backoff.multiplier, "maximum": backoff.maximum}
    for name, value in values.items():
        if not math.isfinite(value) or value <= 0:
            raise SpecError(f"{name} must be a number > 0", f"{path}.{name}")
        problem = duration_problem(value) if name != "multiplier" else None
        if problem is not None:
            raise SpecError(problem, f"{path}.{name}")
    if backoff.multiplier < 1:
        raise SpecError("multiplier must be >= 1, or delays would shrink", f"{path}.multiplier")
    if backoff.maximum < backoff.initial:
        raise SpecError("maximum must be >= initial", f"{path}.maximum")


def _validate_expr(nodes: dict[str, Node], expr: Expr, path: str) -> None:
    for sub in walk_expr(expr):
        if isinstance(sub, OutputRef) and sub.node not in nodes:
            raise SpecError(f"output of node {sub.node!r}, which is not in this thread", path)
        if isinstance(sub, CallExpr):
            if sub.fn not in FUNCTIONS:
                raise SpecError(f"unknown function {sub.fn!r}; known: {', '.join(FUNCTIONS)}", path)
            low, high = FUNCTIONS[sub.fn]
            if not low <= len(sub.args) <= high:
                raise SpecError(f"{sub.fn}() takes {low}..{high} arguments, got {len(sub.args)}", path)


def _check_declared(node: Node, known: set[str], here: str) -> None:
    """Every variable a node reads or changes is declared, reported at the
    field that names it, in document order."""
    for expr_path, expr in node_expressions(node):
        for sub in walk_expr(expr):
            if isinstance(sub, VarRef) and sub.name not in known:
                raise SpecError(f"variable {sub.name!r} is not declared", f"{here}{expr_path}")
    for e_index, edge in enumerate(node.edges):
        for m_index, mutation in enumerate(edge.mutations):
            if mutation.var not in known:
                raise SpecError(f"variable {mutation.var!r} is not declared",
                                f"{here}.edges[{e_index}].mutations[{m_index}].var")
