"""Pipelined commits on PostgreSQL: while one turn's flush and COMMIT are on
their way on one writer connection, the commit loop builds the next turn on
the other, as a second process would.

The two must be apart: the turn built beside one in flight writes none of
its runs (a command for such a run waits until that commit landed), and
when the commit in flight fails, the turn beside it stands on its own;
nothing of the failed one is acted on, its commands are done again, and
every run still completes with each task run once.
"""

from __future__ import annotations

import asyncio
import functools
import json
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from rtdb import SKIP_REASON, make_db, postgres_base_url
from rtengine import assert_each_step_ran_once, start_through_a_failed_commit
from rtspec import exit_, out, spec, task, wait

from wfc.runtime import Engine, RunStatus, TaskContext
from wfc.runtime import task as wfc_task
from wfc.runtime.store import open_store
from wfc.runtime.store import postgres as pg_store
from wfc.runtime.store.base import SpecRecord

pytestmark = pytest.mark.anyio

calls: Counter[tuple[str, str]] = Counter()


@wfc_task("apart-step")
def apart_step(n: int, ctx: TaskContext) -> int:
    calls[(ctx.run_id, ctx.node_id)] += 1
    return n + 1


STEPS = spec(
    "apart",
    [("a", task("apart-step", 1)), ("b", task("apart-step", out("a"))), ("end", exit_(out("b")))],
)
TWO_WAITS = spec("apart-waits", [("go", wait("go")), ("again", wait("again")), ("end", exit_())])


@pytest.fixture
def pg_url(tmp_path: Path) -> Iterator[str]:
    if postgres_base_url() is None:
        pytest.skip(SKIP_REASON)
    database = make_db("postgres", tmp_path)
    try:
        yield database.url
    finally:
        database.drop()


def _spec(name: str) -> SpecRecord:
    return SpecRecord(name=name, major=1, revision=0, hash=name, body=b"{}", deployed_at=0.0)


def _early() -> bool:
    return True


def _hold_commits(monkeypatch: pytest.MonkeyPatch, hold: Any) -> None:
    """Run ``await hold(tx)`` (``hold`` returns an awaitable or None) before
    each flush and commit of a transaction."""
    real = pg_store._PgConnection.flush_and_commit

    async def flush_and_commit(self: Any) -> None:
        waiting = hold(self)
        if waiting is not None:
            await waiting
        await real(self)

    monkeypatch.setattr(pg_store._PgConnection, "flush_and_commit", flush_and_commit)


