"""The mechanisms of the engine's hot path: runs cached between turns on
SQLite (checked at commit, and before a refusal), the one status look per
poll interval that wakes waiters, the SQLite connection thread, and the
collector's threshold while engines run."""

from __future__ import annotations

import asyncio
import gc
import sqlite3
import sys
import threading
import time
import traceback
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import pytest
from rtspec import exit_, out, spec, task, var, variable, wait

from wfc.runtime import Engine, RunStatus
from wfc.runtime import task as wfc_task
from wfc.runtime._loop import Follow
from wfc.runtime._tuning import ProcessTuning
from wfc.runtime.store.sqlite import _outcome, _Worker

pytestmark = pytest.mark.anyio

gate = {"event": None}


@wfc_task("gated")
async def gated(x: int) -> int:
    # Held until the test lets it go, so the run stays cached in flight.
    event = gate["event"]
    assert isinstance(event, anyio.Event)
    await event.wait()
    return x + 1


@wfc_task("plus")
async def plus(x: int) -> int:
    return x + 10


def two_steps() -> Any:
    return spec(
        "two-steps",
        [("g", task("gated", var("x"))), ("p", task("plus", out("g"))), ("end", exit_(out("p")))],
        variables={"x": variable("int", required=True)},
    )


async def _journal(engine: Engine, run_id: str) -> list[tuple[str | None, str]]:
    return [(entry.node, entry.kind) for entry in await engine.history(run_id)]


async def _in_flight(engine: Engine, run_id: str) -> None:
    with anyio.fail_after(10):
        while not engine._loop.in_flight(run_id):  # type: ignore[attr-defined]
            await anyio.sleep(0.01)


@asynccontextmanager
async def _run_in_flight(tmp_path: Path) -> AsyncIterator[tuple[str, Engine, str]]:
    """A serving engine on a new SQLite file and a run of `two-steps` whose
    `gated` attempt it holds in flight (until ``gate["event"]`` is set)."""
    url = f"sqlite:///{tmp_path / 'wfc.db'}"
    gate["event"] = anyio.Event()
    async with Engine.open(url, tasks=[gated, plus], poll_interval=0.05) as engine:
        await engine.deploy(two_steps())
        run_id = await engine.start("two-steps", {"x": 1})
        await _in_flight(engine, run_id)
        yield url, engine, run_id


async def test_a_result_for_a_run_changed_by_another_process_is_applied_to_its_stored_state(tmp_path: Path) -> None:
    # The serving engine holds the run in memory with `gated` in flight;
    # another process halts it. The result then meets a stale cache: the
    # version check of its write fails and the turn runs again on the
    # stored (HALTED) state, so the halt is not overwritten and nothing
    # more is dispatched until the run is resumed.
    async with _run_in_flight(tmp_path) as (url, engine, run_id):
        async with Engine.open(url, serve=False) as other:
            halted = await other.halt(run_id, "by hand")
        assert halted.status is RunStatus.HALTED
        gate["event"].set()
        with anyio.fail_after(10):
            while ("g", "TASK_COMPLETED") not in await _journal(engine, run_id):
                await anyio.sleep(0.02)
        assert (await engine.get_run(run_id)).status is RunStatus.HALTED
        journal = await _journal(engine, run_id)
        assert ("g", "TASK_COMPLETED") in journal
        assert ("p", "TASK_DISPATCHED") not in journal
        await engine.resume(run_id)
        done = await engine.wait(run_id, timeout=10)
    assert done.status is RunStatus.COMPLETED and done.output == 12


async def test_a_command_refused_on_a_stale_cached_run_is_tried_on_its_stored_state(tmp_path: Path) -> None:
    # Cached: RUNNING, where `resume` is refused. Stored: HALTED by another
    # process, where it is allowed: the refusal is checked against the
    # stored version first, and the resume goes through.
    async with _run_in_flight(tmp_path) as (url, engine, run_id):
        async with Engine.open(url, serve=False) as other:
            await other.halt(run_id, "by hand")
        resumed = await engine.resume(run_id)
        assert resumed.status is RunStatus.RUNNING
        gate["event"].set()
        done = await engine.wait(run_id, timeout=10)
    assert done.status is RunStatus.COMPLETED and done.output == 12


