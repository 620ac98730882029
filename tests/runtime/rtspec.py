"""Terse builders of WorkflowSpec documents for runtime tests.

The runtime runs JSON specs and never imports the DSL, so its tests build
specs directly: node helpers return JSON dicts, :func:`spec` links nodes that
have no explicit ``edges`` in order, adds the entrypoint node, validates and
hashes the document.
"""

from __future__ import annotations

from typing import Any

from wfc.specs import WorkflowSpec, from_builtins, validate, with_hash

Json = dict[str, Any]


# ---------------------------------------------------------------- expressions


def expr(value: Any) -> Json:
    """An expression dict as is, anything else as a literal."""
    if isinstance(value, dict) and "kind" in value:
        return value
    return lit(value)


def lit(value: Any) -> Json:
    return {"kind": "literal", "value": value}


def var(name: str, *path: str | int) -> Json:
    return {"kind": "var", "name": name, "path": list(path)}


def out(node: str, *path: str | int) -> Json:
    return {"kind": "output", "node": node, "path": list(path)}


def op(left: Any, operator: str, right: Any) -> Json:
    return {"kind": "binary", "op": operator, "left": expr(left), "right": expr(right)}


def not_(operand: Any) -> Json:
    return {"kind": "unary", "op": "not", "operand": expr(operand)}


def neg(operand: Any) -> Json:
    return {"kind": "unary", "op": "-", "operand": expr(operand)}


def call(fn: str, *args: Any) -> Json:
    return {"kind": "call", "fn": fn, "args": [expr(a) for a in args]}


def lst(*items: Any) -> Json:
    return {"kind": "list", "items": [expr(i) for i in items]}


# ---------------------------------------------------------------- edges


def mut(name: str, operation: str, value: Any) -> Json:
    return {"var": name, "op": operation, "value": expr(value)}


def edge(to: str, when: Any = None, *mutations: Json) -> Json:
    result: Json = {"to": to, "mutations": list(mutations)}
    if when is not None:
        result["when"] = expr(when)
    return result


def handler(on: str, thread: str, name: str | None = None) -> Json:
    return {"on": on, "thread": thread, "name": name}


# ---------------------------------------------------------------- nodes


def _node(kind: str, edges: list[Json] | None, handlers: list[Json] | None, **fields: Any) -> Json:
    node: Json = {"kind": kind, **{k: v for k, v in fields.items() if v is not None}}
    if edges is not None:
        node["edges"] = edges
    if handlers:
        node["handlers"] = handlers
    return node


def task(
    name: str,
    *args: Any,
    retries: int = 0,
    timeout: float | None = None,
    backoff: Json | None = None,
    compensation: Json | None = None,
    edges: list[Json] | None = None,
    handlers: list[Json] | None = None,
) -> Json:
    return _node(
        "task",
        edges,
        handlers,
        task=name,
        args=[expr(a) for a in args],
        retries=retries,
        timeout=timeout,
        backoff=backoff,
        compensation=compensation,
    )


def backoff(initial: float = 0.01, multiplier: float = 2.0, maximum: float = 1.0) -> Json:
    return {"initial": initial, "multiplier": multiplier, "maximum": maximum}


def nop(edges: list[Json] | None = None, handlers: list[Json] | None = None) -> Json:
    return _node("nop", edges, handlers)


def exit_(output: Any = None) -> Json:
    return _node("exit", [], None, output=None if output is None else expr(output))


def wait(
    event: str,
    timeout: float | None = None,
    correlation: Any = None,
    edges: list[Json] | None = None,
    handlers: list[Json] | None = None,
) -> Json:
    return _node(
        "wait_for_event",
        edges,
        handlers,
        event=event,
        timeout=timeout,
        correlation=None if correlation is None else expr(correlation),
    )


def sleep(seconds: Any, edges: list[Json] | None = None, handlers: list[Json] | None = None) -> Json:
    return _node("sleep", edges, handlers, seconds=expr(seconds))


def sleep_until(until: Any, edges: list[Json] | None = None) -> Json:
    return _node("sleep_until", edges, None, until=expr(until))


def fail(failure: str, message: str = "", content: Any = None) -> Json:
    return _node("fail", [], None, failure=failure, message=message, content=None if content is None else expr(content))


