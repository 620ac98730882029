"""Canonical JSON for specs: encode, decode with validation, hash, schema."""

from __future__ import annotations

import hashlib
import re
from typing import Any

import msgspec
from wfc.specs.errors import SpecError
from wfc.specs.expressions import FUNCTIONS, CallExpr, Expr, OutputRef
from wfc.specs.nodes import (
    TERMINAL_NODES,
    EntrypointNode,
    Node,
    SpawnThreadForEachNode,
    SpawnThreadNode,
    TaskNode,
    WaitForThreadsNode,
    node_kind,
)
from wfc.specs.walk import node_expressions, referenced_vars, walk_expr
from wfc.specs.workflow import SCHEMA_ID, ThreadSpec, VariableDef, WorkflowSpec, first_version

_ENTRY = "entrypoint"
_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.:-]*$")


def dumps(spec: WorkflowSpec) -> bytes:
    """Encode a spec as canonical JSON: sorted keys, two-space indent, a
    trailing newline. Equal specs give equal bytes."""
    compact = msgspec.json.encode(spec, order="sorted")
    return msgspec.json.format(compact, indent=2) + b"\n"


def body_hash(spec: WorkflowSpec) -> str:
    """Hash of everything in the spec except its version and hash."""
    body = msgspec.structs.replace(spec, version=first_version(), hash="")
    return "sha256:" + hashlib.sha256(dumps(body)).hexdigest()


def with_hash(spec: WorkflowSpec) -> WorkflowSpec:
    """Return ``spec`` with :attr:`WorkflowSpec.hash` filled in."""
    return msgspec.structs.replace(spec, hash=body_hash(spec))


def loads(data: bytes | str) -> WorkflowSpec:
    """Decode and validate a spec.

    Raises:
        SpecError: the document is not JSON, does not match the format, or is
            inconsistent (an edge to a missing node, an unknown thread, …). Its
            ``path`` names the offending field.
    """
    try:
        raw = msgspec.json.decode(data)
    except msgspec.DecodeError as exc:
        raise SpecError(f"not valid JSON ({exc}); check the file is a spec written by `wfc compile`") from None
    spec = from_builtins(raw)
    validate(spec)
    return spec


def from_builtins(raw: Any) -> WorkflowSpec:
    """Convert decoded JSON (dicts, lists, scalars) into a :class:`WorkflowSpec`,
    raising :class:`SpecError` with the exact path of the first bad field."""
    try:
        return msgspec.convert(raw, WorkflowSpec)
    except msgspec.ValidationError as exc:
        reason, path = _split(exc)
    if "[...]" in path:
        # msgspec hides dict keys; find the exact thread, node or variable.
        _locate(raw)
    raise SpecError(reason, path)


def _split(exc: msgspec.ValidationError) -> tuple[str, str]:
    reason, _, path = str(exc).rpartition(" - at `")
    if not reason:
        return str(exc), "$"
    return reason, path.rstrip("`")


def _locate(raw: dict[str, Any]) -> None:
    def check(value: Any, kind: Any, path: str) -> None:
        try:
            msgspec.convert(value, kind)
        except msgspec.ValidationError as exc:
            reason, sub = _split(exc)
            raise SpecError(reason, path + sub[1:]) from None

    for name, var in raw.get("variables", {}).items():
        check(var, VariableDef, f"$.variables.{name}")
    for thread_name, thread in raw.get("threads", {}).items():
        base = f"$.threads.{thread_name}"
        if not isinstance(thread, dict):
            check(thread, ThreadSpec, base)
            continue
        for node_id, node in (thread.get("nodes") or {}).items():
            check(node, Node, f"{base}.nodes.{node_id}")
        for name, var in (thread.get("variables") or {}).items():
            check(var, VariableDef, f"{base}.variables.{name}")
        check(thread, ThreadSpec, base)


