"""Facts derived once per spec: what is masked, which tasks it uses."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Final

from wfc.specs import Expr, OutputRef, TaskNode, VarRef, WorkflowSpec, walk_expr

MASK: Final = "***"


@dataclass(frozen=True)
class SpecInfo:
    """Derived facts about one spec."""

    masked: frozenset[str]
    """Names of masked variables (declared masked in any thread)."""
    masked_outputs: dict[str, frozenset[str]]
    """Per thread, nodes whose output flows into a masked variable; their
    outputs are masked in the journal too."""
    tasks: frozenset[str]
    """Every task the spec runs, compensations included."""

    def hides(self, thread: str, expr: Expr | None) -> bool:
        """True when ``expr`` reads a masked variable or a masked output."""
        if expr is None:
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
        return {k: (MASK if k in self.masked and v is not None else v) for k, v in values.items()}


def _derive(spec: WorkflowSpec) -> SpecInfo:
    masked = {name for name, d in spec.variables.items() if d.masked}
    for thread in spec.threads.values():
        masked.update(name for name, d in thread.variables.items() if d.masked)
    tasks: set[str] = set()
    outputs: dict[str, frozenset[str]] = {}
    for thread_name, thread in spec.threads.items():
        flows: set[str] = set()
        for node in thread.nodes.values():
            if isinstance(node, TaskNode):
                tasks.add(node.task)
                if node.compensation is not None:
                    tasks.add(node.compensation.task)
            for edge in node.edges:
                for mutation in edge.mutations:
                    if mutation.var in masked:
                        flows.update(s.node for s in walk_expr(mutation.value) if isinstance(s, OutputRef))
        outputs[thread_name] = frozenset(flows)
    return SpecInfo(masked=frozenset(masked), masked_outputs=outputs, tasks=frozenset(tasks))


_CACHE: OrderedDict[int, tuple[WorkflowSpec, SpecInfo]] = OrderedDict()
_CACHE_SIZE: Final = 256


def spec_info(spec: WorkflowSpec) -> SpecInfo:
    """Derived facts of ``spec``, computed once per spec object."""
    key = id(spec)
    hit = _CACHE.get(key)
    # The spec itself is kept in the entry, so its id cannot be reused while cached.
    if hit is not None and hit[0] is spec:
        _CACHE.move_to_end(key)
        return hit[1]
    info = _derive(spec)
    _CACHE[key] = (spec, info)
    if len(_CACHE) > _CACHE_SIZE:
        _CACHE.popitem(last=False)
    return info
