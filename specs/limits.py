"""What a value must be for JSON, the database and the clock to hold it.

One set of limits for every door a value comes in by: run inputs
(``Engine.start``), event payloads (``Engine.send_event``), literal values and
defaults written with the DSL, durations, and specs read by
:func:`wfc.specs.loads`. Checking them at the door turns a value that would
later crash an encoder, a database driver or a date conversion into an error
that names the field.

The limits:

- JSON nests at most :data:`MAX_JSON_DEPTH` levels of lists and objects;
- strings and object keys hold no lone UTF-16 surrogate (UTF-8 has no form
  for one, so neither JSON nor the database can store it);
- numbers are finite: NaN and ±Infinity are refused, never stored as ``null``;
- JSON text read from a user (an input, a payload, a request body) gives each
  key of an object once: a parser would keep one of two values silently;
- integers fit in a signed 64-bit integer (:data:`MIN_INT` ..
  :data:`MAX_INT`), like a database ``bigint``;
- a duration is at most :data:`MAX_DURATION_SECONDS` (100 years), and a
  moment lies between year 1 and the end of year 9999
  (:data:`MIN_EPOCH_SECONDS` .. :data:`MAX_EPOCH_SECONDS`), the range of a
  date the runtime can show;
- an expression nests at most :data:`MAX_EXPRESSION_DEPTH` levels: a name
  or literal is one level, and a chain ``a and b and c`` of *n* terms nests
  *n* levels. The runtime evaluates expressions recursively; the limit keeps
  that, and the JSON encoder, far from Python's recursion limit.

Messages never quote the value itself: it may be a masked secret.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Iterator
from typing import Any, Final, cast

__all__ = [
    "MAX_DURATION_SECONDS",
    "MAX_EPOCH_SECONDS",
    "MAX_EXPRESSION_DEPTH",
    "MAX_INT",
    "MAX_JSON_DEPTH",
    "MIN_EPOCH_SECONDS",
    "MIN_INT",
    "ValueProblem",
    "duration_problem",
    "json_path",
    "json_problems",
    "moment_problem",
    "repeated_key",
    "text_problem",
    "unique_keys",
]

#: Most levels of lists and objects in a JSON value (``[[1]]`` nests 2).
MAX_JSON_DEPTH: Final = 64
#: Smallest integer a value may hold: a signed 64-bit integer, like ``bigint``.
MIN_INT: Final = -(2**63)
#: Largest integer a value may hold.
MAX_INT: Final = 2**63 - 1
#: Longest duration (a timeout, a sleep, a backoff): 100 years, in seconds.
MAX_DURATION_SECONDS: Final = 100 * 365 * 24 * 3600
#: Earliest moment: 0001-01-01T00:00:00Z, in epoch seconds.
MIN_EPOCH_SECONDS: Final = -62135596800.0
#: Latest moment: 9999-12-31T23:59:59Z, in epoch seconds.
MAX_EPOCH_SECONDS: Final = 253402300799.0
#: Most levels an expression nests; deeper ones are refused, not evaluated.
MAX_EXPRESSION_DEPTH: Final = 256

#: Most problems one value reports: enough to fix, not a wall of text.
_MAX_REPORTED: Final = 10
_SURROGATE: Final = re.compile("[\ud800-\udfff]")
_PLAIN_KEY: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class ValueProblem:
    """One thing wrong with a value, at a place inside it.

    Attributes:
        path: Where, as a JSON path from the value (``$`` is the value
            itself, ``$.items[2]`` a part of it).
        reason: What is wrong and what to do, never quoting the value.
    """

    __slots__ = ("path", "reason")

    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        self.reason = reason

    def __repr__(self) -> str:
        return f"ValueProblem({self.path!r}, {self.reason!r})"

    def __str__(self) -> str:
        return self.reason if self.path == "$" else f"at {self.path}: {self.reason}"


def json_path(base: str, segment: str | int) -> str:
    """``base`` followed by one step: ``.key``, ``["odd key"]`` or ``[3]``."""
    if isinstance(segment, int):
        return f"{base}[{segment}]"
    if _PLAIN_KEY.fullmatch(segment):
        return f"{base}.{segment}"
    # json.dumps escapes lone surrogates and control characters, so the path prints.
    return f"{base}[{json.dumps(segment)}]"


def text_problem(text: str) -> str | None:
    """Why ``text`` cannot be stored as a string, or ``None``."""
    if text.isascii():  # the common case, without a regex scan
        return None
    match = _SURROGATE.search(text)
    if match is not None:
        return (f"a string holds a lone UTF-16 surrogate at character {match.start()}, which neither JSON "
                "nor the database can store; send valid Unicode text")
    return None


def _scalar_problem(value: Any) -> str | None:
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        if MIN_INT <= value <= MAX_INT:
            return None
        return (f"an integer outside the signed 64-bit range ({MIN_INT} to {MAX_INT}) cannot be stored; "
                "send it as a string")
    if isinstance(value, float):
        if math.isfinite(value):
            return None
        kind = "NaN" if math.isnan(value) else "an infinite number"
        return f"{kind} is not allowed: JSON has no form for it; send a finite number or null"
    if isinstance(value, str):
        return text_problem(value)
    return f"a Python {type(value).__name__} is not a JSON value; use null, bool, int, float, str, list or dict"


def json_problems(
    value: Any,
    *,
    max_depth: int | None = MAX_JSON_DEPTH,
    sequences: tuple[type, ...] = (list,),
) -> list[ValueProblem]:
    """Every reason ``value`` is not JSON that wfc can store, first ones first.

    Walks the value without recursion, so any depth is safe to check.

    Args:
        value: The value to check.
        max_depth: Most levels of lists and objects, or ``None`` for no limit.
        sequences: Python types taken as JSON arrays (the DSL also takes tuples).

    Returns:
        Up to ten problems, each with its path inside the value; empty if the
        value is fine.
    """
    problems: list[ValueProblem] = []
    for path, reason in _walk(value, max_depth, sequences):
        problems.append(ValueProblem(path, reason))
        if len(problems) == _MAX_REPORTED:
            break
    return problems


Place = tuple[Any, ...]
"""Where a part of a value is, built as ``(parent, key)`` pairs and rendered
as a JSON path only when there is a problem to name: a clean value of any
size costs no path strings."""


def _walk(value: Any, max_depth: int | None, sequences: tuple[type, ...]) -> Iterator[tuple[str, str]]:
    stack: list[tuple[Any, Place, int]] = [(value, (), 0)]
    while stack:
        item, place, depth = stack.pop()
        if not isinstance(item, (dict, *sequences)):
            reason = _scalar_problem(item)
            if reason is not None:
                yield _render(place), reason
            continue
        if max_depth is not None and depth >= max_depth:
            yield _render(place), f"JSON nested deeper than {max_depth} levels of lists and objects; flatten it"
            continue
        children: list[tuple[Any, Place, int]] = []
        if isinstance(item, dict):
            for key, child in item.items():
                if not isinstance(key, str):
                    yield _render(place), f"an object key is a {type(key).__name__}; JSON object keys are strings"
                    continue
                key_problem = text_problem(key)
                if key_problem is not None:
                    yield _render(place), f"an object key: {key_problem}"
                    continue
                children.append((child, (place, key), depth + 1))
        else:
            sequence = cast(Iterable[Any], item)  # a list, or one of `sequences`
            children = [(child, (place, index), depth + 1) for index, child in enumerate(sequence)]
        stack.extend(reversed(children))


def _render(place: Place) -> str:
    steps: list[str | int] = []
    while place:
        place, step = place
        steps.append(step)
    path = "$"
    for step in reversed(steps):
        path = json_path(path, step)
    return path


def json_kind(value: object) -> str:
    """What kind of JSON value ``value`` is, as a message says it (``null``,
    ``an array``): the user wrote JSON, and Python's type names (``NoneType``,
    ``list``) are not theirs."""
    if value is None:
        return "null"
    if isinstance(value, bool):  # before int: a bool is an int in Python
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list | tuple):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return "not a JSON value"


def unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """An ``object_pairs_hook`` for :func:`json.loads` that refuses an object
    giving a key twice.

    Raises:
        ValueError: naming the key.
    """
    found = dict(pairs)
    if len(found) == len(pairs):
        return found  # built in C: a loop over the keys in Python took twice the parse
    seen: set[str] = set()
    for key, _ in pairs:
        if key in seen:
            raise _RepeatedKey(f"an object gives key {key!r} twice; give each key once")
        seen.add(key)
    raise AssertionError("unreachable: fewer keys than pairs means a key repeats")


def repeated_key(text: str | bytes) -> str | None:
    """Why the JSON ``text`` breaks :func:`unique_keys`, or ``None`` (also
    when it is not JSON at all: its parser says why better)."""
    try:
        json.loads(text, object_pairs_hook=unique_keys)
    except _RepeatedKey as exc:
        return str(exc)
    except (ValueError, RecursionError):
        return None
    return None


class _RepeatedKey(ValueError):
    pass


def duration_problem(seconds: float) -> str | None:
    """Why ``seconds`` is not a usable duration (finite, 0 to 100 years), or ``None``."""
    if isinstance(seconds, float) and not math.isfinite(seconds):
        return "a duration must be a finite number of seconds"
    if seconds > MAX_DURATION_SECONDS:
        return f"a duration may be at most {MAX_DURATION_SECONDS} seconds (100 years)"
    return None


def moment_problem(epoch: float) -> str | None:
    """Why ``epoch`` (seconds) is not a moment between year 1 and 9999, or ``None``."""
    if isinstance(epoch, float) and not math.isfinite(epoch):
        return "a moment must be a finite number of epoch seconds"
    if not MIN_EPOCH_SECONDS <= epoch <= MAX_EPOCH_SECONDS:
        return "a moment must lie between year 1 and the end of year 9999 (UTC)"
    return None
