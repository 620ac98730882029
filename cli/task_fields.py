"""The values of ``wfc tasks complete``: ``--field name=value`` parsed by the
type of the form's field, the way ``--input`` is parsed by the variable's
type (:func:`wfc.cli.inputs.parse_value`), over the JSON object of
``--values``.

The values are checked against the form here with the engine's own check
(:func:`wfc.specs.form_problems`) before anything is sent, so that every
problem is named at once (a bad value and a missing field together), each
with the field, its type and what to type instead.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

from wfc.cli.errors import CliError
from wfc.cli.inputs import load_json, named_values, parse_value, quoted, repeated
from wfc.specs import FieldDef, FormDef, form_problems
from wfc.specs.limits import json_kind


def parse_fields(form: FormDef, pairs: Sequence[str], values_json: str | None = None) -> dict[str, Any]:
    """The values to complete a task of ``form`` with: the ``--values`` JSON
    object (``-``: read from stdin), then each ``NAME=VALUE`` pair on top.

    Raises:
        CliError: listing every malformed pair, unknown field, bad value and
            missing required field.
    """
    values = read_values(values_json) if values_json is not None else {}
    given, problems = named_values(pairs, "--field", _example(form))
    refused: set[str] = set()  # fields whose --field pair is already a problem
    for name, texts in given.items():
        definition = form.field(name)
        if definition is None:
            refused.add(name)
            problems.append(f"--field {name}: form {form.name!r} has no field {name!r}; its fields are "
                            f"{describe_fields(form)}")
            continue
        if len(texts) > 1:
            refused.add(name)
            problems.append(repeated("--field", name, texts))
            continue
        text = texts[0]
        try:
            values[name] = parse_value(text, definition.type)
        except ValueError as exc:
            refused.add(name)
            problems.append(f"--field {name}={quoted(text)}: field {name!r} is {definition.type}, {exc}")
    for problem in form_problems(form, values):
        if problem.field in refused:
            continue  # said above, with the pair
        problems.append(f"field {problem.field!r}: {problem.message}{_hint(form.field(problem.field))}")
    if problems:
        head = f"cannot complete a task of form {form.name!r}"
        raise CliError(f"{head}: {problems[0]}" if len(problems) == 1 else f"{head}:\n  " + "\n  ".join(problems))
    return values


def _hint(definition: FieldDef | None) -> str:
    """What to type for a missing or mistyped field."""
    if definition is None:
        return ""
    return f" (give it with --field {definition.name}={_sample(definition.type)})"


def _sample(type_: str) -> str:
    return {"str": "TEXT", "int": "42", "float": "12.5", "bool": "true", "json": "'{\"key\": 1}'"}.get(type_, "VALUE")


def _example(form: FormDef) -> str:
    first = form.fields[0] if form.fields else None
    return "name=value" if first is None else f"{first.name}={_sample(first.type)}"


def read_values(source: str) -> dict[str, Any]:
    """The JSON object of ``--values`` (``-``: standard input)."""
    label, text = ("standard input", sys.stdin.read()) if source == "-" else ("the text given", source)
    try:
        loaded = load_json(text)
    except ValueError as exc:
        raise CliError(f"--values: {label} is not JSON: {exc}; give an object, e.g. '{{\"approved\": true}}'") from None
    if not isinstance(loaded, dict):
        raise CliError(
            f"--values: expected a JSON object of field name to value, e.g. '{{\"approved\": true}}', "
            f"not {json_kind(loaded)}"
        )
    return loaded


def describe_fields(form: FormDef) -> str:
    """The form's fields for a message: ``card_token (str, required), note (str)``."""
    if not form.fields:
        return "none"
    return ", ".join(f"{f.name} ({f.type}{', required' if f.required else ''})" for f in form.fields)
