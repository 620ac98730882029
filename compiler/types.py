"""Static types of expressions, as far as they are known before a run.

Node outputs and paths into JSON are unknown (``any``) until run time; the
checker only reports what is certainly wrong, such as comparing a ``str``
variable with a number.
"""

from __future__ import annotations

from collections.abc import Callable

from wfc.specs import BinaryExpr, CallExpr, Expr, ListExpr, LiteralExpr, OutputRef, UnaryExpr, VarRef, fold_expr

#: ``str``, ``int``, ``float``, ``bool``, ``json``, ``list``, ``null`` or ``any``.
StaticType = str
_NUMBERS = frozenset({"int", "float"})
_CALL_TYPES = {"len": "int", "lower": "str", "upper": "str", "str": "str", "int": "int",
               "float": "float", "bool": "bool"}


def literal_type(value: object) -> StaticType:
    """The static type of a JSON constant."""
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
    return "list" if isinstance(value, list) else "json"


def describe(expr: Expr, kind: StaticType) -> str:
    """``str variable 'status'`` or ``a number``: how messages name an operand."""
    if isinstance(expr, VarRef) and not expr.path:
        return f"{kind} variable {expr.name!r}"
    if kind == "int":
        return "an int"
    if kind == "float":
        return "a float"
    return {"str": "a string", "bool": "a bool", "null": "null", "list": "a list"}.get(kind, f"a {kind} value")


def _comparable(left: StaticType, right: StaticType, op: str) -> bool:
    if "any" in (left, right) or "json" in (left, right):
        return True
    if left in _NUMBERS and right in _NUMBERS:
        return True
    if op in ("==", "!=") and "null" in (left, right):
        return True
    return left == right and (op in ("==", "!=") or left == "str")


def infer(expr: Expr, var_type: Callable[[str], StaticType | None], problems: list[str]) -> StaticType:
    """Infer the static type of ``expr``, appending certain mistakes to ``problems``.

    ``var_type`` gives a visible variable's declared type, or None when the
    name is unknown (reported elsewhere). Works bottom-up without recursion,
    so a long chain such as ``a and b and ...`` is safe.
    """

    def combine(node: Expr, kinds: list[StaticType]) -> StaticType:
        return _infer_one(node, kinds, var_type, problems)

    return fold_expr(expr, combine)


def _infer_one(expr: Expr, kinds: list[StaticType], var_type: Callable[[str], StaticType | None],
               problems: list[str]) -> StaticType:
    """The type of ``expr`` given the types of its children, left to right."""
    match expr:
        case LiteralExpr(value=value):
            return literal_type(value)
        case VarRef(name=name, path=path):
            declared = var_type(name)
            return "any" if declared is None or path else ("any" if declared == "json" else declared)
        case OutputRef():
            return "any"
        case ListExpr():
            return "list"
        case CallExpr(fn=fn):
            return _CALL_TYPES.get(fn, "any")
        case UnaryExpr(op="not"):
            return "bool"
        case UnaryExpr(operand=operand):
            kind = kinds[0]
            if kind not in _NUMBERS | {"any", "json"}:
                problems.append(f"cannot negate {describe(operand, kind)}")
            return kind if kind in _NUMBERS else "any"
        case BinaryExpr(op=op, left=left, right=right):
            return _binary(op, left, right, kinds[0], kinds[1], problems)
    return "any"


def _binary(op: str, left: Expr, right: Expr, lt: StaticType, rt: StaticType, problems: list[str]) -> StaticType:
    if op in ("and", "or"):
        return "bool"
    if op in ("==", "!=", "<", "<=", ">", ">="):
        if not _comparable(lt, rt, op):
            problems.append(f"comparing {describe(left, lt)} with {describe(right, rt)} using {op!r} is never "
                            "meaningful; compare values of the same type")
        return "bool"
    if op == "in":
        if rt not in ("list", "str", "json", "any"):
            problems.append(f"'in' needs a list or a string on its right, got {describe(right, rt)}")
        return "bool"
    if "any" in (lt, rt) or "json" in (lt, rt):
        return "any"
    if lt in _NUMBERS and rt in _NUMBERS:
        return "float" if "float" in (lt, rt) or op == "/" else "int"
    if op == "+" and lt == rt and lt in ("str", "list"):
        return lt
    problems.append(f"cannot apply {op!r} to {describe(left, lt)} and {describe(right, rt)}")
    return "any"


def assignable(var: StaticType, value: StaticType) -> bool:
    """Whether a value of static type ``value`` may be stored in a variable
    declared ``var``."""
    if var == "json" or value in ("any", "json", "null"):
        return True
    if var == "float":
        return value in _NUMBERS
    if var == "int":
        return value == "int"
    return var == value
