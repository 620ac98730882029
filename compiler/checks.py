"""Validation of what the builder recorded: every rule, every problem.

Each check appends :class:`Problem` records; nothing raises, so one compile
reports everything at once.
"""

from __future__ import annotations

from collections.abc import Iterator

from wfc.compiler.errors import Problem
from wfc.compiler.types import assignable, describe, infer, literal_type
from wfc.dsl.expressions import caret
from wfc.dsl.handles import Expression
from wfc.dsl.recording import RecordedNode, RecordedThread, RecordedTimer, Recording
from wfc.dsl.source import Source
from wfc.specs import (
    ERROR_CODES,
    MAX_EXPRESSION_DEPTH,
    TERMINAL_NODES,
    ExitNode,
    FailNode,
    LiteralExpr,
    NopNode,
    OutputRef,
    SpawnThreadForEachNode,
    SpawnThreadNode,
    TaskNode,
    UserTaskNode,
    VarRef,
    WaitForThreadsNode,
    expression_depth,
    json_problems,
    walk_expr,
)
from wfc.specs.graph import trapped_reason, unfinishable
from wfc.specs.validation import expression_depth_reason

_ARITHMETIC = {"add", "subtract", "multiply", "divide"}
_TEXT_ROLES = {"user": "the user of a user task", "group": "the group of a user task",
               "notes": "the notes of a user task", "timer user": "the user of reassign_after()",
               "timer group": "the group of reassign_after()"}
_USER_TASK_CANCELLED = "USER_TASK_CANCELLED"


def check_recording(recording: Recording) -> list[Problem]:
    """Every problem with ``recording``, errors and warnings, in source order."""
    problems = [Problem(p.message, str(p.source)) for p in recording.problems]
    for node, source in recording.compensations_on_non_tasks:
        problems.append(Problem(
            f"compensate_with() on node {node.id!r}, a {node.kind.__struct_config__.tag} node: only task "
            "steps can be compensated; call it on what wf.execute() returned", str(source)))
    for thread in recording.threads.values():
        problems.extend(_check_thread(recording, thread))
        problems.extend(_check_trapped(thread))
    return sorted(problems, key=_source_order)


def _source_order(problem: Problem) -> tuple[str, int]:
    file, _, line = problem.source.rpartition(":")
    return (file, int(line)) if line.isdigit() else (problem.source, 0)


def _check_thread(recording: Recording, thread: RecordedThread) -> Iterator[Problem]:
    for first, duplicate in thread.duplicate_variables:
        yield Problem(f"variable {first.name!r} is declared twice in thread {thread.name!r} "
                      f"(first at {first.source}); declare it once", str(duplicate.source))
    for variable in thread.variables.values():
        if variable.default is not None and not assignable(variable.type, literal_type(variable.default)):
            yield Problem(f"the default {variable.default!r} of variable {variable.name!r} is not "
                          f"{_article(variable.type)}", str(variable.source))
    live = reachable(thread)
    for node in thread.nodes.values():
        yield from _check_uses(thread, node, live)
        yield from _check_node(recording, thread, node)
    yield from _check_reachable(thread)


def _uses(node: RecordedNode) -> Iterator[tuple[Expression, Source, str]]:
    """Every expression a node holds, with where it was written and what it is for."""
    for name, value in node.fields.items():
        items = value if isinstance(value, list) else list(value.values()) if isinstance(value, dict) else [value]
        for item in items:
            if isinstance(item, Expression):
                yield item, node.source, name
            elif isinstance(item, RecordedTimer):
                for expression, role in item.expressions():
                    yield expression, item.source, role
    if node.compensation is not None:
        for arg in node.compensation[1]:
            yield arg, node.compensation[3], "compensation"
    for edge in node.edges:
        if edge.when is not None:
            yield edge.when, edge.source or node.source, "condition"
        for mutation in edge.mutations:
            yield mutation.value, mutation.source, "mutation"


