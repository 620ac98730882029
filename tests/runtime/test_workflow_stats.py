"""``Engine.workflow_stats`` (the dashboard's analytics): statuses and rates of
the runs of a window, attempts and p50/p95 per step read from the journal,
bounded by a sample of the newest runs; on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from wfc.dsl import Workflow, WorkflowThread
from wfc.runtime import Engine, RunStatus, TaskException, UsageError, task
from wfc.runtime._analytics import percentile, workflow_stats

pytestmark = pytest.mark.anyio


@task("check", retries=0)
def check(order: str) -> str:
    if "bad" in order:
        raise TaskException("bad-order", f"order {order} is bad")
    return order


@task("ship", retries=0)
def ship(order: str) -> str:
    return f"shipped {order}"


def flow(wf: WorkflowThread) -> Any:
    order = wf.declare_str("order").required()
    checked = wf.execute("check", order, retries=0)
    return wf.execute("ship", checked, retries=0)


SPEC = Workflow("stats", flow).compile()


async def test_statuses_rates_and_step_times_of_a_window(db_url: str) -> None:
    async with Engine.open(db_url, [check, ship], poll_interval=0.05) as engine:
        await engine.deploy(SPEC)
        before = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
        for order in ("a-1", "a-2", "bad-3", "a-4"):
            await engine.wait(await engine.start("stats", {"order": order}, run_id=order), timeout=30)
        stats = await engine.workflow_stats("stats", before)
        assert stats.runs == 4 and not stats.sampled
        assert stats.statuses == {"COMPLETED": 3, "FAILED": 1}
        assert stats.failure_rate == pytest.approx(0.25)
        assert stats.compensation_rate == 0.0
        assert sum(count for _, count in stats.started) == 4
        assert stats.bucket == 60
        steps = {step.node: step for step in stats.steps}
        assert (steps["check"].attempts, steps["check"].failed) == (4, 1)
        assert (steps["ship"].attempts, steps["ship"].failed) == (3, 0)
        assert all(0 <= step.p50 <= step.p95 < 30 for step in stats.steps)

        counts = await engine.count_runs("stats")
        assert {status.value: n for status, n in counts.items() if n} == {"COMPLETED": 3, "FAILED": 1}
        assert len(counts) == len(RunStatus)
        assert (await engine.count_runs("stats", cap=2))[RunStatus.COMPLETED] == 2  # "at least 2"
        assert sum((await engine.count_runs("no-such-workflow")).values()) == 0
        with pytest.raises(UsageError, match="cap"):
            await engine.count_runs(cap=0)

        sampled = await engine.workflow_stats("stats", before, sample=2)
        assert sampled.runs == 2 and sampled.sampled
        soon = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
        later = await engine.workflow_stats("stats", soon, soon + dt.timedelta(hours=1))
        assert later.runs == 0 and later.failure_rate is None and later.steps == []
        with pytest.raises(UsageError, match="sample"):
            await engine.workflow_stats("stats", before, sample=0)
        with pytest.raises(UsageError, match="ends"):
            await engine.workflow_stats("stats", soon, before)


def test_a_long_window_has_at_most_120_buckets_and_percentiles_are_nearest_rank() -> None:
    week = 7 * 86400.0
    stats = workflow_stats("w", 0.0, week, [], [], 100)
    assert len(stats.started) <= 121 and stats.bucket % 60 == 0
    assert percentile([1.0, 2.0, 3.0, 4.0], 0.5) == 2.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 0.95) == 4.0
    assert percentile([], 0.5) == 0.0


def test_a_retried_attempt_is_timed_from_its_own_dispatch() -> None:
    rows = [
        {"run_id": "r", "thread": 0, "node": "n", "kind": "TASK_DISPATCHED", "attempt": 1, "at": 10.0},
        {"run_id": "r", "thread": 0, "node": "n", "kind": "TASK_FAILED", "attempt": 1, "at": 11.0},
        {"run_id": "r", "thread": 0, "node": "n", "kind": "TASK_DISPATCHED", "attempt": 2, "at": 20.0},
        {"run_id": "r", "thread": 0, "node": "n", "kind": "TASK_COMPLETED", "attempt": 2, "at": 23.0},
    ]
    stats = workflow_stats("w", 0.0, 60.0, [{"status": "COMPLETED", "created_at": 5.0}], rows, 100)
    (step,) = stats.steps
    assert (step.attempts, step.failed, step.p50, step.p95) == (2, 1, 1.0, 3.0)
