"""Reads of the SQLite store share thread hops: queries asked for while one
hop runs go together in the next, each asker gets its own rows or its own
error, and a reader that gives up never stalls the others."""

from __future__ import annotations

import time
from typing import Any

import anyio
import pytest
from rtstore import seed as _seed

from wfc.runtime.errors import MissingTablesError
from wfc.runtime.store import RunRecord, Store, open_store
from wfc.runtime.store import sqlite as sqlite_dialect

pytestmark = pytest.mark.anyio


async def _opened(url: str, runs: int) -> Store:
    store = await open_store(url, 1.0)
    for index in range(runs):
        await _seed(store, f"r{index}")
    return store


async def test_concurrent_reads_share_hops_and_each_gets_its_own_rows(sqlite_url: str, monkeypatch: Any) -> None:
    store = await _opened(sqlite_url, 20)
    hops = {"reads": 0}
    run = sqlite_dialect._Worker.run

    async def counting(self: Any, fn: Any, *args: Any) -> Any:
        if fn is sqlite_dialect._run_reads:
            hops["reads"] += 1
        return await run(self, fn, *args)

    monkeypatch.setattr(sqlite_dialect._Worker, "run", counting)
    found: dict[int, RunRecord | None] = {}

    async def read(index: int) -> None:
        found[index] = await store.get_run(f"r{index % 25}")  # r20 to r24 do not exist

    with anyio.fail_after(30):  # a stalled read fails the test instead of hanging it
        async with anyio.create_task_group() as tg:
            for index in range(200):
                tg.start_soon(read, index)
    for index, record in found.items():
        expected = f"r{index % 25}" if index % 25 < 20 else None
        assert (record.id if record else None) == expected
    assert len(found) == 200 and hops["reads"] <= 20, hops
    await store.close()


async def test_a_failing_query_fails_only_its_asker(sqlite_url: str) -> None:
    store = await _opened(sqlite_url, 3)
    outcomes: dict[str, Any] = {}

    async def good(run_id: str) -> None:
        outcomes[run_id] = await store.get_run(run_id)

    async def bad() -> None:
        try:
            await store.dialect.fetch("SELECT * FROM no_such_table")
        except MissingTablesError as exc:
            outcomes["bad"] = exc

    async with anyio.create_task_group() as tg:
        tg.start_soon(good, "r0")
        tg.start_soon(bad)
        tg.start_soon(good, "r1")
        tg.start_soon(good, "r2")
    assert isinstance(outcomes["bad"], MissingTablesError)
    assert [outcomes[r].id for r in ("r0", "r1", "r2")] == ["r0", "r1", "r2"]
    await store.close()


async def test_readers_that_give_up_leave_the_others_served(sqlite_url: str) -> None:
    store = await _opened(sqlite_url, 5)
    served: list[str] = []

    async def read(run_id: str, into: list[str]) -> None:
        record = await store.get_run(run_id)
        assert record is not None
        into.append(record.id)

    with anyio.fail_after(30):  # a stalled read fails the test instead of hanging it
        async with anyio.create_task_group() as tg, anyio.create_task_group() as doomed:

            async def lead_then_cancel() -> None:
                await read("r0", [])  # its hop ran alone; it handed the next lead to r1
                doomed.cancel_scope.cancel()  # r1 and the others may give up before they lead

            tg.start_soon(lead_then_cancel)
            await anyio.sleep(0)  # r0 is in its hop now
            for index in range(1, 5):
                doomed.start_soon(read, f"r{index}", [])
            for index in range(5):
                tg.start_soon(read, f"r{index}", served)  # queued behind the ones that give up
        await read("r4", served)
    assert sorted(served) == ["r0", "r1", "r2", "r3", "r4", "r4"]
    await store.close()


async def test_a_leader_cancelled_in_its_hop_still_serves_the_queries_of_that_hop(
    sqlite_url: str, monkeypatch: Any
) -> None:
    """The queries queued behind a hop ride on the next one, led by the first
    of them. Cancelled while its hop runs, that leader gives up (once the hop
    is over), and the others of the hop get their rows all the same."""
    store = await _opened(sqlite_url, 4)
    hops: list[list[str]] = []
    reads = sqlite_dialect._run_reads

    def slow_reads(conn: Any, batch: Any) -> None:
        hops.append([read.params[0] for read in batch])
        time.sleep(0.2)  # in the connection's thread: the hop lasts
        reads(conn, batch)

    monkeypatch.setattr(sqlite_dialect, "_run_reads", slow_reads)
    served: list[str] = []
    gave_up: list[str] = []

    async def read(run_id: str) -> None:
        record = await store.get_run(run_id)
        assert record is not None
        served.append(record.id)

    async def leader() -> None:
        try:
            await read("r1")
        except anyio.get_cancelled_exc_class():
            gave_up.append("r1")
            raise

    with anyio.fail_after(30):
        async with anyio.create_task_group() as tg:
            tg.start_soon(read, "r0")  # leads the first hop alone
            while not hops:
                await anyio.sleep(0.01)
            async with anyio.create_task_group() as doomed:
                doomed.start_soon(leader)  # queued first: leads the second hop
                await anyio.sleep(0.01)
                tg.start_soon(read, "r2")
                tg.start_soon(read, "r3")
                while len(hops) < 2:
                    await anyio.sleep(0.01)
                doomed.cancel_scope.cancel()
    assert hops == [["r0"], ["r1", "r2", "r3"]]
    assert gave_up == ["r1"] and sorted(served) == ["r0", "r2", "r3"]
    assert await store.get_run("r1") is not None  # the connection still serves
    await store.close()
