"""``# mark: <name>`` comments: how a test names the exact line it expects an
error or a problem at (the line of the DSL call that causes it)."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from pathlib import Path


def mark_line(lines: Sequence[str], name: str) -> int:
    """The line number of the unique line of ``lines`` ending in ``# mark: <name>``."""
    hits = [number for number, text in enumerate(lines, 1) if text.rstrip().endswith(f"# mark: {name}")]
    assert len(hits) == 1, f"mark {name!r} found on lines {hits}"
    return hits[0]


def marks_in(path: str) -> Callable[[str], int]:
    """``mark(name)`` for the file at ``path``, read once now: the line number
    of its unique line ending in ``# mark: <name>``."""
    return functools.partial(mark_line, Path(path).read_text("utf-8").splitlines())
