"""The expression-string language of the DSL: text to :data:`wfc.specs.Expr`.

``wf.condition("amount > 100 and status == 'new'", auth=auth_output)`` is
parsed here. The grammar lives in ``grammar.lark`` next to this module; an LALR
parser builds a lark tree and :class:`_Builder` turns it into the spec AST. The
language is the one :func:`wfc.specs.format_expr` prints, so printing a parsed
expression and parsing it again gives the same AST.
"""

from __future__ import annotations

import functools
import importlib.resources
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, cast

import msgspec
from lark import Lark, Token, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken, VisitError
from lark.lexer import PatternStr
from lark.visitors import Transformer_NonRecursive

from wfc.specs import (
    FUNCTIONS,
    MAX_INT,
    BinaryExpr,
    CallExpr,
    Expr,
    ListExpr,
    LiteralExpr,
    OutputRef,
    PathSegment,
    UnaryExpr,
    VarRef,
    WfcError,
    format_expr,
)
from wfc.specs.expressions import BinaryOp

__all__ = ["ExpressionError", "NameUse", "ParsedExpression", "caret", "parse_expression", "parse_json_path"]


class ExpressionError(WfcError):
    """An expression string (or JSON path) is malformed.

    ``str(error)`` is the message, then the offending line of the text with a
    caret line under the bad part.

    Attributes:
        message: What is wrong and the right form, without the caret lines.
        text: The whole expression as the user wrote it.
        offset: 0-based offset of the bad part in ``text``.
        line: 1-based line of the bad part (expressions may span lines).
        column: 0-based column of the bad part within that line.
        length: How many characters the caret underlines.
    """

    def __init__(self, message: str, text: str, offset: int, length: int = 1) -> None:
        self.message = message
        self.text = text
        self.offset = offset
        self.line = text.count("\n", 0, offset) + 1
        self.column = offset - (text.rfind("\n", 0, offset) + 1)
        self.length = length
        super().__init__(f"{message}\n{caret(text, offset, length)}")

    def __reduce__(self) -> tuple[Any, ...]:
        # The default pickling re-calls __init__ with self.args (one string).
        return (type(self), (self.message, self.text, self.offset, self.length))


@dataclass(frozen=True)
class NameUse:
    """One use of a variable name in an expression's text.

    Attributes:
        name: The variable name, without backquotes.
        column: 0-based offset in the text where the name (or its opening
            backquote) starts; pass it to :func:`caret`.
        length: Length of the name as written, backquotes included.
    """

    name: str
    column: int
    length: int


@dataclass(frozen=True)
class ParsedExpression:
    """The result of :func:`parse_expression`.

    Attributes:
        text: The expression as written.
        expr: Its spec AST.
        names: Every variable reference written in the text, in order of
            appearance; names resolved through bindings and ``@`` node refs
            are not included. The compiler checks these against the declared
            variables and points at unknown ones with :func:`caret`.
    """

    text: str
    expr: Expr
    names: tuple[NameUse, ...]


def caret(text: str, column: int, length: int = 1) -> str:
    """Show a part of an expression: the line holding it and a caret line under it.

    Args:
        text: The expression; when it spans lines only the line holding
            ``column`` is shown.
        column: 0-based offset of the part in ``text``.
        length: How many characters to underline (at least one caret is drawn).

    Returns:
        Two lines, ``"  <line>\\n  <spaces>^^^"``, without a trailing newline.
    """
    start = text.rfind("\n", 0, column) + 1
    end = text.find("\n", column)
    line = text[start : len(text) if end < 0 else end].rstrip("\r")
    before = text[start:column]
    # Keep tabs so the caret lines up with the text in a terminal.
    pad = "".join("\t" if char == "\t" else " " for char in before)
    width = max(1, min(length, len(line) - len(before)))
    return f"  {line}\n  {pad}{'^' * width}"


