"""Finding the user's ``file:line`` of a DSL call."""

from __future__ import annotations

import os
import sys
import traceback
from dataclasses import dataclass
from types import TracebackType

_WFC_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Every package of wfc, not just the DSL and the compiler: a recording that
# fails deep in wfc.specs (a RecursionError, say) is still the user's line.
# Named one by one because the folder above them may also hold the user's
# tests and examples (an editable install of a checkout).
_OWN_PACKAGES = ("cli", "compiler", "dsl", "runtime", "server", "specs", "testing")
_OWN_PREFIXES = tuple(os.path.join(_WFC_DIR, package) + os.sep for package in _OWN_PACKAGES)


@dataclass(frozen=True)
class Source:
    """Where in the user's code a DSL call was made."""

    file: str
    line: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


def display_path(path: str) -> str:
    """``path`` relative to the working directory when it is under it."""
    try:
        relative = os.path.relpath(path)
    except (ValueError, OSError):  # another drive; a working directory deleted since
        return path
    return path if relative.startswith("..") else relative


def _absolute(path: str) -> str:
    """``os.path.abspath(path)``, or ``path`` as it is where the working
    directory was deleted since (a relative name, ``<string>``, is then
    relative to nothing)."""
    try:
        return os.path.abspath(path)
    except OSError:
        return path


def is_own_file(filename: str) -> bool:
    """Whether ``filename`` is part of wfc rather than the user's code."""
    return _absolute(filename).startswith(_OWN_PREFIXES)


def caller_source() -> Source:
    """The first stack frame outside wfc: the user's call site."""
    frame = sys._getframe(1)
    while frame is not None:
        filename = _absolute(frame.f_code.co_filename)
        if not is_own_file(filename):
            return Source(display_path(filename), frame.f_lineno)
        frame = frame.f_back  # type: ignore[assignment]
    return Source("<unknown>", 0)


def raising_source(tb: TracebackType | None) -> Source | None:
    """The innermost frame of the user's code in a traceback: where the
    user's code raised, or called into wfc when wfc raised."""
    frames = [frame for frame in traceback.extract_tb(tb) if not is_own_file(frame.filename)]
    if not frames:
        return None
    return Source(display_path(_absolute(frames[-1].filename)), frames[-1].lineno or 0)