def _check_uses(thread: RecordedThread, node: RecordedNode, live: set[str]) -> Iterator[Problem]:
    def var_type(name: str) -> str | None:
        found = thread.visible_variable(name)
        return None if found is None else found.type

    for expression, source, role in _uses(node):
        depth = expression_depth(expression.expr)
        if depth > MAX_EXPRESSION_DEPTH:
            yield Problem(expression_depth_reason(depth), str(source))
            continue
        yield from _check_literals(expression, source)
        yield from _missing_outputs(thread, expression, source, live)
        for output in expression.outputs:
            if output.thread is not thread:
                yield Problem(
                    f"the output of node {output.id!r} (thread {output.thread.name!r}) is used in thread "
                    f"{thread.name!r}; node outputs are only visible in their own thread: assign it to a "
                    "variable there and use the variable", str(source))
        yield from _unknown_names(thread, expression, source)
        type_problems: list[str] = []
        kind = infer(expression.expr, var_type, type_problems)
        for message in type_problems:
            yield Problem(message + _show(expression), str(source))
        if role == "seconds" and kind not in ("int", "float", "any"):
            yield Problem(f"wf.sleep() needs a number of seconds, but this is {describe(expression.expr, kind)}",
                          str(source))
        if role == "until" and kind not in ("int", "float", "str", "any"):
            yield Problem("wf.sleep_until() needs epoch seconds (a number) or an ISO-8601 string, but this is "
                          f"{describe(expression.expr, kind)}", str(source))
        if node.kind is UserTaskNode and role in _TEXT_ROLES and kind in ("int", "float", "bool", "list", "null"):
            yield Problem(f"{_TEXT_ROLES[role]} is a string (a user id, a group name, text), but this is "
                          f"{describe(expression.expr, kind)}" + _show(expression), str(source))
        if role == "condition" and kind in ("str", "int", "float", "list", "null"):
            yield Problem(f"a condition must be true or false, but this is {describe(expression.expr, kind)}; "
                          "compare it, e.g. status == 'new'" + _show(expression), str(source))
    for edge in node.edges:
        for mutation in edge.mutations:
            yield from _check_mutation(thread, mutation.variable.name, mutation.op, mutation.value,
                                       mutation.variable.thread, str(mutation.source), var_type)


def _check_literals(expression: Expression, source: Source) -> Iterator[Problem]:
    """Literals within the limits of :mod:`wfc.specs.limits`; mostly written in
    ``wf.condition`` text, since Python values are checked when passed."""
    for sub in walk_expr(expression.expr):
        if isinstance(sub, LiteralExpr):
            for problem in json_problems(sub.value)[:1]:
                yield Problem(f"a literal value in this expression: {problem}" + _show(expression), str(source))


def _missing_outputs(thread: RecordedThread, expression: Expression, source: Source,
                     live: set[str]) -> Iterator[Problem]:
    """``@node`` references to nodes that do not run in this thread."""
    elsewhere = {output.id for output in expression.outputs if output.thread is not thread}
    reported: set[str] = set()
    for sub in walk_expr(expression.expr):
        if not isinstance(sub, OutputRef) or sub.node in live or sub.node in elsewhere or sub.node in reported:
            continue
        reported.add(sub.node)
        known = ", ".join(sorted(n for n in live if n != "entrypoint")) or "none"
        yield Problem(f"@{sub.node}: thread {thread.name!r} has no node {sub.node!r} that runs (its nodes: "
                      f"{known}); use the handle wf.execute() returned, or the id `wfc compile` gives the node"
                      + _show(expression), str(source))


def _check_trapped(thread: RecordedThread) -> Iterator[Problem]:
    """Nodes that can never reach the end of the thread, e.g. a loop whose condition is always true."""
    live = reachable(thread)
    graph = {
        node.id: (issubclass(node.kind, TERMINAL_NODES),
                  [(edge.to, None if edge.when is None else edge.when.expr) for edge in node.edges])
        for node in thread.nodes.values() if node.id in live
    }
    trapped = unfinishable(graph)
    if trapped:
        paths = [f"$.threads.{thread.name}.nodes.{node_id}" for node_id in trapped]
        yield Problem(trapped_reason(paths), str(thread.nodes[trapped[0]].source))


