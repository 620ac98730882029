"""Watching what an engine commits: the one hook behind metrics and logs.

After every successful commit the commit loop hands each observer (given to
``Engine.open(observers=[...])``) a :class:`Commit`: the journal entries the
transaction wrote, how long it took and how many commands it held. Every
fact an observer counts comes from there, so metrics, logs and anything else
see the same committed truth: a step that was rolled back is never
counted, and each step is counted by the one process that committed it.
Task attempts are read from the same entries (:func:`task_attempts`).

Observers run in the commit loop, between two commits: they must be quick
and must not block (queue slow work elsewhere). Nothing they do can break
the engine: an exception is logged once per observer and swallowed.
Without observers the loop does no work for them at all.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Final, Literal, Protocol

import msgspec

from wfc.runtime.errors import UsageError
from wfc.runtime.store import JournalRecord
from wfc.specs import WorkflowSpec

log = logging.getLogger("wfc.runtime")

Outcome = Literal["ok", "error", "exception", "timeout"]
"""How a task attempt ended: returned (``ok``), raised a
``TaskException`` (``exception``), ran out of time (``timeout``), or any
other technical failure (``error``)."""

#: Journal kinds that end a task attempt, and whether it was a compensation.
ATTEMPT_KINDS: Final = {
    "TASK_COMPLETED": False,
    "TASK_FAILED": False,
    "COMPENSATION_COMPLETED": True,
    "COMPENSATION_FAILED": True,
}


@dataclass(frozen=True, slots=True)
class RunLabels:
    """The spec a run is on: the only things about a run that metrics may
    use as labels (bounded by the deployed specs, unlike run ids)."""

    workflow: str
    version: str
    """``"major.revision"``, e.g. ``"1.0"``."""


class _OnSpec(Protocol):
    @property
    def spec(self) -> WorkflowSpec: ...


class Commit:
    """What one committed transaction wrote.

    Attributes:
        journal: The journal entries it wrote, of every run it advanced, in
            the order they were written (each run's in ``seq`` order).
            Masked values read ``"***"`` as they are stored.
        duration: Seconds from the start of the transaction to the end of
            its commit (applying the commands included).
        batch_size: How many commands the transaction applied.
    """

    __slots__ = ("_runs", "batch_size", "duration", "journal")

    def __init__(
        self, journal: Sequence[JournalRecord], duration: float, batch_size: int, runs: Mapping[str, _OnSpec]
    ) -> None:
        self.journal = journal
        self.duration = duration
        self.batch_size = batch_size
        self._runs = runs

    def labels(self, run_id: str) -> RunLabels:
        """The workflow and version of a run this commit wrote entries of.

        Raises:
            KeyError: the commit wrote nothing of ``run_id``.
        """
        spec = self._runs[run_id].spec
        return RunLabels(spec.name, str(spec.version))


class Observer(Protocol):
    """Something told about every commit of an engine (see the module
    docstring): ``Engine.open(url, observers=[...])``."""

    def committed(self, commit: Commit) -> None:
        """Called after each successful commit, in the commit loop."""


@dataclass(frozen=True, slots=True)
class TaskAttempt:
    """One task attempt whose result a commit recorded."""

    run_id: str
    task: str
    outcome: Outcome
    duration: float | None
    """Seconds it ran; ``None`` when its result was not measured."""
    compensation: bool
    """True for an attempt of a compensation (the undo of a step)."""


class _AttemptDetail(msgspec.Struct):
    """The fields of an attempt's journal detail that say how it went
    (the rest, outputs included, is skipped while decoding)."""

    task: str = ""
    error: str | None = None
    kind: str | None = None
    duration: float | None = None


_DETAIL: Final = msgspec.json.Decoder(_AttemptDetail)


def task_attempts(commit: Commit) -> Iterator[TaskAttempt]:
    """The task attempts whose results ``commit`` recorded, forward tasks
    and compensations, in journal order."""
    for entry in commit.journal:
        if entry.kind in ATTEMPT_KINDS:
            yield attempt_of(entry)


def attempt_of(entry: JournalRecord) -> TaskAttempt:
    """The task attempt whose result ``entry`` records (its kind is one of
    :data:`ATTEMPT_KINDS`)."""
    detail = _DETAIL.decode(entry.detail)
    kind = entry.kind
    return TaskAttempt(entry.run_id, detail.task, _outcome(kind, detail), detail.duration, ATTEMPT_KINDS[kind])


def _outcome(kind: str, detail: _AttemptDetail) -> Outcome:
    if kind.endswith("_COMPLETED"):
        return "ok"
    if detail.kind == "exception":  # a TaskException, whatever its name
        return "exception"
    return "timeout" if detail.error == "TIMEOUT" else "error"


class Signal:
    """An observer that only calls ``wake()`` after each commit: for a reader
    of the journal feed (tracing) that must not wait for its next poll."""

    def __init__(self, wake: Callable[[], None]) -> None:
        self._wake = wake

    def committed(self, commit: Commit) -> None:
        self._wake()


class Observers:
    """The observers of one engine, each shielded from the others and the
    engine from all of them."""

    def __init__(self, observers: Iterable[Observer]) -> None:
        self._observers = list(observers)
        for observer in self._observers:
            if not callable(getattr(observer, "committed", None)):
                raise UsageError(
                    f"observers: {observer!r} has no committed(commit) method; an observer is an object with "
                    f"`def committed(self, commit: wfc.runtime.Commit) -> None`"
                )
        self._failed: set[int] = set()

    def __bool__(self) -> bool:
        return bool(self._observers)

    def add(self, observer: Observer) -> None:
        """Tell ``observer`` too, from the next commit on."""
        self._observers.append(observer)

    def committed(self, commit: Commit) -> None:
        """Tell every observer; an observer that raises is logged the first
        time and ignored, and the others are still told."""
        for observer in self._observers:
            try:
                observer.committed(commit)
            except Exception:
                if id(observer) not in self._failed:
                    self._failed.add(id(observer))
                    log.exception(
                        "observer %r failed on a commit; the engine goes on, and further failures of this "
                        "observer are not logged",
                        observer,
                    )
