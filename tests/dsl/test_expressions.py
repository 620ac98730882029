"""The expression-string language: parse_expression, caret and parse_json_path,
and the round trip with wfc.specs.format_expr."""

from __future__ import annotations

import importlib.resources
import pickle
import typing
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wfc.dsl.expressions import (
    ExpressionError,
    NameUse,
    ParsedExpression,
    caret,
    parse_expression,
    parse_json_path,
)
from wfc.specs import (
    FUNCTIONS,
    BinaryExpr,
    CallExpr,
    Expr,
    ListExpr,
    LiteralExpr,
    OutputRef,
    UnaryExpr,
    VarRef,
    WfcError,
    format_expr,
)
from wfc.specs.expressions import BinaryOp


def parse(text: str, **bindings: Expr) -> Expr:
    return parse_expression(text, bindings).expr


def error_of(text: str, **bindings: Expr) -> ExpressionError:
    with pytest.raises(ExpressionError) as info:
        parse_expression(text, bindings)
    return info.value


def lit(value: Any) -> LiteralExpr:
    return LiteralExpr(value=value)


def var(name: str, *path: str | int) -> VarRef:
    return VarRef(name=name, path=list(path))


def out(node: str, *path: str | int) -> OutputRef:
    return OutputRef(node=node, path=list(path))


def bin_(op: BinaryOp, left: Expr, right: Expr) -> BinaryExpr:
    return BinaryExpr(op=op, left=left, right=right)


def same(left: Expr, right: Expr) -> bool:
    """Equal, and of equal JSON: 1, 1.0 and true compare equal in Python but are different literals."""
    encode = msgspec.json.Encoder(order="sorted").encode
    return left == right and encode(left) == encode(right)


# --- literals -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("42", 42),
        ("0", 0),
        ("1.5", 1.5),
        ("1e3", 1000.0),
        ("2.5E-3", 0.0025),
        ("1e+16", 1e16),
        ("-5", -5),
        ("-1.5", -1.5),
        ("--5", 5),
        ("'new'", "new"),
        ('"new"', "new"),
        ("''", ""),
        (r"'it\'s'", "it's"),
        (r'"say \"hi\""', 'say "hi"'),
        (r'"a\\b\/c"', "a\\b/c"),
        (r'"\b\f\n\r\t"', "\b\f\n\r\t"),
        (r'"\u00e9\ud83d\ude00"', "é😀"),
        ('"é😀 raw"', "é😀 raw"),
        ("'two\nlines'", "two\nlines"),
        ("true", True),
        ("false", False),
        ("null", None),
        ('{"a": [1, -2.5, null], "b": {"c": true}}', {"a": [1, -2.5, None], "b": {"c": True}}),
        ("{}", {}),
    ],
)
def test_literals(text: str, value: Any) -> None:
    assert same(parse(text), lit(value))


def test_list_literals_are_list_expressions() -> None:
    assert same(parse("[1, 'a', [true]]"), lit([1, "a", [True]]))
    assert same(parse("[]"), lit([]))
    assert same(parse("[a, [1]]"), ListExpr(items=[var("a"), lit([1])]))
    assert same(parse("[a, -b]"), ListExpr(items=[var("a"), UnaryExpr(op="-", operand=var("b"))]))


def test_minus_folds_only_into_numbers() -> None:
    assert same(parse("-(5)"), lit(-5))
    assert same(parse("-true"), UnaryExpr(op="-", operand=lit(True)))
    assert same(parse("-x"), UnaryExpr(op="-", operand=var("x")))
    assert same(parse("-5 * x"), bin_("*", lit(-5), var("x")))


# --- names and node outputs ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("amount", "amount"),
        ("order_id", "order_id"),
        ("_x1", "_x1"),
        ("größe", "größe"),
        ("`order-id`", "order-id"),
        ("`and`", "and"),
        ("`two words`", "two words"),
        ("len", "len"),
        ("True", "True"),
        ("android", "android"),
    ],
)
def test_names_are_variables(text: str, name: str) -> None:
    parsed = parse_expression(text)
    assert same(parsed.expr, var(name))
    assert parsed.names == (NameUse(name, 0, len(text)),)


