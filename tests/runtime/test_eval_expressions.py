"""The expression evaluator: strict JSON semantics, errors never crash."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest
from rtspec import call, lit, lst, neg, not_, op, out, var

from wfc.runtime.interpreter.expressions import ExpressionError, evaluate, evaluate_condition, json_equal
from wfc.specs import Expr


class Scope:
    def __init__(self, variables: dict[str, Any] | None = None, outputs: dict[str, Any] | None = None) -> None:
        self.variables = variables or {}
        self.outputs = outputs or {}

    def variable(self, name: str) -> Any:
        if name not in self.variables:
            raise ExpressionError(f"variable {name!r} is not visible")
        return self.variables[name]

    def output(self, node: str) -> Any:
        if node not in self.outputs:
            raise ExpressionError(f"node {node!r} has not run")
        return self.outputs[node]


def ev(raw: dict[str, Any], scope: Scope | None = None) -> Any:
    return evaluate(msgspec.convert(raw, Expr), scope or Scope())  # type: ignore[arg-type]


def test_literals_variables_outputs_and_paths() -> None:
    scope = Scope({"order": {"items": [{"sku": "a"}, {"sku": "b"}]}}, {"charge": {"payment_id": "p1"}})
    assert ev(lit({"a": 1})) == {"a": 1}
    assert ev(var("order", "items", 1, "sku"), scope) == "b"
    assert ev(var("order", "items", -1, "sku"), scope) == "b"
    assert ev(out("charge", "payment_id"), scope) == "p1"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (op(1, "+", 2), 3),
        (op(1, "+", 2.5), 3.5),
        (op("a", "+", "b"), "ab"),
        (op(lst(1), "+", lst(2)), [1, 2]),
        (op(7, "-", 2), 5),
        (op(3, "*", 4), 12),
        (op(7, "/", 2), 3.5),
        (op(7, "%", 3), 1),
        (neg(3), -3),
        (op(1, "==", 1.0), True),
        (op(True, "==", 1), False),
        (op(lit({"a": [1]}), "==", lit({"a": [1.0]})), True),
        (op("a", "!=", "b"), True),
        (op(2, "<", 3), True),
        (op("b", ">=", "a"), True),
        (op(True, "and", False), False),
        (op(False, "or", True), True),
        (not_(False), True),
        (op(2, "in", lst(1, 2)), True),
        (op("ell", "in", "hello"), True),
        (op("k", "in", lit({"k": 1})), True),
        (call("len", "abc"), 3),
        (call("lower", "AbC"), "abc"),
        (call("upper", "a"), "A"),
        (call("str", 1.5), "1.5"),
        (call("str", True), "true"),
        (call("int", "42"), 42),
        (call("int", 3.9), 3),
        (call("float", "2.5"), 2.5),
        (call("bool", "false"), False),
        (call("abs", -2), 2),
        (call("round", 2.567, 2), 2.57),
        (call("min", 3, 1, 2), 1),
        (call("max", lst(3, 9, 2)), 9),
    ],
)
def test_operators_and_functions(raw: dict[str, Any], expected: Any) -> None:
    result = ev(raw)
    assert json_equal(result, expected), (result, expected)
    assert type(result) is type(expected) or isinstance(expected, float)


def test_and_or_short_circuit() -> None:
    # The right side would fail; it must not be evaluated.
    assert ev(op(False, "and", var("missing"))) is False
    assert ev(op(True, "or", var("missing"))) is True


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (var("missing"), "not visible"),
        (var("order", "id"), "has no key 'id'"),
        (var("order", 0), "not a list"),
        (var("items", 5), "out of range"),
        (op("a", "/", 2), "cannot compute str"),
        (op(1, "/", 0), "division by zero"),
        (op(True, "+", 1), "cannot compute bool"),
        (op(1, "<", "a"), "cannot compare"),
        (op(1, "and", True), "needs true/false"),
        (not_(1), "needs true/false"),
        (neg("a"), "cannot negate"),
        (op(1, "in", 2), "needs a list"),
        (call("len", 3), "len() needs"),
        (call("int", "x"), "cannot parse"),
        (call("min", lst()), "empty list"),
        (call("nope", 1), "unknown function"),
        (out("never"), "has not run"),
    ],
)
def test_errors_are_expression_errors(raw: dict[str, Any], message: str) -> None:
    scope = Scope({"order": {"total": 1}, "items": [1]})
    with pytest.raises(ExpressionError, match=message.replace("(", r"\(").replace(")", r"\)")):
        ev(raw, scope)


def test_condition_must_be_boolean() -> None:
    with pytest.raises(ExpressionError, match="not true/false"):
        evaluate_condition(msgspec.convert(op(1, "+", 1), Expr), Scope())  # type: ignore[arg-type]
    assert evaluate_condition(msgspec.convert(op(1, "<", 2), Expr), Scope()) is True  # type: ignore[arg-type]
