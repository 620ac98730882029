"""``format_expr`` and ``format_literal`` print the expression language:
minimal but sufficient parentheses, quoted names, node outputs, literals."""

from __future__ import annotations

import json
from typing import Any

import pytest

from wfc.specs import (
    BinaryExpr,
    CallExpr,
    Expr,
    ListExpr,
    LiteralExpr,
    OutputRef,
    UnaryExpr,
    VarRef,
    format_expr,
    format_literal,
)


def v(name: str, *path: str | int) -> VarRef:
    return VarRef(name=name, path=list(path))


def lit(value: Any) -> LiteralExpr:
    return LiteralExpr(value=value)


def bin_(op: str, left: Expr, right: Expr) -> BinaryExpr:
    return BinaryExpr(op=op, left=left, right=right)  # type: ignore[arg-type]


def not_(operand: Expr) -> UnaryExpr:
    return UnaryExpr(op="not", operand=operand)


def neg(operand: Expr) -> UnaryExpr:
    return UnaryExpr(op="-", operand=operand)


a, b, c = v("a"), v("b"), v("c")


# --- precedence and parentheses -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expr", "text"),
    [
        (bin_("*", bin_("+", a, b), c), "(a + b) * c"),
        (bin_("+", a, bin_("*", b, c)), "a + b * c"),
        (bin_("*", a, bin_("+", b, c)), "a * (b + c)"),
        (bin_("+", bin_("*", a, b), c), "a * b + c"),
        (bin_("-", a, bin_("-", b, c)), "a - (b - c)"),
        (bin_("-", bin_("-", a, b), c), "a - b - c"),
        (bin_("-", a, bin_("+", b, c)), "a - (b + c)"),
        (bin_("/", bin_("/", a, b), c), "a / b / c"),
        (bin_("/", a, bin_("/", b, c)), "a / (b / c)"),
        (bin_("%", a, bin_("*", b, c)), "a % (b * c)"),
        (bin_("+", a, bin_("+", b, c)), "a + (b + c)"),
    ],
)
def test_arithmetic_parentheses(expr: Expr, text: str) -> None:
    assert format_expr(expr) == text


@pytest.mark.parametrize(
    ("expr", "text"),
    [
        (not_(bin_("and", a, b)), "not (a and b)"),
        (not_(bin_("or", a, b)), "not (a or b)"),
        (bin_("and", not_(a), b), "not a and b"),
        (not_(not_(a)), "not not a"),
        (bin_("or", bin_("and", a, b), c), "a and b or c"),
        (bin_("and", bin_("or", a, b), c), "(a or b) and c"),
        (bin_("and", a, bin_("or", b, c)), "a and (b or c)"),
        (bin_("and", a, bin_("and", b, c)), "a and (b and c)"),
        (bin_("and", bin_("and", a, b), c), "a and b and c"),
        (bin_("or", not_(a), bin_("and", b, not_(c))), "not a or b and not c"),
    ],
)
def test_boolean_parentheses(expr: Expr, text: str) -> None:
    assert format_expr(expr) == text


@pytest.mark.parametrize(
    ("expr", "text"),
    [
        (bin_("<", bin_("<", a, b), c), "(a < b) < c"),
        (bin_("<", a, bin_("<", b, c)), "a < (b < c)"),
        (bin_("==", bin_("==", a, b), c), "(a == b) == c"),
        (bin_("!=", a, bin_("!=", b, c)), "a != (b != c)"),
        (bin_("in", bin_("in", a, b), c), "(a in b) in c"),
        (bin_("==", bin_("<=", a, b), bin_(">=", b, c)), "(a <= b) == (b >= c)"),
        (bin_(">", bin_("+", a, b), c), "a + b > c"),
        (bin_("in", bin_("+", a, b), c), "a + b in c"),
        (bin_("+", bin_("in", a, b), c), "(a in b) + c"),
        (bin_("and", bin_("<", a, b), bin_(">", b, c)), "a < b and b > c"),
    ],
)
def test_comparisons_never_chain(expr: Expr, text: str) -> None:
    assert format_expr(expr) == text


