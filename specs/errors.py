"""The one exception tree of wfc.

Every error wfc raises on purpose derives from :class:`WfcError`. It lives in
the lowest layer so that every other subpackage can raise and re-export it
without importing upward.
"""

from __future__ import annotations


class WfcError(Exception):
    """Base of every error wfc raises on purpose.

    Catch this to handle any wfc failure; the message always says what failed,
    where, and what to do about it.
    """

    def __reduce__(self) -> tuple[object, ...]:
        # Errors take structured arguments, not their message, so the default
        # (calling the class with ``args``) would build another error: rebuild
        # from the message and restore the attributes instead, so an error
        # crosses a process boundary (a process pool, a queue) intact.
        return (_rebuild, (type(self), self.args), self.__dict__ or None)


def _rebuild(cls: type[BaseException], args: tuple[object, ...]) -> BaseException:
    """An error of ``cls`` with ``args``, made without calling its ``__init__``."""
    error = cls.__new__(cls, *args)
    error.args = args
    return error


class SpecError(WfcError):
    """A workflow spec document is malformed or inconsistent.

    Attributes:
        path: The ``$.``-path of the offending field, e.g.
            ``$.threads.main.nodes.charge-card.edges[0].to``.
        reason: What is wrong at that path, without the path.
    """

    def __init__(self, reason: str, path: str = "$") -> None:
        self.reason = reason
        self.path = path
        super().__init__(f"invalid workflow spec at {path}: {reason}")
