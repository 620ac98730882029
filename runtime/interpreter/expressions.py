"""Evaluate spec expressions over a run's values, without ``eval``.

Values are JSON: ``None``, ``bool``, ``int``, ``float``, ``str``, ``list`` and
``dict``. The rules are strict on purpose so a workflow behaves the same on
every engine: ``bool`` is not a number, ``and``/``or``/``not`` and conditions
take booleans only, and ``1 == 1.0`` but ``true != 1``. Anything that cannot be
evaluated (a missing key, ``"a" / 2``, a division by zero) raises
:class:`ExpressionError`, which the interpreter turns into an
``EXPRESSION_ERROR`` failure of the node, never a crash.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import msgspec

from wfc.specs import (
    MAX_INT,
    MIN_INT,
    BinaryExpr,
    CallExpr,
    Expr,
    ListExpr,
    LiteralExpr,
    OutputRef,
    PathSegment,
    UnaryExpr,
    VarRef,
    format_expr,
)


class ExpressionError(Exception):
    """An expression could not be evaluated on the run's current values.

    Attributes:
        reason: What went wrong, e.g. ``variable 'order' has no key 'id'``.
    """

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class Scope(Protocol):
    """Where an expression reads its variables and node outputs."""

    def variable(self, name: str) -> Any:
        """Value of a visible variable; raises :class:`ExpressionError` if none."""
        ...

    def output(self, node: str) -> Any:
        """Latest output of a node of the current thread; raises
        :class:`ExpressionError` if the node has not run."""
        ...


def type_name(value: Any) -> str:
    """JSON name of a value's type, for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "str"
    if isinstance(value, list):
        return "list"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def is_number(value: Any) -> bool:
    """True for ints and floats, false for bools."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def json_equal(left: Any, right: Any) -> bool:
    """Equality of JSON values: numbers compare by value, bools only to bools."""
    if isinstance(left, bool) or isinstance(right, bool):
        return isinstance(left, bool) and isinstance(right, bool) and left is right
    if is_number(left) and is_number(right):
        return bool(left == right)
    if isinstance(left, list) and isinstance(right, list):
        return len(left) == len(right) and all(json_equal(a, b) for a, b in zip(left, right, strict=True))
    if isinstance(left, dict) and isinstance(right, dict):
        return left.keys() == right.keys() and all(json_equal(v, right[k]) for k, v in left.items())
    return type(left) is type(right) and bool(left == right)


def follow_path(value: Any, path: Sequence[PathSegment], what: str) -> Any:
    """Follow object keys and list indexes into ``value``.

    Args:
        value: The starting value.
        path: Keys and indexes, outermost first.
        what: How to name the starting value in errors, e.g. ``variable 'order'``.
    """
    for depth, segment in enumerate(path):
        here = what + "".join(f"[{s!r}]" for s in path[:depth])
        if isinstance(segment, str):
            if not isinstance(value, dict):
                raise ExpressionError(f"{here} is {type_name(value)}, not an object; cannot read key {segment!r}")
            if segment not in value:
                raise ExpressionError(f"{here} has no key {segment!r}")
            value = value[segment]
        else:
            if not isinstance(value, list):
                raise ExpressionError(f"{here} is {type_name(value)}, not a list; cannot read index {segment}")
            if not -len(value) <= segment < len(value):
                raise ExpressionError(f"{here} has {len(value)} items; index {segment} is out of range")
            value = value[segment]
    return value


def evaluate(expr: Expr, scope: Scope) -> Any:
    """Evaluate an expression to a JSON value.

    Raises:
        ExpressionError: the expression cannot be evaluated on these values.
    """
    match expr:
        case LiteralExpr(value=value):
            return value
        case VarRef(name=name, path=path):
            return follow_path(scope.variable(name), path, f"variable {name!r}")
        case OutputRef(node=node, path=path):
            return follow_path(scope.output(node), path, f"output of node {node!r}")
        case ListExpr(items=items):
            return [evaluate(item, scope) for item in items]
        case UnaryExpr(op=op, operand=operand):
            return _storable(_unary(op, evaluate(operand, scope)))
        case BinaryExpr(op="and" | "or" as op, left=left, right=right):
            first = _boolean(evaluate(left, scope), op)
            if first is (op == "or"):
                return first
            return _boolean(evaluate(right, scope), op)
        case BinaryExpr(op=op, left=left, right=right):
            return _storable(binary_op(op, evaluate(left, scope), evaluate(right, scope)))
        case CallExpr(fn=fn, args=args):
            function = _FUNCTIONS.get(fn)
            if function is None:
                raise ExpressionError(f"unknown function {fn!r}")
            return _storable(function([evaluate(arg, scope) for arg in args]))
    raise ExpressionError(f"not an expression: {expr!r}")


def _storable(value: Any) -> Any:
    """Refuse an integer result outside 64 bits: it could not be stored, and
    repeated arithmetic could otherwise grow it without bound."""
    if isinstance(value, int) and not isinstance(value, bool) and not MIN_INT <= value <= MAX_INT:
        raise ExpressionError(f"the integer result is outside the signed 64-bit range ({MIN_INT} to {MAX_INT})")
    return value


def evaluate_condition(expr: Expr, scope: Scope) -> bool:
    """Evaluate an edge condition; it must give ``true`` or ``false``."""
    value = evaluate(expr, scope)
    if not isinstance(value, bool):
        raise ExpressionError(f"condition `{format_expr(expr)}` gave {type_name(value)} {_show(value)}, not true/false")
    return value


def _show(value: Any) -> str:
    text = msgspec.json.encode(value).decode() if _encodable(value) else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _encodable(value: Any) -> bool:
    try:
        msgspec.json.encode(value)
    except (TypeError, ValueError):
        return False
    return True


def _boolean(value: Any, op: str) -> bool:
    if not isinstance(value, bool):
        raise ExpressionError(f"`{op}` needs true/false operands, got {type_name(value)} {_show(value)}")
    return value


def _unary(op: str, value: Any) -> Any:
    if op == "not":
        return not _boolean(value, "not")
    if not is_number(value):
        raise ExpressionError(f"cannot negate {type_name(value)} {_show(value)}")
    return -value


def binary_op(op: str, left: Any, right: Any) -> Any:
    """Apply a binary operator other than ``and``/``or`` to two values."""
    if op == "==":
        return json_equal(left, right)
    if op == "!=":
        return not json_equal(left, right)
    if op == "in":
        return _contains(right, left)
    if op in ("<", "<=", ">", ">="):
        comparable = (is_number(left) and is_number(right)) or (isinstance(left, str) and isinstance(right, str))
        if not comparable:
            raise ExpressionError(
                f"cannot compare {type_name(left)} {_show(left)} {op} {type_name(right)} {_show(right)}"
            )
        return _COMPARE[op](left, right)
    if op == "+":
        if isinstance(left, str) and isinstance(right, str):
            return left + right
        if isinstance(left, list) and isinstance(right, list):
            return left + right
    if is_number(left) and is_number(right):
        return _arithmetic(op, left, right)
    raise ExpressionError(f"cannot compute {type_name(left)} {_show(left)} {op} {type_name(right)} {_show(right)}")


def _arithmetic(op: str, left: float, right: float) -> Any:
    if op in ("/", "%") and right == 0:
        raise ExpressionError(f"division by zero in {_show(left)} {op} {_show(right)}")
    try:
        result = _ARITHMETIC[op](left, right)
    except OverflowError:  # an int too large to meet a float
        raise ExpressionError(f"{_show(left)} {op} {_show(right)} is out of the range of numbers") from None
    if isinstance(result, float) and not math.isfinite(result):
        raise ExpressionError(f"{_show(left)} {op} {_show(right)} is not a finite number")
    return result


def _contains(container: Any, item: Any) -> bool:
    if isinstance(container, list):
        return any(json_equal(item, element) for element in container)
    if isinstance(container, str):
        if not isinstance(item, str):
            raise ExpressionError(f"`in` a string needs a string on the left, got {type_name(item)}")
        return item in container
    if isinstance(container, dict):
        if not isinstance(item, str):
            raise ExpressionError(f"`in` an object needs a key string on the left, got {type_name(item)}")
        return item in container
    raise ExpressionError(f"`in` needs a list, string or object on the right, got {type_name(container)}")


_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "<": lambda a, b: bool(a < b),
    "<=": lambda a, b: bool(a <= b),
    ">": lambda a, b: bool(a > b),
    ">=": lambda a, b: bool(a >= b),
}

_ARITHMETIC: dict[str, Callable[[Any, Any], Any]] = {
    "+": lambda a, b: a + b,
    "-": lambda a, b: a - b,
    "*": lambda a, b: a * b,
    "/": lambda a, b: a / b,
    "%": lambda a, b: a % b,
}


def to_text(value: Any) -> str:
    """``str()`` of the expression language: JSON spelling for non-strings."""
    if isinstance(value, str):
        return value
    if isinstance(value, float):
        return repr(value)
    return msgspec.json.encode(value, order="sorted").decode()


def _one(name: str, args: list[Any], check: Callable[[Any], bool], want: str) -> Any:
    value = args[0]
    if not check(value):
        raise ExpressionError(f"{name}() needs {want}, got {type_name(value)} {_show(value)}")
    return value


def _fn_len(args: list[Any]) -> Any:
    return len(_one("len", args, lambda v: isinstance(v, str | list | dict), "a string, list or object"))


def _fn_lower(args: list[Any]) -> Any:
    return _one("lower", args, lambda v: isinstance(v, str), "a string").lower()


def _fn_upper(args: list[Any]) -> Any:
    return _one("upper", args, lambda v: isinstance(v, str), "a string").upper()


def _fn_str(args: list[Any]) -> Any:
    return to_text(args[0])


def _fn_int(args: list[Any]) -> Any:
    value = args[0]
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ExpressionError(f"int() cannot convert {value!r}")
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            raise ExpressionError(f"int() cannot parse {_show(value)} as an integer") from None
    raise ExpressionError(f"int() needs a number, bool or string, got {type_name(value)}")


def _fn_float(args: list[Any]) -> Any:
    value = args[0]
    if is_number(value):
        try:
            return float(value)
        except OverflowError:
            raise ExpressionError(f"float() of {_show(value)} is out of the range of numbers") from None
    if isinstance(value, str):
        try:
            result = float(value.strip())
        except ValueError:
            raise ExpressionError(f"float() cannot parse {_show(value)} as a number") from None
        if math.isfinite(result):
            return result
    raise ExpressionError(f"float() needs a number or numeric string, got {type_name(value)} {_show(value)}")


def _fn_bool(args: list[Any]) -> Any:
    value = args[0]
    if isinstance(value, bool):
        return value
    if value is None:
        return False
    if is_number(value):
        return value != 0
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in ("true", "false"):
            return lowered == "true"
        raise ExpressionError(f'bool() reads only "true" or "false" from a string, got {_show(value)}')
    return len(value) > 0 if isinstance(value, list | dict) else False


def _fn_abs(args: list[Any]) -> Any:
    return abs(_one("abs", args, is_number, "a number"))


def _fn_round(args: list[Any]) -> Any:
    value = _one("round", args, is_number, "a number")
    if len(args) == 1:
        return round(value)
    digits = args[1]
    if not isinstance(digits, int) or isinstance(digits, bool):
        raise ExpressionError(f"round() needs an int number of digits, got {type_name(digits)}")
    return round(value, digits)


def _extreme(name: str, pick: Callable[[list[Any]], Any]) -> Callable[[list[Any]], Any]:
    def fn(args: list[Any]) -> Any:
        items = args[0] if len(args) == 1 and isinstance(args[0], list) else args
        if not items:
            raise ExpressionError(f"{name}() of an empty list")
        if not (all(is_number(i) for i in items) or all(isinstance(i, str) for i in items)):
            raise ExpressionError(f"{name}() needs all numbers or all strings, got {_show(items)}")
        return pick(items)

    return fn


_FUNCTIONS: dict[str, Callable[[list[Any]], Any]] = {
    "len": _fn_len,
    "lower": _fn_lower,
    "upper": _fn_upper,
    "str": _fn_str,
    "int": _fn_int,
    "float": _fn_float,
    "bool": _fn_bool,
    "abs": _fn_abs,
    "round": _fn_round,
    "min": _extreme("min", min),
    "max": _extreme("max", max),
}