@pytest.mark.parametrize(
    ("expr", "text"),
    [
        (not_(bin_("==", a, b)), "not a == b"),
        (bin_("==", not_(a), b), "(not a) == b"),
        (bin_("==", a, not_(b)), "a == (not b)"),
        (bin_("+", not_(a), b), "(not a) + b"),
    ],
)
def test_not_binds_looser_than_comparison(expr: Expr, text: str) -> None:
    assert format_expr(expr) == text


@pytest.mark.parametrize(
    ("expr", "text"),
    [
        (neg(a), "-a"),
        (neg(neg(a)), "-(-a)"),
        (neg(bin_("+", a, b)), "-(a + b)"),
        (neg(bin_("*", a, b)), "-(a * b)"),
        (bin_("*", neg(a), b), "-a * b"),
        (bin_("-", a, neg(b)), "a - -b"),
        (neg(v("x", "y")), "-x.y"),
        (neg(CallExpr(fn="abs", args=[a])), "-abs(a)"),
        (not_(neg(a)), "not -a"),
        (neg(not_(a)), "-(not a)"),
    ],
)
def test_arithmetic_negation(expr: Expr, text: str) -> None:
    assert format_expr(expr) == text


# --- names ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("amount", "amount"),
        ("_private", "_private"),
        ("order_id2", "order_id2"),
        ("len", "len"),
        ("order-id", "`order-id`"),
        ("a.b", "`a.b`"),
        ("ns:x", "`ns:x`"),
        ("has space", "`has space`"),
        ("2fast", "`2fast`"),
        ("and", "`and`"),
        ("or", "`or`"),
        ("not", "`not`"),
        ("in", "`in`"),
        ("true", "`true`"),
        ("false", "`false`"),
        ("null", "`null`"),
        ("True", "True"),
        ("andy", "andy"),
    ],
)
def test_variable_names(name: str, text: str) -> None:
    assert format_expr(v(name)) == text


@pytest.mark.parametrize(
    ("path", "text"),
    [
        ([], ""),
        (["a"], ".a"),
        (["a", 0, "x-y"], '.a[0]["x-y"]'),
        ([0, 1], "[0][1]"),
        ([-1], "[-1]"),
        (["in"], '["in"]'),
        (["null"], '["null"]'),
        (["1st"], '["1st"]'),
        ([""], '[""]'),
        (['say "hi"'], '["say \\"hi\\""]'),
        (["_ok", "Ok2"], "._ok.Ok2"),
    ],
)
def test_paths(path: list[str | int], text: str) -> None:
    assert format_expr(VarRef(name="x", path=path)) == "x" + text
    assert format_expr(OutputRef(node="fetch", path=path)) == "@fetch" + text


def test_path_after_a_quoted_name() -> None:
    assert format_expr(v("order-id", "lines", 0)) == "`order-id`.lines[0]"


@pytest.mark.parametrize(
    ("node", "text"),
    [
        ("charge", "@charge"),
        ("charge_card", "@charge_card"),
        ("charge-card", "@charge-card"),
        ("ns:fetch", "@ns:fetch"),
        ("2nd", "@2nd"),
        ("in", "@in"),
        ("fetch.v2", "@`fetch.v2`"),
        ("has space", "@`has space`"),
        ("é-x", "@`é-x`"),
    ],
)
def test_output_refs(node: str, text: str) -> None:
    assert format_expr(OutputRef(node=node)) == text


def test_output_ref_path_after_a_bare_id_with_dashes() -> None:
    assert format_expr(OutputRef(node="charge-card", path=["payment_id", 0])) == "@charge-card.payment_id[0]"


def test_output_ref_id_with_a_trailing_newline_is_quoted() -> None:
    assert format_expr(OutputRef(node="x\n", path=["a"])) == "@`x\n`.a"