async def test_a_waiter_sees_a_run_finished_by_another_process_within_the_poll_interval(tmp_path: Path) -> None:
    # SQLite sends no notices between processes: the client's commit loop
    # looks at the status of every awaited run once per poll interval.
    url = f"sqlite:///{tmp_path / 'wfc.db'}"
    waiting = spec("waiting", [("go", wait("go")), ("end", exit_(var("x")))], variables={"x": variable("int")})
    async with Engine.open(url, poll_interval=0.05) as server:
        await server.deploy(waiting)
        run_id = await server.start("waiting", {"x": 7})
        async with Engine.open(url, serve=False, poll_interval=0.05) as client, anyio.create_task_group() as tg:
            result: list[Any] = []

            async def waiter() -> None:
                result.append(await client.wait(run_id, timeout=10))

            tg.start_soon(waiter)
            await anyio.sleep(0.1)  # the waiter read the run (RUNNING) and sleeps
            await server.send_event("go", run_id=run_id)
    assert result[0].status is RunStatus.COMPLETED and result[0].output == 7


async def test_the_look_at_awaited_runs_reads_them_only_once_another_process_wrote(tmp_path: Path) -> None:
    # Where only this process writes, the look once per poll interval has
    # nothing to find (this engine's commits wake their waiters) and is not
    # made; a commit by another connection makes the next one look.
    from wfc.runtime.store import open_store

    url = f"sqlite:///{tmp_path / 'wfc.db'}"
    store = await open_store(url, time.time())
    looks: list[list[str]] = []
    real_statuses = store.run_statuses

    async def counting_statuses(run_ids: Any) -> Any:
        looks.append(sorted(run_ids))
        return await real_statuses(run_ids)

    store.run_statuses = counting_statuses  # type: ignore[method-assign]
    waiting = spec("waiting", [("go", wait("go")), ("end", exit_(var("x")))], variables={"x": variable("int")})
    async with Engine.open(url, poll_interval=0.02, store=store) as engine, anyio.create_task_group() as tg:
        await engine.deploy(waiting)
        run_id = await engine.start("waiting", {"x": 7})
        ended: list[Any] = []

        async def waiter() -> None:
            ended.append(await engine.wait(run_id, timeout=10))

        tg.start_soon(waiter)
        await anyio.sleep(0.4)  # twenty poll intervals
        assert len(looks) <= 2  # the waiter's read of the status as it began, and the first look (nothing seen yet)
        before = len(looks)
        async with Engine.open(url, serve=False, poll_interval=0.02) as other:
            await other.send_event("go", run_id=run_id)  # its commit ends the run, in another connection
    assert looks[before:] and all(run_ids == [run_id] for run_ids in looks)
    assert ended[0].status is RunStatus.COMPLETED and ended[0].output == 7


async def test_a_wait_begun_long_after_another_process_ended_a_run_in_flight_here_sees_it(tmp_path: Path) -> None:
    # The run is in flight here, so a wait does not read it first and counts
    # on the look at awaited runs. Another process cancels it; the looks of
    # the next intervals, with nobody waiting, must not use up the news:
    # the wait begun later still hears of it within an interval or so.
    async with _run_in_flight(tmp_path) as (url, engine, run_id):
        async with Engine.open(url, serve=False) as other:
            await other.cancel(run_id, "by hand")
        await anyio.sleep(0.3)  # six poll intervals
        began = time.perf_counter()
        run = await engine.wait(run_id, timeout=5)
        waited = time.perf_counter() - began
        gate["event"].set()
    assert run.status is RunStatus.CANCELLED
    assert waited < 1.0, waited


second_attempt = {"released": None}


@wfc_task("fails-first", retries=0)
async def fails_first(x: int) -> int:
    released = second_attempt["released"]
    if released is None:
        raise RuntimeError("the first attempt fails")
    assert isinstance(released, anyio.Event)
    await released.wait()
    return x + 1


