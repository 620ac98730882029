"""The expression AST carried by specs: conditions, arguments, mutations.

Expressions are data, never Python source. The runtime evaluates them without
``eval``; the compiler type-checks them; :func:`format_expr` prints them back in
the expression language that :func:`wfc.dsl.parse_expression` reads.
"""

from __future__ import annotations

import re
from typing import Any, Final, Literal

import msgspec

#: One step of a JSON path: an object key or a list index.
PathSegment = str | int

BinaryOp = Literal[
    "+", "-", "*", "/", "%", "==", "!=", "<", "<=", ">", ">=", "and", "or", "in"
]
UnaryOp = Literal["not", "-"]

#: The pure functions an expression may call, with their number of arguments.
FUNCTIONS: Final[dict[str, tuple[int, int]]] = {
    "len": (1, 1),
    "lower": (1, 1),
    "upper": (1, 1),
    "str": (1, 1),
    "int": (1, 1),
    "float": (1, 1),
    "bool": (1, 1),
    "abs": (1, 1),
    "round": (1, 2),
    "min": (1, 8),
    "max": (1, 8),
}


class ExprBase(
    msgspec.Struct,
    frozen=True,
    kw_only=True,
    forbid_unknown_fields=True,
    omit_defaults=True,
    tag_field="kind",
):
    """Base of every expression node; ``kind`` names the variant."""


class LiteralExpr(ExprBase, tag="literal", kw_only=True, frozen=True):
    """A JSON constant."""

    value: Any = None
    """Any JSON value: null, bool, number, string, list or object."""


class VarRef(ExprBase, tag="var", kw_only=True, frozen=True):
    """The value of a variable visible from the current thread."""

    name: str
    """The declared variable name, e.g. ``order-id``."""
    path: list[PathSegment] = []
    """Keys and indexes to follow inside the value, outermost first."""


class OutputRef(ExprBase, tag="output", kw_only=True, frozen=True):
    """The output of a node that ran earlier in the same thread."""

    node: str
    """Id of the node whose output is read."""
    path: list[PathSegment] = []
    """Keys and indexes to follow inside the output, outermost first."""


class BinaryExpr(ExprBase, tag="binary", kw_only=True, frozen=True):
    """Arithmetic, comparison, boolean logic or membership of two operands."""

    op: BinaryOp
    left: Expr
    right: Expr


class UnaryExpr(ExprBase, tag="unary", kw_only=True, frozen=True):
    """Boolean negation or arithmetic negation."""

    op: UnaryOp
    operand: Expr


class CallExpr(ExprBase, tag="call", kw_only=True, frozen=True):
    """A call of one of the pure functions in :data:`FUNCTIONS`."""

    fn: str
    args: list[Expr] = []


class ListExpr(ExprBase, tag="list", kw_only=True, frozen=True):
    """A list built from expressions, e.g. the right side of ``in``."""

    items: list[Expr] = []


Expr = LiteralExpr | VarRef | OutputRef | BinaryExpr | UnaryExpr | CallExpr | ListExpr

_PRECEDENCE: Final[dict[str, int]] = {
    "or": 1,
    "and": 2,
    "not": 3,
    "in": 4,
    "==": 4,
    "!=": 4,
    "<": 4,
    "<=": 4,
    ">": 4,
    ">=": 4,
    "+": 5,
    "-": 5,
    "*": 6,
    "/": 6,
    "%": 6,
    "neg": 7,
}
_ATOM = 9


def _is_identifier(name: str) -> bool:
    head, rest = name[:1], name[1:]
    return (head.isalpha() or head == "_") and all(c.isalnum() or c == "_" for c in rest)


def _format_path(path: list[PathSegment]) -> str:
    parts = []
    for segment in path:
        if isinstance(segment, int):
            parts.append(f"[{segment}]")
        elif _is_identifier(segment) and segment not in _KEYWORDS:
            parts.append(f".{segment}")
        else:
            parts.append(f"[{_format_string(segment)}]")
    return "".join(parts)


def _format_string(text: str) -> str:
    return msgspec.json.encode(text).decode()


def _format_name(name: str) -> str:
    return name if _is_identifier(name) and name not in _KEYWORDS else f"`{name}`"


# After `@`, ids of letters, digits, `_`, `-` and `:` need no quotes; `.` starts a field.
_BARE_NODE_ID: Final = re.compile(r"[\w:-]+", re.ASCII)
_KEYWORDS: Final = frozenset({"and", "or", "not", "in", "true", "false", "null"})


def format_literal(value: Any) -> str:
    """Print a JSON value as an expression-language literal."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str):
        return _format_string(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, int):
        return str(value)
    return msgspec.json.encode(value, order="sorted").decode()


def format_expr(expr: Expr) -> str:
    """Print an expression in the expression language.

    Node outputs print as ``@node-id`` followed by their path. The result parses
    back to an equal AST (except that node-output references need the
    ``@`` form, which the parser accepts for that reason). Works at any
    nesting depth: the printing does not recurse.
    """
    from wfc.specs.walk import fold_expr  # walk imports this module

    return fold_expr(expr, _format)[0]


def _wrap(text_prec: tuple[str, int], minimum: int) -> str:
    text, prec = text_prec
    return f"({text})" if prec < minimum else text


def _format(expr: Expr, parts: list[tuple[str, int]]) -> tuple[str, int]:
    """The text and precedence of ``expr``, given those of its children."""
    match expr:
        case LiteralExpr(value=value):
            return format_literal(value), _ATOM
        case VarRef(name=name, path=path):
            return _format_name(name) + _format_path(path), _ATOM
        case OutputRef(node=node, path=path):
            node_text = node if _BARE_NODE_ID.fullmatch(node) else f"`{node}`"
            return f"@{node_text}" + _format_path(path), _ATOM
        case ListExpr():
            return "[" + ", ".join(text for text, _ in parts) + "]", _ATOM
        case CallExpr(fn=fn):
            return f"{fn}(" + ", ".join(text for text, _ in parts) + ")", _ATOM
        case UnaryExpr(op="not"):
            prec = _PRECEDENCE["not"]
            return f"not {_wrap(parts[0], prec)}", prec
        case UnaryExpr():
            prec = _PRECEDENCE["neg"]
            return f"-{_wrap(parts[0], prec + 1)}", prec
        case BinaryExpr(op=op):
            prec = _PRECEDENCE[op]
            # Comparisons do not chain, so both sides of one bind tighter.
            left_min = prec + 1 if prec == 4 else prec
            text = f"{_wrap(parts[0], left_min)} {op} {_wrap(parts[1], prec + 1)}"
            return text, prec
    raise TypeError(f"not an expression: {expr!r}")
