"""Runs stored before migration 7 are indexed by a serving engine in the
background, from the list the migration makes (``run_search_pending``)."""

from __future__ import annotations

import re
import time
from pathlib import Path

import anyio
import pytest
from rtdb import Db

from wfc.dsl import Workflow, WorkflowThread
from wfc.runtime import Engine

pytestmark = pytest.mark.anyio

MIGRATIONS = Path(__file__).resolve().parents[2] / "runtime" / "store" / "migrations"


def orders(wf: WorkflowThread) -> None:
    wf.declare_str("order-id").required().searchable()
    wf.declare_json("tags").searchable()
    wf.wait_for_event("pay")


def plain(wf: WorkflowThread) -> None:
    wf.declare_str("order-id").required()


ORDERS = Workflow("orders", orders).compile()
PLAIN = Workflow("plain", plain).compile()


def pending_statement(kind: str) -> str:
    """The statement of migration 7 that lists the runs stored before it."""
    sql = (MIGRATIONS / kind / "0007_search.sql").read_text()
    found = re.search(r"^INSERT INTO run_search_pending.*?;", sql, re.S | re.M)
    assert found is not None
    return found.group(0)


def rows(db: Db, sql: str) -> list[tuple[object, ...]]:
    return db.rows(sql)


async def test_runs_from_before_the_index_are_indexed_in_the_background(db: Db) -> None:
    async with Engine.open(db.url, serve=False) as engine:
        await engine.deploy(ORDERS)
        await engine.deploy(PLAIN)
        for n in range(450):  # more than one batch
            await engine.start("orders", {"order-id": f"o-{n}", "tags": ["t", n % 2]}, run_id=f"r{n:03}")
        await engine.start("plain", {"order-id": "o-1"}, run_id="plain-1")
    indexed = sorted(rows(db, "SELECT run_id, key, value FROM run_search"))
    # what the database looked like before migration 7, and the list it makes
    rows(db, "DELETE FROM run_search")
    rows(db, pending_statement(db.kind))
    assert rows(db, "SELECT count(*) FROM run_search_pending") == [(450,)]  # not the run of `plain`
    async with Engine.open(db.url, serve=False) as reader:
        assert (await reader.list_runs_page(where={"order-id": "o-7"})).runs == []
    async with Engine.open(db.url, poll_interval=0.05) as engine:
        deadline = time.monotonic() + 60
        while rows(db, "SELECT count(*) FROM run_search_pending") != [(0,)]:
            assert time.monotonic() < deadline, "the pending runs were not indexed"
            await anyio.sleep(0.05)
        assert sorted(rows(db, "SELECT run_id, key, value FROM run_search")) == indexed
        page = await engine.list_runs_page(where={"order-id": "o-7"})
        assert [run.id for run in page.runs] == ["r007"]
        # a commit after the backfill changes the rows as usual
        await engine.send_event("pay", run_id="r007", event_id="e-7")
        assert (await engine.wait("r007", timeout=10)).status.value == "COMPLETED"
        assert [run.id for run in (await engine.list_runs_page(where={"tags": '["t", 1]'}, limit=None)).runs][:2] == [
            "r449",
            "r447",
        ]


async def test_a_purge_takes_pending_rows_too(db: Db) -> None:
    async with Engine.open(db.url, poll_interval=0.05) as engine:
        await engine.deploy(ORDERS)
        await engine.start("orders", {"order-id": "o-1"}, run_id="r1")
        await engine.send_event("pay", run_id="r1", event_id="e-1")
        finished = await engine.wait("r1", timeout=10)
    rows(db, "DELETE FROM run_search")
    rows(db, pending_statement(db.kind))
    async with Engine.open(db.url, serve=False) as client:
        assert await client.purge_runs(finished.updated_at.timestamp() + 1) == 1
    assert rows(db, "SELECT count(*) FROM run_search_pending") == [(0,)]
