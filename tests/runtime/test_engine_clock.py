"""The engine's injectable clock: durable timers fire when the engine's clock
reaches them, not when real time does, and ``wake_timers`` makes a timer that
a moved clock made due fire at once instead of at the next poll."""

from __future__ import annotations

import pytest
from rtclock import START, ManualClock, manual_engine
from rtdb import Db
from rtspec import exit_, out, sleep, spec, wait

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


async def test_next_timer_due_and_busy_say_when_only_time_can_move_a_run(db_url: str) -> None:
    clock = ManualClock()
    async with manual_engine(db_url, clock, poll_interval=30) as engine:
        assert await engine.next_timer_due() is None
        await engine.deploy(NAP)
        await engine.start("nap", run_id="nap-2")
        # Started and committed: nothing queued, no attempt, a timer a minute away.
        assert not engine.busy and engine.running_attempts == 0
        assert await engine.next_timer_due() == START + 60


def test_attempts_time_out_by_a_clock_that_can_measure_them() -> None:
    import anyio

    from wfc.runtime._tasks import TimeoutClock, deadline_of
    from wfc.testing import VirtualClock

    virtual = VirtualClock()
    assert isinstance(virtual, TimeoutClock) and deadline_of(virtual) == virtual.move_on_after
    assert deadline_of(ManualClock()) is anyio.move_on_after  # only "now": timeouts pass in real time


async def test_timers_fired_together_are_taken_in_one_turn_each_once_and_only_if_still_there(
    db_url: str, db: Db
) -> None:
    from wfc.runtime._commands import Barrier, RunInput
    from wfc.runtime.interpreter import TimerFired

    clock = ManualClock()
    async with manual_engine(db_url, clock, poll_interval=30) as engine:
        await engine.deploy(NAP)
        for name in ("a", "b", "c"):
            await engine.start("nap", run_id=f"nap-{name}")
        assert db.rows("SELECT run_id, timer FROM timers ORDER BY run_id") == [("nap-a", 1), ("nap-b", 1), ("nap-c", 1)]
        loop = engine._loop  # type: ignore[attr-defined]
        barrier = Barrier()
        # One turn (queued with no await between): a's timer twice, and a
        # timer b never had (fired by another engine, or cancelled).
        for command in (RunInput("nap-a", TimerFired(timer=1)), RunInput("nap-a", TimerFired(timer=1))):
            loop._submit(command)
        loop._submit(RunInput("nap-b", TimerFired(timer=7)))
        loop._submit(barrier)
        await barrier.reply.get()
        fired = {
            name: sum(h.kind == "TIMER_FIRED" for h in await engine.history(f"nap-{name}")) for name in ("a", "b", "c")
        }
        statuses = {name: (await engine.get_run(f"nap-{name}")).status for name in ("a", "b", "c")}
    assert fired == {"a": 1, "b": 0, "c": 0}
    assert statuses == {"a": RunStatus.COMPLETED, "b": RunStatus.RUNNING, "c": RunStatus.RUNNING}
    assert db.rows("SELECT run_id, timer FROM timers ORDER BY run_id") == [("nap-b", 1), ("nap-c", 1)]


SLEEP_THEN_EVENT = spec("nap-poke", [("zz", sleep(60)), ("poke", wait("poke")), ("end", exit_(out("poke")))])


@pytest.mark.parametrize("cache", [False, True])
async def test_a_waiting_run_kept_in_memory_still_sees_what_another_engine_wrote(
    db_url: str, db: Db, cache: bool
) -> None:
    """``cache_waiting_runs``: the serving engine keeps a sleeping run in
    memory (by default only a run with a task in flight); an event another
    engine gave the run meanwhile is not lost when its timer fires, the
    stale copy is read again, and the timer fires once."""
    clock = ManualClock()
    async with manual_engine(db_url, clock, poll_interval=30, cache_waiting_runs=cache) as engine:
        await engine.deploy(SLEEP_THEN_EVENT)
        run_id = await engine.start("nap-poke", run_id="poke-1")
        assert engine._loop.in_flight(run_id) is cache  # type: ignore[attr-defined]
        async with Engine.open(db_url, serve=False, clock=clock) as other:
            await other.send_event("poke", {"from": "other"}, run_id=run_id)
        clock.advance(60)
        run = await engine.wait(run_id, timeout=10)
        fired = [h.kind for h in await engine.history(run_id)].count("TIMER_FIRED")
    assert run.status is RunStatus.COMPLETED and run.output == {"from": "other"}
    assert fired == 1
    assert db.rows("SELECT COUNT(*) FROM timers") == [(0,)]