def test_output_ref_with_path_in_a_condition() -> None:
    expr = bin_(
        "and",
        bin_("==", OutputRef(node="auth", path=["approved"]), lit(True)),
        bin_(">", v("amount"), lit(100)),
    )
    assert format_expr(expr) == "@auth.approved == true and amount > 100"


# --- literals -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, "null"),
        (True, "true"),
        (False, "false"),
        (0, "0"),
        (42, "42"),
        (-7, "-7"),
        (10**20, "100000000000000000000"),
        (1.0, "1.0"),
        (0.1, "0.1"),
        (2.5, "2.5"),
        (-0.0, "-0.0"),
        (1e20, "1e+20"),
        (1e-7, "1e-07"),
        ("", '""'),
        ("new", '"new"'),
        ("it's", '"it\'s"'),
        ('say "hi"', '"say \\"hi\\""'),
        ("back\\slash", '"back\\\\slash"'),
        ("line\nbreak\ttab", '"line\\nbreak\\ttab"'),
        ("\x00\x1f", '"\\u0000\\u001f"'),
        ("café ☕", '"café ☕"'),
    ],
)
def test_scalar_literals(value: Any, text: str) -> None:
    assert format_literal(value) == text
    assert format_expr(lit(value)) == text


@pytest.mark.parametrize("value", [[], [1, "a", None], {"b": 1, "a": [True, {"z": 0.5}]}, {}])
def test_container_literals_are_json(value: Any) -> None:
    text = format_expr(lit(value))
    assert json.loads(text) == value
    if isinstance(value, dict):
        assert list(json.loads(text)) == sorted(value), "object keys are printed sorted"


def test_literal_strings_are_json_strings() -> None:
    for value in ["plain", 'quote"back\\slash', "\u2028\u2029", "😀", "\x7f"]:
        assert json.loads(format_literal(value)) == value


def test_bool_is_not_printed_as_int() -> None:
    assert format_expr(bin_("==", v("flag"), lit(True))) == "flag == true"
    assert format_expr(bin_("==", v("n"), lit(1))) == "n == 1"


def test_float_that_looks_like_an_int_keeps_its_point() -> None:
    assert format_expr(bin_("*", v("amount"), lit(2.0))) == "amount * 2.0"


# --- lists and calls ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expr", "text"),
    [
        (ListExpr(items=[]), "[]"),
        (ListExpr(items=[lit(1)]), "[1]"),
        (ListExpr(items=[lit(1), lit("x"), lit(None), v("order-id")]), '[1, "x", null, `order-id`]'),
        (ListExpr(items=[bin_("+", a, b), ListExpr(items=[c])]), "[a + b, [c]]"),
        (bin_("in", v("status"), ListExpr(items=[lit("new"), lit("paid")])), 'status in ["new", "paid"]'),
        (not_(bin_("in", v("status"), ListExpr(items=[lit("x")]))), 'not status in ["x"]'),
    ],
)
def test_lists(expr: Expr, text: str) -> None:
    assert format_expr(expr) == text


@pytest.mark.parametrize(
    ("expr", "text"),
    [
        (CallExpr(fn="len", args=[v("items")]), "len(items)"),
        (CallExpr(fn="max", args=[a, lit(2), bin_("+", b, c)]), "max(a, 2, b + c)"),
        (CallExpr(fn="round", args=[bin_("/", a, b), lit(2)]), "round(a / b, 2)"),
        (CallExpr(fn="lower", args=[v("order-id", "name")]), "lower(`order-id`.name)"),
        (bin_("*", CallExpr(fn="abs", args=[a]), b), "abs(a) * b"),
        (CallExpr(fn="len", args=[bin_("or", a, b)]), "len(a or b)"),
        (CallExpr(fn="upper", args=[CallExpr(fn="str", args=[OutputRef(node="n", path=[0])])]), "upper(str(@n[0]))"),
    ],
)
def test_calls(expr: Expr, text: str) -> None:
    assert format_expr(expr) == text


def test_not_an_expression_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="not an expression"):
        format_expr("a + b")  # type: ignore[arg-type]
