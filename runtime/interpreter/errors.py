"""The errors the interpreter raises to its caller.

Failures inside a run (a task that fails, an expression that cannot be
evaluated) are not exceptions: they become part of the run's state. Only a
start that cannot begin raises.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from wfc.specs.errors import WfcError

__all__ = ["InputError"]

#: Most problems the message of an :class:`InputError` lists: a request of
#: a megabyte can hold 60,000 unknown inputs, and a message naming each (with
#: the declared variables every time) would be megabytes for one mistake.
MAX_LISTED: Final = 20
#: Most characters of a variable name the message shows.
_NAME_SHOWN: Final = 80


class InputError(WfcError):
    """The inputs of a run do not match the workflow's declared variables.

    Every problem is found at once; the message lists the first
    :data:`MAX_LISTED` and counts the others.

    Attributes:
        workflow: The workflow name.
        problems: ``(variable, reason)`` pairs, one per problem (all of them).
        variable: The first offending variable.
    """

    def __init__(self, workflow: str, problems: Sequence[tuple[str, str]]) -> None:
        self.workflow = workflow
        self.problems = tuple(problems)
        self.variable = self.problems[0][0] if self.problems else ""
        count = len(self.problems)
        super().__init__(
            f"invalid inputs for workflow {workflow!r} ({count:,} problem{'s' if count != 1 else ''}): "
            f"{_listed(self.problems)}"
        )


def _listed(problems: tuple[tuple[str, str], ...]) -> str:
    """The first :data:`MAX_LISTED` problems, then how many more there are."""
    shown = "; ".join(f"{_name(name)}: {reason}" for name, reason in problems[:MAX_LISTED])
    rest = len(problems) - MAX_LISTED
    return shown if rest <= 0 else f"{shown}; … and {rest:,} more"


def _name(name: str) -> str:
    """``name`` quoted, cut to :data:`_NAME_SHOWN` characters."""
    return repr(name) if len(name) <= _NAME_SHOWN else f"{name[:_NAME_SHOWN]!r}… ({len(name):,} characters)"
