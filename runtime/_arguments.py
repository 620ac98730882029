"""Checking and converting arguments of the engine's public methods."""

from __future__ import annotations

import datetime as dt
import math
import re
import unicodedata
from collections.abc import Callable, Collection, Iterable
from typing import Final, Protocol, TypeVar

from wfc.runtime.errors import UnknownWorkflowError, UsageError
from wfc.runtime.interpreter.state import RunStatus, UserTaskStatus
from wfc.specs import Version, text_problem
from wfc.specs.limits import MAX_EPOCH_SECONDS, MAX_INT, MIN_INT, duration_problem, moment_problem


class _Versioned(Protocol):
    @property
    def major(self) -> int: ...

    @property
    def revision(self) -> int: ...


V = TypeVar("V", bound=_Versioned)

#: Most user tasks one listing returns.
MAX_USER_TASKS: Final = 1000

#: A moment given to ``list_runs``: a datetime (naive means UTC) or epoch seconds.
Moment = dt.datetime | float


def pick_version(workflow: str, records: list[V], version: Version | str | int | None) -> V:
    """The spec record asked for: the latest, a ``Version``, ``"major.revision"``
    or a major number (its latest revision).

    Raises:
        UsageError: the version is not in one of those forms.
        UnknownWorkflowError: no such version is deployed.
    """
    if version is None:
        return max(records, key=lambda r: (r.major, r.revision))
    major, revision = parse_version(version)
    matching = [r for r in records if r.major == major and (revision is None or r.revision == revision)]
    if not matching:
        label = str(major) if revision is None else f"{major}.{revision}"
        raise UnknownWorkflowError(workflow, label, [f"{r.major}.{r.revision}" for r in records])
    return max(matching, key=lambda r: r.revision)


#: A version as text: ``major`` or ``major.revision``, ASCII digits only
#: (``str.isdigit`` also holds for ``²``, which ``int`` refuses).
_VERSION: Final = re.compile(r"([0-9]+)(?:\.([0-9]+))?")
#: Digits of :data:`~wfc.specs.limits.MAX_INT`.
_MAX_DIGITS: Final = len(str(MAX_INT))


def parse_version(version: Version | str | int) -> tuple[int, int | None]:
    """``(major, revision)`` of a version a caller names: a ``Version``,
    ``"major.revision"``, or a major number (``revision`` ``None``: any).
    The one reading of versions, for picking a spec and filtering runs.

    Raises:
        UsageError: the version is not in one of those forms (a negative
            number, a third part), or a number in it is past what the
            database stores.
    """
    if isinstance(version, Version):
        return version.major, version.revision
    if isinstance(version, bool) or not isinstance(version, int | str):
        raise UsageError(f"version must be a Version, 'major.revision' or a major number, got {version!r}")
    if isinstance(version, int):
        return _major_number(version), None
    found = _VERSION.fullmatch(version)
    if found is None:
        raise _not_a_version(_shown(version))
    major, revision = found.groups()
    return _version_number(major, version), None if revision is None else _version_number(revision, version)


def _major_number(version: int) -> int:
    if version > MAX_INT:  # not shown: repr() refuses ints of over 4,300 digits
        raise UsageError(f"a version number is at most {MAX_INT}")
    if version < 0:
        raise _not_a_version(repr(version))
    return version


def _version_number(digits: str, version: str) -> int:
    # Counted before int(): a stored version number is a bigint, and int()
    # refuses strings of over 4,300 digits.
    if len(digits.lstrip("0")) > _MAX_DIGITS or int(digits) > MAX_INT:
        raise UsageError(f"version {_shown(version)} is past the largest version number, {MAX_INT}")
    return int(digits)


def _not_a_version(shown: str) -> UsageError:
    return UsageError(f"version {shown} is not 'major' or 'major.revision', e.g. '1.2'")


