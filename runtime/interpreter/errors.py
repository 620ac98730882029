"""The errors the interpreter raises to its caller.

Failures inside a run (a task that fails, an expression that cannot be
evaluated) are not exceptions: they become part of the run's state. Only a
start that cannot begin raises.
"""

from __future__ import annotations

from collections.abc import Sequence

from wfc.specs.errors import WfcError

__all__ = ["InputError"]

class InputError(WfcError):
    """The inputs of a run do not match the workflow's declared variables.

    Every problem is listed at once.

    Attributes:
        workflow: The workflow name.
        problems: ``(variable, reason)`` pairs, one per problem.
        variable: The first offending variable.
    """

    def __init__(self, workflow: str, problems: Sequence[tuple[str, str]]) -> None:
        self.workflow = workflow
        self.problems = tuple(problems)
        self.variable = self.problems[0][0] if self.problems else ""
        lines = "; ".join(f"{name!r}: {reason}" for name, reason in self.problems)
        count = len(self.problems)
        super().__init__(
            f"invalid inputs for workflow {workflow!r} ({count} problem{'s' if count != 1 else ''}): {lines}"
        )
