"""Text from runs shown on a terminal, its control characters made visible.

A run's values are anyone's strings: a task's exception message may carry
what an outside service answered, an event's payload what a caller sent.
Printed as they are, the escape sequences in them would clear the screen,
retitle the window or rewrite what a line says, a carriage return would
print over it, and bidi overrides would reorder it ("evil" shown as
"live"). JSON output escapes them itself; text output shows each as
``\\u001b``, as the dashboard does. Tabs and newlines stay.

Every piece of text rich prints, a table's cell as much as a message, is
made a ``Text`` first, which passes it through rich's
``strip_control_codes``; that drops five characters (BEL, BS, VT, FF, CR)
and lets the escape character through. wfc's consoles put :func:`visible`
in its place (:func:`install`). rich's own colours are styles, not text,
and are unaffected. Python's plain log lines get the same treatment
(:class:`VisibleFormatter`).
"""

from __future__ import annotations

import logging
import sys
from typing import Final, TextIO

#: Characters a terminal acts on rather than shows: C0 controls but tab and
#: newline, DEL, C1 controls, and the bidi embeddings, overrides and isolates.
_ACTING: Final = (
    *(c for c in range(0x20) if chr(c) not in "\t\n"),
    0x7F,
    *range(0x80, 0xA0),
    *range(0x202A, 0x202F),
    *range(0x2066, 0x206A),
)
_SHOWN: Final = {c: f"\\u{c:04x}" for c in _ACTING}


def visible(text: str, _translate_table: object = None) -> str:
    """``text`` with every character a terminal would act on written as an
    escape (``\\u001b``). Takes (and ignores) the translation table rich's
    ``strip_control_codes`` takes, whose place it fills."""
    del _translate_table
    return text.translate(_SHOWN)


def install() -> None:
    """Make rich show control characters in every ``Text`` it builds from
    now on, instead of passing the escape character to the terminal."""
    import rich.text

    rich.text.strip_control_codes = visible  # type: ignore[attr-defined]


class VisibleFormatter(logging.Formatter):
    """A log line with its control characters made visible (see :func:`visible`)."""

    def format(self, record: logging.LogRecord) -> str:
        return visible(super().format(record))


class _Stderr(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to ``sys.stderr`` as it is at each record (tests swap it), as
    Python's own handler of last resort does."""

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, value: TextIO) -> None:
        del value


def last_resort() -> logging.Handler:
    """Python's handler of last resort (warnings and errors as plain lines on
    ``sys.stderr`` when no handler is set up) with visible control characters."""
    handler = _Stderr()
    handler.setLevel(logging.WARNING)
    handler.setFormatter(VisibleFormatter())
    return handler
