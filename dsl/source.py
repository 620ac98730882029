"""Finding the user's ``file:line`` of a DSL call."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass

_DSL_DIR = os.path.dirname(os.path.abspath(__file__))
# Frames in the DSL and in the compiler that drives it are wfc's, not the user's.
_OWN_DIRS = frozenset({_DSL_DIR, os.path.join(os.path.dirname(_DSL_DIR), "compiler")})


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
    except ValueError:
        return path
    return path if relative.startswith("..") else relative


def caller_source() -> Source:
    """The first stack frame outside the DSL package: the user's call site."""
    frame = sys._getframe(1)
    while frame is not None:
        filename = os.path.abspath(frame.f_code.co_filename)
        if os.path.dirname(filename) not in _OWN_DIRS:
            return Source(display_path(filename), frame.f_lineno)
        frame = frame.f_back  # type: ignore[assignment]
    return Source("<unknown>", 0)
