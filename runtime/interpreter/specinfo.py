"""Facts derived once per spec: what is masked, which tasks it uses.

The caller owns them: whoever keeps a spec keeps its :class:`SpecInfo` next
to it (there is no process-wide cache).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from wfc.runtime.interpreter.secrets import MASK, Redactor, mask_variables, masked_names
from wfc.runtime.interpreter.state import RunState
from wfc.specs import Expr, OutputRef, TaskNode, UserTaskNode, VarRef, WorkflowSpec, walk_expr

__all__ = ["MASK", "SpecInfo", "derive_spec_info"]


@dataclass(frozen=True)
class SpecInfo:
    """Derived facts about one spec."""

    masked: frozenset[str]
    """Names of masked variables: declared masked in any thread, or set from
    one (see :func:`~.secrets.masked_names`)."""
    masked_outputs: dict[str, frozenset[str]]
    """Per thread, nodes whose output flows into a masked variable; their
    outputs are masked in the journal too."""
    tasks: frozenset[str]
    """Every task the spec runs, compensations and user task reminders included."""

    @functools.cached_property
    def _hides_any(self) -> bool:
        """False when nothing is masked: then no expression needs walking."""
        return bool(self.masked) or any(self.masked_outputs.values())

    def hides(self, thread: str, expr: Expr | None) -> bool:
        """True when ``expr`` reads a masked variable or a masked output."""
        if expr is None or not self._hides_any:
            return False
        hidden = self.masked_outputs.get(thread, frozenset())
        for sub in walk_expr(expr):
            if isinstance(sub, VarRef) and sub.name in self.masked:
                return True
            if isinstance(sub, OutputRef) and sub.node in hidden:
                return True
        return False

    def show(self, thread: str, expr: Expr | None, value: Any) -> Any:
        """``value`` for the journal: ``"***"`` when it derives from a secret."""
        return MASK if self.hides(thread, expr) else value

    def show_output(self, thread: str, node: str, value: Any) -> Any:
        """A node's output for the journal."""
        return MASK if node in self.masked_outputs.get(thread, frozenset()) else value

    def show_variables(self, values: dict[str, Any]) -> dict[str, Any]:
        """Variables for the journal, masked ones as ``"***"``."""
        return mask_variables(values, self.masked)

    @property
    def has_secrets(self) -> bool:
        """True when the spec has masked variables."""
        return bool(self.masked)

    def secret_values(self, state: RunState) -> list[Any]:
        """The current values of the run's secrets: masked variables of every
        thread and the outputs that flow into them."""
        if not self.masked:
            return []
        found: list[Any] = []
        for thread in state.threads.values():
            found.extend(v for k, v in thread.variables.items() if k in self.masked and v is not None)
            hidden = self.masked_outputs.get(thread.name, frozenset())
            found.extend(v for k, v in thread.outputs.items() if k in hidden and v is not None)
        return found

    def redactor(self, *states: RunState) -> Redactor:
        """A :class:`~.secrets.Redactor` for the secrets held in ``states``."""
        return Redactor(value for state in states for value in self.secret_values(state))


def derive_spec_info(spec: WorkflowSpec) -> SpecInfo:
    """Derive the facts of ``spec``. This walks the whole spec: build it once
    per spec and pass it to :func:`~.transitions.begin` / :func:`~.transitions.step`
    (their ``info`` argument), as the engine's spec cache does."""
    masked, outputs = masked_names(spec)
    tasks: set[str] = set()
    for thread in spec.threads.values():
        for node in thread.nodes.values():
            if isinstance(node, TaskNode):
                tasks.add(node.task)
                if node.compensation is not None:
                    tasks.add(node.compensation.task)
            elif isinstance(node, UserTaskNode):
                tasks.update(t.task for t in node.timers if t.action == "remind" and t.task)
    return SpecInfo(masked=masked, masked_outputs=outputs, tasks=frozenset(tasks))
