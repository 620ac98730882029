"""Checking and converting arguments of the engine's public methods."""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Callable, Collection, Iterable
from typing import Final, Protocol, TypeVar

from wfc.runtime.errors import UnknownWorkflowError, UsageError
from wfc.runtime.interpreter.state import RunStatus, UserTaskStatus
from wfc.specs import Version, text_problem
from wfc.specs.limits import MAX_INT


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


def epoch(moment: Moment | None) -> float | None:
    """Epoch seconds of a moment (``None`` stays ``None``)."""
    if moment is None:
        return None
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
