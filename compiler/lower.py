"""Lowering: from what the builder recorded to spec Structs."""

from __future__ import annotations

from typing import Any

from wfc.compiler.checks import reachable
from wfc.compiler.types import infer
from wfc.dsl.handles import Expression
from wfc.dsl.recording import RecordedNode, RecordedThread, RecordedTimer, RecordedVariable, Recording
from wfc.specs import (
    SCHEMA_ID,
    Compensation,
    Edge,
    ExitNode,
    FailureHandler,
    FormDef,
    InterruptDef,
    Mutation,
    Node,
    ThreadSpec,
    UserTaskNode,
    UserTaskTimer,
    VariableDef,
    VarType,
    WorkflowSpec,
    first_version,
)


def lower(recording: Recording) -> WorkflowSpec:
    """Build the (unversioned, not yet hashed) spec of a recording that passed the checks.

    Hashing encodes the spec, so it waits until the spec is validated.
    """
    assert recording.entrypoint is not None
    entry = recording.entrypoint
    threads = {name: _thread(thread, thread is entry) for name, thread in recording.threads.items()}
    spec = WorkflowSpec(
        schema=SCHEMA_ID,
        name=recording.name,
        version=first_version(),
        entrypoint=entry.name,
        threads=threads,
        variables=_variables(entry),
        output=_output_type(entry),
        forms=_forms(recording, threads),
    )
    return spec


def _forms(recording: Recording, threads: dict[str, ThreadSpec]) -> dict[str, FormDef]:
    """The forms of the user tasks the spec holds (none: the field is left out of the JSON)."""
    used = {node.form for thread in threads.values() for node in thread.nodes.values()
            if isinstance(node, UserTaskNode)}
    return {name: recording.forms[name].definition for name in sorted(used)}


def _variables(thread: RecordedThread) -> dict[str, VariableDef]:
    return {name: _variable(v) for name, v in thread.variables.items()}


def _variable(variable: RecordedVariable) -> VariableDef:
    return VariableDef(type=variable.type, required=variable.required, default=variable.default,
                       masked=variable.masked, searchable=variable.searchable)


def _thread(thread: RecordedThread, is_entry: bool) -> ThreadSpec:
    live = reachable(thread)
    return ThreadSpec(
        nodes={node.id: _node(node) for node in thread.nodes.values() if node.id in live},
        variables={} if is_entry else _variables(thread),
        interrupts=[InterruptDef(event=i.event, thread=i.thread.name) for i in thread.interrupts],
    )


def _value(value: Any) -> Any:
    if isinstance(value, Expression):
        return value.expr
    if isinstance(value, RecordedNode):
        return value.id
    if isinstance(value, RecordedTimer):
        return UserTaskTimer(after=value.after, action=value.action, user=_value(value.user),
                             group=_value(value.group), task=value.task, args=_value(value.args))
    if isinstance(value, list):
        return [_value(item) for item in value]
    if isinstance(value, dict):
        return {key: _value(item) for key, item in value.items()}
    return value


def _node(node: RecordedNode) -> Node:
    fields = {name: _value(value) for name, value in node.fields.items()}
    if node.compensation is not None:
        task, args, retries, _ = node.compensation
        fields["compensation"] = Compensation(task=task, args=[a.expr for a in args], retries=retries)
    edges = [
        Edge(to=edge.to, when=None if edge.when is None else edge.when.expr,
             mutations=[Mutation(var=m.variable.name, op=m.op, value=m.value.expr)  # type: ignore[arg-type]
                        for m in edge.mutations])
        for edge in node.edges
    ]
    handlers = [FailureHandler(on=h.on, name=h.name, thread=h.thread.name) for h in node.handlers]
    return node.kind(**fields, edges=edges, handlers=handlers)


def _output_type(thread: RecordedThread) -> VarType | None:
    def var_type(name: str) -> str | None:
        found = thread.visible_variable(name)
        return None if found is None else found.type

    kinds = set()
    for node in thread.nodes.values():
        output = node.fields.get("output") if node.kind is ExitNode else None
        if isinstance(output, Expression):
            kinds.add(infer(output.expr, var_type, []))
    if not kinds:
        return None
    if len(kinds) == 1 and (kind := kinds.pop()) in ("str", "int", "float", "bool"):
        return kind  # type: ignore[return-value]
    return "json"