def _article(type_name: str) -> str:
    return f"an {type_name}" if type_name == "int" else f"a {type_name}"


def _show(expression: Expression) -> str:
    return f"\n  in: {expression.parsed.text}" if expression.parsed else ""


def _unknown_names(thread: RecordedThread, expression: Expression, source: Source) -> Iterator[Problem]:
    names = {use.name: use for use in expression.parsed.names} if expression.parsed else {}
    reported = set()
    for sub in walk_expr(expression.expr):
        if isinstance(sub, VarRef) and thread.visible_variable(sub.name) is None and sub.name not in reported:
            reported.add(sub.name)
            visible = sorted({n for t in [thread, *thread.ancestors()] for n in t.variables})
            message = (f"unknown name {sub.name!r}: no variable of that name is visible in thread "
                       f"{thread.name!r} (visible: {', '.join(visible) or 'none'}); declare it, or bind a "
                       "node output by keyword: wf.condition(\"c.ok\", c=charge)")
            use = names.get(sub.name)
            if use is not None and expression.parsed is not None:
                message += "\n" + caret(expression.parsed.text, use.column, use.length)
            yield Problem(message, str(source))


def _check_mutation(thread: RecordedThread, name: str, op: str, value: Expression, owner: RecordedThread,
                    source: str, var_type: object) -> Iterator[Problem]:
    if owner is not thread and owner not in thread.ancestors():
        yield Problem(f"thread {thread.name!r} changes variable {name!r} of thread {owner.name!r}, which it "
                      "cannot see; a thread sees only its own variables and those of the threads above it",
                      source)
        return
    declared = owner.variables[name].type
    kind = infer(value.expr, lambda n: (v.type if (v := thread.visible_variable(n)) else None), [])
    if op == "assign" and not assignable(declared, kind):
        yield Problem(f"cannot assign {describe(value.expr, kind)} to {declared} variable {name!r}", source)
    elif op in _ARITHMETIC and declared not in ("int", "float", "json") and not (op == "add" and declared == "str"):
        yield Problem(f"cannot {op} to {declared} variable {name!r}; arithmetic needs an int or float", source)
    elif op in _ARITHMETIC and declared == "int" and kind == "float":
        yield Problem(f"{op} of a float to int variable {name!r} would make it a float; declare it "
                      "with declare_float", source)
    elif op in ("append", "extend", "remove", "remove_key") and declared not in ("json",):
        yield Problem(f"{op} needs a json (list or object) variable, but {name!r} is {_article(declared)}", source)


def _check_node(recording: Recording, thread: RecordedThread, node: RecordedNode) -> Iterator[Problem]:
    if node.kind is WaitForThreadsNode:
        for spawn in node.fields["threads"]:
            if spawn.thread is not thread:
                yield Problem(f"wait_for_threads() in thread {thread.name!r} waits for {spawn.id!r}, spawned "
                              f"in thread {spawn.thread.name!r}; wait in the thread that spawned it",
                              str(node.source))
    if node.kind in (SpawnThreadNode, SpawnThreadForEachNode):
        yield from _check_spawn_inputs(recording, node)
    if node.kind is UserTaskNode:
        yield from _check_user_task_timers(node)
    for handler in node.handlers:
        if handler.on == "exception" and handler.name and not _can_throw(recording, node, handler.name):
            yield Problem(f"node {node.id!r} can never raise the exception {handler.name!r}: only tasks and "
                          "wf.fail() raise business exceptions", str(handler.source), "warning")
        if handler.on == "error" and handler.name and handler.name not in ERROR_CODES:
            yield Problem(f"unknown error code {handler.name!r}", str(handler.source))
        if handler.name == _USER_TASK_CANCELLED and handler.on == "error" and node.kind is not UserTaskNode:
            yield Problem(f"node {node.id!r} is not a user task, so it never fails with {_USER_TASK_CANCELLED}; "
                          "register this handler on what wf.assign_user_task() returned", str(handler.source),
                          "warning")


