"""The limits of wfc.specs.limits: what a value must be to be stored, with
the path of every problem and never the value itself in the message."""

from __future__ import annotations

import math
from typing import Any

import pytest

from wfc.specs import (
    MAX_DURATION_SECONDS,
    MAX_EPOCH_SECONDS,
    MAX_INT,
    MAX_JSON_DEPTH,
    MIN_EPOCH_SECONDS,
    MIN_INT,
    BinaryExpr,
    VarRef,
    duration_problem,
    expression_depth,
    format_expr,
    json_problems,
    moment_problem,
    walk_expr,
)


def nested(levels: int, leaf: Any = 1) -> Any:
    value = leaf
    for _ in range(levels):
        value = [value]
    return value


def problems_of(value: Any, **options: Any) -> list[tuple[str, str]]:
    return [(p.path, p.reason) for p in json_problems(value, **options)]


@pytest.mark.parametrize(
    "value",
    [None, True, 0, MAX_INT, MIN_INT, 1.5, -0.0, "", "text ✓ \U0001f600", [], {}, {"a": [1, {"b": None}]},
     nested(MAX_JSON_DEPTH)],
)
def test_storable_values_have_no_problem(value: Any) -> None:
    assert json_problems(value) == []


@pytest.mark.parametrize(
    ("value", "path", "start"),
    [
        (math.nan, "$", "NaN is not allowed"),
        (math.inf, "$", "an infinite number is not allowed"),
        (-math.inf, "$", "an infinite number is not allowed"),
        (MAX_INT + 1, "$", "an integer outside the signed 64-bit range"),
        (MIN_INT - 1, "$", "an integer outside the signed 64-bit range"),
        ("ok \ud800", "$", "a string holds a lone UTF-16 surrogate at character 3"),
        ({"items": [1, {"price": math.nan}]}, "$.items[1].price", "NaN is not allowed"),
        ({"odd key": [2**64]}, '$["odd key"][0]', "an integer outside"),
        ({"\udc00": 1}, "$", "an object key: a string holds a lone UTF-16 surrogate"),
        ({1: "a"}, "$", "an object key is a int"),
        ({"s": {1, 2}}, "$.s", "a Python set is not a JSON value"),
        ((1, 2), "$", "a Python tuple is not a JSON value"),
    ],
)
def test_each_problem_names_its_path(value: Any, path: str, start: str) -> None:
    [(where, reason)] = problems_of(value)
    assert where == path
    assert reason.startswith(start)


def test_tuples_are_arrays_where_asked() -> None:
    assert json_problems((1, (2, 3)), sequences=(list, tuple)) == []


def test_every_problem_is_listed_in_order() -> None:
    value = {"a": math.nan, "b": [1, math.inf], "c": "\ud800"}
    assert [path for path, _ in problems_of(value)] == ["$.a", "$.b[1]", "$.c"]


def test_at_most_ten_problems_are_listed() -> None:
    assert len(json_problems([math.nan] * 1000)) == 10


def test_nesting_past_the_limit_is_one_problem_at_the_deepest_allowed_level() -> None:
    [(path, reason)] = problems_of(nested(MAX_JSON_DEPTH + 1))
    assert path == "$" + "[0]" * MAX_JSON_DEPTH
    assert reason.startswith(f"JSON nested deeper than {MAX_JSON_DEPTH} levels")


def test_any_depth_is_checked_without_recursion() -> None:
    deep = nested(20_000)
    assert len(json_problems(deep)) == 1
    assert json_problems(deep, max_depth=None) == []


def test_messages_never_quote_the_value() -> None:
    secret = {"token": "s3cr3t-\ud800", "n": 10**30, "pin": math.nan, "nest": nested(80, "s3cr3t")}
    text = " ".join(str(p) for p in json_problems(secret))
    assert "s3cr3t" not in text
    assert str(10**30) not in text


def test_str_of_a_problem_adds_the_path_inside_the_value() -> None:
    [problem] = json_problems({"a": math.nan})
    assert str(problem) == f"at $.a: {problem.reason}"
    [root] = json_problems(math.nan)
    assert str(root) == root.reason


@pytest.mark.parametrize(("seconds", "ok"), [(0, True), (1.5, True), (MAX_DURATION_SECONDS, True),
                                             (MAX_DURATION_SECONDS + 1, False), (10**400, False),
                                             (math.inf, False), (math.nan, False)])
def test_durations_are_finite_and_at_most_100_years(seconds: float, ok: bool) -> None:
    assert (duration_problem(seconds) is None) is ok


@pytest.mark.parametrize(("epoch", "ok"), [(0, True), (MAX_EPOCH_SECONDS, True), (MIN_EPOCH_SECONDS, True),
                                           (MAX_EPOCH_SECONDS + 1, False), (MIN_EPOCH_SECONDS - 1, False),
                                           (-(10**400), False), (math.nan, False), (math.inf, False)])
def test_moments_lie_between_year_1_and_9999(epoch: float, ok: bool) -> None:
    assert (moment_problem(epoch) is None) is ok


def chain(terms: int) -> BinaryExpr | VarRef:
    expr: BinaryExpr | VarRef = VarRef(name="x")
    for _ in range(terms - 1):
        expr = BinaryExpr(op="and", left=expr, right=VarRef(name="x"))
    return expr


def test_expression_walkers_do_not_recurse() -> None:
    expr = chain(5_000)  # Python's recursion limit is 1000
    assert expression_depth(expr) == 5_000
    assert sum(1 for _ in walk_expr(expr)) == 2 * 5_000 - 1
    assert format_expr(expr) == " and ".join(["x"] * 5_000)


def test_walk_expr_yields_parents_first_left_to_right() -> None:
    expr = BinaryExpr(op="+", left=VarRef(name="a"), right=BinaryExpr(op="*", left=VarRef(name="b"),
                                                                       right=VarRef(name="c")))
    order = [format_expr(e) for e in walk_expr(expr)]
    assert order == ["a + b * c", "a", "b * c", "b", "c"]