async def test_a_wait_after_a_retry_elsewhere_returns_the_new_end_not_the_end_it_saw_before(tmp_path: Path) -> None:
    # The run ends FAILED here, and what that commit handed over stays while
    # a reader follows the run. Another process retries it (SQLite: no
    # notice); the wait that begins then must return the run as it ends
    # this time, not the FAILED run handed over before.
    url = f"sqlite:///{tmp_path / 'wfc.db'}"
    second_attempt["released"] = None
    flow = spec("fails-first", [("f", task("fails-first", 1)), ("end", exit_(out("f")))])
    async with Engine.open(url, tasks=[fails_first], poll_interval=0.05) as here:
        await here.deploy(flow)
        run_id = await here.start("fails-first")
        async with here._loop.following(run_id):  # type: ignore[attr-defined]  # a journal reader, say
            assert (await here.wait(run_id, timeout=10)).status is RunStatus.FAILED
            released = second_attempt["released"] = anyio.Event()
            async with Engine.open(url, tasks=[fails_first], poll_interval=0.05) as elsewhere:
                await elsewhere.retry(run_id)
                ended: list[Any] = []
                async with anyio.create_task_group() as tg:

                    async def waiter() -> None:
                        ended.append(await here.wait(run_id, timeout=10))

                    tg.start_soon(waiter)
                    await anyio.sleep(0.2)  # the waiter read the run RUNNING and sleeps
                    released.set()
    assert ended[0].status is RunStatus.COMPLETED and ended[0].output == 2


def test_a_waiter_keeps_the_run_its_engine_finished_when_the_look_at_awaited_runs_comes_first() -> None:
    # The finishing commit hands the waiter the run as stored; if the look
    # at awaited runs (or another process's notice that it ended) comes
    # before the waiter resumes, the waiter still takes it from there
    # rather than reading the run from the database.
    follow = Follow()
    settled, changed = follow.settled(), follow.changed()
    stored = (b"{}", object())
    follow.notify(stored, ended=False)  # type: ignore[arg-type]
    follow.notify(None, ended=True)
    assert settled.is_set() and changed.is_set()
    assert follow.final is stored
    # A later commit that leaves the run running (retried) is what drops it.
    follow.notify(None, ended=False)
    assert follow.final is None


def test_a_step_that_leaves_the_run_running_wakes_journal_readers_not_waiters() -> None:
    follow = Follow()
    settled, changed = follow.settled(), follow.changed()
    follow.notify(None, ended=False)
    assert changed.is_set() and not settled.is_set()
    follow.notify(None, ended=True)  # told it ended
    assert settled.is_set()


@asynccontextmanager
async def _connection_thread() -> AsyncIterator[tuple[sqlite3.Connection, _Worker]]:
    """A memory database's connection, served by a thread of its own."""
    conn = sqlite3.connect(":memory:", check_same_thread=False)
    worker = _Worker(conn)
    try:
        yield conn, worker
    finally:
        await worker.run(conn.close)
        worker.stop()


def _slow(finished: threading.Event) -> str:
    time.sleep(0.2)
    finished.set()
    return "done"


async def test_a_cancelled_call_on_the_connection_thread_finishes_before_the_caller_goes_on() -> None:
    finished = threading.Event()
    async with _connection_thread() as (conn, worker):
        with anyio.move_on_after(0.02) as scope:
            await worker.run(_slow, finished)
        assert scope.cancelled_caught
        assert finished.is_set()  # the caller waited for the call, then saw its cancellation
        assert await worker.run(lambda: conn.execute("SELECT 41 + 1").fetchone()[0]) == 42
        with pytest.raises(sqlite3.OperationalError):
            await worker.run(lambda: conn.execute("SELECT nonsense FROM nowhere"))


async def test_a_task_cancelled_outright_while_its_call_runs_sees_it_only_once_the_call_returned() -> None:
    # Task.cancel() without an anyio scope: the task waits for the call to
    # return before its CancelledError goes on.
    finished = threading.Event()
    async with _connection_thread() as (conn, worker):
        caller = asyncio.get_running_loop().create_task(worker.run(_slow, finished))
        await asyncio.sleep(0.02)
        caller.cancel()
        await asyncio.sleep(0.02)
        caller.cancel()  # a second cancellation does not end the wait either
        with pytest.raises(asyncio.CancelledError):
            await caller
        assert finished.is_set()
        assert await worker.run(lambda: conn.execute("SELECT 41 + 1").fetchone()[0]) == 42


async def test_a_caller_cancelled_by_its_scope_waits_for_its_call_without_spinning() -> None:
    # A waiter left inside its cancelled anyio scope has anyio retry the
    # cancellation at every turn of the event loop: waiting for the call to
    # return must not keep it there, or the loop spins for as long.
    async with _connection_thread() as (_, worker):
        began = time.process_time()
        with anyio.move_on_after(0.02):
            await worker.run(time.sleep, 0.5)
        assert time.process_time() - began < 0.15  # spinning took about all of the 0.5 s


