"""Settings of the Python process that engines change while they run.

The first engine to open changes them, the last to close puts back what was
set before, unless the application changed it meanwhile
(:data:`process_tuning`)."""

from __future__ import annotations

import gc
import sys
import threading
from collections.abc import Callable
from typing import Any, Final


class ProcessTuning:
    """Fewer passes of the cyclic garbage collector, and a shorter switch
    interval, while engines run.

    The collector: every commit makes many short-lived container objects
    (transitions, task attempts, events), and with the default threshold
    (700 allocations) the collector runs hundreds of times per thousand
    steps, each pass walking the young objects, and its older generations
    walk every run state held in memory (more of them with more live runs).
    A pass walks only the young objects still alive, whatever the threshold,
    so fewer passes cost less in all: collecting every 10,000 allocations
    cut the collector's time about threefold in the benchmark, and every
    100,000 cut it again from 1.1-1.35 s to 0.35-0.39 s of a 12-17 s run of
    10,000 runs (the second generation's passes, 70 ms each there, almost
    vanish). Cyclic garbage, rare here, waits longer.

    The switch interval: how long the thread holding Python's lock keeps it
    once another thread asks for it (5 ms by default). A SQLite store's
    connection thread asks for it after each statement it handed to SQLite
    (see :mod:`wfc.runtime.store.sqlite_flush`), while the event loop's
    thread computes the next turn: at 5 ms a commit of a few dozen
    statements waited up to a tenth of a second for the lock, and runs
    waited for their commits. At 0.5 ms, 10,000 runs at once stepped about
    a third faster on two cores. Threads that do not compete for the lock
    do not notice the interval."""

    GEN0: Final = 100_000
    SWITCH_INTERVAL: Final = 0.0005

    def __init__(self) -> None:
        self._lock = threading.Lock()  # engines may open on event loops of several threads
        self._engines = 0
        self._saved: list[tuple[Callable[[], Any], Callable[..., Any], Any, Any]] = []
        """``(get, set, before, ours)`` of each setting changed."""

    def enter(self) -> None:
        with self._lock:
            if self._engines == 0:
                first, second, third = gc.get_threshold()
                if first and first < self.GEN0:  # 0: the collector was turned off; leave it so
                    self._change(gc.get_threshold, _set_threshold, (self.GEN0, max(second, 20), max(third, 20)))
                if sys.getswitchinterval() > self.SWITCH_INTERVAL:  # a shorter one set by the application stays
                    self._change(sys.getswitchinterval, sys.setswitchinterval, self.SWITCH_INTERVAL)
            self._engines += 1

    def exit(self) -> None:
        with self._lock:
            self._engines -= 1
            if self._engines == 0:
                for get, put, before, ours in self._saved:
                    if get() == ours:  # one the application set meanwhile stays
                        put(before)
                self._saved = []

    def _change(self, get: Callable[[], Any], put: Callable[[Any], None], value: Any) -> None:
        before = get()
        put(value)
        self._saved.append((get, put, before, get()))  # as Python keeps it (the interval in whole µs)


def _set_threshold(thresholds: tuple[int, int, int]) -> None:
    gc.set_threshold(*thresholds)


process_tuning = ProcessTuning()