def parse_statuses(status: RunStatus | str | Iterable[RunStatus | str]) -> list[str]:
    """Status values from one status or several, any case; each once, in
    the order first given (as :func:`user_task_statuses`).

    Raises:
        UsageError: an unknown status.
    """
    if not isinstance(status, str | Iterable):
        raise UsageError(f"status must be a run status or a list of them (e.g. 'RUNNING'), got {given(status)}")
    items = [status] if isinstance(status, str) else list(status)
    result: list[str] = []
    for item in items:
        try:
            value = RunStatus(str(item).upper()).value
        except ValueError:
            raise UsageError(
                f"unknown run status {item!r}; use one of {', '.join(s.value for s in RunStatus)}"
            ) from None
        if value not in result:
            result.append(value)
    return result


def epoch(moment: Moment | None, what: str = "a moment") -> float | None:
    """Epoch seconds of a moment (``None`` stays ``None``).

    Raises:
        UsageError: it is not a moment (:func:`check_moment`).
    """
    if moment is None:
        return None
    check_moment(moment, what)
    if isinstance(moment, dt.datetime):
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=dt.UTC)
        return moment.timestamp()
    return float(moment)


#: Most characters of a run id, user, group or subscriber name.
MAX_NAME_LENGTH: Final = 200
#: What a name may be, for messages.
NAME_RULE: Final = (
    f"give 1 to {MAX_NAME_LENGTH} characters: letters, digits, punctuation and spaces, "
    "no control characters (e.g. 'order-123')"
)
#: Unicode categories refused in names: controls (C0, DEL, C1) and the line
#: and paragraph separators, which rewrite or split the line a name is
#: shown on. (Not every format character: the zero-width joiners belong in
#: Persian names and in emoji.)
_UNPRINTABLE: Final = frozenset({"Cc", "Zl", "Zp"})
#: The bidirectional embeddings, overrides and isolates: they reverse how
#: what follows them is shown.
_BIDI_CONTROLS: Final = frozenset(chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A)))


def check_name(value: object, what: str) -> str:
    """A name the engine stores and shows on one line of a terminal (a run
    id, a user or group, a subscriber): what :func:`check_key` asks, and
    1 to :data:`MAX_NAME_LENGTH` characters with no control character (an
    ESC could rewrite the terminal that lists it, a newline split a row).

    Raises:
        UsageError: it is not, saying what a name may be.
    """
    return _one_line(value, what, name_problem, NAME_RULE)


def _one_line(value: object, what: str, problem_of: Callable[[str], str | None], rule: str) -> str:
    """``value`` if it is a non-empty, storable string ``problem_of`` finds
    nothing wrong with; else a :class:`UsageError` that ends with ``rule``."""
    if not isinstance(value, str) or not value.strip():
        raise UsageError(f"{what} must be a non-empty string, got {value!r}; {rule}")
    check_key(value, what)
    problem = problem_of(value)
    if problem is not None:
        raise UsageError(f"{what} {_shown(value)} is not allowed: {problem}; {rule}")
    return value


def name_problem(value: str) -> str | None:
    """Why ``value`` cannot be a name (:func:`check_name`), or ``None``."""
    if len(value) > MAX_NAME_LENGTH:
        return f"it is {len(value):,} characters long, more than {MAX_NAME_LENGTH}"
    return control_problem(value)


def control_problem(value: str) -> str | None:
    """The first character of ``value`` that would rewrite or split the
    line it is shown on, said, or ``None``."""
    if value.isprintable():  # the common case: no scan by category
        return None
    for position, char in enumerate(value, 1):
        if unicodedata.category(char) in _UNPRINTABLE or char in _BIDI_CONTROLS:
            label = unicodedata.name(char, "")
            return f"character {position} is the control character U+{ord(char):04X}{' ' + label if label else ''}"
    return None


def _shown(value: str, limit: int = 40) -> str:
    """``value`` quoted for a message (control characters escaped), cut to
    ``limit`` characters."""
    return repr(value) if len(value) <= limit else f"{value[:limit]!r}… ({len(value):,} characters)"