def validate(spec: WorkflowSpec) -> None:
    """Check what the types alone cannot; raises the first :class:`SpecError`."""
    if spec.schema != SCHEMA_ID:
        raise SpecError(
            f"unsupported schema {spec.schema!r}; this wfc reads {SCHEMA_ID!r}: upgrade wfc", "$.schema"
        )
    if not _NAME.match(spec.name):
        raise SpecError(f"workflow name {spec.name!r} must be letters, digits, '_', '-', '.' or ':'", "$.name")
    if spec.entrypoint not in spec.threads:
        raise SpecError(
            f"thread {spec.entrypoint!r} does not exist; threads are {sorted(spec.threads)}", "$.entrypoint"
        )
    if spec.version.major < 1 or spec.version.revision < 0:
        raise SpecError("major must be >= 1 and revision >= 0", "$.version")
    for thread_name, thread in spec.threads.items():
        _validate_thread(spec, thread_name, thread.nodes, f"$.threads.{thread_name}")
        for index, interrupt in enumerate(thread.interrupts):
            _check_thread(spec, interrupt.thread, f"$.threads.{thread_name}.interrupts[{index}].thread")
    known_vars = set(spec.variables).union(*(t.variables for t in spec.threads.values()))
    for thread_name, thread in spec.threads.items():
        for node_id, node in thread.nodes.items():
            for name in referenced_vars(node):
                if name not in known_vars:
                    raise SpecError(f"variable {name!r} is not declared", f"$.threads.{thread_name}.nodes.{node_id}")


def _check_thread(spec: WorkflowSpec, name: str, path: str) -> None:
    if name not in spec.threads:
        raise SpecError(f"thread {name!r} does not exist; threads are {sorted(spec.threads)}", path)


def _validate_thread(spec: WorkflowSpec, thread_name: str, nodes: dict[str, Node], path: str) -> None:
    entry = nodes.get(_ENTRY)
    if not isinstance(entry, EntrypointNode):
        raise SpecError(f"thread needs an entrypoint node with id {_ENTRY!r}", f"{path}.nodes")
    if not any(isinstance(n, TERMINAL_NODES) for n in nodes.values()):
        raise SpecError("thread has no exit, fail or compensate node, so it can never end", f"{path}.nodes")
    for node_id, node in nodes.items():
        here = f"{path}.nodes.{node_id}"
        if not _NAME.match(node_id):
            raise SpecError(f"node id {node_id!r} must be letters, digits, '_', '-', '.' or ':'", here)
        if isinstance(node, EntrypointNode) and node_id != _ENTRY:
            raise SpecError(f"only the node {_ENTRY!r} may be an entrypoint", here)
        terminal = isinstance(node, TERMINAL_NODES)
        if not terminal and not node.edges:
            raise SpecError(
                "node has no outgoing edge; only exit, fail and compensate nodes end a thread", f"{here}.edges"
            )
        if terminal and node.edges:
            raise SpecError(f"a {node_kind(node)} node ends its thread and cannot have edges", f"{here}.edges")
        for index, edge in enumerate(node.edges):
            if edge.to not in nodes:
                raise SpecError(
                    f"edge to node {edge.to!r}, which is not in thread {thread_name!r}", f"{here}.edges[{index}].to"
                )
        for index, handler in enumerate(node.handlers):
            _check_thread(spec, handler.thread, f"{here}.handlers[{index}].thread")
        _validate_node(spec, nodes, node, here)


def _validate_node(spec: WorkflowSpec, nodes: dict[str, Node], node: Node, here: str) -> None:
    match node:
        case TaskNode(retries=retries, timeout=timeout):
            if retries < 0:
                raise SpecError("retries must be >= 0", f"{here}.retries")
            if timeout is not None and timeout <= 0:
                raise SpecError("timeout must be > 0 seconds", f"{here}.timeout")
        case SpawnThreadNode(thread=thread) | SpawnThreadForEachNode(thread=thread):
            _check_thread(spec, thread, f"{here}.thread")
        case WaitForThreadsNode(threads=spawns):
            for index, spawn in enumerate(spawns):
                if not isinstance(nodes.get(spawn), SpawnThreadNode | SpawnThreadForEachNode):
                    raise SpecError(f"{spawn!r} is not a spawn node of this thread", f"{here}.threads[{index}]")
    for expr_path, expr in node_expressions(node):
        _validate_expr(nodes, expr, f"{here}{expr_path}")


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


def json_schema() -> dict[str, Any]:
    """The JSON Schema of the spec format, for editors and other tools."""
    return msgspec.json.schema(WorkflowSpec)
