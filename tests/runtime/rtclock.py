"""A clock that moves only when a test says so, for engine tests that wait on
durable timers (sleeps, retry backoffs, event timeouts).

An engine opened with :func:`manual_engine` reads "now" from a
:class:`ManualClock`; :meth:`ManualClock.advance` moves it and wakes the timer
loop of every engine on it, so what came due fires at once, and nothing fires
before the test moves the clock, however slow the machine is.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from wfc.runtime import Engine

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