async def test_a_queued_call_keeps_its_outcome_for_its_other_waiters_when_one_is_cancelled() -> None:
    # One waiter's cancellation is its own: the others, and those that come
    # later, still get the call's result or its error.
    finished = threading.Event()

    def failing() -> None:
        _slow(finished)
        raise ZeroDivisionError("the call's own error")

    async with _connection_thread() as (_, worker):
        with anyio.fail_after(5):  # a waiter left hanging fails the test
            await _each_waiter_sees_the_outcome(worker.queue(failing), finished)


async def _each_waiter_sees_the_outcome(queued: Any, finished: threading.Event) -> None:
    cancelled = asyncio.get_running_loop().create_task(_outcome(queued))
    other = asyncio.get_running_loop().create_task(_outcome(queued))
    await asyncio.sleep(0.02)
    cancelled.cancel()
    with pytest.raises(asyncio.CancelledError):
        await cancelled
    assert finished.is_set()  # it waited for the call all the same
    with pytest.raises(ZeroDivisionError, match="own error"):
        await other
    later = []
    for _ in range(2):  # waiters after the cancelled one
        with pytest.raises(ZeroDivisionError, match="own error") as raised:
            await _outcome(queued)
        later.append(len(traceback.extract_tb(raised.value.__traceback__)))
    assert later[0] == later[1]  # raised as the call left it, not with each raiser's frames added


def test_the_collector_threshold_and_the_switch_interval_are_set_while_engines_run_and_restored_after() -> None:
    before = gc.get_threshold(), sys.getswitchinterval()
    tuning = ProcessTuning()
    try:
        gc.set_threshold(700, 10, 10)
        sys.setswitchinterval(0.005)
        tuning.enter()
        assert gc.get_threshold() == (ProcessTuning.GEN0, 20, 20)
        assert sys.getswitchinterval() == pytest.approx(ProcessTuning.SWITCH_INTERVAL, abs=2e-6)
        tuning.enter()  # a second engine in the process
        tuning.exit()
        assert gc.get_threshold() == (ProcessTuning.GEN0, 20, 20)  # the first still runs
        assert sys.getswitchinterval() == pytest.approx(ProcessTuning.SWITCH_INTERVAL, abs=2e-6)
        tuning.exit()
        assert gc.get_threshold() == (700, 10, 10)
        assert sys.getswitchinterval() == pytest.approx(0.005, abs=2e-6)
        gc.set_threshold(0)  # turned off by the application: left off
        sys.setswitchinterval(0.0001)  # shorter, set by the application: kept
        tuning.enter()
        assert gc.get_threshold()[0] == 0
        assert sys.getswitchinterval() == pytest.approx(0.0001, abs=2e-6)
        tuning.exit()
        assert sys.getswitchinterval() == pytest.approx(0.0001, abs=2e-6)
        sys.setswitchinterval(0.005)
        tuning.enter()
        sys.setswitchinterval(0.002)  # set by the application while an engine runs: kept
        gc.set_threshold(5000, 10, 10)
        tuning.exit()
        assert sys.getswitchinterval() == pytest.approx(0.002, abs=2e-6)
        assert gc.get_threshold() == (5000, 10, 10)
    finally:
        gc.set_threshold(*before[0])
        sys.setswitchinterval(before[1])


def test_the_same_query_asked_many_times_in_one_hop_runs_once() -> None:
    from wfc.runtime.store.sqlite import _Read, _run_reads

    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE t (a INTEGER)")
    conn.execute("INSERT INTO t VALUES (1), (2)")
    executed: list[str] = []

    class Counting:
        def execute(self, statement: str, params: Any) -> Any:
            executed.append(statement)
            return conn.execute(statement, params)

    same = [_Read("SELECT a FROM t WHERE a >= ? ORDER BY a", (1,)) for _ in range(3)]
    other = _Read("SELECT a FROM t WHERE a >= ? ORDER BY a", (2,))
    broken = _Read("SELECT nothing FROM nowhere", ())
    _run_reads(Counting(), [*same, other, broken])  # type: ignore[arg-type]
    assert len(executed) == 3  # the repeated query once, the other two once each
    assert [[row[0] for row in read.result()] for read in same] == [[1, 2]] * 3
    assert same[0].rows is not same[1].rows  # each asker has a list of its own
    assert [row[0] for row in other.result()] == [2]
    with pytest.raises(sqlite3.OperationalError):
        broken.result()
    conn.close()
