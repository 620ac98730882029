"""A status given more than once picks each run once: listing (with and
without a limit), purging, counting and exporting, on both stores."""

from __future__ import annotations

import time

import pytest
from rtdb import Db
from rtspec import exit_, fail, spec

from wfc.runtime import Engine, RunStatus
from wfc.runtime.store import RunFilter
from wfc.runtime.store.retention import Cutoff

pytestmark = pytest.mark.anyio

QUICK = spec("quick", [("end", exit_(1))])
BROKEN = spec("broken", [("stop", fail("BROKEN", "it always fails"))])


async def seed(engine: Engine) -> None:
    """Runs ``ok-1``, ``ok-2`` COMPLETED and ``bad-1`` FAILED."""
    await engine.deploy(QUICK)
    await engine.deploy(BROKEN)
    for run_id, workflow in (("ok-1", "quick"), ("bad-1", "broken"), ("ok-2", "quick")):
        await engine.start(workflow, {}, run_id=run_id)
        await engine.wait(run_id, timeout=10)


def test_the_filter_keeps_each_status_once_in_the_order_first_given() -> None:
    assert RunFilter(statuses=("FAILED", "COMPLETED", "FAILED", "COMPLETED")).statuses == ("FAILED", "COMPLETED")
    assert RunFilter(statuses=("FAILED",)).statuses == ("FAILED",)
    assert Cutoff(1.0, ("FAILED", "FAILED", "COMPLETED")).statuses == ("FAILED", "COMPLETED")


@pytest.mark.parametrize("limit", [None, 100])
async def test_listing_a_repeated_status_gives_each_run_once(db: Db, limit: int | None) -> None:
    async with Engine.open(db.url, poll_interval=0.05) as engine:
        await seed(engine)
        page = await engine.list_runs_page(status=["failed", "FAILED", RunStatus.FAILED], limit=limit)
        assert [run.id for run in page.runs] == ["bad-1"]
        both = await engine.list_runs_page(status=["COMPLETED", "FAILED", "COMPLETED"], limit=limit)
        assert sorted(run.id for run in both.runs) == ["bad-1", "ok-1", "ok-2"]


async def test_the_store_lists_each_run_once_when_given_a_status_twice(db: Db) -> None:
    async with Engine.open(db.url, poll_interval=0.05) as engine:
        await seed(engine)
        store = engine._store  # the filter as any caller of the store builds it
        for limit in (None, 10):
            found = await store.list_runs(RunFilter(statuses=("COMPLETED", "COMPLETED", "FAILED"), limit=limit))
            assert sorted(record.id for record in found) == ["bad-1", "ok-1", "ok-2"]


async def test_purge_with_a_repeated_status_deletes_and_counts_each_run_once(db: Db) -> None:
    async with Engine.open(db.url, poll_interval=0.05) as engine:
        await seed(engine)
        later = time.time() + 1
        assert await engine.purge_runs(later, ["FAILED", "failed"], dry_run=True) == 1
        exported = [info.id async for info, _ in engine.export_runs(later, ["FAILED", "FAILED"])]
        assert exported == ["bad-1"]
        assert await engine.purge_runs(later, ["FAILED", "FAILED"]) == 1
    assert db.rows("SELECT id FROM runs ORDER BY id") == [("ok-1",), ("ok-2",)]
    assert db.rows("SELECT count(*) FROM journal WHERE run_id = 'bad-1'") == [(0,)]


async def test_a_limit_past_what_a_database_counts_lists_every_run(db: Db) -> None:
    # Bound as given, 2**63 was an OverflowError in the driver (an internal error of `wfc runs list -n`).
    async with Engine.open(db.url, poll_interval=0.05) as engine:
        await seed(engine)
        page = await engine.list_runs_page(limit=2**63)
        assert sorted(run.id for run in page.runs) == ["bad-1", "ok-1", "ok-2"]
        assert sorted(run.id for run in await engine.list_runs(limit=10**30)) == ["bad-1", "ok-1", "ok-2"]