def test_names_are_listed_in_order_of_appearance() -> None:
    parsed = parse_expression("amount > 1 and `order-id` == amount or @n.x == auth", {"auth": out("a")})
    assert parsed == ParsedExpression(
        text="amount > 1 and `order-id` == amount or @n.x == auth",
        expr=parsed.expr,
        names=(NameUse("amount", 0, 6), NameUse("order-id", 15, 10), NameUse("amount", 29, 6)),
    )


@pytest.mark.parametrize(
    ("text", "expr"),
    [
        ("@charge-card", out("charge-card")),
        ("@`fetch.v2`", out("fetch.v2")),
        ("@a:b_c-2", out("a:b_c-2")),
        ("@1st", out("1st")),
        ("@charge-card.payment_id[0]['x-y']", out("charge-card", "payment_id", 0, "x-y")),
        ("@a-1", out("a-1")),
        ("@a - 1", bin_("-", out("a"), lit(1))),
        ("@a -1", bin_("-", out("a"), lit(1))),
    ],
)
def test_node_outputs(text: str, expr: Expr) -> None:
    parsed = parse_expression(text)
    assert same(parsed.expr, expr)
    assert parsed.names == ()


@pytest.mark.parametrize(
    ("text", "expr"),
    [
        ("order.items[0].sku", var("order", "items", 0, "sku")),
        ("x[\"k-1\"]['y']", var("x", "k-1", "y")),
        ("x[-1]", var("x", -1)),
        ("x.in.not.true", var("x", "in", "not", "true")),
        ("(x).y", var("x", "y")),
        ("`order-id`.len", var("order-id", "len")),
    ],
)
def test_field_and_index_access_extend_the_path(text: str, expr: Expr) -> None:
    assert same(parse(text), expr)


def test_bindings_resolve_names_and_extend_their_path() -> None:
    auth = out("auth-node", "body")
    parsed = parse_expression("auth.approved and auth[0] and `auth` and limit > total", {"auth": auth, "limit": lit(5)})
    assert same(
        parsed.expr,
        bin_(
            "and",
            bin_("and", bin_("and", out("auth-node", "body", "approved"), out("auth-node", "body", 0)), auth),
            bin_(">", lit(5), var("total")),
        ),
    )
    assert parsed.names == (NameUse("total", 49, 5),)
    assert same(parse("v.x", v=var("order", "items")), var("order", "items", "x"))


def test_a_binding_is_not_changed_by_access() -> None:
    auth = out("auth-node", "body")
    parse("auth.approved", auth=auth)
    assert auth.path == ["body"]


# --- operators -------------------------------------------------------------------------------


@pytest.mark.parametrize("op", ["==", "!=", "<", "<=", ">", ">=", "in", "+", "-", "*", "/", "%", "and", "or"])
def test_binary_operators(op: BinaryOp) -> None:
    assert same(parse(f"a {op} b"), bin_(op, var("a"), var("b")))


@pytest.mark.parametrize(
    ("text", "expr"),
    [
        ("a or b and c", bin_("or", var("a"), bin_("and", var("b"), var("c")))),
        ("a and b or c", bin_("or", bin_("and", var("a"), var("b")), var("c"))),
        ("(a or b) and c", bin_("and", bin_("or", var("a"), var("b")), var("c"))),
        ("not a and b", bin_("and", UnaryExpr(op="not", operand=var("a")), var("b"))),
        ("not a == b", UnaryExpr(op="not", operand=bin_("==", var("a"), var("b")))),
        ("not not a", UnaryExpr(op="not", operand=UnaryExpr(op="not", operand=var("a")))),
        ("a + b * c", bin_("+", var("a"), bin_("*", var("b"), var("c")))),
        ("a - b - c", bin_("-", bin_("-", var("a"), var("b")), var("c"))),
        ("a / b % c", bin_("%", bin_("/", var("a"), var("b")), var("c"))),
        ("-a * b", bin_("*", UnaryExpr(op="-", operand=var("a")), var("b"))),
        ("a % 2 == 0", bin_("==", bin_("%", var("a"), lit(2)), lit(0))),
        ("a + 1 < b and c", bin_("and", bin_("<", bin_("+", var("a"), lit(1)), var("b")), var("c"))),
        ("a in [1, 2]", bin_("in", var("a"), lit([1, 2]))),
        ("a not in b", UnaryExpr(op="not", operand=bin_("in", var("a"), var("b")))),
        ("a\n  and\tb", bin_("and", var("a"), var("b"))),
    ],
)
def test_precedence_and_grouping(text: str, expr: Expr) -> None:
    assert same(parse(text), expr)


