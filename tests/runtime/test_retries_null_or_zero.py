"""``retries`` through the whole pipeline, on SQLite: ``wf.execute(...,
retries=0)`` turns retries off even when the ``@task`` default is above 0;
leaving it unset takes that default; and a spec stored in the older ``wfc/1``
format, where ``retries: 0`` meant unset, keeps that meaning."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from rtclock import ManualClock, finish, manual_engine
from rtspec import exit_, out, spec, task

from wfc.dsl import Workflow, WorkflowThread
from wfc.runtime import RunInfo, RunStatus, TaskContext
from wfc.runtime import task as wfc_task
from wfc.specs import TaskNode, WorkflowSpec

pytestmark = pytest.mark.anyio

attempts: list[int] = []


@wfc_task("always-fails", retries=3, backoff=0.01)
def always_fails(ctx: TaskContext) -> None:
    attempts.append(ctx.attempt)
    raise ConnectionError("gateway unreachable")


def one_task(retries: int | None) -> WorkflowSpec:
    def flow(wf: WorkflowThread) -> None:
        if retries is None:
            wf.execute("always-fails")
        else:
            wf.execute("always-fails", retries=retries)

    return Workflow("once", flow).compile()


async def run_to_the_end(url: str, workflow: WorkflowSpec) -> RunInfo:
    attempts.clear()
    clock = ManualClock()
    async with manual_engine(url, clock, tasks=[always_fails], poll_interval=0.05) as engine:
        await engine.deploy(workflow)
        return await finish(engine, clock, await engine.start(workflow.name))


def stored_retries(path: Path, node: str) -> tuple[str, object]:
    """The format and the ``retries`` of task ``node`` in the spec stored in the database."""
    with sqlite3.connect(path) as conn:
        (body,) = conn.execute("SELECT body FROM specs").fetchone()
    document = json.loads(body)
    return document["schema"], document["threads"]["main"]["nodes"][node].get("retries", "unset")


async def test_zero_retries_runs_the_task_exactly_once(sqlite_url: str, sqlite_path: Path) -> None:
    run = await run_to_the_end(sqlite_url, one_task(0))
    assert stored_retries(sqlite_path, "always-fails") == ("wfc/2", 0)
    assert attempts == [1]
    assert run.status is RunStatus.FAILED and run.failure is not None
    assert run.failure.name == "TASK_ERROR"
    assert "attempt 1 of 1" in run.failure.message


async def test_unset_retries_take_the_task_default(sqlite_url: str, sqlite_path: Path) -> None:
    run = await run_to_the_end(sqlite_url, one_task(None))
    assert stored_retries(sqlite_path, "always-fails") == ("wfc/2", "unset")
    assert attempts == [1, 2, 3, 4]
    assert run.failure is not None and "attempt 4 of 4" in run.failure.message


async def test_an_explicit_count_wins_over_the_task_default(sqlite_url: str) -> None:
    run = await run_to_the_end(sqlite_url, one_task(1))
    assert attempts == [1, 2]
    assert run.failure is not None and "attempt 2 of 2" in run.failure.message


async def test_a_stored_wfc1_spec_keeps_zero_as_unset(sqlite_url: str, sqlite_path: Path) -> None:
    old = spec("once", [("c", task("always-fails", retries=0)), ("end", exit_(out("c")))])
    assert old.schema == "wfc/1"
    node = old.threads["main"].nodes["c"]
    assert isinstance(node, TaskNode) and node.retries is None
    run = await run_to_the_end(sqlite_url, old)
    assert attempts == [1, 2, 3, 4]
    assert run.status is RunStatus.FAILED
    # Stored as the older wfc wrote it, so it reads back with the same meaning.
    assert stored_retries(sqlite_path, "c") == ("wfc/1", 0)
