"""User task forms: what a person fills in to complete a user task.

A form is declared once per workflow (``WorkflowSpec.forms``, by name) and
referenced by the ``user_task`` nodes that assign it. Its fields are typed
like variables (:data:`~wfc.specs.workflow.VarType`) and checked the same
way: :func:`form_problems` is the one check of submitted values, used by the
engine before it queues a completion, by the interpreter when it applies one,
and by the CLI and the dashboard to explain a refusal.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import msgspec

from wfc.specs.limits import json_problems

FieldType = Literal["str", "int", "float", "bool", "json"]
FIELD_TYPES: tuple[FieldType, ...] = ("str", "int", "float", "bool", "json")


class _Spec(msgspec.Struct, frozen=True, forbid_unknown_fields=True, omit_defaults=True, kw_only=True):
    pass


class FieldDef(_Spec, frozen=True):
    """One field of a form."""

    name: str
    type: FieldType
    required: bool = True
    """Completing the task without a value for it is refused."""
    display_name: str | None = None
    """The label a person sees; the name when unset."""
    description: str = ""


class FormDef(_Spec, frozen=True):
    """A user task form: its fields, in the order they are shown."""

    name: str
    fields: list[FieldDef] = []

    def field(self, name: str) -> FieldDef | None:
        """The field called ``name``, if the form has one."""
        return next((f for f in self.fields if f.name == name), None)


class FieldProblem(msgspec.Struct, frozen=True):
    """Why one submitted value (or a missing one) is refused."""

    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


def has_field_type(value: Any, field_type: str) -> bool:
    """True when ``value`` is of ``field_type`` (an int is a float; a bool is
    neither): the one type check of form values and of variable defaults."""
    match field_type:
        case "str":
            return isinstance(value, str)
        case "bool":
            return isinstance(value, bool)
        case "int":
            return isinstance(value, int) and not isinstance(value, bool)
        case "float":
            return isinstance(value, int | float) and not isinstance(value, bool)
    return True


def form_problems(form: FormDef, values: Mapping[str, Any]) -> list[FieldProblem]:
    """Every reason ``values`` cannot complete a task of ``form``: unknown
    fields, missing required ones, values of the wrong type or not storable
    as JSON. Empty when they can. ``None`` counts as no value."""
    problems: list[FieldProblem] = []
    known = {f.name for f in form.fields}
    for name in values:
        if name not in known:
            listed = ", ".join(f.name for f in form.fields) or "none"
            problems.append(FieldProblem(str(name), f"not a field of form {form.name!r} (its fields: {listed})"))
    for definition in form.fields:
        value = values.get(definition.name)
        if value is None:
            if definition.required:
                problems.append(FieldProblem(definition.name, f"required ({definition.type}), but no value was given"))
            continue
        if not has_field_type(value, definition.type):
            problems.append(
                FieldProblem(definition.name, f"must be {definition.type}, got {type(value).__name__} {value!r:.80}")
            )
            continue
        problems.extend(FieldProblem(definition.name, str(p)) for p in json_problems(value))
    return problems


def form_output(form: FormDef, values: Mapping[str, Any]) -> dict[str, Any]:
    """The node output of a completed task: every field of the form, ``None``
    for an optional one left empty. An ``int`` given for a ``float`` field
    stays as given (like variables)."""
    return {f.name: values.get(f.name) for f in form.fields}