def _check_user_task_timers(node: RecordedNode) -> Iterator[Problem]:
    """Timers that read the task's own output (it has none while the task is
    open), that act after the task is already cancelled, or release a task
    that has no group to release it to."""
    timers: list[RecordedTimer] = node.fields["timers"]
    for timer in timers:
        if any(node in expression.outputs for expression, _ in timer.expressions()):
            yield Problem(f"this timer of user task {node.id!r} reads the task's own output, which exists only "
                          "once the task is completed, and timers act only while it is open", str(timer.source))
    cancel = next((t for t in timers if t.action == "cancel"), None)
    for timer in timers:
        if cancel is not None and timer is not cancel and timer.after >= cancel.after:
            yield Problem(f"this {timer.action} timer ({timer.after:g} s) never acts: the task is cancelled after "
                          f"{cancel.after:g} s (at {cancel.source})", str(timer.source), "warning")
    has_group = node.fields["group"] is not None or any(t.group is not None for t in timers)
    for timer in timers:
        if timer.action == "release" and not has_group:
            yield Problem(f"release_to_group_after() on user task {node.id!r}, which has no group to release it "
                          "to, so it does nothing unless an operator gives the task a group; assign it with "
                          "group=... as well", str(timer.source), "warning")


def _check_spawn_inputs(recording: Recording, node: RecordedNode) -> Iterator[Problem]:
    child = recording.threads[node.fields["thread"]]
    given = set(node.fields["inputs"])
    for name in sorted(given - set(child.variables)):
        yield Problem(f"input {name!r} for thread {child.name!r}, which declares no such variable; declare it "
                      f"in the thread function: t.declare_str({name!r}).required()", str(node.source))
    item_var = node.fields.get("item_var")
    for variable in child.variables.values():
        if variable.required and variable.name not in given and variable.name != item_var:
            yield Problem(f"thread {child.name!r} requires input {variable.name!r}; pass it: "
                          f"inputs={{{variable.name!r}: ...}}", str(node.source))


def _can_throw(recording: Recording, node: RecordedNode, name: str) -> bool:
    if node.kind is TaskNode:
        return True
    if node.kind is not WaitForThreadsNode:
        return False
    threads = [recording.threads[spawn.fields["thread"]] for spawn in node.fields["threads"]]
    seen: set[str] = set()
    while threads:
        thread = threads.pop()
        if thread.name in seen:
            continue
        seen.add(thread.name)
        for inner in thread.nodes.values():
            if inner.kind is TaskNode or (inner.kind is FailNode and inner.fields["failure"] == name):
                return True
            if inner.kind in (SpawnThreadNode, SpawnThreadForEachNode):
                threads.append(recording.threads[inner.fields["thread"]])
    return False


def reachable(thread: RecordedThread) -> set[str]:
    """Ids of the nodes reachable from the thread's entrypoint."""
    seen = {"entrypoint"}
    stack = ["entrypoint"]
    while stack:
        for edge in thread.nodes[stack.pop()].edges:
            if edge.to and edge.to not in seen:
                seen.add(edge.to)
                stack.append(edge.to)
    return seen


def is_scaffolding(node: RecordedNode) -> bool:
    """Nodes wfc adds on its own (joins, the final exit), not the user's steps."""
    return node.kind is NopNode or (node.kind is ExitNode and node.fields.get("output") is None)


def _check_reachable(thread: RecordedThread) -> Iterator[Problem]:
    seen = reachable(thread)
    predecessors = {edge.to for node in thread.nodes.values()
                    if node.id not in seen and not is_scaffolding(node) for edge in node.edges}
    for node in thread.nodes.values():
        if node.id in seen or is_scaffolding(node) or node.id in predecessors:
            continue
        yield Problem(f"this step (node {node.id!r}) can never run: it comes after the thread ended "
                      "with wf.fail(), wf.complete() or wf.compensate(), or after branches that all end it",
                      str(node.source))
