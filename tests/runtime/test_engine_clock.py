"""The engine's injectable clock: durable timers fire when the engine's clock
reaches them, not when real time does, and ``wake_timers`` makes a timer that
a moved clock made due fire at once instead of at the next poll."""

from __future__ import annotations

import pytest
from rtclock import START, ManualClock, manual_engine
from rtdb import Db
from rtspec import exit_, sleep, spec

from wfc.runtime import Engine, RunStatus

pytestmark = pytest.mark.anyio

NAP = spec("nap", [("zz", sleep(60)), ("end", exit_("awake"))])


async def test_a_timer_fires_when_the_injected_clock_reaches_it_without_waiting_for_a_poll(db_url: str, db: Db) -> None:
    clock = ManualClock()
    # A poll interval far longer than the test's deadline: only wake_timers
    # can make the timer loop look again in time.
    async with manual_engine(db_url, clock, poll_interval=30) as engine:
        await engine.deploy(NAP)
        run_id = await engine.start("nap", run_id="nap-1")
        assert db.rows("SELECT due_at FROM timers") == [(START + 60,)]
        clock.advance(59.5)
        clock.advance(0.5)
        run = await engine.wait(run_id, timeout=5)
        fired = [h.timestamp.timestamp() for h in await engine.history(run_id) if h.kind == "TIMER_FIRED"]
    assert run.status is RunStatus.COMPLETED and run.output == "awake"
    assert fired == [START + 60]  # by the engine's clock, not the wall clock


async def test_wake_timers_on_a_client_engine_does_nothing(db_url: str) -> None:
    async with Engine.open(db_url, serve=False) as client:
        client.wake_timers()  # no timer loop to wake: harmless
        assert await client.list_runs() == []
