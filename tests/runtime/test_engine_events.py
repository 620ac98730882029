"""External events through the engine: before/after waits, FIFO, correlation,
exactly-once consumption, dedupe by event_id, timeouts."""

from __future__ import annotations

from typing import Any

import anyio
import pytest
from rtclock import ManualClock, manual_engine
from rtdb import Db
from rtengine import until
from rtspec import exit_, lst, out, spec, task, var, variable, wait

from wfc.runtime import Engine, RunStateError, RunStatus, UnknownRunError, UsageError
from wfc.runtime import task as wfc_task

pytestmark = pytest.mark.anyio

gate = {"event": anyio.Event()}


@wfc_task("gate")
async def gate_task() -> None:
    await gate["event"].wait()


def open_engine(url: str, **options: Any) -> Any:
    return Engine.open(url, tasks=[gate_task], poll_interval=0.05, **options)


async def test_events_sent_before_the_waits_are_consumed_later_in_order(db_url: str, db: Db) -> None:
    gate["event"] = anyio.Event()
    s = spec(
        "two-items",
        [("g", task("gate")), ("w1", wait("item")), ("w2", wait("item")), ("end", exit_(lst(out("w1"), out("w2"))))],
    )
    async with open_engine(db_url) as engine:
        await engine.deploy(s)
        run_id = await engine.start("two-items")
        first = await engine.send_event("item", {"n": 1}, run_id=run_id)
        await engine.send_event("item", {"n": 2}, run_id=run_id)
        assert first.run_id == run_id and not first.duplicate
        assert (await engine.get_run(run_id)).pending_events == ("item", "item")
        gate["event"].set()
        run = await engine.wait(run_id, timeout=10)
    assert run.output == [{"n": 1}, {"n": 2}]
    assert db.rows("SELECT count(*) FROM events WHERE run_id = 'x' OR run_id IS NOT NULL") == [(2,)]


async def test_an_event_id_makes_delivery_idempotent(db_url: str, db: Db) -> None:
    s = spec("one", [("w", wait("paid")), ("w2", wait("paid", timeout=30)), ("end", exit_(out("w")))])
    clock = ManualClock()
    async with manual_engine(db_url, clock, tasks=[gate_task], poll_interval=0.05) as engine:
        await engine.deploy(s)
        run_id = await engine.start("one")
        sent = await engine.send_event("paid", 1, run_id=run_id, event_id="pay-1")
        again = await engine.send_event("paid", 1, run_id=run_id, event_id="pay-1")
        assert (sent.duplicate, again.duplicate) == (False, True)
        assert again.event_id == "pay-1" and again.run_id == run_id
        info = await until(engine, run_id, lambda r: "@w2" in str(r.waiting_on))
        assert info.status is RunStatus.RUNNING and info.pending_events == ()
        clock.advance(30)
        run = await engine.wait(run_id, timeout=10)
        # The duplicate did not satisfy the second wait: it timed out.
        assert run.status is RunStatus.FAILED
        assert run.failure is not None and (run.failure.name, run.failure.node) == ("TIMEOUT", "w2")
        kinds = [h.kind for h in await engine.history(run_id)]
    assert kinds.count("EVENT_RECEIVED") == 1
    assert db.rows("SELECT count(*) FROM events") == [(1,)]


async def test_events_for_unknown_or_finished_runs_are_refused(db_url: str) -> None:
    s = spec("done", [("end", exit_())])
    async with open_engine(db_url) as engine:
        await engine.deploy(s)
        run_id = await engine.start("done")
        await engine.wait(run_id, timeout=10)
        with pytest.raises(UnknownRunError, match="no run with id 'ghost'"):
            await engine.send_event("paid", run_id="ghost")
        with pytest.raises(RunStateError, match=r"cannot send event 'paid': run .* is COMPLETED"):
            await engine.send_event("paid", run_id=run_id)
        with pytest.raises(UsageError, match="needs run_id= or correlation="):
            await engine.send_event("paid")
        with pytest.raises(UsageError, match="is not JSON"):
            await engine.send_event("paid", object(), run_id=run_id)


async def test_events_by_correlation_reach_the_waiting_run(db_url: str, db: Db) -> None:
    s = spec(
        "payment",
        [("pay", wait("paid", correlation=var("order"))), ("end", exit_(out("pay")))],
        variables={"order": variable("str", required=True)},
    )
    async with open_engine(db_url) as engine:
        await engine.deploy(s)
        a = await engine.start("payment", {"order": "o-a"})
        b = await engine.start("payment", {"order": "o-b"})
        assert sorted(db.rows("SELECT correlation FROM event_waits")) == [("o-a",), ("o-b",)]
        sent = await engine.send_event("paid", {"amount": 5}, correlation="o-b")
        assert sent.run_id == b
        assert (await engine.wait(b, timeout=10)).output == {"amount": 5}
        assert (await engine.get_run(a)).status is RunStatus.RUNNING
        assert db.rows("SELECT correlation FROM event_waits") == [("o-a",)]


async def test_a_correlated_event_without_a_waiter_is_stored_for_the_next_wait(db_url: str, db: Db) -> None:
    s = spec(
        "payment",
        [("pay", wait("paid", correlation=var("order"))), ("end", exit_(out("pay")))],
        variables={"order": variable("str", required=True)},
    )
    async with open_engine(db_url) as engine:
        await engine.deploy(s)
        early1 = await engine.send_event("paid", "first", correlation="o-1")
        early2 = await engine.send_event("paid", "second", correlation="o-1")
        assert early1.run_id is None and early2.run_id is None
        assert db.rows("SELECT count(*) FROM events WHERE run_id IS NULL") == [(2,)]
        one = await engine.start("payment", {"order": "o-1"})
        two = await engine.start("payment", {"order": "o-1"})
        # FIFO and each event consumed exactly once.
        assert (await engine.wait(one, timeout=10)).output == "first"
        assert (await engine.wait(two, timeout=10)).output == "second"
        three = await engine.start("payment", {"order": "o-1"})
        assert (await engine.get_run(three)).status is RunStatus.RUNNING
    assert db.rows("SELECT count(*) FROM events WHERE run_id IS NULL") == [(0,)]


async def test_a_wait_timeout_fails_the_node_with_timeout(db_url: str, db: Db) -> None:
    s = spec("slow", [("pay", wait("paid", timeout=0.1, correlation="k")), ("end", exit_())])
    async with open_engine(db_url) as engine:
        await engine.deploy(s)
        run = await engine.wait(await engine.start("slow"), timeout=10)
    assert run.status is RunStatus.FAILED
    assert run.failure is not None and (run.failure.name, run.failure.node) == ("TIMEOUT", "pay")
    assert db.rows("SELECT count(*) FROM timers") == [(0,)]
    assert db.rows("SELECT count(*) FROM event_waits") == [(0,)]
