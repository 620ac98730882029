"""Checks of the plain values DSL calls take (names, durations), shared by
the calls of every concern, so each rule and its message exist once."""

from __future__ import annotations

import math
import re

from wfc.dsl.errors import DslError
from wfc.dsl.source import Source
from wfc.specs import duration_problem, text_problem

#: A variable name: what ``declare_*`` and ``spawn_thread_for_each(item_var=)`` accept.
VARIABLE_NAME = re.compile(r"[^\W\d][\w.:-]*")


def positive_seconds(value: float | None, what: str, source: Source) -> float | None:
    """``value`` as a float, refused unless it is ``None`` or a duration a
    spec can hold: a finite number of seconds > 0 within the limit."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value <= 0:
        raise DslError(f"{what} is a number of seconds > 0, got {value!r}", str(source))
    problem = duration_problem(value)
    if problem is not None:
        raise DslError(f"{what}: {problem}, got {value!r}", str(source))
    return float(value)


def check_stored_name(text: str, what: str, source: Source) -> None:
    """A name the database stores as text: valid Unicode, without NUL (PostgreSQL refuses it)."""
    problem = text_problem(text) or ("it contains a NUL character, which the database cannot store"
                                     if "\x00" in text else None)
    if problem is not None:
        raise DslError(f"the {what} cannot be stored: {problem}", str(source))