def parse_expression(text: str, bindings: Mapping[str, Expr] | None = None) -> ParsedExpression:
    """Parse an expression string into the spec expression AST.

    The language, loosest operators first: ``or``; ``and``; ``not``; ``== != <
    <= > >= in not in`` (no chaining); ``+ -``; ``* / %``; unary ``-``; then
    ``.field``, ``[0]`` and ``["key"]`` after a name or node output. Values are
    numbers (``-5``, ``1.5``, ``1e3``), strings in either quotes with JSON
    escapes, ``true``, ``false``, ``null``, lists ``[1, x]``, JSON objects of
    constants, names (``amount``, or ```order-id``` when not an identifier),
    node outputs (``@charge-card``, or ``@`fetch.v2``` when the id holds other
    characters than letters, digits, ``_ - :``) and calls of
    :data:`wfc.specs.FUNCTIONS`.

    Args:
        text: The expression, e.g. ``"amount > 100 and status == 'new'"``.
            Whitespace, newlines included, is insignificant.
        bindings: Keyword names and what they stand for, usually node outputs
            (``auth=auth_output`` makes ``auth.approved`` the output's
            ``approved`` field). A field or index written after a bound name is
            appended to the bound reference's path. Other names are variables.

    Returns:
        The AST and the variable names used, with their positions.

    Raises:
        ExpressionError: On a syntax error, an unknown function or a wrong
            number of arguments, a non-literal index, or a field or index taken
            of something that is not a variable or node output.
    """
    builder = _Builder(text, bindings or {})
    expr = cast("Expr", _parse(text, "start", builder))
    return ParsedExpression(text=text, expr=expr, names=tuple(builder.names))


def parse_json_path(path: str) -> list[PathSegment]:
    """Parse a JSON path such as ``$.a.b[0]['x-y']`` into its segments.

    Args:
        path: ``$`` followed by ``.field``, ``["key"]`` or ``[0]`` steps.

    Returns:
        The keys and indexes, outermost first: ``["a", "b", 0, "x-y"]``;
        ``[]`` for ``$``.

    Raises:
        ExpressionError: If ``path`` is not of that form.
    """
    return cast("list[PathSegment]", _parse(path, "json_path", _Builder(path, {})))


@functools.cache
def _parser() -> Lark:
    # Loaded as package data so a plain (non-editable) install works too.
    grammar = importlib.resources.files("wfc.dsl").joinpath("grammar.lark").read_text("utf-8")
    return Lark(grammar, parser="lalr", start=["start", "json_path"], maybe_placeholders=True)


def _parse(text: str, start: str, builder: _Builder) -> Any:
    """Parse ``text`` from ``start`` and build the result, turning lark errors into ExpressionError."""
    try:
        tree = _parser().parse(text, start=start)
    except UnexpectedInput as error:
        raise _syntax_error(text, error, "expression" if start == "start" else "path") from None
    try:
        try:
            return builder.transform(tree)
        except VisitError as error:  # lark wraps what a Transformer method raises
            raise error.orig_exc from None
    except RecursionError:  # the builder does not recurse, but format_expr in its messages does
        raise ExpressionError("expression is nested too deeply", text, 0) from None


def _where(text: str, offset: int) -> str:
    line = text.count("\n", 0, offset) + 1
    column = offset - (text.rfind("\n", 0, offset) + 1)
    return f"column {column}" if "\n" not in text else f"line {line}, column {column}"


def _error(text: str, offset: int, length: int, what: str, advice: str) -> ExpressionError:
    advice = f"; {advice}" if advice else ""
    return ExpressionError(f"{what} at {_where(text, offset)}{advice}", text, offset, length)


