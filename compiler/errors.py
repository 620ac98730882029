"""Errors and warnings of compilation."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from wfc.specs.errors import WfcError


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a workflow, at the user's ``file:line``."""

    message: str
    source: str
    severity: Literal["error", "warning"] = "error"

    def __str__(self) -> str:
        return f"{self.source}: {self.message}"


class CompileError(WfcError):
    """A workflow cannot be compiled; ``problems`` lists every reason at once.

    Attributes:
        workflow: The workflow's name.
        problems: Every error found, in source order.
    """

    def __init__(self, workflow: str, problems: list[Problem]) -> None:
        self.workflow = workflow
        self.problems = problems
        count = len(problems)
        reasons = "a reason" if count == 1 else f"{count} reasons"
        lines = [f"workflow {workflow!r} is invalid for {reasons}:"]
        for problem in problems:
            first, *rest = problem.message.splitlines()
            lines.append(f"  - {problem.source}: {first}")
            lines.extend(f"      {line}" for line in rest)
        super().__init__("\n".join(lines))


class CompileWarning(UserWarning):
    """Something in a workflow that is legal but probably a mistake."""
