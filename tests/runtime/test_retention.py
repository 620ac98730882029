"""Retention: purging finished runs with everything stored for them, in the
foreground and in a serving engine's background, and exporting them first."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

import anyio
import pytest
from rtdb import Db
from rtspec import exit_, spec, task, wait

from wfc.runtime import Engine, RunStatus, TaskContext, UsageError
from wfc.runtime import task as wfc_task

pytestmark = pytest.mark.anyio

QUICK = spec("quick", [("end", exit_(1))])
WAITING = spec("waiting", [("w", wait("go", correlation="k")), ("end", exit_(1))])
WORKING = spec("working", [("slow", task("slow")), ("end", exit_(1))])
TABLES = (
    "journal", "tasks", "timers", "events", "event_waits", "run_threads", "run_search", "run_search_pending",
    "user_tasks", "runs",
)


@wfc_task("slow")
async def slow(ctx: TaskContext) -> int:
    await anyio.sleep(0.3)
    return 1


def stored(db: Db, run_id: str) -> dict[str, int]:
    """Rows of every table that holds rows of a run."""
    counts = {}
    for table in TABLES:
        column = "id" if table == "runs" else "run_id"
        counts[table] = db.rows(f"SELECT count(*) FROM {table} WHERE {column} = '{run_id}'")[0][0]
    return counts


async def seed(engine: Engine) -> None:
    """Finished runs (one with an event), a waiting one (a wait and a
    stored event to come), a HALTED one."""
    for one in (QUICK, WAITING):
        await engine.deploy(one)
    for run_id in ("done-1", "done-2", "done-3"):
        await engine.start("quick", {}, run_id=run_id)
        await engine.wait(run_id, timeout=10)
    await engine.start("waiting", {}, run_id="finished-by-event")
    await engine.send_event("go", run_id="finished-by-event", event_id="e-1", correlation="k")
    await engine.wait("finished-by-event", timeout=10)
    await engine.start("waiting", {}, run_id="waiting")
    await engine.start("waiting", {}, run_id="halted")
    await engine.halt("halted")


async def test_purge_deletes_finished_runs_and_all_their_rows_and_nothing_else(db: Db) -> None:
    async with Engine.open(db.url, poll_interval=0.05) as engine:
        await seed(engine)
        live = {run_id: stored(db, run_id) for run_id in ("waiting", "halted")}
        assert stored(db, "finished-by-event")["events"] == 1
        assert stored(db, "done-1")["run_threads"] >= 1  # so its purge is seen
        assert live["waiting"]["event_waits"] == 1
        # finished before a moment in the past: none of them yet
        assert await engine.purge_runs(time.time() - 3600) == 0
        assert await engine.purge_runs(time.time() + 1, batch=2) == 4
        for run_id in ("done-1", "done-2", "done-3", "finished-by-event"):
            assert stored(db, run_id) == dict.fromkeys(TABLES, 0)
        assert {run_id: stored(db, run_id) for run_id in ("waiting", "halted")} == live
        # the live runs still work
        await engine.resume("halted")
        await engine.send_event("go", run_id="waiting", event_id="e-2")
        assert (await engine.wait("waiting", timeout=10)).status is RunStatus.COMPLETED


async def test_purge_by_status_takes_only_those(db: Db) -> None:
    async with Engine.open(db.url, poll_interval=0.05) as engine:
        await seed(engine)
        await engine.cancel("waiting")
        assert await engine.purge_runs(dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1), "cancelled") == 1
        assert stored(db, "waiting")["runs"] == 0
        assert stored(db, "done-1")["runs"] == 1


async def test_bad_purge_arguments_name_the_problem(db: Db) -> None:
    async with Engine.open(db.url, poll_interval=0.05) as engine:
        with pytest.raises(UsageError, match="only finished runs"):
            await engine.purge_runs(time.time(), "RUNNING")
        with pytest.raises(UsageError, match=r"unknown|status"):
            await engine.purge_runs(time.time(), "DONE")
        with pytest.raises(UsageError, match="finished_before"):
            await engine.purge_runs("30d")  # type: ignore[arg-type]
        with pytest.raises(UsageError, match="batch"):
            await engine.purge_runs(time.time(), batch=0)
    with pytest.raises(UsageError, match="retention"):
        async with Engine.open(db.url, retention=-1):
            pass
    with pytest.raises(UsageError, match="serve=True"):
        async with Engine.open(db.url, serve=False, retention=60):
            pass


async def test_a_serving_engine_with_retention_purges_old_runs_while_runs_go_on(db: Db) -> None:
    async with Engine.open(db.url, poll_interval=0.05) as engine:
        await seed(engine)
    # An hour later, an engine that keeps runs for 30 minutes purges at start,
    # while new runs with tasks go on.
    later: Any = lambda: time.time() + 3600  # noqa: E731
    async with Engine.open(db.url, tasks=[slow], clock=later, poll_interval=0.05, retention=1800) as engine:
        await engine.deploy(WORKING)
        for n in range(5):
            await engine.start("working", {}, run_id=f"w-{n}")
        with anyio.fail_after(10):
            while db.rows("SELECT count(*) FROM runs WHERE id LIKE 'done-%'")[0][0]:
                await anyio.sleep(0.05)
        for n in range(5):
            assert (await engine.wait(f"w-{n}", timeout=10)).status is RunStatus.COMPLETED
        assert stored(db, "finished-by-event") == dict.fromkeys(TABLES, 0)
        assert stored(db, "waiting")["runs"] == stored(db, "halted")["runs"] == 1


async def test_a_purge_while_the_engine_serves_does_not_break_running_runs(db: Db) -> None:
    async with Engine.open(db.url, tasks=[slow], poll_interval=0.05) as engine:
        await engine.deploy(QUICK)
        await engine.deploy(WORKING)
        for n in range(60):
            await engine.start("quick", {}, run_id=f"q-{n}")
        for n in range(60):
            await engine.wait(f"q-{n}", timeout=20)
        # Purged while the working runs commit: the quick runs, which finished
        # before this moment (a working run purged the moment it finishes
        # would leave nothing for wait to read).
        cutoff = time.time()
        for n in range(10):
            await engine.start("working", {}, run_id=f"w-{n}")
        async with anyio.create_task_group() as group:

            async def purge_repeatedly() -> None:
                for _ in range(20):
                    await engine.purge_runs(cutoff, batch=5)
                    await anyio.sleep(0.02)

            group.start_soon(purge_repeatedly)
            for n in range(10):
                assert (await engine.wait(f"w-{n}", timeout=20)).status is RunStatus.COMPLETED
        await engine.purge_runs(time.time() + 1)
        assert db.rows("SELECT count(*) FROM runs")[0][0] == 0
        assert db.rows("SELECT count(*) FROM journal")[0][0] == 0


async def test_an_export_skips_the_runs_a_purge_deletes_meanwhile(db: Db) -> None:
    """The export reads the runs' rows a page at a time, then each run's
    journal: a run purged in between (a purge, or a server's --retention,
    beside the export) ended the export with UnknownRunError, mid-stream."""
    async with Engine.open(db.url, poll_interval=0.05) as engine:
        await seed(engine)
        exported = engine.export_runs()
        first, _ = await anext(exported)
        await engine.purge_runs(time.time() + 1)
        rest = [info.id async for info, _ in exported]
    assert first.id in {"done-1", "done-2", "done-3", "finished-by-event"}
    assert rest == []


async def test_export_gives_each_run_with_its_journal_masked(db: Db) -> None:
    masked = spec(
        "masked",
        [("end", exit_(1))],
        variables={"card": {"type": "str", "required": True, "default": None, "masked": True}},
    )
    async with Engine.open(db.url, poll_interval=0.05) as engine:
        await seed(engine)
        await engine.deploy(masked)
        await engine.start("masked", {"card": "4111-1111"}, run_id="m")
        await engine.wait("m", timeout=10)
        exported = [(info, journal) async for info, journal in engine.export_runs()]
        ids = sorted(info.id for info, _ in exported)
        assert ids == ["done-1", "done-2", "done-3", "finished-by-event", "m"]
        for _info, journal in exported:
            assert [e.seq for e in journal] == list(range(1, len(journal) + 1))
            assert journal[-1].kind == "RUN_COMPLETED"
        info, journal = next(item for item in exported if item[0].id == "m")
        assert "4111" not in repr(info.redacted()) and "4111" not in repr(journal)
        assert [i.id async for i, _ in engine.export_runs(status="CANCELLED")] == []