# Operators people bring from other languages, tried in order at an unexpected character.
_HINTS = {"&&": "and", "||": "or", "=>": ">=", "=<": "<=", "&": "and", "|": "or", "!": "not", "=": "=="}
_KEYWORDS = frozenset({"and", "or", "not", "in"})
_TERMINAL_WORDS = {
    "NAME": "a name",
    "QUOTED_NAME": "a `quoted name`",
    "NUMBER": "a number",
    "STRING": "a string",
    "NODE": "a node output (@node-id)",
}
# Where a number may come, so may every other start of a value; where '+' may
# come, so may every other operator. Each such set is named in one phrase.
_VALUE_STARTS = frozenset({"NAME", "QUOTED_NAME", "NUMBER", "STRING", "NODE", "TRUE", "FALSE", "NULL"})
_VALUE_STARTS |= {"LPAR", "LSQB", "LBRACE", "MINUS", "NOT"}
_OPERATORS = frozenset({"OR", "AND", "NOT", "IN", "EQ", "NE", "LT", "LE", "GT", "GE", "DOT", "LSQB"})
_OPERATORS |= {"PLUS", "MINUS", "STAR", "SLASH", "PERCENT"}


def _syntax_error(text: str, error: UnexpectedInput, what: str) -> ExpressionError:
    if isinstance(error, UnexpectedCharacters):
        offset = error.pos_in_stream or 0
        char = text[offset]
        if char in "\"'":
            return _error(text, offset, 1, "unterminated string", f"close it with {char}")
        if char == "`":
            problem = "empty" if text.startswith("``", offset) else "unterminated"
            return _error(text, offset, 1, f"{problem} quoted name", "write e.g. `order-id`")
        if char == "@":
            return _error(text, offset, 1, "'@' without a node id", "write e.g. @charge-card or @`fetch.v2`")
        for wrong, right in _HINTS.items():
            if text.startswith(wrong, offset):
                return _error(text, offset, len(wrong), f"unexpected {wrong!r}", f"did you mean {right!r}?")
        return _error(text, offset, 1, f"unexpected {char!r}", _expected(error.allowed or set(), what))
    if isinstance(error, UnexpectedToken) and error.token.type != "$END":
        token = error.token
        found = f"unexpected {_describe_token(token)}"
        if token.type == "NAME" and token.lower() in _KEYWORDS:
            return _error(text, *_span(token), found, f"did you mean {token.lower()!r}?")
        return _error(text, *_span(token), found, _expected(error.accepts or error.expected, what))
    # At the end of the text. Lark gives its end token the position of the last
    # real token, so the caret goes after the text instead.
    expected = _expected(error.accepts or error.expected, what) if isinstance(error, UnexpectedToken) else ""
    return _error(text, len(text), 1, f"unexpected end of {what}", expected)


def _expected(names: set[str], what: str) -> str:
    names = {name for name in names if not name.startswith("__")}  # lark's internal terminals
    parts = []
    if what == "expression" and "NUMBER" in names:
        parts.append("a value")
        names -= _VALUE_STARTS
    if what == "expression" and "PLUS" in names:
        parts.append("an operator")
        names -= _OPERATORS
    parts += sorted(_describe_terminal(name) for name in names - {"$END"})
    parts += [f"end of {what}"] if "$END" in names else []
    listed = ", ".join(parts[:-1]) + " or " + parts[-1] if len(parts) > 1 else "".join(parts)
    return f"expected {listed}" if listed else ""


def _describe_terminal(name: str) -> str:
    if name in _TERMINAL_WORDS:
        return _TERMINAL_WORDS[name]
    pattern = _parser().get_terminal(name).pattern
    return repr(pattern.value) if isinstance(pattern, PatternStr) else name


def _describe_token(token: Token) -> str:
    kind = _TERMINAL_WORDS.get(token.type, "").removeprefix("a ")
    return f"{kind} {token.value}" if kind else repr(token.value)


def _span(token: Token) -> tuple[int, int]:
    start = token.start_pos or 0
    return start, (token.end_pos or start + 1) - start


_ESCAPE = re.compile(r"\\(u[0-9a-fA-F]{4}|[\s\S])")
_SIMPLE_ESCAPES = dict(zip("\"'\\/bfnrt", "\"'\\/\b\f\n\r\t", strict=True))