def spawn(thread: str, edges: list[Json] | None = None, **inputs: Any) -> Json:
    node = _node("spawn_thread", edges, None, thread=thread)
    if inputs:
        node["inputs"] = {name: expr(value) for name, value in inputs.items()}
    return node


def for_each(thread: str, items: Any, item_var: str = "item", edges: list[Json] | None = None, **inputs: Any) -> Json:
    node = _node("spawn_thread_for_each", edges, None, thread=thread, items=expr(items), item_var=item_var)
    if inputs:
        node["inputs"] = {name: expr(value) for name, value in inputs.items()}
    return node


def wait_threads(
    *spawns: str,
    strategy: str = "ALL",
    timeout: float | None = None,
    edges: list[Json] | None = None,
    handlers: list[Json] | None = None,
) -> Json:
    return _node("wait_for_threads", edges, handlers, threads=list(spawns), strategy=strategy, timeout=timeout)


def compensate() -> Json:
    return _node("compensate", [], None)


def undo(name: str, *args: Any, retries: int = 3) -> Json:
    """A task node's ``compensation``."""
    return {"task": name, "args": [expr(a) for a in args], "retries": retries}


def user_task(
    form: str,
    user: Any = None,
    group: Any = None,
    notes: Any = None,
    timers: list[Json] | None = None,
    edges: list[Json] | None = None,
    handlers: list[Json] | None = None,
) -> Json:
    """A ``user_task`` node assigning ``form`` (values of user/group/notes as expressions)."""
    return _node(
        "user_task",
        edges,
        handlers,
        form=form,
        user=None if user is None else expr(user),
        group=None if group is None else expr(group),
        notes=None if notes is None else expr(notes),
        timers=timers or None,
    )


def ut_timer(
    after: float, action: str, *args: Any, user: Any = None, group: Any = None, task: str | None = None
) -> Json:
    """One ``UserTaskNode.timers`` entry."""
    timer: Json = {"after": after, "action": action}
    if user is not None:
        timer["user"] = expr(user)
    if group is not None:
        timer["group"] = expr(group)
    if task is not None:
        timer["task"] = task
    if args:
        timer["args"] = [expr(a) for a in args]
    return timer


def field(name: str, kind: str = "str", required: bool = True, **more: Any) -> Json:
    """One field of a form."""
    return {"name": name, "type": kind, "required": required, **more}


def form(name: str, *fields: Json) -> Json:
    """A user task form."""
    return {"name": name, "fields": list(fields)}


def interrupt(event: str, thread: str) -> Json:
    return {"event": event, "thread": thread}


def variable(kind: str, *, required: bool = False, default: Any = None, masked: bool = False) -> Json:
    return {"type": kind, "required": required, "default": default, "masked": masked}


# ---------------------------------------------------------------- documents


def thread(
    nodes: list[tuple[str, Json]], variables: dict[str, Json] | None = None, interrupts: list[Json] | None = None
) -> Json:
    """A thread; nodes without ``edges`` get an edge to the next node."""
    items = list(nodes)
    if not items or items[0][0] != "entrypoint":
        items.insert(0, ("entrypoint", {"kind": "entrypoint"}))
    linked: dict[str, Json] = {}
    for index, (node_id, node) in enumerate(items):
        node = dict(node)
        if "edges" not in node:
            node["edges"] = [{"to": items[index + 1][0]}] if index + 1 < len(items) else []
        linked[node_id] = node
    return {"nodes": linked, "variables": variables or {}, "interrupts": interrupts or []}


def spec(
    name: str,
    nodes: list[tuple[str, Json]],
    variables: dict[str, Json] | None = None,
    threads: dict[str, list[tuple[str, Json]] | Json] | None = None,
    version: tuple[int, int] = (1, 0),
    interrupts: list[Json] | None = None,
    forms: list[Json] | None = None,
) -> WorkflowSpec:
    """A validated, hashed spec whose entrypoint thread is ``main``."""
    all_threads = {"main": thread(nodes, interrupts=interrupts)}
    for thread_name, body in (threads or {}).items():
        all_threads[thread_name] = thread(body) if isinstance(body, list) else body
    raw = {
        "schema": "wfc/1",
        "name": name,
        "version": {"major": version[0], "revision": version[1]},
        "entrypoint": "main",
        "threads": all_threads,
        "variables": variables or {},
    }
    if forms:
        raw["forms"] = {f["name"]: f for f in forms}
    result = from_builtins(raw)
    validate(result)
    return with_hash(result)
