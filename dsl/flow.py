"""Control flow: ``wf.condition``, ``wf.do_if`` with the ``IfChain`` it
returns (``do_elif``, ``do_else``), and ``wf.do_while``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from wfc.dsl.bodies import refuse_async, refuse_awaitable
from wfc.dsl.builder import CallGroup, GraphBuilder, ThreadBody
from wfc.dsl.errors import DslError
from wfc.dsl.handles import Expression
from wfc.dsl.recording import RecordedEdge, RecordedNode
from wfc.dsl.source import caller_source
from wfc.specs import LiteralExpr, NopNode, UnaryExpr

if TYPE_CHECKING:
    from wfc.dsl.thread import WorkflowThread

# Stands in for a condition whose text did not parse (that error is recorded). It
# is true but not the literal `true`, so a do_while on it is not also reported
# as a loop that can never end.
_UNPARSED = UnaryExpr(op="not", operand=LiteralExpr(value=False))


class FlowCalls(CallGroup):
    """The calls of ``WorkflowThread`` that branch and loop."""

    def condition(self, text: str, **bindings: object) -> Expression:
        """A condition written as an expression string.

        Declared variables are in scope by name (`` `order-id` `` for names
        that are not identifiers); keyword arguments bind names to node
        outputs or values: ``wf.condition("auth.approved and amount > 100", auth=auth)``.
        """
        from wfc.dsl.expressions import ExpressionError, parse_expression

        core = self._core
        source = core.check_active("condition")
        if not isinstance(text, str):
            raise DslError(
                f"wf.condition() takes the expression as a string, got {text!r}: "
                'wf.condition("amount > 100")',
                str(source),
            )
        bound = {name: core.expr(value) for name, value in bindings.items()}
        try:
            parsed = parse_expression(text, {name: e.expr for name, e in bound.items()})
        except ExpressionError as exc:
            core.problem(str(exc), source)
            return Expression(_UNPARSED, core.recording)
        outputs = tuple(node for e in bound.values() for node in e.outputs)
        return Expression(parsed.expr, core.recording, outputs, parsed)

    def do_if(self, condition: Expression, body: ThreadBody) -> IfChain:
        """Run ``body`` when ``condition`` holds; chain ``.do_elif``/``.do_else``."""
        core = self._core
        core.check_active("do_if")
        cond = _condition(core, condition, "do_if")
        source = caller_source()
        branch = core.add_node("if", NopNode, {}, source)
        assert core.open is not None
        core.open.when = cond
        _run_body(core, body, "do_if")
        join = core.add_node("end-if", NopNode, {}, source)
        branch.edges.append(RecordedEdge(to=join.id))
        return IfChain(core.owner, branch, join)

    def do_while(self, condition: Expression, body: ThreadBody) -> None:
        """Run ``body`` again and again while ``condition`` holds."""
        core = self._core
        source = core.check_active("do_while")
        cond = _condition(core, condition, "do_while")
        loop = core.add_node("while", NopNode, {}, source)
        entry = core.open
        assert entry is not None
        entry.when = cond
        _run_body(core, body, "do_while")
        if core.open is entry:
            if not entry.mutations:
                core.problem("the body of do_while does nothing, so the loop would spin forever", source)
            entry.to = loop.id
        elif core.open is not None:
            core.open.to = loop.id
        core.open = RecordedEdge(to="")
        loop.edges.append(core.open)


class IfChain:
    """What ``do_if`` returns, to chain ``do_elif`` and ``do_else``."""

    def __init__(self, thread: WorkflowThread, branch: RecordedNode, join: RecordedNode) -> None:
        self._core = thread._core
        self._branch = branch
        self._join = join
        self._additions = self._core.additions
        self._has_else = False

    def _enter(self, verb: str) -> RecordedEdge:
        core = self._core
        core.check_active(verb)
        if self._has_else:
            raise DslError(f"{verb}() after do_else(): the else branch must come last", str(caller_source()))
        if core.additions != self._additions:
            raise DslError(
                f"{verb}() must be chained right after do_if(): wf.do_if(a, f).{verb}(...), with no "
                "other step in between",
                str(caller_source()),
            )
        fallback = self._branch.edges[-1]
        return fallback

    def _run(self, edge: RecordedEdge, body: ThreadBody, verb: str) -> None:
        core = self._core
        after_join = core.open
        core.open = edge
        _run_body(core, body, verb)
        if core.open is not None:
            core.open.to = self._join.id
        core.open = after_join
        self._additions = core.additions

    def do_elif(self, condition: Expression, body: ThreadBody) -> IfChain:
        """Another branch, tried when the earlier conditions do not hold."""
        fallback = self._enter("do_elif")
        cond = _condition(self._core, condition, "do_elif")
        edge = RecordedEdge(to="", when=cond, source=caller_source())
        self._branch.edges.insert(len(self._branch.edges) - 1, edge)
        self._run(edge, body, "do_elif")
        del fallback
        return self

    def do_else(self, body: ThreadBody) -> None:
        """The branch taken when no condition holds."""
        fallback = self._enter("do_else")
        self._has_else = True
        self._run(fallback, body, "do_else")


def _condition(core: GraphBuilder, cond: object, verb: str) -> Expression:
    if not isinstance(cond, Expression):
        raise DslError(
            f"wf.{verb}() needs a condition built from workflow handles, got {cond!r}: write "
            "wf.do_if(amount > 100, body) or wf.do_if(wf.condition(\"amount > 100\"), body)",
            str(caller_source()),
        )
    return core.expr(cond)


def _run_body(core: GraphBuilder, body: ThreadBody, verb: str) -> None:
    if not callable(body):
        raise DslError(
            f"the body of wf.{verb}() must be a function taking the WorkflowThread, got {body!r}: "
            f"write wf.{verb}(..., lambda t: t.execute(\"task-name\"))",
            str(caller_source()),
        )
    what, example = f"the body of wf.{verb}()", 'lambda t: t.execute("task-name")'
    refuse_async(body, what, example)
    refuse_awaitable(body(core.owner), what, example)
