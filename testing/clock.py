"""A virtual clock: time in a workflow test passes only when the test (or the
harness, when nothing else can happen) moves it.

The engine reads "now" from it for everything durable (sleeps, event and
threads timeouts, retry backoffs, user task deadlines) and, through
:meth:`VirtualClock.move_on_after`, measures task attempt timeouts by it too.
Stubbed tasks can take virtual time with :meth:`VirtualClock.sleep`.
"""

from __future__ import annotations

import datetime as dt
import heapq
import itertools
from collections.abc import Awaitable, Callable

import anyio

from wfc.specs import moment_problem
from wfc.testing import arguments

#: 2026-01-01T00:00:00Z: a fixed start, so stored times never depend on when the test runs.
START = 1_767_225_600.0


class VirtualClock:
    """Epoch seconds that stand still until moved.

    Give it to ``Engine.open(clock=...)``; the ``wf_env`` fixture does. Use
    ``await clock.advance(seconds)`` to let time pass: whatever comes due on
    the way (durable timers, task timeouts, virtual sleeps of stubs) fires
    in order, each at its own moment, and what it sets off runs to a stop
    before the clock moves on.
    """

    def __init__(self, start: float = START) -> None:
        start = arguments.moment(start, "VirtualClock(start=...)", "VirtualClock(start=1_767_225_600.0)")
        self.start = start
        self.now = start
        self._waits: list[tuple[float, int, Callable[[], None]]] = []
        self._order = itertools.count()
        self._stepper: Callable[[float], Awaitable[None]] | None = None
        self.parked = 0
        """Stub attempts waiting in virtual time now (they do not keep the clock from skipping)."""

    def __call__(self) -> float:
        return self.now

    @property
    def elapsed(self) -> dt.timedelta:
        """Virtual time passed since the clock was made."""
        return dt.timedelta(seconds=self.now - self.start)

    @property
    def datetime(self) -> dt.datetime:
        """Now, as an aware UTC datetime."""
        return dt.datetime.fromtimestamp(self.now, dt.UTC)

    def attach(self, stepper: Callable[[float], Awaitable[None]] | None) -> None:
        """Let :meth:`advance` move the clock through ``stepper`` (the test
        environment's, which waits for the engine to settle at each step)."""
        self._stepper = stepper

    async def advance(self, seconds: float | dt.timedelta) -> None:
        """Let ``seconds`` of virtual time pass, firing what comes due on
        the way in order; returns once the engine has nothing left to do at
        the new time."""
        example = "await clock.advance(3600) or clock.advance(timedelta(hours=1))"
        step = arguments.duration(seconds, "advance()", example, negative="a clock only moves forward")
        target = self.now + step
        problem = moment_problem(target)
        if problem is not None:
            raise ValueError(f"advance({seconds!r}) would move the clock past what a store can hold: {problem}")
        if self._stepper is None:
            self.move_to(target)
            await anyio.lowlevel.checkpoint()
        else:
            await self._stepper(target)

    def move_to(self, moment: float) -> None:
        """Set the clock to ``moment`` (never back) and release the virtual
        waits due by then. Low level: :meth:`advance` also lets the engine
        fire its timers at each moment on the way."""
        self.now = max(self.now, moment)
        while self._waits and self._waits[0][0] <= self.now:
            _, _, release = heapq.heappop(self._waits)
            release()

    def next_wait(self) -> float | None:
        """When the earliest virtual wait (a stub's sleep, a task timeout) ends."""
        return self._waits[0][0] if self._waits else None

    def _at(self, moment: float, release: Callable[[], None]) -> None:
        heapq.heappush(self._waits, (moment, next(self._order), release))

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` of virtual time (in a stub's side effect: the
        task "takes" that long, so a task timeout can cut it short)."""
        seconds = arguments.duration(seconds, "VirtualClock.sleep()", "await clock.sleep(30)")
        if seconds <= 0:
            await anyio.lowlevel.checkpoint()
            return
        done = anyio.Event()
        self._at(self.now + seconds, done.set)
        self.parked += 1
        try:
            await done.wait()
        finally:
            self.parked -= 1

    async def hang(self) -> None:
        """Wait for ever (a stub that never answers: only its timeout, or the
        run abandoning it, ends it)."""
        self.parked += 1
        try:
            await anyio.sleep_forever()
        finally:
            self.parked -= 1

    def move_on_after(self, seconds: float) -> anyio.CancelScope:
        """A cancel scope cancelled once ``seconds`` of virtual time passed:
        how the engine measures task attempt timeouts on this clock."""
        scope = anyio.CancelScope()
        self._at(self.now + seconds, scope.cancel)
        return scope
