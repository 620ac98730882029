"""Pipelined commits on SQLite: the commit loop computes the next turn while
the last one's COMMIT runs on the connection's thread, queued behind it.

A commit that fails there must not leave anything acted on: the turn queued
behind it (built on its states) fails too, both are done again, every run
still completes with each task run once, and the store itself refuses a
pipelined transaction queued behind a failed commit.
"""

from __future__ import annotations

import sqlite3
import time
from collections import Counter
from typing import Any

import pytest
from rtengine import assert_each_step_ran_once, start_through_a_failed_commit
from rtspec import exit_, out, spec, task

from wfc.runtime import Engine, TaskContext
from wfc.runtime import task as wfc_task
from wfc.runtime.errors import StaleRunError
from wfc.runtime.store import open_store
from wfc.runtime.store import sqlite as sqlite_store
from wfc.runtime.store.base import SpecRecord, WriteBatch
from wfc.runtime.store.sqlite_flush import Flush

pytestmark = pytest.mark.anyio

calls: Counter[tuple[str, str]] = Counter()


@wfc_task("pipelined-step")
def pipelined_step(n: int, ctx: TaskContext) -> int:
    calls[(ctx.run_id, ctx.node_id)] += 1
    return n + 1


STEPS = spec(
    "pipelined",
    [("a", task("pipelined-step", 1)), ("b", task("pipelined-step", out("a"))), ("end", exit_(out("b")))],
)


def _early() -> bool:
    return True


def _spec(name: str) -> SpecRecord:
    return SpecRecord(name=name, major=1, revision=0, hash=name, body=b"{}", deployed_at=0.0)


def _chained(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Count the statements refused for being queued behind a failed commit."""
    refused: list[int] = []
    real = sqlite_store._SqliteConnection._check_after

    def check(self: Any) -> None:
        try:
            real(self)
        except Exception:
            refused.append(1)
            raise

    monkeypatch.setattr(sqlite_store._SqliteConnection, "_check_after", check)
    return refused


async def test_a_pipelined_transaction_queued_behind_a_failed_commit_fails_and_neither_is_stored(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = sqlite_store.write

    def flush(conn: sqlite3.Connection, writes: Flush) -> None:
        real(conn, writes)
        if conn.execute("SELECT count(*) FROM specs WHERE name = 'first'").fetchone()[0]:
            raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(sqlite_store, "write", flush)
    store = await open_store(sqlite_url, time.time())
    try:
        async with store.transaction(pipelined=_early) as first:
            await first.insert_spec(_spec("first"))
        # Queued behind the first commit, not yet awaited: its statements fail.
        with pytest.raises(Exception, match="queued behind failed"):
            async with store.transaction(pipelined=_early) as second:
                await second.insert_spec(_spec("second"))
        # One without statements fails at its commit.
        async with store.transaction(pipelined=_early) as third:
            pass
        with pytest.raises(sqlite3.OperationalError, match="disk I/O"):
            await first.committed()
        with pytest.raises(Exception, match="queued behind failed"):
            await third.committed()
        # Once the failure was seen, transactions go on as usual.
        async with store.transaction(pipelined=_early) as fourth:
            await fourth.insert_spec(_spec("fourth"))
        await fourth.committed()
        async with store.transaction() as fifth:
            await fifth.insert_spec(_spec("fifth"))
        assert [row["name"] for row in await store.dialect.fetch("SELECT name FROM specs ORDER BY name")] == [
            "fifth",
            "fourth",
        ]
    finally:
        await store.close()


async def test_a_pipelined_commit_that_succeeds_is_seen_by_the_transaction_queued_behind_it(sqlite_url: str) -> None:
    store = await open_store(sqlite_url, time.time())
    try:
        async with store.transaction(pipelined=_early) as first:
            await first.insert_spec(_spec("first"))
        async with store.transaction(pipelined=_early) as second:
            assert await second.get_spec("first", 1, 0) is not None
            await second.insert_spec(_spec("second"))
        await first.committed()
        await second.committed()
        assert await store.get_spec("second", 1, 0) is not None
    finally:
        await store.close()


@pytest.mark.parametrize("error", ["io", "stale"])
async def test_a_queued_commit_that_fails_acts_on_nothing_and_the_turns_are_done_again(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch, error: str
) -> None:
    calls.clear()
    failed: list[list[str]] = []
    chosen: list[WriteBatch] = []
    real = sqlite_store.write
    real_commit = sqlite_store._SqliteConnection.commit

    async def commit(self: Any) -> None:
        # The first turn of task results whose commit the loop does not wait
        # for (commands wait): the next turn is computed and queued behind it.
        results = any(j.kind == "TASK_COMPLETED" for j in self.batch.journal)
        if not chosen and results and self._early is not None and self._early():
            chosen.append(self.batch)
        await real_commit(self)

    def flush(conn: sqlite3.Connection, writes: Flush) -> None:
        real(conn, writes)
        if not failed and chosen and sorted(writes.expected) == sorted(chosen[0].runs):
            failed.append(sorted(writes.expected))  # written, then the commit fails: all of it rolls back
            if error == "io":
                raise sqlite3.OperationalError("disk I/O error")
            raise StaleRunError(sorted(writes.expected))

    monkeypatch.setattr(sqlite_store, "write", flush)
    monkeypatch.setattr(sqlite_store._SqliteConnection, "commit", commit)
    refused = _chained(monkeypatch)
    # Small turns: while one commits, the next is computed from the commands queued.
    async with Engine.open(sqlite_url, tasks=[pipelined_step], poll_interval=0.02, max_batch=2) as engine:
        await engine.deploy(STEPS)
        run_ids = await start_through_a_failed_commit(engine, "pipelined", 12)
        await assert_each_step_ran_once(engine, run_ids, calls, timeout=20)
        assert failed, "no commit was made to fail"
        assert refused, "no turn was queued behind the failed commit"


async def test_a_pipelined_commit_waited_for_at_the_block_end_raises_its_error_when_settled(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = sqlite_store.write

    def flush(conn: sqlite3.Connection, writes: Flush) -> None:
        real(conn, writes)
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(sqlite_store, "write", flush)
    store = await open_store(sqlite_url, time.time())
    try:
        async with store.transaction(pipelined=lambda: False) as first:  # nothing to do meanwhile
            await first.insert_spec(_spec("first"))
        with pytest.raises(sqlite3.OperationalError, match="disk I/O"):
            await first.committed()
        assert await store.get_spec("first", 1, 0) is None
    finally:
        await store.close()
