"""Checks of what a test passes to the harness, made at the call.

A wrong argument would otherwise surface much later and elsewhere: as a
task failing with an unrelated ``TASK_ERROR``, a time the store cannot read
back, or an ``AttributeError`` deep inside. Each check raises ``TypeError``
for a value of the wrong kind and ``ValueError`` for one out of range, naming
the argument and showing the right form.
"""

from __future__ import annotations

import datetime as dt
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TypeGuard

from wfc.runtime import RunInfo
from wfc.specs import duration_problem, moment_problem


def _is_number(value: object) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


def duration(value: object, what: str, example: str, *, negative: str = "a duration must be >= 0") -> float:
    """``value`` (a number of seconds or a timedelta) as seconds, if it is a
    duration the store can hold (finite, 0 to 100 years)."""
    seconds = value.total_seconds() if isinstance(value, dt.timedelta) else value
    if not _is_number(seconds):
        raise TypeError(f"{what} takes a number of seconds or a timedelta, got {value!r}: {example}")
    problem = duration_problem(float(seconds)) or (None if seconds >= 0 else negative)
    if problem is not None:
        raise ValueError(f"{what}: {problem}, got {value!r}: {example}")
    return float(seconds)


def moment(value: object, what: str, example: str) -> float:
    """``value`` (epoch seconds) if it is a moment the store can hold."""
    if not _is_number(value):
        raise TypeError(f"{what} takes epoch seconds (a number), got {value!r}: {example}")
    problem = moment_problem(value)
    if problem is not None:
        raise ValueError(f"{what}: {problem}, got {value!r}: {example}")
    return float(value)


def text(value: object, what: str, example: str) -> str:
    """``value`` if it is a non-empty string."""
    if not isinstance(value, str):
        raise TypeError(f"{what} is a string, got {value!r}: {example}")
    if not value.strip():
        raise ValueError(f"{what} is a non-empty string, got {value!r}: {example}")
    return value


def flag(value: object, what: str) -> bool:
    """``value`` if it is a bool (a truthy string would pass unnoticed)."""
    if not isinstance(value, bool):
        raise TypeError(f"{what} is True or False, got {value!r}")
    return value


def run_id(run: object) -> str:
    """The id of a run given by its id or by the RunInfo the env returned."""
    if isinstance(run, RunInfo):
        return run.id
    if not isinstance(run, str) or not run:
        error = ValueError if isinstance(run, str) else TypeError
        raise error(f"a run is given by its run id (the str env.start() returns) or the RunInfo env.run() "
                    f"returns, got {run!r}: run = await env.run(flow); await env.assert_output(run, ...)")
    return run


def directory(value: object) -> Path | None:
    """``value`` (a str or path of an existing folder, or None) as a Path."""
    if value is None:
        return None
    if not isinstance(value, str | os.PathLike):
        raise TypeError(f"directory is a folder (a str or a pathlib.Path) or None for memory, got {value!r}")
    path = Path(value)
    if not path.is_dir():
        raise ValueError(f"directory {str(path)!r} is not an existing folder; create it first, or pass None "
                         "to keep the store in memory")
    return path


def names(expected: object, method: str, example: str) -> list[str]:
    """``expected`` as a list of strings: a list or tuple of them, not one
    string (whose characters would be compared one by one)."""
    if (isinstance(expected, str) or not isinstance(expected, Sequence)
            or not all(isinstance(name, str) for name in expected)):
        raise TypeError(f"{method}() takes a list of strings, got {expected!r}: {example}")
    return list(expected)


def path(expected: object) -> list[str] | dict[int, list[str]]:
    """What ``assert_path`` compares: a list of node ids for the entrypoint
    thread, or a mapping of thread numbers to such lists."""
    example = 'env.assert_path(run, ["entrypoint", "charge", "exit"]) or {1: ["entrypoint", "work", "exit"]}'
    if not isinstance(expected, Mapping):
        return names(expected, "assert_path", example)
    threads: dict[int, list[str]] = {}
    for thread, nodes in expected.items():
        if not isinstance(thread, int) or isinstance(thread, bool):
            raise TypeError(f"assert_path() takes thread numbers (0 is the entrypoint) as keys, got {thread!r}: "
                            f"{example}")
        threads[thread] = names(nodes, "assert_path", example)
    return threads


def positive(value: object, what: str) -> float:
    """``value`` if it is a finite number of seconds > 0."""
    if not _is_number(value):
        raise TypeError(f"{what} is a number of seconds, got {value!r}")
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{what} is a finite number of seconds > 0, got {value!r}")
    return float(value)
