"""What changed between two versions of a workflow spec, and the version bump
that change implies.

The interface of a workflow is its top-level ``variables`` (the inputs and
state a caller may set), its ``output`` type and its user task ``forms`` (what
people and the tools that complete tasks must send). Breaking it bumps the
major version; any other change to the body bumps the revision; an identical
body keeps the version. ``version`` and ``hash`` are never compared.

A form breaks when a field becomes required, a required field is added, or a
field is removed or changes type; a new optional field, a field that becomes
optional, new labels or descriptions, reordered fields, and forms added or
removed with their user tasks are revisions.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

import msgspec

from wfc.specs import (
    BinaryExpr,
    CallExpr,
    Edge,
    FieldDef,
    FormDef,
    InterruptDef,
    ListExpr,
    LiteralExpr,
    Mutation,
    Node,
    OutputRef,
    ThreadSpec,
    UnaryExpr,
    VariableDef,
    VarRef,
    Version,
    WorkflowSpec,
    first_version,
    format_expr,
    format_literal,
    node_kind,
)

Bump = Literal["none", "revision", "major"]

_MAX_VALUE = 60
_NODE_CHANGES = ("added", "removed", "changed")
_EXPRS = (LiteralExpr, VarRef, OutputRef, BinaryExpr, UnaryExpr, CallExpr, ListExpr)


@dataclass(frozen=True)
class InterfaceChange:
    """One change to the workflow's variables or output type."""

    description: str
    """What changed, e.g. ``new required variable 'amount' (float)``."""
    breaking: bool
    """Whether existing callers may break, which bumps the major version."""


@dataclass(frozen=True)
class NodeChange:
    """A node added to, removed from or changed in a thread both specs have."""

    thread: str
    node: str
    change: Literal["added", "removed", "changed"]
    detail: str
    """The node's kind for added and removed nodes; for changed ones what
    changed, e.g. ``retries 3 → 5`` or ``kind task → nop``."""


@dataclass(frozen=True)
class SpecDiff:
    """Every difference between two specs, grouped, with the implied bump."""

    interface: tuple[InterfaceChange, ...]
    nodes: tuple[NodeChange, ...]
    threads_added: tuple[str, ...]
    threads_removed: tuple[str, ...]
    other: tuple[str, ...]
    """Everything else: name, entrypoint, interrupts, thread-local variables."""
    bump: Bump

    @property
    def breaking(self) -> tuple[InterfaceChange, ...]:
        """The interface changes that break callers."""
        return tuple(change for change in self.interface if change.breaking)

    def summary(self) -> str:
        """One short line, e.g. ``2 nodes added, 1 changed; new required
        variable 'amount' (float)``, or ``no changes``."""
        node_counts = [(kind, sum(1 for node in self.nodes if node.change == kind)) for kind in _NODE_CHANGES]
        thread_counts = [("added", len(self.threads_added)), ("removed", len(self.threads_removed))]
        parts = [_count_phrase("node", node_counts), _count_phrase("thread", thread_counts)]
        parts.extend(_interface_phrases(self.interface))
        if len(self.other) == 1:
            parts.append(self.other[0])
        elif self.other:
            parts.append(f"{len(self.other)} other changes")
        text = "; ".join(part for part in parts if part)
        if text:
            return text
        return "no changes" if self.bump == "none" else "changed"


def diff_specs(old: WorkflowSpec, new: WorkflowSpec) -> SpecDiff:
    """Compare two specs of one workflow, ignoring ``version`` and ``hash``."""
    interface = tuple(_interface_changes(old, new))
    nodes: list[NodeChange] = []
    other = list(_top_level_changes(old, new))
    for name in sorted(set(old.threads) & set(new.threads)):
        nodes.extend(_node_changes(name, old.threads[name], new.threads[name]))
        other.extend(_thread_changes(name, old.threads[name], new.threads[name]))
    added = tuple(sorted(set(new.threads) - set(old.threads)))
    removed = tuple(sorted(set(old.threads) - set(new.threads)))
    found = interface or nodes or other or added or removed
    if not found and _body(old) != _body(new):
        other.append("spec body changed")  # a field this module does not know yet
    bump: Bump = "major" if any(c.breaking for c in interface) else "revision" if found or other else "none"
    return SpecDiff(interface, tuple(nodes), added, removed, tuple(other), bump)


def next_version(old: WorkflowSpec | None, new: WorkflowSpec) -> Version:
    """The version ``new`` should carry, given the previous spec ``old``.

    The first spec is ``1.0``; an unchanged body keeps ``old``'s version; a
    revision bump gives ``major.(revision+1)``; a major bump ``(major+1).0``.
    """
    if old is None:
        return first_version()
    bump = diff_specs(old, new).bump
    if bump == "major":
        return Version(major=old.version.major + 1, revision=0)
    if bump == "revision":
        return Version(major=old.version.major, revision=old.version.revision + 1)
    return old.version