def test_keywords_need_a_word_boundary() -> None:
    assert same(parse("android or order"), bin_("or", var("android"), var("order")))
    assert same(parse("notice"), var("notice"))


# --- calls -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expr"),
    [
        ("len(x)", CallExpr(fn="len", args=[var("x")])),
        ("round(x, 2)", CallExpr(fn="round", args=[var("x"), lit(2)])),
        ("max(a, b, c)", CallExpr(fn="max", args=[var("a"), var("b"), var("c")])),
        ("lower(`order-id`) == 'x'", bin_("==", CallExpr(fn="lower", args=[var("order-id")]), lit("x"))),
    ],
)
def test_calls(text: str, expr: Expr) -> None:
    assert same(parse(text), expr)


# --- errors ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message", "marks"),
    [
        ("amount = 100", "unexpected '=' at column 7; did you mean '=='?", "       ^"),
        ("a && b", "unexpected '&&' at column 2; did you mean 'and'?", "  ^^"),
        ("a || b", "unexpected '||' at column 2; did you mean 'or'?", "  ^^"),
        ("a & b", "unexpected '&' at column 2; did you mean 'and'?", "  ^"),
        ("!a", "unexpected '!' at column 0; did you mean 'not'?", "^"),
        ("a => b", "unexpected '=>' at column 2; did you mean '>='?", "  ^^"),
        ("a AND b", "unexpected name AND at column 2; did you mean 'and'?", "  ^^^"),
        ("a +", "unexpected end of expression at column 3; expected a value", "   ^"),
        ("", "unexpected end of expression at column 0; expected a value", "^"),
        ("(a", "unexpected end of expression at column 2; expected ')'", "  ^"),
        ("a b", "unexpected name b at column 2; expected an operator, '(' or end of expression", "  ^"),
        ("a == 1 2", "unexpected number 2 at column 7; expected an operator or end of expression", "       ^"),
        ("[1,", "unexpected end of expression at column 3; expected a value", "   ^"),
        ("$.a", "unexpected '$' at column 0; expected a value", "^"),
        ("a < b < c", "chained comparison '<' at column 6; comparisons do not chain", "      ^"),
        ("a == b not in c", "chained comparison 'not in' at column 7; comparisons do not chain", "       ^^^^^^"),
        ("'abc", "unterminated string at column 0; close it with '", "^"),
        ('x == "abc', 'unterminated string at column 5; close it with "', "     ^"),
        ("`abc", "unterminated quoted name at column 0; write e.g. `order-id`", "^"),
        ("``", "empty quoted name at column 0; write e.g. `order-id`", "^"),
        ("@ x", "'@' without a node id at column 0; write e.g. @charge-card or @`fetch.v2`", "^"),
        (r'"a\qb"', r"unknown escape '\q' in string at column 2; use one of", "  ^^"),
        (r'"\u12"', r"unknown escape '\u' in string at column 1; use one of", " ^^"),
        (r'"\ud800"', "unpaired surrogate in string at column 0", "^^^^^^^^"),
        ("foo(x)", "unknown function foo() at column 0; the functions are abs, bool, float, int, len,", "^^^"),
        ("len(a, b)", "wrong number of arguments to len() at column 0; len() takes 1 argument, not 2", "^^^"),
        ("round()", "wrong number of arguments to round() at column 0; round() takes 1 or 2 arguments", "^^^^^"),
        ("min()", "wrong number of arguments to min() at column 0; min() takes 1 to 8 arguments, not 0", "^^^"),
        ("x[y]", "index [y] is not a literal at column 1; a path is fixed when the workflow compiles", " ^^^"),
        ("x[1 + 1]", "index [1 + 1] is not a literal at column 1;", " ^^^^^^^"),
        ("x[1.5]", "index [1.5] is not a literal at column 1;", " ^^^^^"),
        ("x[true]", "index [true] is not a literal at column 1;", " ^^^^^^"),
        ("(a + b).x", "cannot take .x of a + b at column 7; only variables and node outputs have", "       ^^"),
        ("len(x).y", "cannot take .y of len(x) at column 6;", "      ^^"),
        ("[1][0]", "cannot take [0] of [1] at column 3;", "   ^^^"),
        ("'s'.x", 'cannot take .x of "s" at column 3;', "   ^^"),
        ("1e999", "number too large at column 0; JSON numbers are finite", "^^^^^"),
        ('{"a": x}', 'the value of "a" is not a constant at column 1; objects hold only constants', " ^^^"),
    ],
)
def test_errors_say_what_and_where(text: str, message: str, marks: str) -> None:
    error = error_of(text)
    assert error.message.startswith(message)
    assert str(error) == f"{error.message}\n  {text}\n  {marks}"