def check_key(value: object, what: str) -> None:
    """A string stored in a column of its own: no lone surrogate (no UTF-8
    form) and no NUL (PostgreSQL text refuses it)."""
    if not isinstance(value, str):
        return
    problem = text_problem(value) or (
        "it contains a NUL character, which the database cannot store" if "\x00" in value else None
    )
    if problem is not None:
        raise UsageError(f"{what} cannot be stored: {problem}")


# ---------------------------------------------------------------- user tasks


def check_task_id(task_id: object) -> str:
    """A user task id: a non-empty, storable string.

    Raises:
        UsageError: it is not.
    """
    if not isinstance(task_id, str) or not task_id:
        raise UsageError(f"a user task id is a non-empty string, got {task_id!r}")
    check_key(task_id, "the user task id")
    return task_id


def check_person(value: object, what: str, *, required: bool = False) -> str | None:
    """A user or group name (``None`` allowed unless ``required``): a name
    as :func:`check_name` takes it.

    Raises:
        UsageError: it is not.
    """
    if value is None and not required:
        return None
    # Not held to check_name: a workflow's own expression may have assigned
    # a user no command line would (a long name, say), who must still be
    # found and served. Only what would rewrite a terminal is refused.
    return _one_line(value, what, control_problem, "give a name without control characters")


def user_task_statuses(status: object) -> tuple[str, ...]:
    """The status filter of ``list_user_tasks``: one status (any case) or a
    collection of them; ``None``: any.

    Raises:
        UsageError: an unknown status.
    """
    if status is None:
        return ()
    items = [status] if isinstance(status, str) else list(status) if isinstance(status, Collection) else [status]
    found: list[str] = []
    for item in items:
        try:
            value = UserTaskStatus(str(item).upper()).value
        except ValueError:
            known = ", ".join(s.value for s in UserTaskStatus)
            raise UsageError(f"unknown user task status {item!r}; use one of {known}") from None
        if value not in found:
            found.append(value)
    return tuple(found)


def check_list_args(user: object, group: object, run_id: object, limit: object, after: object) -> None:
    """The other arguments of ``list_user_tasks``.

    Raises:
        UsageError: a bad name, limit or cursor.
    """
    check_person(user, "user")
    check_person(group, "group")
    if run_id is not None and (not isinstance(run_id, str) or not run_id):
        raise UsageError(f"run_id must be a non-empty string, got {run_id!r}")
    check_key(run_id, "run_id")
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_USER_TASKS:
        raise UsageError(f"limit must be an int from 1 to {MAX_USER_TASKS}, got {limit!r}")
    if after is not None:
        check_task_id(after)


# ---------------------------------------------------------------- plain arguments
#
# One check per kind of argument (a flag, a count, a duration, a moment, a
# text, a workflow name), each raising a UsageError that names the argument
# and the form it takes. They are a few isinstance tests, cheap enough for
# the hot methods (start, send_event, wait, get_run). Each returns nothing:
# the caller goes on with the value it was given, now known to be of its type.

#: Most characters of a given value a message quotes.
_SHOWN: Final = 60


def given(value: object) -> str:
    """``value`` as a message shows what the caller gave: its ``repr``,
    cut short. An int past 64 bits is said by size (``repr()`` refuses
    ints of over 4,300 digits), and an object whose ``repr`` fails by type:
    the message must not fail itself."""
    if isinstance(value, int) and not MIN_INT <= value <= MAX_INT:
        return f"an int outside the signed 64-bit range ({MIN_INT} to {MAX_INT})"
    try:
        text = repr(value)
    except Exception:
        return f"a {type(value).__name__}"
    return text if len(text) <= _SHOWN else f"{text[:_SHOWN]}…"


