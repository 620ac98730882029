"""The alert hook of ``examples/operations/compensation_alerts.py``: one alert per
compensation that failed for good, also when the subscriber died before it
saved its position and gets the same entries again after a restart."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anyio
import pytest
from rtdb import Db
from rtengine import import_example

from wfc.compiler import compile_workflow
from wfc.dsl import Workflow, WorkflowThread
from wfc.runtime import Engine, RunStatus, TaskException, task
from wfc.runtime.store import feed

pytestmark = pytest.mark.anyio

alerts_example = import_example("operations/compensation_alerts")


@task("book-hotel")
def book_hotel(trip_id: str) -> str:
    return f"booking-{trip_id}"


@task("cancel-hotel")
def cancel_hotel(trip_id: str) -> None:
    raise ConnectionError("the hotel's system is down")


@task("charge")
def charge(trip_id: str) -> None:
    raise TaskException("card-declined", "declined")


def trip(wf: WorkflowThread) -> None:
    trip_id = wf.declare_str("trip-id").required()
    wf.execute("book-hotel", trip_id).compensate_with("cancel-hotel", trip_id, retries=1)
    wf.execute("charge", trip_id, retries=0)


TRIP = compile_workflow(Workflow("trip", trip))
TASKS = [book_hotel, cancel_hotel, charge]


async def fail_trips(engine: Engine, *trip_ids: str) -> None:
    for trip_id in trip_ids:
        await engine.start("trip", {"trip-id": trip_id}, run_id=trip_id)
    for trip_id in trip_ids:
        info = await engine.wait(trip_id, timeout=20)
        assert info.status is RunStatus.FAILED and info.compensation_failed


async def watch_until(engine: Engine, sink: Any, alerts: int) -> None:
    """Run the example's subscriber until the sink holds ``alerts`` alerts."""
    with anyio.fail_after(20):
        async with anyio.create_task_group() as group:
            group.start_soon(lambda: alerts_example.watch(engine, sink, poll_interval=0.02))
            while len(sink.sent) < alerts:
                await anyio.sleep(0.02)
            await anyio.sleep(0.2)  # time to (wrongly) send more
            group.cancel_scope.cancel()


class CountingAlerts(alerts_example.FileAlerts):  # type: ignore[name-defined,misc]
    """The example's sink, counting every send it was asked for."""

    asked = 0

    def send(self, key: str, alert: dict[str, Any]) -> bool:
        CountingAlerts.asked += 1
        return bool(super().send(key, alert))


async def test_one_alert_per_failed_compensation_across_a_restart(
    db: Db, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "alerts.jsonl"
    async with Engine.open(db.url, tasks=TASKS, poll_interval=0.05) as engine:
        await engine.deploy(TRIP)
        await fail_trips(engine, "t-1", "t-2")
        # Each failure has two COMPENSATION_FAILED entries: the first attempt
        # (a retry follows) and the final one. Only the final one alerts.
        kinds = [e.kind for e in await engine.history("t-1")]
        assert kinds.count("COMPENSATION_FAILED") == 2

        # The first subscriber dies before saving its position (a SIGKILL):
        # nothing it handled is recorded in the database.
        async def no_save(*args: Any) -> None:
            return None

        with monkeypatch.context() as patched:
            patched.setattr(feed, "save_position", no_save)
            await watch_until(engine, CountingAlerts(path), 2)
        assert db.rows("SELECT count(*) FROM subscribers")[0][0] == 0

        # Restarted, it gets the same entries again, and sends nothing twice.
        CountingAlerts.asked = 0
        restarted = CountingAlerts(path)
        await fail_trips(engine, "t-3")
        await watch_until(engine, restarted, 3)
        assert CountingAlerts.asked == 3  # t-1 and t-2 delivered again, then t-3

        # Stopped cleanly, the position is saved: nothing is delivered again.
        CountingAlerts.asked = 0
        await watch_until(engine, CountingAlerts(path), 3)
        assert CountingAlerts.asked == 0

    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert sorted(line["run_id"] for line in lines) == ["t-1", "t-2", "t-3"]
    assert len({line["key"] for line in lines}) == 3
    assert all(line["task"] == "cancel-hotel" and line["error"] for line in lines)