def test_error_attributes() -> None:
    error = error_of("amount = 100")
    assert isinstance(error, WfcError)
    assert (error.text, error.offset, error.line, error.column, error.length) == ("amount = 100", 7, 1, 7, 1)
    copy = pickle.loads(pickle.dumps(error))
    assert (str(copy), copy.message, copy.column) == (str(error), error.message, error.column)


def test_errors_in_multi_line_expressions_show_the_offending_line() -> None:
    error = error_of("a > 1 and\n  b = 2\n  or c")
    assert (error.offset, error.line, error.column) == (14, 2, 4)
    assert str(error) == "unexpected '=' at line 2, column 4; did you mean '=='?\n    b = 2\n      ^"


def test_access_on_a_literal_binding_is_an_error() -> None:
    error = error_of("limit.x > 1", limit=lit(5))
    assert error.message.startswith("cannot take .x of 5 at column 5; only variables and node outputs")


def test_a_number_with_too_many_digits_is_an_error() -> None:
    assert error_of("9" * 5000).message.startswith("number too large at column 0")


def test_deep_nesting_parses() -> None:
    assert same(parse("(" * 2000 + "a" + ")" * 2000), var("a"))
    expr = parse("-" * 2000 + "a")
    for _ in range(2000):
        assert isinstance(expr, UnaryExpr)
        expr = expr.operand
    assert same(expr, var("a"))


def test_the_grammar_ships_as_package_data() -> None:
    assert importlib.resources.files("wfc.dsl").joinpath("grammar.lark").is_file()


# --- caret -----------------------------------------------------------------------------------


def test_caret() -> None:
    assert caret("amount = 100", 7) == "  amount = 100\n         ^"
    assert caret("len(a, b)", 0, 3) == "  len(a, b)\n  ^^^"
    assert caret("a +", 3) == "  a +\n     ^"
    assert caret("a\tb = 1", 4, 0) == "  a\tb = 1\n   \t  ^"
    assert caret("a and\r\nb = 2", 9) == "  b = 2\n    ^"
    assert caret("a\nbcd", 2, 99) == "  bcd\n  ^^^"


# --- JSON paths ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "segments"),
    [
        ("$", []),
        ("$.a.b[0]['x-y']", ["a", "b", 0, "x-y"]),
        ('$["a b"][-1]', ["a b", -1]),
        ("$.in.größe", ["in", "größe"]),
    ],
)
def test_json_paths(path: str, segments: list[str | int]) -> None:
    assert parse_json_path(path) == segments


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("a.b", "unexpected name a at column 0; expected '$'"),
        ("", "unexpected end of path at column 0; expected '$'"),
        ("$.x-y", "unexpected '-' at column 3; expected '.', '[' or end of path"),
        ("$[1.5]", "path index is not an integer at column 2; write e.g. [0]"),
        ("$[", "unexpected end of path at column 2; expected '-', a number or a string"),
        ("$[x]", "unexpected name x at column 2; expected '-', a number or a string"),
        ("$.", "unexpected end of path at column 2; expected"),
    ],
)
def test_json_path_errors(path: str, message: str) -> None:
    with pytest.raises(ExpressionError) as info:
        parse_json_path(path)
    assert info.value.message.startswith(message)
    assert str(info.value).splitlines()[1] == f"  {path}"


# --- properties ------------------------------------------------------------------------------