def check_flag(value: object, what: str, *, or_none: bool = False) -> None:
    """A yes/no argument: a real ``bool`` (``None`` too, with ``or_none``).
    Not truthiness: ``compensate="no"`` would be true, and some flags
    start what cannot be undone.

    Raises:
        UsageError: it is not.
    """
    if isinstance(value, bool) or (or_none and value is None):
        return
    accepted = "True, False or None" if or_none else "True or False"
    raise UsageError(f"{what} must be {accepted}, got {given(value)}")


def check_count(value: object, what: str, *, low: int = 1, high: int | None = MAX_INT, or_none: bool = False) -> None:
    """A whole-number argument from ``low`` to ``high``: by default at most
    :data:`~wfc.specs.limits.MAX_INT`, as the database stores it or binds
    it in a query; ``high=None`` where a larger number means the same as
    the largest (a limit the store clamps). ``None`` too, with ``or_none``.

    Raises:
        UsageError: it is not an int (a bool is not one) or is out of range.
    """
    if or_none and value is None:
        return
    if isinstance(value, int) and not isinstance(value, bool) and low <= value and (high is None or value <= high):
        return
    accepted = f"an int >= {low}" if high is None or high >= MAX_INT else f"an int from {low} to {high}"
    if or_none:
        accepted += " or None"
    # An int past MAX_INT is said as such by given().
    raise UsageError(f"{what} must be {accepted}, got {given(value)}")


def check_seconds(value: object, what: str, *, zero: bool = False, or_none: bool = False) -> None:
    """A duration argument in seconds: an int or float, finite, above 0
    (or 0 too, with ``zero``) and within
    :func:`~wfc.specs.limits.duration_problem`; ``None`` too, with ``or_none``.

    Raises:
        UsageError: it is not.
    """
    if or_none and value is None:
        return
    if isinstance(value, int | float) and not isinstance(value, bool):
        problem = duration_problem(value)
        if problem is None and (value >= 0 if zero else value > 0):
            return
    else:
        problem = None
    bound = ">= 0" if zero else "> 0"
    accepted = f"a number of seconds {bound}" + (" or None" if or_none else "")
    reason = f": {problem}" if problem is not None else ""
    raise UsageError(f"{what} must be {accepted}, got {given(value)}{reason}")


def check_moment(value: object, what: str, *, or_none: bool = False) -> None:
    """A moment argument (:data:`Moment`): a datetime (naive means UTC) or
    finite epoch seconds; ``None`` too, with ``or_none``. A moment given
    is a bound of a filter, never stored: one past year 9999 bounds
    nothing (``purge_runs(2**40)`` takes every finished run), while NaN
    would match nothing and an infinity is no moment at all.

    Raises:
        UsageError: it is not (a date as text is refused, not parsed).
    """
    if (or_none and value is None) or isinstance(value, dt.datetime):
        return
    if isinstance(value, int) and not isinstance(value, bool) and MIN_INT <= value <= MAX_INT:
        return  # (an int past 64 bits has no float to compare with)
    if isinstance(value, float) and math.isfinite(value):
        return
    raise UsageError(
        f"{what} must be a datetime or finite epoch seconds (e.g. datetime(2024, 1, 1, tzinfo=UTC) or "
        f"1704067200.0){' or None' if or_none else ''}, got {given(value)}"
    )


def check_datetime(value: object, what: str, *, or_none: bool = False) -> None:
    """A datetime argument (``None`` too, with ``or_none``).

    Raises:
        UsageError: it is not.
    """
    if isinstance(value, dt.datetime) or (or_none and value is None):
        return
    accepted = "a datetime" + (" or None" if or_none else "")
    raise UsageError(f"{what} must be {accepted} (e.g. datetime(2024, 1, 1, tzinfo=UTC)), got {given(value)}")


def check_text(value: object, what: str, *, or_none: bool = False) -> None:
    """A text argument (a reason, a node id): a ``str`` the database can
    store (:func:`check_key`); ``None`` too, with ``or_none``. Never
    ``str()`` of something else, which would be stored as it prints.

    Raises:
        UsageError: it is not.
    """
    if or_none and value is None:
        return
    if not isinstance(value, str):
        raise UsageError(f"{what} must be a string{' or None' if or_none else ''}, got {given(value)}")
    check_key(value, what)


