"""Variable values: type checks, run inputs, mutations."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from wfc.runtime.interpreter.errors import InputError
from wfc.runtime.interpreter.expressions import ExpressionError, binary_op, is_number, json_equal, type_name
from wfc.specs import MutationOp, ValueProblem, VariableDef, VarType, WorkflowSpec, json_problems


def coerce(value: Any, var_type: VarType) -> Any:
    """Check ``value`` against a declared type; return it (ints become floats
    for ``float`` variables). ``None`` is allowed for every type: unset.

    The value must also be JSON that can be stored (:mod:`wfc.specs.limits`:
    finite numbers, 64-bit integers, no lone surrogates); run inputs are
    held to the nesting limit as well, by :func:`prepare_inputs`.

    Raises:
        ValueError: with the reason, when the value has the wrong type or
            cannot be stored.
    """
    problems = json_problems(value, max_depth=None)
    if problems:
        raise ValueError(str(problems[0]))
    if value is None or var_type == "json":
        return value
    if var_type == "str" and isinstance(value, str):
        return value
    if var_type == "bool" and isinstance(value, bool):
        return value
    if var_type == "int" and isinstance(value, int) and not isinstance(value, bool):
        return value
    if var_type == "float" and is_number(value):
        return float(value)
    raise ValueError(f"expected {var_type}, got {type_name(value)} {value!r}")


def prepare_inputs(spec: WorkflowSpec, inputs: Mapping[str, Any] | None) -> dict[str, Any]:
    """The workflow variables a run starts with: the inputs, checked against
    the declarations, plus defaults.

    Raises:
        InputError: listing every unknown, missing or mistyped input.
    """
    given = dict(inputs or {})
    problems: list[tuple[str, str]] = []
    for name in given:
        if name not in spec.variables:
            declared = ", ".join(sorted(spec.variables)) or "none"
            problems.append((name, f"not a variable of this workflow (declared: {declared})"))
    refused: set[str] = set()
    for name, value in given.items():
        definition = spec.variables.get(name)
        if definition is not None:
            for problem in json_problems(value):
                refused.add(name)
                problems.append((name, _describe(problem, definition.masked)))
    # An input refused above is not checked (or reported missing) again.
    defs = {name: definition for name, definition in spec.variables.items() if name not in refused}
    values = initial_variables(defs, {k: v for k, v in given.items() if k in defs}, problems)
    if problems:
        raise InputError(spec.name, problems)
    return values


def _describe(problem: ValueProblem, masked: bool) -> str:
    """A value problem for an input error; a masked value's inner keys stay hidden."""
    return problem.reason if masked else str(problem)


def initial_variables(
    defs: Mapping[str, VariableDef],
    given: Mapping[str, Any],
    problems: list[tuple[str, str]] | None = None,
) -> dict[str, Any]:
    """Values of declared variables from ``given`` and defaults.

    Problems are appended to ``problems`` when given; otherwise the first one
    raises ``ValueError``.
    """
    values: dict[str, Any] = {}
    for name, definition in defs.items():
        value = given[name] if name in given else copy.deepcopy(definition.default)
        if value is None and definition.required:
            reason = f"required {definition.type} input is missing"
            if problems is None:
                raise ValueError(f"{name!r}: {reason}")
            problems.append((name, reason))
            continue
        try:
            values[name] = coerce(value, definition.type)
        except ValueError as exc:
            reason = _masked_reason(definition.type, value) if definition.masked else str(exc)
            if problems is None:
                raise ValueError(f"{name!r}: {reason}") from None
            problems.append((name, reason))
    return values


def _masked_reason(var_type: VarType, value: Any) -> str:
    # The usual reason quotes the value; a masked variable's value is a secret.
    return f"expected {var_type}, got {type_name(value)} (value not shown: the variable is masked)"


def mutate(current: Any, op: MutationOp, operand: Any, var: str) -> Any:
    """The new value of variable ``var`` after ``op`` with ``operand``.

    Never changes ``current`` in place, so a failed edge can be rolled back by
    keeping the old reference.

    Raises:
        ExpressionError: the operation does not apply to these values.
    """
    if op == "assign":
        return operand
    if op in ("add", "subtract", "multiply", "divide"):
        symbol = {"add": "+", "subtract": "-", "multiply": "*", "divide": "/"}[op]
        if current is None:
            raise ExpressionError(f"cannot {op} to variable {var!r}: it has no value yet")
        return binary_op(symbol, current, operand)
    if op in ("append", "extend", "remove"):
        items = [] if current is None else current
        if not isinstance(items, list):
            raise ExpressionError(f"cannot {op} on variable {var!r}: it is {type_name(current)}, not a list")
        if op == "append":
            return [*items, operand]
        if op == "extend":
            if not isinstance(operand, list):
                raise ExpressionError(f"extend needs a list operand, got {type_name(operand)}")
            return [*items, *operand]
        for index, item in enumerate(items):
            if json_equal(item, operand):
                return items[:index] + items[index + 1 :]
        return list(items)
    if op == "remove_key":
        if not isinstance(current, dict):
            raise ExpressionError(f"cannot remove_key on variable {var!r}: it is {type_name(current)}, not an object")
        if not isinstance(operand, str):
            raise ExpressionError(f"remove_key needs a string key, got {type_name(operand)}")
        return {k: v for k, v in current.items() if k != operand}
    raise ExpressionError(f"unknown mutation {op!r}")