async def test_a_transaction_is_built_beside_a_commit_on_its_way_and_stands_if_that_one_fails(
    pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    release = asyncio.Event()
    connections: set[int] = set()
    commits: list[Any] = []

    async def fail_when_released(tx: Any) -> None:
        await release.wait()
        await tx.raw.execute("SELECT 1/0")  # inside the transaction: all of it rolls back

    def hold(tx: Any) -> Any:
        connections.add(id(tx.raw))
        commits.append(tx)
        return fail_when_released(tx) if len(commits) == 1 else None

    _hold_commits(monkeypatch, hold)
    store = await open_store(pg_url, time.time())
    try:
        async with store.transaction(pipelined=_early) as first:
            await first.insert_spec(_spec("first"))
        # The first commit is held up; the second transaction is built and
        # committed meanwhile, on the other connection.
        async with store.transaction(pipelined=lambda: False) as second:
            await second.insert_spec(_spec("second"))
        await second.committed()
        assert await store.get_spec("second", 1, 0) is not None
        assert await store.get_spec("first", 1, 0) is None  # still on its way
        release.set()
        with pytest.raises(Exception, match="division by zero"):
            await first.committed()
        names = [row["name"] for row in await store.dialect.fetch("SELECT name FROM specs ORDER BY name")]
        assert names == ["second"]  # the first rolled back whole, the second stands
        assert len(connections) == 2
        # Transactions go on as usual afterwards, on at most two connections.
        later = []
        for name in ("third", "fourth", "fifth"):
            async with store.transaction(pipelined=_early) as tx:
                await tx.insert_spec(_spec(name))
            later.append(tx)
        for tx in later:
            await tx.committed()
        names = [row["name"] for row in await store.dialect.fetch("SELECT name FROM specs ORDER BY name")]
        assert names == ["fifth", "fourth", "second", "third"]
        assert len(connections) <= 3  # the connection the failure dropped may have been opened again
    finally:
        await store.close()


@pytest.mark.parametrize(
    ("queued", "built_while_held"),
    [
        # The event for "other" is applied and committed beside the held commit.
        (["go held", "go other", "again held"], [["other"]]),
        # The second event for "held" waits for the commit of the first, and
        # the event queued behind it waits too: no run's commands change order.
        (["go held", "again held", "go other"], []),
    ],
)
async def test_a_turn_beside_a_commit_on_its_way_writes_none_of_its_runs(
    pg_url: str, monkeypatch: pytest.MonkeyPatch, queued: list[str], built_while_held: list[list[str]]
) -> None:
    release = asyncio.Event()
    holding = asyncio.Event()
    built: list[list[str]] = []

    def hold(tx: Any) -> Any:
        events = [(j.run_id, json.loads(j.detail)["event"]) for j in tx.batch.journal if j.kind == "EVENT_RECEIVED"]
        if holding.is_set() and not release.is_set():
            built.append(sorted(tx.batch.runs))
        if ("held", "go") in events and not holding.is_set():
            holding.set()
            return release.wait()
        return None

    _hold_commits(monkeypatch, hold)
    reader = await open_store(pg_url, time.time())
    # One command per turn: each turn's commit is pipelined while commands wait.
    async with Engine.open(pg_url, poll_interval=0.02, max_batch=1) as engine:
        await engine.deploy(TWO_WAITS)
        for run_id in ("held", "other"):
            await engine.start("apart-waits", run_id=run_id)

        async def send(what: str) -> None:
            event, run_id = what.split()
            await engine.send_event(event, run_id=run_id)

        pending = [asyncio.ensure_future(send(what)) for what in queued]  # queued in this order
        with anyio.fail_after(10):
            await holding.wait()
        await anyio.sleep(0.3)  # time for whatever may be built beside the held commit
        assert built == built_while_held
        received = await reader.dialect.fetch("SELECT run_id FROM journal WHERE kind = 'EVENT_RECEIVED'")
        assert [[row["run_id"]] for row in received] == built_while_held  # committed, not only built
        assert not any(p.done() for p in pending)  # replies come in order, after the held commit
        release.set()
        with anyio.fail_after(10):
            await asyncio.gather(*pending)
        await engine.send_event("again", run_id="other")
        with anyio.fail_after(10):
            assert (await engine.wait("held")).status is RunStatus.COMPLETED
            assert (await engine.wait("other")).status is RunStatus.COMPLETED
        history = await engine.history("held")
        assert [h.seq for h in history] == list(range(1, len(history) + 1))
        assert [h.detail["event"] for h in history if h.kind == "EVENT_RECEIVED"] == ["go", "again"]
    await reader.close()


@pytest.mark.parametrize("fault", ["conflict", "lost"])
async def test_a_commit_that_fails_beside_the_next_turn_acts_on_nothing_and_is_done_again(
    pg_url: str, monkeypatch: pytest.MonkeyPatch, fault: str
) -> None:
    """The first pipelined commit of task results fails while the next turn
    is built beside it: a conflict (retried on fresh state) or a connection
    lost in the middle (its callers told to call again, the engine's own
    inputs delivered again)."""
    import asyncpg  # type: ignore[import-untyped]

    calls.clear()
    failed: list[list[str]] = []
    beside: list[int] = []
    in_flight: list[int] = [0]
    real = pg_store._PgConnection.flush_and_commit

    async def flush_and_commit(self: Any) -> None:
        in_flight[0] += 1
        try:
            results = any(j.kind == "TASK_COMPLETED" for j in self.batch.journal)
            if not failed and results and self.queued is not None:
                failed.append(sorted(self.batch.runs))
                await anyio.sleep(0.2)  # long enough for the next turn to be built beside it
                if fault == "conflict":
                    raise asyncpg.SerializationError("could not serialize access due to concurrent update")
                self.raw.terminate()  # then the flush meets a closed connection
            await real(self)
        finally:
            in_flight[0] -= 1

    real_take = pg_store.PostgresDialect._take_writer

    async def take_writer(self: Any) -> Any:
        if in_flight[0]:
            beside.append(1)
        return await real_take(self)

    monkeypatch.setattr(pg_store._PgConnection, "flush_and_commit", flush_and_commit)
    monkeypatch.setattr(pg_store.PostgresDialect, "_take_writer", take_writer)
    async with Engine.open(pg_url, tasks=[apart_step], poll_interval=0.02, max_batch=4) as engine:
        await engine.deploy(STEPS)
        run_ids = await start_through_a_failed_commit(engine, "apart", 16)
        await assert_each_step_ran_once(engine, run_ids, calls, timeout=30)
        assert failed, "no commit was made to fail"
        assert beside, "no transaction was built while a commit was on its way"


gate: dict[str, asyncio.Event] = {}


@wfc_task("apart-gated")
async def apart_gated() -> str:
    await gate["open"].wait()
    return "through"


async def test_a_turn_built_beside_one_in_flight_leases_no_slot_that_one_took(pg_url: str) -> None:
    """An engine leases at most ``max_concurrent_tasks`` attempts to itself
    and leaves the rest for any worker: the attempts of a turn not landed
    yet count, or the turn built beside it would lease the same free slots."""
    gate["open"] = asyncio.Event()
    gated = spec("apart-gated", [("g", task("apart-gated")), ("end", exit_(out("g")))])
    reader = await open_store(pg_url, time.time())
    async with Engine.open(
        pg_url, tasks=[apart_gated], poll_interval=0.02, max_batch=5, max_concurrent_tasks=2
    ) as engine:
        await engine.deploy(gated)
        run_ids = [f"g{index}" for index in range(20)]
        async with anyio.create_task_group() as tg:
            for run_id in run_ids:
                tg.start_soon(functools.partial(engine.start, "apart-gated", run_id=run_id))
        await anyio.sleep(0.3)  # claims and polls meanwhile take no more either
        rows = await reader.dialect.fetch("SELECT lease_owner FROM tasks")
        leased = [row["lease_owner"] for row in rows if row["lease_owner"] is not None]
        assert len(rows) == 20 and leased == [engine.engine_id] * 2
        gate["open"].set()
        with anyio.fail_after(30):
            for run_id in run_ids:
                assert (await engine.wait(run_id)).output == "through"
    await reader.close()
