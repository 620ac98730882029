"""Handles the builder hands out: variables, node outputs, expressions.

Python operators on handles build expression ASTs (``amount > 100``), combined
with ``&``, ``|`` and ``~``. A handle has no truth value while recording, so
``if amount > 100:`` fails loudly instead of silently picking a branch.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, NoReturn

import msgspec

from wfc.dsl.errors import DslError
from wfc.dsl.recording import RecordedNode, RecordedThread, RecordedVariable, Recording
from wfc.dsl.source import caller_source
from wfc.specs import (
    MAX_JSON_DEPTH,
    BinaryExpr,
    BinaryOp,
    Expr,
    ListExpr,
    LiteralExpr,
    OutputRef,
    PathSegment,
    UnaryExpr,
    VarRef,
    json_problems,
    text_problem,
)

if TYPE_CHECKING:
    from wfc.dsl.expressions import ParsedExpression


class Expression:
    """An expression over variables and node outputs, built while recording.

    Attributes:
        expr: The spec AST.
        recording: The recording whose handles it uses.
        outputs: Nodes whose outputs it reads; they must be in the thread
            that uses the expression.
        parsed: For ``wf.condition`` strings, the parse with name positions.
    """

    __slots__ = ("expr", "outputs", "parsed", "recording")

    def __init__(
        self,
        expr: Expr,
        recording: Recording,
        outputs: tuple[RecordedNode, ...] = (),
        parsed: ParsedExpression | None = None,
    ) -> None:
        self.expr = expr
        self.recording = recording
        self.outputs = outputs
        self.parsed = parsed

    __hash__ = object.__hash__

    def __repr__(self) -> str:
        from wfc.specs import format_expr

        return f"<{type(self).__name__} {format_expr(self.expr)}>"

    def __bool__(self) -> NoReturn:
        raise DslError(
            "a workflow expression has no truth value while the workflow is being recorded. "
            "Use wf.do_if(amount > 100, body) instead of `if amount > 100:`, and combine "
            "conditions with & | ~ instead of and/or/not, with each comparison in parentheses: "
            "(a == 1) & (b > 2)",
            str(caller_source()),
        )

    # Without these, Python falls back to calling __getitem__ with 0, 1, 2, ...,
    # which on a reference builds paths for ever: `for x in items` never ends.
    def __iter__(self) -> NoReturn:
        raise _not_a_sequence(
            "cannot be iterated (for x in handle, a, b = handle, list(handle))",
            'to run steps for each item at run time, use wf.spawn_thread_for_each(items, body, "ship-item") '
            '(each child reads its item with t.variable("item")); read one element with items[0]',
        )

    def __len__(self) -> NoReturn:
        raise _not_a_sequence(
            "has no len()",
            'for its length at run time write wf.condition("len(items) > 0") in a condition',
        )

    def __contains__(self, item: object) -> NoReturn:
        raise _not_a_sequence(
            "cannot be tested with `in`",
            "for a membership test at run time write items.contains(x) or x.is_in(items)",
        )

    def _combine(self, op: BinaryOp, other: object, *, reflected: bool = False) -> Expression:
        right = to_expression(other, self.recording)
        left, right = (right, self) if reflected else (self, right)
        return Expression(
            BinaryExpr(op=op, left=left.expr, right=right.expr),
            self.recording,
            left.outputs + right.outputs,
        )

    def __eq__(self, other: object) -> Expression:  # type: ignore[override]
        return self._combine("==", other)

    def __ne__(self, other: object) -> Expression:  # type: ignore[override]
        return self._combine("!=", other)

    def __lt__(self, other: object) -> Expression:
        return self._combine("<", other)

    def __le__(self, other: object) -> Expression:
        return self._combine("<=", other)

    def __gt__(self, other: object) -> Expression:
        return self._combine(">", other)

    def __ge__(self, other: object) -> Expression:
        return self._combine(">=", other)

    def __add__(self, other: object) -> Expression:
        return self._combine("+", other)

    def __radd__(self, other: object) -> Expression:
        return self._combine("+", other, reflected=True)

    def __sub__(self, other: object) -> Expression:
        return self._combine("-", other)

    def __rsub__(self, other: object) -> Expression:
        return self._combine("-", other, reflected=True)

    def __mul__(self, other: object) -> Expression:
        return self._combine("*", other)

    def __rmul__(self, other: object) -> Expression:
        return self._combine("*", other, reflected=True)

    def __truediv__(self, other: object) -> Expression:
        return self._combine("/", other)

    def __rtruediv__(self, other: object) -> Expression:
        return self._combine("/", other, reflected=True)

    def __mod__(self, other: object) -> Expression:
        return self._combine("%", other)

    def __and__(self, other: object) -> Expression:
        return self._combine("and", other)

    def __rand__(self, other: object) -> Expression:
        return self._combine("and", other, reflected=True)

    def __or__(self, other: object) -> Expression:
        return self._combine("or", other)

    def __ror__(self, other: object) -> Expression:
        return self._combine("or", other, reflected=True)

    def __invert__(self) -> Expression:
        return Expression(UnaryExpr(op="not", operand=self.expr), self.recording, self.outputs)

    def __neg__(self) -> Expression:
        return Expression(UnaryExpr(op="-", operand=self.expr), self.recording, self.outputs)

    def is_in(self, container: object) -> Expression:
        """``self in container``: membership in a list, or a substring test."""
        return self._combine("in", container)

    def contains(self, item: object) -> Expression:
        """``item in self``."""
        return self._combine("in", item, reflected=True)


def _not_a_sequence(what: str, instead: str) -> DslError:
    """The error for treating a handle as a Python collection while recording."""
    return DslError(
        f"a workflow handle {what}: it is not a Python sequence. The workflow function runs once, when "
        f"the workflow compiles, before any value exists; {instead}",
        str(caller_source()),
    )


class _Reference(Expression):
    """An expression that is a variable or a node output, so it can be
    indexed: ``handle["field"]``, ``handle[0]``, ``handle.json_path("$.a.b")``."""

    __slots__ = ()

    def __getitem__(self, key: PathSegment) -> Expression:
        if not isinstance(key, str | int) or isinstance(key, bool):
            raise DslError(
                f"a field is a string or a list index, not {key!r}: use handle['field'] or handle[0]",
                str(caller_source()),
            )
        return self._with_path([key])

    def json_path(self, path: str) -> Expression:
        """Read inside the value with a JSON path such as ``$.payment.id`` or ``$.items[0]``."""
        from wfc.dsl.expressions import ExpressionError, parse_json_path

        try:
            segments = parse_json_path(path)
        except ExpressionError as exc:
            raise DslError(str(exc), str(caller_source())) from None
        return self._with_path(segments)

    def _with_path(self, segments: list[PathSegment]) -> Expression:
        expr = self.expr
        assert isinstance(expr, VarRef | OutputRef)
        extended = type(expr)(**{**_ref_fields(expr), "path": [*expr.path, *segments]})
        return _Path(extended, self.recording, self.outputs)


def _ref_fields(expr: VarRef | OutputRef) -> dict[str, Any]:
    return {"name": expr.name} if isinstance(expr, VarRef) else {"node": expr.node}


class _Path(_Reference):
    """A reference with a path, itself indexable further."""

    __slots__ = ()


class VariableHandle(_Reference):
    """A declared variable. Chain options onto the declaration:
    ``wf.declare_str("order-id").required().searchable()``."""

    __slots__ = ("variable",)

    def __init__(self, variable: RecordedVariable, recording: Recording) -> None:
        super().__init__(VarRef(name=variable.name), recording)
        self.variable = variable

    @property
    def name(self) -> str:
        """The declared name."""
        return self.variable.name

    def required(self) -> VariableHandle:
        """A run (or child thread) cannot start without a value for it."""
        self.variable.required = True
        return self

    def default(self, value: Any) -> VariableHandle:
        """The value when none is given."""
        check_json(value, f"default of variable {self.name!r}")
        self.variable.default = normalize_json(value)
        return self

    def masked(self) -> VariableHandle:
        """Hide the value in history, logs and the CLI."""
        self.variable.masked = True
        return self

    def searchable(self) -> VariableHandle:
        """Index the value so runs can be found by it."""
        self.variable.searchable = True
        return self

    def assign(self, value: object) -> None:
        """Set the variable when the thread leaves its current node."""
        from wfc.dsl.thread import active_thread

        active_thread(self.recording, "assign").mutate(self, "assign", value)


class NodeOutput(_Reference):
    """The output of a node: a task's return value, an event's payload, the
    outputs of awaited threads."""

    __slots__ = ("node",)

    def __init__(self, node: RecordedNode, recording: Recording) -> None:
        super().__init__(OutputRef(node=node.id), recording, (node,))
        self.node = node

    @property
    def node_id(self) -> str:
        """The id of the node in the spec, e.g. ``charge-card-2``."""
        return self.node.id

    def compensate_with(self, task_name: str, *args: object, retries: int = 3) -> NodeOutput:
        """Register the task that undoes this one if the run is compensated.

        Compensations of completed steps run in reverse order of completion
        when a failure reaches the top of the run unhandled.
        """
        from wfc.dsl.thread import active_thread

        active_thread(self.recording, "compensate_with").register_compensation(self, task_name, args, retries)
        return self


class SpawnedThread:
    """Child threads started by one ``spawn_thread`` or
    ``spawn_thread_for_each`` call; pass it to ``wait_for_threads``."""

    __slots__ = ("node", "recording", "thread")

    def __init__(self, node: RecordedNode, thread: RecordedThread, recording: Recording) -> None:
        self.node = node
        self.thread = thread
        self.recording = recording

    @property
    def name(self) -> str:
        """The child thread's name."""
        return self.thread.name

    def __repr__(self) -> str:
        return f"<SpawnedThread {self.thread.name!r} from node {self.node.id!r}>"