def _body(spec: WorkflowSpec) -> WorkflowSpec:
    return msgspec.structs.replace(spec, version=first_version(), hash="")


# --- interface ---------------------------------------------------------------


def _interface_changes(old: WorkflowSpec, new: WorkflowSpec) -> Iterator[InterfaceChange]:
    for name in sorted(set(old.variables) | set(new.variables)):
        before, after = old.variables.get(name), new.variables.get(name)
        if before is None and after is not None:
            kind = "required" if after.required else "optional"
            yield InterfaceChange(f"new {kind} variable {name!r} ({after.type})", after.required)
        elif after is None and before is not None:
            yield InterfaceChange(f"variable {name!r} removed", True)
        elif before is not None and after is not None:
            for description, breaking in _variable_changes(before, after):
                yield InterfaceChange(f"variable {name!r} {description}", breaking)
    if old.output != new.output:
        yield InterfaceChange(_output_change(old.output, new.output), True)
    for name in sorted(set(old.forms) | set(new.forms)):
        yield from _form_changes(name, old.forms.get(name), new.forms.get(name))


def _form_changes(name: str, before: FormDef | None, after: FormDef | None) -> Iterator[InterfaceChange]:
    if before is None:
        yield InterfaceChange(f"new form {name!r}", False)
        return
    if after is None:
        yield InterfaceChange(f"form {name!r} removed", False)
        return
    old_fields = {f.name: f for f in before.fields}
    new_fields = {f.name: f for f in after.fields}
    for field in after.fields:
        if field.name not in old_fields:
            kind = "required" if field.required else "optional"
            yield InterfaceChange(f"form {name!r}: new {kind} field {field.name!r} ({field.type})", field.required)
    for field in before.fields:
        if field.name not in new_fields:
            yield InterfaceChange(f"form {name!r}: field {field.name!r} removed", True)
        else:
            for description, breaking in _field_changes(field, new_fields[field.name]):
                yield InterfaceChange(f"form {name!r}: field {field.name!r} {description}", breaking)
    common_before = [f for f in old_fields if f in new_fields]
    common_after = [f for f in new_fields if f in old_fields]
    if common_before != common_after:
        yield InterfaceChange(f"form {name!r}: fields reordered", False)


def _field_changes(before: FieldDef, after: FieldDef) -> Iterator[tuple[str, bool]]:
    """``(what changed, whether it breaks those who complete tasks)`` for one field."""
    if before.type != after.type:
        yield f"type {before.type} → {after.type}", True
    if before.required != after.required:
        yield ("became required", True) if after.required else ("became optional", False)
    if before.display_name != after.display_name:
        yield f"display_name {_literal(before.display_name)} → {_literal(after.display_name)}", False
    if before.description != after.description:
        yield f"description {_literal(before.description)} → {_literal(after.description)}", False


def _variable_changes(before: VariableDef, after: VariableDef) -> Iterator[tuple[str, bool]]:
    """``(what changed, whether it breaks callers)`` for one variable."""
    if before.type != after.type:
        yield f"type {before.type} → {after.type}", True
    if before.required != after.required:
        yield ("became required", True) if after.required else ("became optional", False)
    if before.default != after.default:
        if before.masked or after.masked:  # a masked default is a secret: say only that it changed
            yield "default changed (masked, not shown)", False
        else:
            yield f"default {_literal(before.default)} → {_literal(after.default)}", False
    for flag in ("masked", "searchable"):
        if getattr(before, flag) != getattr(after, flag):
            yield (f"now {flag}" if getattr(after, flag) else f"no longer {flag}"), False


def _output_change(before: str | None, after: str | None) -> str:
    if before is None:
        return f"output added ({after})"
    if after is None:
        return f"output removed (was {before})"
    return f"output type {before} → {after}"


# --- workflow and thread level -------------------------------------------------


def _top_level_changes(old: WorkflowSpec, new: WorkflowSpec) -> Iterator[str]:
    for field in ("name", "entrypoint", "schema"):
        before, after = getattr(old, field), getattr(new, field)
        if before != after:
            yield f"{field} {before} → {after}"


def _thread_changes(thread: str, old: ThreadSpec, new: ThreadSpec) -> Iterator[str]:
    for name in sorted(set(old.variables) | set(new.variables)):
        before, after = old.variables.get(name), new.variables.get(name)
        label = f"thread {thread} variable {name!r}"
        if before is None and after is not None:
            yield f"{label} added ({after.type})"
        elif after is None:
            yield f"{label} removed"
        elif before is not None and before != after:
            yield f"{label} {', '.join(text for text, _ in _variable_changes(before, after))}"
    yield from _interrupt_changes(old.interrupts, new.interrupts)


