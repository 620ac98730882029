"""A clock that moves only when a test says so, for engine tests that wait on
durable timers (sleeps, retry backoffs, event timeouts).

An engine opened with :func:`manual_engine` reads "now" from a
:class:`ManualClock`; :meth:`ManualClock.advance` moves it and wakes the timer
loop of every engine on it, so what came due fires at once, and nothing fires
before the test moves the clock, however slow the machine is.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import anyio

from wfc.runtime import Engine, RunInfo

#: 2026-01-01T00:00:00Z: a fixed start, so stored times do not depend on when the test runs.
START = 1_767_225_600.0


class ManualClock:
    """Epoch seconds that stand still until :meth:`advance` moves them."""

    def __init__(self, start: float = START) -> None:
        self.now = start
        self._wakes: list[Callable[[], None]] = []

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        """Move the clock forward and let the engines on it fire what came due."""
        if seconds < 0:
            raise ValueError(f"a clock only moves forward, got {seconds} s")
        self.now += seconds
        for wake in list(self._wakes):
            wake()

    @asynccontextmanager
    async def watching(self, engine: Engine) -> AsyncIterator[Engine]:
        """While in the block, :meth:`advance` wakes ``engine``'s timer loop."""
        self._wakes.append(engine.wake_timers)
        try:
            yield engine
        finally:
            self._wakes.remove(engine.wake_timers)


@asynccontextmanager
async def manual_engine(url: str, clock: ManualClock, **options: Any) -> AsyncIterator[Engine]:
    """``Engine.open(url, clock=clock, **options)``, woken by ``clock.advance``."""
    async with Engine.open(url, clock=clock, **options) as engine, clock.watching(engine):
        yield engine


#: The due moment in a thread's ``waiting_on`` (``timer until …``, ``retry of task … at …``, ``… until …``).
_DUE = re.compile(r"(?:until|at) (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00)")


#: A wait on a task attempt that is running (in a thread, or drained before a compensation).
_BUSY = re.compile(r"\(attempt \d+, running\)|running task")


def next_due(run: RunInfo) -> float | None:
    """When the run's earliest timer is due, if timers are all it waits for:
    no task attempt of it is running (its result could change what the run
    waits for). Covers threads and a compensation in progress."""
    waits = run.waiting_on
    if any(_BUSY.search(w) for w in waits):
        return None
    dues = [dt.datetime.fromisoformat(m.group(1)).timestamp() for w in waits if (m := _DUE.search(w))]
    # ``waiting_on`` shows milliseconds, cut off: a moment 1 ms later is never early.
    return min(dues) + 0.001 if dues else None


async def finish(engine: Engine, clock: ManualClock, run_id: str, timeout: float = 20) -> RunInfo:
    """Wait until the run finishes, moving ``clock`` to the next due timer
    whenever the run waits for nothing else (virtual time: retries, sleeps
    and timeouts take no real time, and fire in the order they are due)."""
    with anyio.fail_after(timeout):
        while True:
            run = await engine.get_run(run_id)
            if run.status.finished:
                return run
            due = next_due(run)
            if due is not None and due > clock.now:
                clock.advance(due - clock.now)
            await anyio.sleep(0.01)  # the next look at the run (a poll, not a wait for time to pass)