# Names may hold any character but a backquote: format_expr writes `name` without
# escaping, so a name containing "`" cannot be printed in a form that parses back.
_names = st.one_of(
    st.from_regex(r"[a-z_][a-z0-9_]{0,6}", fullmatch=True),
    st.sampled_from(["and", "or", "not", "in", "true", "false", "null", "len", "True", "größe", "x²"]),
    st.text(min_size=1, max_size=8).filter(lambda name: "`" not in name),
)
_node_ids = st.one_of(_names, st.from_regex(r"[a-z0-9][a-z0-9_.:\-]{0,8}", fullmatch=True))
_paths = st.lists(st.one_of(st.integers(-3, 1000), st.text(max_size=6), st.sampled_from(["in", "x"])), max_size=3)
_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**63) + 1, 2**63 - 1),  # a spec holds 64-bit integers; -2**63 has no literal
    st.floats(allow_nan=False, allow_infinity=False),  # JSON has neither
    st.text(max_size=10),
)
_json = st.recursive(
    _scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3)
)
# A list of constants is itself a constant (LiteralExpr), so a ListExpr always
# holds at least one item that is not constant; see _is_constant below.
_literals = st.builds(LiteralExpr, value=_json)
_leaves = st.one_of(
    _literals,
    st.builds(VarRef, name=_names, path=_paths),
    st.builds(OutputRef, node=_node_ids, path=_paths),
)


def _is_number(expr: Expr) -> bool:
    return isinstance(expr, LiteralExpr) and type(expr.value) in (int, float)


def _extend(inner: st.SearchStrategy[Expr]) -> st.SearchStrategy[Expr]:
    calls = st.sampled_from(sorted(FUNCTIONS.items())).flatmap(
        lambda item: st.lists(inner, min_size=item[1][0], max_size=item[1][1]).map(
            lambda args: CallExpr(fn=item[0], args=args)
        )
    )
    return st.one_of(
        st.builds(BinaryExpr, op=st.sampled_from(typing.get_args(BinaryOp)), left=inner, right=inner),
        st.builds(UnaryExpr, op=st.just("not"), operand=inner),
        # Minus on a number literal is folded into the literal (`-5` is LiteralExpr(-5)),
        # so UnaryExpr("-", LiteralExpr(5)) has no text of its own.
        st.builds(UnaryExpr, op=st.just("-"), operand=inner.filter(lambda e: not _is_number(e))),
        calls,
        st.builds(ListExpr, items=st.lists(inner, min_size=1, max_size=3)).filter(
            lambda e: not all(_is_constant(item) for item in e.items)
        ),
    )


def _is_constant(expr: Expr) -> bool:
    return isinstance(expr, LiteralExpr) or (
        isinstance(expr, ListExpr) and all(_is_constant(item) for item in expr.items)
    )


_exprs = st.recursive(_leaves, _extend, max_leaves=12)


@settings(max_examples=200, deadline=None)
@given(_exprs)
def test_format_then_parse_gives_the_same_ast(expr: Expr) -> None:
    text = format_expr(expr)
    parsed = parse_expression(text)
    assert same(parsed.expr, expr), text
    assert format_expr(parsed.expr) == text
    for use in parsed.names:
        written = text[use.column : use.column + use.length]
        assert written in (use.name, f"`{use.name}`")


# Pieces of the language and of common mistakes, so random texts get past the lexer.
_words = ["a", "`b-c`", "@n-1", "@`x.y`", "1", "2.5e3", "'s'", '"t\\n"', "true", "null", "and", "or", "not", "in"]
_words += ["len", "round", "auth", "==", "!=", "<=", "&&"]
_fragments = st.sampled_from(_words + list("()[]{},:.+-*/%<=!$\\`'\"@ \n\té0"))
_texts = st.one_of(st.text(max_size=30), st.lists(_fragments, max_size=20).map("".join))


@settings(max_examples=200, deadline=None)
@given(_texts)
def test_any_text_parses_or_raises_expression_error(text: str) -> None:
    try:
        parsed = parse_expression(text, {"auth": out("auth-node", "body")})
    except ExpressionError as error:
        assert 0 <= error.offset <= len(text)
        assert str(error).startswith(error.message + "\n  ")
        return
    # Parse, print, parse again: the same AST.
    assert same(parse_expression(format_expr(parsed.expr)).expr, parsed.expr)


@settings(max_examples=100, deadline=None)
@given(st.one_of(st.text(max_size=20), st.lists(_fragments, max_size=10).map(lambda parts: "$" + "".join(parts))))
def test_any_text_is_a_json_path_or_raises_expression_error(text: str) -> None:
    try:
        segments = parse_json_path(text)
    except ExpressionError as error:
        assert 0 <= error.offset <= len(text)
    else:
        assert all(isinstance(segment, str | int) for segment in segments)