def check_workflow(value: object, *, or_none: bool = False) -> None:
    """A workflow name given to look a workflow up (``None`` too, with
    ``or_none``: every workflow). A name of another type would match
    nothing, or reach the database driver.

    Raises:
        UsageError: it is not a storable string.
    """
    if or_none and value is None:
        return
    if not isinstance(value, str):
        accepted = "a workflow name (a string)" + (" or None for every workflow" if or_none else "")
        raise UsageError(f"workflow must be {accepted}, got {given(value)}")
    check_key(value, "the workflow name")


def check_items(value: object, what: str, example: str) -> None:
    """An argument that is a collection of things (``tasks``,
    ``observers``): any iterable but a string or bytes, whose items would
    be its characters.

    Raises:
        UsageError: it is not.
    """
    if isinstance(value, str | bytes) or not isinstance(value, Iterable):
        raise UsageError(f"{what} must be a list (any iterable) of {example}, got {given(value)}")


def check_clock(clock: object) -> float:
    """The ``clock`` of an engine, and its first reading: a callable
    returning epoch seconds, as :func:`time.time` does. What it says is
    stored as the time of every step, and read back as dates; a clock in
    milliseconds would store dates no read can show.

    Raises:
        UsageError: it is not callable, raises, or its reading is not a
            finite number within :func:`~wfc.specs.limits.moment_problem`.
    """
    rule = "clock must return epoch seconds like time.time (a finite float within years 1 to 9999)"
    if not callable(clock):
        raise UsageError(f"{rule}; got {given(clock)}, which is not callable")
    try:
        now = clock()
    except Exception as exc:
        raise UsageError(f"{rule}; calling it raised {type(exc).__name__}: {exc}") from exc
    if isinstance(now, bool) or not isinstance(now, int | float):
        raise UsageError(f"{rule}; it returned {given(now)}")
    problem = moment_problem(now)
    if problem is not None:
        too_late = now > MAX_EPOCH_SECONDS and (isinstance(now, int) or math.isfinite(now))
        hint = " (milliseconds or nanoseconds? divide by 1e3 or 1e9)" if too_late else ""
        raise UsageError(f"{rule}; it returned {given(now)}{hint}: {problem}")
    return float(now)


def check_url(url: object) -> None:
    """The database URL of ``Engine.open``: a string (the store of its
    scheme says whether it takes it).

    Raises:
        UsageError: it is not a string.
    """
    if not isinstance(url, str):
        raise UsageError(
            f"url must be a database URL (a string) such as 'sqlite:///wfc.db' or "
            f"'postgresql://user@host:5432/db', got {given(url)}"
        )


def check_engine_options(
    *,
    url: object,
    tasks: object,
    flags: dict[str, object],
    lease_seconds: object,
    poll_interval: object,
    max_batch: object,
    max_concurrent_tasks: object,
    max_children_per_run: object,
    observers: object,
) -> None:
    """The arguments of ``Engine.open`` but its clock and store, checked
    before anything opens: a bad one would otherwise surface later, from
    inside the background loop (a zero batch, a poll interval of text) or
    never (no task ever runs with no slot for one).

    Args:
        flags: The bool options by name; ``check_tasks`` may also be ``None``.

    Raises:
        UsageError: naming the first bad argument and the form it takes.
    """
    check_url(url)
    check_items(tasks, "tasks", "@task functions")
    check_items(observers, "observers", "objects with a committed(commit) method")
    for name, value in flags.items():
        check_flag(value, name, or_none=name == "check_tasks")
    check_seconds(lease_seconds, "lease_seconds")
    check_seconds(poll_interval, "poll_interval")
    check_count(max_batch, "max_batch")
    check_count(max_concurrent_tasks, "max_concurrent_tasks")
    check_count(max_children_per_run, "max_children_per_run")
