"""The journal entry kinds a subscriber may ask for
(:data:`wfc.runtime._subscribe.KINDS`) are exactly those the interpreter
journals: read from its source, so a new kind not added there fails here
(a subscriber asking for it would be refused)."""

from __future__ import annotations

import ast
from pathlib import Path

import wfc.runtime.interpreter
from wfc.runtime._subscribe import KINDS
from wfc.runtime.interpreter.state import RunStatus

INTERPRETER = Path(wfc.runtime.interpreter.__file__).parent


def _kind_argument(call: ast.Call) -> ast.expr | None:
    """The kind given to ``step.log(thread, KIND, ...)`` or to
    ``_entry(state, now, KIND, ...)`` (the migration entries)."""
    name = call.func.attr if isinstance(call.func, ast.Attribute) else getattr(call.func, "id", None)
    position = {"log": 1, "_entry": 2}.get(str(name))
    return call.args[position] if position is not None and len(call.args) > position else None


def journalled() -> tuple[set[str], list[str]]:
    """The literal kinds the interpreter journals, and the other kind
    expressions (where each is)."""
    kinds: set[str] = set()
    others: list[str] = []
    for path in sorted(INTERPRETER.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            argument = _kind_argument(node) if isinstance(node, ast.Call) else None
            if isinstance(argument, ast.Constant) and isinstance(argument.value, str):
                kinds.add(argument.value)
            elif argument is not None:
                others.append(f"{path.name}:{node.lineno}: {ast.unparse(argument)}")
    return kinds, others


def test_the_kinds_subscribers_may_ask_for_are_those_the_interpreter_writes() -> None:
    kinds, others = journalled()
    # The one computed kind: the end of a run, RUN_ and its final status.
    assert [other.split(": ", 1)[1] for other in others] == ["f'RUN_{status.value}'"]
    ends = {f"RUN_{status.value}" for status in RunStatus if status.finished}
    assert ends == {"RUN_COMPLETED", "RUN_FAILED", "RUN_COMPENSATED", "RUN_CANCELLED"}
    assert len(kinds) > 50
    assert kinds | ends == KINDS
