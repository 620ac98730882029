"""Copy-on-write of a run's threads for one step.

:func:`~.transitions.step` never changes the state it is given. Copying the
whole state per step made a run with many threads slow (1,000 waiting child
threads cost every step a copy of all of them), so a step copies the state's
other fields up front and each thread run only when it is first fetched
(``threads[n]``, ``threads.get(n)``). Scans that only read go through
:meth:`~.context.Step.scan`, which hands out the current objects uncopied;
code that changes a thread must fetch it. The new state shares the thread
runs the step never fetched with the state it was given.

So that a step with many threads costs what the threads it touches cost,
the new state's threads (:class:`Settled`) also carry what is derived from
the given state's and the copied threads: which threads are interrupted,
suspended or queued (:class:`Flags`, read by ``settle``), which threads
the step copied (:func:`changed_since`: the rows a commit rewrites), and
which threads may hold each durable timer (:class:`TimerIndex`, read when
a timer fires).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Final, NamedTuple, get_args

import msgspec

from wfc.runtime.interpreter.state import (
    RetryWait,
    RunState,
    ThreadRun,
    ThreadStatus,
    UserTaskWait,
    Wait,
    clone_state,
)

QUEUED: Final = ThreadStatus.QUEUED

_ENCODER: Final = msgspec.json.Encoder()
_THREAD_DECODER: Final = msgspec.json.Decoder(ThreadRun)


def copy_thread(thread: ThreadRun) -> ThreadRun:
    """A deep copy of one thread run, through JSON like :func:`~wfc.runtime.interpreter.state.clone_state`."""
    return _THREAD_DECODER.decode(_ENCODER.encode(thread))


class Flags(NamedTuple):
    """Numbers of the threads :func:`~.transitions.settle` looks for: whether
    the slower passes (freezes, interrupts, admitting queued children) can
    have work. Derived from the threads, never stored."""

    interrupted: frozenset[int]
    """An interrupt being handled or queued."""
    suspended: frozenset[int]
    queued: frozenset[int]
    """Status QUEUED."""


def interrupted(thread: ThreadRun) -> bool:
    """An interrupt of the thread is being handled or waits to start."""
    return thread.interrupt is not None or bool(thread.interrupts)


def scan_flags(threads: Mapping[int, ThreadRun]) -> Flags:
    """The :class:`Flags` of ``threads``, looking at every one."""
    return _flags(threads.values())


def _flags(threads: Iterable[ThreadRun]) -> Flags:
    hit: tuple[set[int], set[int], set[int]] = (set(), set(), set())
    for thread in threads:
        if thread.interrupt is not None or thread.interrupts:
            hit[0].add(thread.number)
        if thread.suspended:
            hit[1].add(thread.number)
        if thread.status is QUEUED:
            hit[2].add(thread.number)
    if not (hit[0] or hit[1] or hit[2]):
        # The usual case, shared: every run in memory keeps its flags, and
        # three empty frozensets of its own took 648 bytes of each.
        return _NO_FLAGS
    return Flags(frozenset(hit[0]), frozenset(hit[1]), frozenset(hit[2]))


_NO_FLAGS: Final = Flags(frozenset(), frozenset(), frozenset())

#: The kinds of wait with a ``timer`` of their own.
TIMED: Final = frozenset(kind for kind in get_args(Wait) if "timer" in kind.__struct_fields__)


def held_timers(wait: Wait | None) -> tuple[int, ...]:
    """The durable timers ``wait`` holds: its own ``timer``, or an open user
    task's timers and its reminders' retry backoffs (see
    :func:`~.usertasks.holds_timer`)."""
    kind = type(wait)
    if kind in TIMED:
        timer: int | None = wait.timer  # type: ignore[union-attr]
        return () if timer is None else (timer,)
    if kind is UserTaskWait:
        assert isinstance(wait, UserTaskWait)
        return (
            *(t.timer for t in wait.timers if t.timer is not None),
            *(a.timer for a in wait.reminder_attempts if isinstance(a, RetryWait) and a.timer is not None),
        )
    return ()


class TimerIndex(NamedTuple):
    """Which threads may hold each durable timer: so that a fired timer's
    thread is found without looking at every thread (a run of 100 sleeping
    threads fires 100 timers a day, each looked for). Derived from the
    threads, never stored.

    Every thread that holds timer ``t`` (:func:`held_timers`) is in
    ``base[t]`` or ``recent[t]``, or was copied by the step looking; the
    entries may name threads that no longer hold it (look at the thread)."""

    base: Mapping[int, tuple[int, ...]]
    """Timer -> the threads that held it when the index was built, by
    looking at every thread; never changed after."""
    recent: dict[int, tuple[int, ...]]
    """Timer -> the threads copied since that held it when their step
    ended (derived at :func:`settled`, a new dict when it changes, never
    changed after), kept short."""


def build_timer_index(threads: Iterable[ThreadRun]) -> TimerIndex:
    """The :class:`TimerIndex` of ``threads``, looking at every one."""
    base: dict[int, tuple[int, ...]] = {}
    for thread in threads:
        wait = thread.wait
        if wait is not None:
            for timer in held_timers(wait):
                base[timer] = (*base.get(timer, ()), thread.number)
    return TimerIndex(base, {})


def _derived_index(index: TimerIndex, threads: dict[int, ThreadRun], copied: Iterable[int]) -> TimerIndex | None:
    """``index`` with the timers the ``copied`` threads hold now; ``None``
    (build again when asked) once more timers were added than a quarter of
    those built, so deriving it stays cheap."""
    recent = index.recent
    for number in copied:
        for timer in held_timers(dict.__getitem__(threads, number).wait):
            holders = recent.get(timer, ())
            if number not in holders:
                if recent is index.recent:
                    recent = dict(recent)  # never changed once a state's: copied on the first change
                recent[timer] = (*holders, number)
    if recent is index.recent:
        return index
    if len(recent) > 64 + len(index.base) // 4:
        return None
    return TimerIndex(index.base, recent)


def _flagged(threads: Iterable[ThreadRun]) -> bool:
    """Whether any of ``threads`` is interrupted, suspended or queued."""
    return any(
        thread.interrupt is not None or thread.interrupts or thread.suspended or thread.status is QUEUED
        for thread in threads
    )


def _flagged_each(threads: Iterable[ThreadRun]) -> tuple[bool, bool, bool]:
    """Whether any of ``threads`` is interrupted, suspended, queued."""
    interrupted = suspended = queued = False
    for thread in threads:
        if thread.interrupt is not None or thread.interrupts:
            interrupted = True
        if thread.suspended:
            suspended = True
        if thread.status is QUEUED:
            queued = True
    return interrupted, suspended, queued


class Settled(dict[int, ThreadRun]):
    """The threads of a state a step returned, with their :class:`Flags`
    worked out from the flags of the state it was given and the threads it
    copied, so the next step need not look at every thread. The interpreter
    never changes a state it returned (each step forks its own); neither
    may anyone else, or these flags would be stale. A state read from JSON
    has a plain dict: its flags are found by looking at every thread."""

    __slots__ = ("copied", "encoded", "flags", "origin", "timers")

    def __init__(
        self,
        threads: Mapping[int, ThreadRun],
        flags: Flags,
        origin: dict[int, ThreadRun] | None = None,
        copied: frozenset[int] = frozenset(),
        timers: TimerIndex | None = None,
    ) -> None:
        super().__init__(threads)
        self.flags = flags
        self.timers = timers
        """Which threads may hold each timer (``None``: not known)."""
        self.origin = origin
        """The threads of the state the step was given (``None``: not known,
        or no longer kept): every thread run here but those in
        :attr:`copied` is one of them, unchanged."""
        self.copied = copied
        """Numbers of the threads the step copied or added (see :func:`changed_since`)."""
        self.encoded: dict[int, bytes] = {}
        """The JSON of some of these thread runs, by number, as a commit
        wrote them (see :func:`remember_encoded`): what :func:`copy_thread`
        would encode, so the next step copies them decoding only."""


class CopiedOnFetch(dict[int, ThreadRun]):
    """Thread runs of a state being stepped: each is copied from the given
    state the first time it is fetched, then that copy is kept. Iterating
    ``values()`` or ``items()`` gives the objects held now without copying:
    only for reading."""

    __slots__ = ("_base", "_copied", "_encoded", "_originals", "_timers")

    def __init__(self, originals: dict[int, ThreadRun]) -> None:
        super().__init__(originals)
        self._copied: set[int] = set()
        self._originals = originals
        self._base: Flags | None = originals.flags if type(originals) is Settled else None
        self._encoded: dict[int, bytes] = originals.encoded if type(originals) is Settled else {}
        self._timers: TimerIndex | None = originals.timers if type(originals) is Settled else None

    def timer_holders(self, timer: int) -> Sequence[int]:
        """Numbers of the threads that may hold ``timer`` now, in order:
        every one that does, and maybe others (see :class:`TimerIndex`,
        built by looking at every thread the first time it is asked)."""
        index = self._timers
        if index is None:
            index = self._timers = build_timer_index(dict.values(self))
        base = index.base.get(timer, ())
        recent = index.recent.get(timer)
        if recent is None and not self._copied:
            return base
        return sorted({*base, *(recent or ()), *self._copied})

    def base_flags(self) -> Flags:
        """The flags of the threads as given (found once if not known)."""
        if self._base is None:
            self._base = scan_flags(self._originals)
        return self._base

    def flags(self) -> Flags:
        """The flags of the threads now: the given threads' flags, but for
        the threads copied (or added) since, looked at as they are now."""
        base, copied = self.base_flags(), self._copied
        if not copied:
            return base
        if base == _NO_FLAGS and not _flagged(dict.__getitem__(self, number) for number in copied):
            return base  # the usual case: no thread flagged before or now
        now = _flags(dict.__getitem__(self, number) for number in copied)
        return Flags(
            (base.interrupted - copied) | now.interrupted,
            (base.suspended - copied) | now.suspended,
            (base.queued - copied) | now.queued,
        )

    def any_flags(self) -> tuple[bool, bool, bool]:
        """Whether any thread is interrupted, suspended, queued (see :meth:`flags`)."""
        base, copied = self.base_flags(), self._copied
        if base == _NO_FLAGS:  # the usual case: only the copied threads can be flagged
            return _flagged_each(dict.__getitem__(self, number) for number in copied)
        found = [
            any(number not in copied for number in base.interrupted),
            any(number not in copied for number in base.suspended),
            any(number not in copied for number in base.queued),
        ]
        for number in copied:
            thread = dict.__getitem__(self, number)
            if thread.interrupt is not None or thread.interrupts:
                found[0] = True
            if thread.suspended:
                found[1] = True
            if thread.status is QUEUED:
                found[2] = True
        return found[0], found[1], found[2]

    def __getitem__(self, number: int) -> ThreadRun:
        thread = dict.__getitem__(self, number)
        if number not in self._copied:
            data = self._encoded.get(number)
            thread = copy_thread(thread) if data is None else _THREAD_DECODER.decode(data)
            dict.__setitem__(self, number, thread)
            self._copied.add(number)
        return thread

    def __setitem__(self, number: int, thread: ThreadRun) -> None:
        dict.__setitem__(self, number, thread)
        self._copied.add(number)

    def get(self, number: int, default: ThreadRun | None = None) -> ThreadRun | None:  # type: ignore[override]
        """The thread run ``number`` (copied on first fetch), else ``default``."""
        return self[number] if number in self else default  # noqa: SIM401 (self.get is this method)


def fork(state: RunState) -> RunState:
    """A copy of ``state`` to step: every field copied but the thread runs,
    which are copied when fetched (see :class:`CopiedOnFetch`)."""
    forked = clone_state(msgspec.structs.replace(state, threads={}))
    forked.threads = CopiedOnFetch(state.threads)
    return forked


def settled(state: RunState) -> None:
    """Make a stepped state's threads a :class:`Settled` dict (copies and the
    untouched thread runs it shares with the state it came from), with their
    flags."""
    threads = state.threads
    if type(threads) is CopiedOnFetch:
        originals = threads._originals
        if type(originals) is Settled:
            originals.origin = None  # no chain of every state before
        index = threads._timers
        copied = frozenset(threads._copied)
        timers = None if index is None else _derived_index(index, threads, copied)
        state.threads = Settled(threads, threads.flags(), originals, copied, timers)
    elif type(threads) is not Settled:
        state.threads = Settled(threads, scan_flags(threads))


def remember_encoded(threads: Mapping[int, ThreadRun], encoded: Mapping[int, bytes]) -> None:
    """Keep ``encoded`` (the JSON of thread runs of ``threads`` by number,
    just encoded from them) with ``threads`` when it is a :class:`Settled`
    dict, so the step that forks them copies those threads by decoding
    only. Its thread runs never change (see :class:`Settled`), so the
    bytes stay theirs.

    The threads of the state before (:attr:`Settled.origin`) are dropped
    too: the rows to write are known now, and holding them kept a second,
    older copy of every changed thread of every live run in memory until
    that run's next step (with 10,000 runs live, 4-5 % of a step's CPU).
    :func:`changed_since` asked again says "not known", and the caller
    compares the thread runs themselves, as for any state."""
    if type(threads) is Settled:
        threads.encoded.update(encoded)
        threads.origin = None


def timer_holders(threads: Mapping[int, ThreadRun], timer: int) -> Iterable[int]:
    """Numbers of the threads of a state being stepped that may hold durable
    timer ``timer``, in order: every one that does (and maybe others, to
    look at); all of them when the threads are not a step's copies."""
    if type(threads) is CopiedOnFetch:
        return threads.timer_holders(timer)
    return list(threads)


def changed_since(before: Mapping[int, ThreadRun], after: Mapping[int, ThreadRun]) -> list[int] | None:
    """Numbers of the threads of ``after`` that may differ from those of
    ``before``, in order, when ``after`` came from a step given ``before``
    (only the threads the step copied or added); ``None`` when that is not
    known: then compare the thread runs themselves."""
    if type(after) is Settled and after.origin is not None and after.origin is before:
        return sorted(after.copied)
    return None


def any_flags(threads: Mapping[int, ThreadRun]) -> tuple[bool, bool, bool]:
    """Whether any of ``threads`` is interrupted, suspended, queued (see
    :class:`Flags`): from the flags the step started with and the threads
    it copied where it can, else looking at every thread."""
    if type(threads) is CopiedOnFetch:
        return threads.any_flags()
    flags = threads.flags if type(threads) is Settled else scan_flags(threads)
    return bool(flags.interrupted), bool(flags.suspended), bool(flags.queued)