def check_json(value: Any, what: str) -> None:
    """Raise :class:`DslError` unless ``value`` is plain JSON data."""
    problem = _json_problem(value)
    if problem:
        raise DslError(
            f"{what} must be JSON data (None, bool, int, float, str, list, dict with str keys); {problem}",
            str(caller_source()),
        )


def _json_problem(value: Any, depth: int = 0) -> str | None:
    """Why ``value`` is not JSON wfc can store (see :mod:`wfc.specs.limits`), or ``None``."""
    if depth >= MAX_JSON_DEPTH and isinstance(value, list | tuple | dict):
        return f"it nests deeper than {MAX_JSON_DEPTH} levels of lists and dicts; flatten it"
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int | str):
        problems = json_problems(value)
        return problems[0].reason if problems else None
    if isinstance(value, float):
        return None if math.isfinite(value) else f"{value!r} has no JSON form"
    if isinstance(value, list | tuple):
        return next((p for p in (_json_problem(item, depth + 1) for item in value) if p), None)
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                return f"dict key {key!r} is not a string"
            problem = text_problem(key) or _json_problem(item, depth + 1)
            if problem:
                return problem
        return None
    if isinstance(value, Expression | SpawnedThread):
        return (f"got {type(value).__name__} {value!r} inside a dict, which can only hold constants: pass the "
                "handle as an argument of its own (wf.execute(\"task\", order_id, ...))")
    return f"got {type(value).__name__} {value!r}"


def to_expression(value: object, recording: Recording) -> Expression:
    """Turn a handle or a JSON value into an :class:`Expression`.

    A list may mix handles and values; any other container must be plain JSON.
    """
    if isinstance(value, Expression):
        if value.recording is not recording:
            raise DslError(
                f"{value!r} comes from another workflow (or another compile of this one); "
                "use only handles that the workflow function being compiled declared or received",
                str(caller_source()),
            )
        return value
    if isinstance(value, SpawnedThread):
        raise DslError(
            f"{value!r} is not a value; pass it to wf.wait_for_threads(...) and use the node output that returns",
            str(caller_source()),
        )
    if isinstance(value, list | tuple) and any(isinstance(item, Expression) for item in value):
        items = [to_expression(item, recording) for item in value]
        outputs = tuple(node for item in items for node in item.outputs)
        return Expression(ListExpr(items=[item.expr for item in items]), recording, outputs)
    check_json(value, "a literal value")
    return Expression(LiteralExpr(value=normalize_json(value)), recording)


def normalize_json(value: Any) -> Any:
    """The value as JSON would give it back: tuples become lists."""
    if isinstance(value, list | tuple | dict):
        return msgspec.json.decode(msgspec.json.encode(value))
    return value