def _interrupt_changes(old: list[InterruptDef], new: list[InterruptDef]) -> Iterator[str]:
    before = {item.event: item.thread for item in old}
    after = {item.event: item.thread for item in new}
    for event in sorted(set(before) | set(after)):
        if event not in before:
            yield f"interrupt {event} added"
        elif event not in after:
            yield f"interrupt {event} removed"
        elif before[event] != after[event]:
            yield f"interrupt {event} thread {before[event]} → {after[event]}"
    if before == after and old != new:
        yield "interrupts reordered"


# --- nodes -------------------------------------------------------------------


def _node_changes(thread: str, old: ThreadSpec, new: ThreadSpec) -> Iterator[NodeChange]:
    for node_id in sorted(set(old.nodes) | set(new.nodes)):
        before, after = old.nodes.get(node_id), new.nodes.get(node_id)
        if before is None and after is not None:
            yield NodeChange(thread, node_id, "added", node_kind(after))
        elif after is None and before is not None:
            yield NodeChange(thread, node_id, "removed", node_kind(before))
        elif before is not None and after is not None and before != after:
            yield NodeChange(thread, node_id, "changed", _node_detail(before, after))


def _node_detail(before: Node, after: Node) -> str:
    if type(before) is not type(after):
        return f"kind {node_kind(before)} → {node_kind(after)}"
    details: list[str] = []
    for field in before.__struct_fields__:
        old_value, new_value = getattr(before, field), getattr(after, field)
        if old_value == new_value:
            continue
        if field == "edges":
            details.extend(_edge_changes(old_value, new_value))
        elif field == "retries":  # None is not "none": the task's default applies
            details.append(f"retries {_retries(old_value)} → {_retries(new_value)}")
        else:
            details.append(f"{field} {_describe(old_value)} → {_describe(new_value)}")
    return "; ".join(details)


def _edge_changes(old: list[Edge], new: list[Edge]) -> Iterator[str]:
    targets = list(dict.fromkeys([edge.to for edge in old] + [edge.to for edge in new]))
    found = False
    for target in targets:
        before = [edge for edge in old if edge.to == target]
        after = [edge for edge in new if edge.to == target]
        if before == after:
            continue
        found = True
        if not before:
            yield f"edge to {target} added"
        elif not after:
            yield f"edge to {target} removed"
        elif len(before) == 1 and len(after) == 1:
            yield from _one_edge_changes(target, before[0], after[0])
        else:
            yield f"edges to {target} changed"
    if not found:
        yield "edge order changed"


def _one_edge_changes(target: str, before: Edge, after: Edge) -> Iterator[str]:
    if before.when != after.when:
        yield f"edge to {target} condition {_describe(before.when)} → {_describe(after.when)}"
    if before.mutations != after.mutations:
        old, new = _mutations_text(before.mutations), _mutations_text(after.mutations)
        yield f"edge to {target} mutations {old} → {new}"


def _mutations_text(mutations: list[Mutation]) -> str:
    if not mutations:
        return "none"
    return _shorten("; ".join(f"{m.var} {m.op} {format_expr(m.value)}" for m in mutations))


# --- values ------------------------------------------------------------------


def _describe(value: Any) -> str:
    """A short human form of a node field's value."""
    return _shorten(_text(value))


def _text(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, _EXPRS):
        return format_expr(value)
    if isinstance(value, bool | int | float | str):
        return str(value)
    if isinstance(value, list) and all(isinstance(item, _EXPRS) for item in value):
        return "(" + ", ".join(_text(item) for item in value) + ")"
    if isinstance(value, dict) and all(isinstance(item, _EXPRS) for item in value.values()):
        return "{" + ", ".join(f"{key}: {_text(item)}" for key, item in sorted(value.items())) + "}"
    return msgspec.json.encode(value, order="sorted").decode()


def _retries(value: int | None) -> str:
    return "unset" if value is None else str(value)


def _literal(value: Any) -> str:
    return "none" if value is None else _shorten(format_literal(value))


def _shorten(text: str) -> str:
    return text if len(text) <= _MAX_VALUE else text[: _MAX_VALUE - 1] + "…"


# --- summary -----------------------------------------------------------------


def _count_phrase(noun: str, counts: list[tuple[str, int]]) -> str:
    """``2 nodes added, 1 changed`` from ``[("added", 2), ("removed", 0), ("changed", 1)]``."""
    words: list[str] = []
    for kind, count in counts:
        if count:
            plural = noun if count == 1 else noun + "s"
            words.append(f"{count} {kind}" if words else f"{count} {plural} {kind}")
    return ", ".join(words)


def _interface_phrases(changes: tuple[InterfaceChange, ...]) -> list[str]:
    # Breaking changes first: they are what a reader of one line must see.
    ordered = sorted(changes, key=lambda change: not change.breaking)
    phrases = [change.description for change in ordered[:2]]
    if len(ordered) > 2:
        rest = len(ordered) - 2
        phrases.append(f"{rest} more interface change{'' if rest == 1 else 's'}")
    return phrases
