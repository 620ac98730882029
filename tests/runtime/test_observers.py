"""Observers see what each commit wrote: the journal entries, the task
attempts read from them (outcome and duration, compensations apart), and
the commit's duration and size; one that raises never breaks the engine.
``Engine.workload()`` counts what the database holds to be done."""

from __future__ import annotations

import logging
from typing import Any

import anyio
import pytest
from obsflows import ENDINGS, FLOWS, INPUTS, TASKS

from wfc.runtime import Commit, Engine, TaskAttempt, UsageError, task_attempts

pytestmark = pytest.mark.anyio


class Recorder:
    """Keeps every commit it is told about."""

    def __init__(self) -> None:
        self.commits: list[Commit] = []

    def committed(self, commit: Commit) -> None:
        self.commits.append(commit)

    def attempts(self) -> list[TaskAttempt]:
        return [attempt for commit in self.commits for attempt in task_attempts(commit)]

    def kinds(self, run_id: str) -> list[str]:
        return [e.kind for c in self.commits for e in c.journal if e.run_id == run_id]


class Exploding:
    """An observer with a bug."""

    def __init__(self) -> None:
        self.calls = 0

    def committed(self, commit: Commit) -> None:
        self.calls += 1
        raise ZeroDivisionError("observer bug")


async def run_all(engine: Engine, names: list[str]) -> dict[str, str]:
    for name in names:
        await engine.deploy(FLOWS[name])
    ids = {name: await engine.start(name, INPUTS.get(name, {}), run_id=f"run-{name}") for name in names}
    return {name: (await engine.wait(run_id, timeout=30)).status.value for name, run_id in ids.items()}


async def test_attempts_outcomes_and_durations_come_from_the_committed_journal(db_url: str) -> None:
    recorder = Recorder()
    async with Engine.open(db_url, TASKS, observers=[recorder], poll_interval=0.1) as engine:
        ended = await run_all(engine, list(ENDINGS))
        history = {name: await engine.history(f"run-{name}") for name in ENDINGS}
    assert ended == ENDINGS
    seen = sorted((a.run_id, a.task, a.outcome, a.compensation) for a in recorder.attempts())
    assert seen == sorted([
        ("run-m-ok", "ok-task", "ok", False),
        *[("run-m-retry", "flaky", "error", False)] * 3,
        ("run-m-comp", "reserve", "ok", False),
        ("run-m-comp", "charge", "exception", False),
        ("run-m-comp", "release", "ok", True),
        ("run-m-timeout", "slow", "timeout", False),
    ])
    assert all(a.duration is not None and a.duration >= 0 for a in recorder.attempts())
    # The durations are in the stored journal: what the observer read is what is kept.
    stored = [
        h.detail["duration"]
        for entries in history.values()
        for h in entries
        if h.kind in ("TASK_COMPLETED", "TASK_FAILED", "COMPENSATION_COMPLETED")
    ]
    assert sorted(stored) == sorted(a.duration for a in recorder.attempts())
    timed_out = next(h for h in history["m-timeout"] if h.kind == "TASK_FAILED")
    assert timed_out.detail["duration"] >= 0.2  # the attempt ran until its timeout
    # Each commit carries its journal in seq order per run, its duration and size.
    for name in ENDINGS:
        assert recorder.kinds(f"run-{name}") == [h.kind for h in history[name]]
    assert all(c.duration > 0 and c.batch_size >= 1 for c in recorder.commits)
    last = next(c for c in reversed(recorder.commits) if c.journal)
    labels = last.labels(last.journal[-1].run_id)
    assert labels.version == "1.0" and labels.workflow in ENDINGS


async def test_an_observer_that_raises_is_logged_once_and_breaks_nothing(
    db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    exploding, recorder = Exploding(), Recorder()
    with caplog.at_level(logging.ERROR, logger="wfc.runtime"):
        async with Engine.open(db_url, TASKS, observers=[exploding, recorder], poll_interval=0.1) as engine:
            ended = await run_all(engine, ["m-ok", "m-comp"])
            run = await engine.get_run("run-m-comp")
    assert ended == {"m-ok": "COMPLETED", "m-comp": "COMPENSATED"}
    assert run.status.value == "COMPENSATED" and not run.needs_attention
    assert exploding.calls == len(recorder.commits) > 3  # called on every commit, and the next observer too
    failures = [r for r in caplog.records if "observer" in r.getMessage()]
    assert len(failures) == 1 and "ZeroDivisionError: observer bug" in caplog.text
    assert "RUN_COMPLETED" in recorder.kinds("run-m-ok")


async def test_an_object_that_is_no_observer_is_refused(db_url: str) -> None:
    with pytest.raises(UsageError, match=r"has no committed\(commit\) method"):
        async with Engine.open(db_url, observers=[object()]):  # type: ignore[list-item]
            pass


async def test_workload_counts_active_runs_waiting_attempts_and_due_timers(db_url: str) -> None:
    now = [1_000_000.0]
    async with Engine.open(db_url, serve=False, clock=lambda: now[0]) as client:
        for spec in FLOWS.values():
            await client.deploy(spec)
        empty = await client.workload()
        assert (empty.active_runs, empty.waiting_attempts, empty.timers_due) == ({}, {}, 0)
        for index in range(2):
            await client.start("m-waits", run_id=f"waits-{index}")
        await client.start("m-orphan", run_id="orphan")
        await client.start("m-sleeps", run_id="sleeps")
        await client.halt("waits-1")
        now[0] += 30
        found = await client.workload()
        assert found.active_runs == {
            ("m-waits", "RUNNING"): 1,
            ("m-waits", "HALTED"): 1,
            ("m-orphan", "RUNNING"): 1,
            ("m-sleeps", "RUNNING"): 1,
        }
        # A client leases nothing: the dispatch waits for a worker running the task.
        assert found.waiting_attempts == {"nobody-runs": 1}
        assert found.oldest_waiting_age == 30.0
        assert found.timers_due == 0
        now[0] += 60
        assert (await client.workload()).timers_due == 1  # the sleep is past due, nobody fired it
        await client.cancel("orphan")
        after: Any = await client.workload()
        assert ("m-orphan", "RUNNING") not in after.active_runs and after.waiting_attempts == {}
        assert after.oldest_waiting_age == 0.0


async def test_without_observers_the_engine_runs_as_before(db_url: str) -> None:
    async with Engine.open(db_url, TASKS, poll_interval=0.1) as engine:
        assert await run_all(engine, ["m-ok"]) == {"m-ok": "COMPLETED"}
        await anyio.sleep(0)


async def test_an_observer_added_to_an_open_engine_sees_the_commits_from_then_on(db_url: str) -> None:
    late = Recorder()
    async with Engine.open(db_url, TASKS, poll_interval=0.05) as engine:
        await engine.deploy(FLOWS["m-ok"])
        await engine.wait(await engine.start("m-ok", run_id="before"), timeout=30)
        engine.observe(late)
        await engine.wait(await engine.start("m-ok", run_id="after"), timeout=30)
    seen = {entry.run_id for commit in late.commits for entry in commit.journal}
    assert seen == {"after"}
    assert late.kinds("after")[0] == "RUN_STARTED" and late.kinds("after")[-1] == "RUN_COMPLETED"
    with pytest.raises(UsageError):
        engine.observe(Recorder())  # closed
