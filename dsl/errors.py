"""Errors raised while a workflow function is being recorded."""

from __future__ import annotations

from wfc.specs.errors import WfcError


class DslError(WfcError):
    """A DSL call was used the wrong way.

    Raised at the offending call, so the traceback points at the user's line.
    The message says what was wrong and shows the right form.

    Attributes:
        source: ``file:line`` of the DSL call, when known.
    """

    def __init__(self, message: str, source: str | None = None) -> None:
        self.source = source
        super().__init__(f"{source}: {message}" if source else message)
