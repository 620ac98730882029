"""Copy-on-write of a run's threads for one step.

:func:`~.transitions.step` never changes the state it is given. Copying the
whole state per step made a run with many threads slow (1,000 waiting child
threads cost every step a copy of all of them), so a step copies the state's
other fields up front and each thread run only when it is first fetched
(``threads[n]``, ``threads.get(n)``). Scans that only read go through
:meth:`~.context.Step.scan`, which hands out the current objects uncopied;
code that changes a thread must fetch it. The new state shares the thread
runs the step never fetched with the state it was given.
"""

from __future__ import annotations

from typing import Final

import msgspec

from wfc.runtime.interpreter.state import RunState, ThreadRun, clone_state

_ENCODER: Final = msgspec.json.Encoder()
_THREAD_DECODER: Final = msgspec.json.Decoder(ThreadRun)


def copy_thread(thread: ThreadRun) -> ThreadRun:
    """A deep copy of one thread run, through JSON like :func:`~wfc.runtime.interpreter.state.clone_state`."""
    return _THREAD_DECODER.decode(_ENCODER.encode(thread))


class CopiedOnFetch(dict[int, ThreadRun]):
    """Thread runs of a state being stepped: each is copied from the given
    state the first time it is fetched, then that copy is kept. Iterating
    ``values()`` or ``items()`` gives the objects held now without copying:
    only for reading."""

    __slots__ = ("_copied",)

    def __init__(self, originals: dict[int, ThreadRun]) -> None:
        super().__init__(originals)
        self._copied: set[int] = set()

    def __getitem__(self, number: int) -> ThreadRun:
        thread = dict.__getitem__(self, number)
        if number not in self._copied:
            thread = copy_thread(thread)
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
    """Make a stepped state's threads a plain dict again (copies and the
    untouched thread runs it shares with the state it came from)."""
    if type(state.threads) is not dict:
        state.threads = dict(state.threads)