class _NotConstant(Exception):
    """An object literal holds something other than JSON constants."""


def _constant(expr: Expr) -> Any:
    match expr:
        case LiteralExpr(value=value):
            return value
        case ListExpr(items=items):
            return [_constant(item) for item in items]
    raise _NotConstant


@v_args(inline=True)
class _Builder(Transformer_NonRecursive[Token, Any]):
    """Turns the lark tree of one text into spec expressions; one method per grammar alias."""

    def __init__(self, text: str, bindings: Mapping[str, Expr]) -> None:
        super().__init__()
        self._text = text
        self._bindings = bindings
        self.names: list[NameUse] = []

    def _error(self, offset: int, length: int, what: str, advice: str) -> ExpressionError:
        return _error(self._text, offset, length, what, advice)

    def number(self, token: Token) -> LiteralExpr:
        try:
            value: float = float(token) if any(c in token for c in ".eE") else int(token)
        except ValueError:  # more digits than int() accepts
            value = math.inf
        if not math.isfinite(value):
            raise self._error(*_span(token), "number too large", "JSON numbers are finite")
        if isinstance(value, int) and value > MAX_INT:  # the sign comes later: -MAX_INT - 1 is not written
            raise self._error(*_span(token), "integer too large", f"integers go up to {MAX_INT} (64 bits)")
        return LiteralExpr(value=value)

    def string(self, token: Token) -> LiteralExpr:
        def unescape(match: re.Match[str]) -> str:
            code = match.group(1)
            if len(code) == 5:
                return chr(int(code[1:], 16))
            if code in _SIMPLE_ESCAPES:
                return _SIMPLE_ESCAPES[code]
            offset = (token.start_pos or 0) + 1 + match.start()
            advice = "use one of \\\" \\' \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX"
            raise self._error(offset, 2, f"unknown escape '{match.group()}' in string", advice)

        decoded = _ESCAPE.sub(unescape, token[1:-1])
        try:  # joins \uD83D\uDE00 pairs into one character and rejects halves of one
            return LiteralExpr(value=decoded.encode("utf-16", "surrogatepass").decode("utf-16"))
        except UnicodeDecodeError:
            advice = "write the character itself, or both halves of its \\u surrogate pair"
            raise self._error(*_span(token), "unpaired surrogate in string", advice) from None

    def constant(self, token: Token) -> LiteralExpr:
        return LiteralExpr(value={"true": True, "false": False, "null": None}[token])

    def name(self, token: Token) -> Expr:
        name = token[1:-1] if token.type == "QUOTED_NAME" else str(token)
        if name in self._bindings:
            return self._bindings[name]
        self.names.append(NameUse(name, *_span(token)))
        return VarRef(name=name)

    def node(self, token: Token) -> OutputRef:
        return OutputRef(node=token[2:-1] if token.startswith("@`") else token[1:])

    def call(self, name: Token, *args: Expr | None) -> CallExpr:
        arguments = [arg for arg in args if arg is not None]
        if name not in FUNCTIONS:
            known = ", ".join(sorted(FUNCTIONS))
            raise self._error(*_span(name), f"unknown function {name}()", f"the functions are {known}")
        low, high = FUNCTIONS[name]
        if not low <= len(arguments) <= high:
            takes = f"{low}" if low == high else f"{low} or {high}" if high == low + 1 else f"{low} to {high}"
            takes += " argument" if high == 1 else " arguments"
            advice = f"{name}() takes {takes}, not {len(arguments)}"
            raise self._error(*_span(name), f"wrong number of arguments to {name}()", advice)
        return CallExpr(fn=str(name), args=arguments)

    def list_literal(self, *children: Expr | Token | None) -> ListExpr | LiteralExpr:
        items = [c for c in children if c is not None and not isinstance(c, Token)]
        # A list of constants is a constant, as it is when built from Python values,
        # so both ways of writing a condition give the same AST.
        try:
            return LiteralExpr(value=[_constant(item) for item in items])
        except _NotConstant:
            return ListExpr(items=items)

    def pair(self, key: Token, value: Expr) -> tuple[Token, Expr]:
        return key, value

    def object_literal(self, *pairs: tuple[Token, Expr] | None) -> LiteralExpr:
        # Only constants: there is no object-building expression in the spec AST,
        # so this exists for the JSON objects format_expr prints for literals.
        result = {}
        for key, value in filter(None, pairs):
            try:
                result[self.string(key).value] = _constant(value)
            except _NotConstant:
                advice = "objects hold only constants (strings, numbers, true, false, null, lists)"
                raise self._error(*_span(key), f"the value of {key} is not a constant", advice) from None
        return LiteralExpr(value=result)

    def attribute(self, target: Expr, dot: Token, field: Token) -> Expr:
        start = dot.start_pos or 0
        return self._access(target, str(field), start, (field.end_pos or start) - start)

    def index(self, target: Expr, bracket: Token, index: Expr, close: Token) -> Expr:
        start = bracket.start_pos or 0
        length = (close.end_pos or start) - start
        match index:
            case LiteralExpr(value=str() | int() as segment) if not isinstance(segment, bool):
                return self._access(target, segment, start, length)
        what = f"index [{format_expr(index)}] is not a literal"
        advice = "a path is fixed when the workflow compiles; write an integer or a string, e.g. [0] or ['key']"
        raise self._error(start, length, what, advice)

    def _access(self, target: Expr, segment: PathSegment, start: int, length: int) -> Expr:
        match target:
            case VarRef() | OutputRef():
                return msgspec.structs.replace(target, path=[*target.path, segment])
        what = f"cannot take {self._text[start : start + length]} of {format_expr(target)}"
        raise self._error(start, length, what, "only variables and node outputs have fields and indexes")

    def neg(self, _minus: Token, operand: Expr) -> Expr:
        match operand:
            # Fold so that -5 is the literal -5, which is how format_expr prints it.
            case LiteralExpr(value=int() | float() as value) if not isinstance(value, bool):
                return LiteralExpr(value=-value)
        return UnaryExpr(op="-", operand=operand)

    def not_(self, _not: Token, operand: Expr) -> UnaryExpr:
        return UnaryExpr(op="not", operand=operand)

    def binary(self, left: Expr, op: Token, right: Expr) -> BinaryExpr:
        return BinaryExpr(op=cast(BinaryOp, str(op)), left=left, right=right)

    def comp_op(self, op: Token) -> tuple[str, int, int]:
        return (str(op), *_span(op))

    def not_in_op(self, not_: Token, in_: Token) -> tuple[str, int, int]:
        start = not_.start_pos or 0
        return "not in", start, (in_.end_pos or start) - start

    def compare(self, left: Expr, *rest: Any) -> Expr:
        if len(rest) > 2:
            op, start, length = rest[2]
            advice = "comparisons do not chain; join them with 'and', e.g. 'a < b and b < c'"
            raise self._error(start, length, f"chained comparison {op!r}", advice)
        (op, _, _), right = rest
        if op == "not in":
            return UnaryExpr(op="not", operand=BinaryExpr(op="in", left=left, right=right))
        return BinaryExpr(op=op, left=left, right=right)

    def json_path(self, _dollar: Token, *steps: PathSegment) -> list[PathSegment]:
        return list(steps)

    def path_step(self, *children: Token) -> PathSegment:
        if children[0].type == "DOT":
            return str(children[1])
        if children[-2].type == "STRING":
            return cast(str, self.string(children[-2]).value)
        number = self.number(children[-2]).value
        if not isinstance(number, int):
            raise self._error(*_span(children[-2]), "path index is not an integer", "write e.g. [0]")
        return -number if children[1].type == "MINUS" else number
