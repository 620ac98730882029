"""``wfc.runtime.metrics``: exact counts of what an engine committed, the
gauges read from the database when scraped (in the event loop, and from
another thread as ``prometheus_client``'s own server scrapes), and labels
bounded by the specs (no run id anywhere)."""

from __future__ import annotations

import threading

import anyio
import pytest

pytest.importorskip("prometheus_client", reason="the metrics need pip install 'wfc[metrics]'")
from obsflows import ATTEMPTS, COMPENSATIONS, DURATIONS, ENDINGS, FLOWS, INPUTS, TASKS, labelled, scraped
from prometheus_client import generate_latest

from wfc.runtime import Engine
from wfc.runtime.metrics import Metrics

pytestmark = pytest.mark.anyio


async def test_counters_and_histograms_count_each_committed_fact_once(db_url: str) -> None:
    metrics = Metrics()
    async with Engine.open(db_url, TASKS, observers=[metrics], poll_interval=0.1) as engine:
        metrics.track(engine)
        for name in ENDINGS:
            await engine.deploy(FLOWS[name])
        ids = [await engine.start(name, INPUTS.get(name, {}), run_id=f"secret-run-{name}") for name in ENDINGS]
        for run_id in ids:
            await engine.wait(run_id, timeout=30)
        text = (await metrics.scrape()).decode()
    samples = scraped(text)
    assert labelled(samples, "wfc_runs_started_total", "workflow", "version") == {
        (name, "1.0"): 1.0 for name in ENDINGS
    }
    assert labelled(samples, "wfc_runs_finished_total", "workflow", "status") == {
        (name, status): 1.0 for name, status in ENDINGS.items()
    }
    assert labelled(samples, "wfc_task_attempts_total", "task", "outcome") == ATTEMPTS
    assert labelled(samples, "wfc_compensations_total", "task", "outcome") == COMPENSATIONS
    assert labelled(samples, "wfc_task_duration_seconds_count", "task") == DURATIONS
    assert labelled(samples, "wfc_task_duration_seconds_sum", "task")["slow"] >= 0.2
    commits = samples[("wfc_commit_duration_seconds_count", frozenset())]
    assert commits >= 10 and samples[("wfc_commit_batch_size_count", frozenset())] == commits
    assert samples[("wfc_commit_batch_size_sum", frozenset())] >= len(ENDINGS)
    # Nothing is left to do: the gauges say so.
    assert samples[("wfc_timers_due", frozenset())] == 0
    assert samples[("wfc_runs_stuck", frozenset())] == 0
    assert samples[("wfc_oldest_dispatch_age_seconds", frozenset())] == 0
    assert labelled(samples, "wfc_runs_active", "workflow", "status") == {}
    assert "secret-run" not in text and "tok_visa" not in text


async def test_gauges_are_read_when_scraped_also_from_another_thread(db_url: str) -> None:
    now = [2_000_000.0]
    metrics = Metrics(min_interval=0.0, stuck_after=60)
    async with Engine.open(db_url, serve=False, clock=lambda: now[0], observers=[metrics]) as client:
        metrics.track(client)
        for name in ("m-waits", "m-orphan", "m-sleeps"):
            await client.deploy(FLOWS[name])
        await client.start("m-waits", run_id="w")
        await client.start("m-orphan", run_id="o")
        await client.start("m-sleeps", run_id="s")
        now[0] += 90
        samples = scraped((await metrics.scrape()).decode())
        assert labelled(samples, "wfc_runs_active", "workflow", "status") == {
            ("m-waits", "RUNNING"): 1,
            ("m-orphan", "RUNNING"): 1,
            ("m-sleeps", "RUNNING"): 1,
        }
        assert labelled(samples, "wfc_dispatch_backlog", "task") == {"nobody-runs": 1}
        assert samples[("wfc_oldest_dispatch_age_seconds", frozenset())] == 90
        assert samples[("wfc_timers_due", frozenset())] == 1
        # Stuck for over 60 s: the attempt nobody runs (90 s), not the sleep overdue by 30 s.
        assert samples[("wfc_runs_stuck", frozenset())] == 1
        assert labelled(samples, "wfc_runs_started_total", "workflow") == {
            "m-waits": 1, "m-orphan": 1, "m-sleeps": 1
        }
        await client.cancel("o")
        # prometheus_client's HTTP server calls collect() in a thread of its
        # own: the gauges are read through the engine's loop, freshly.
        found: list[bytes] = []
        scrape = threading.Thread(target=lambda: found.append(generate_latest(metrics.registry)))
        scrape.start()
        while scrape.is_alive():
            await anyio.sleep(0.01)
        samples = scraped(found[0].decode())
        # A series seen once stays, at 0, rather than vanishing.
        assert labelled(samples, "wfc_dispatch_backlog", "task") == {"nobody-runs": 0}
        assert labelled(samples, "wfc_runs_active", "workflow", "status")[("m-orphan", "RUNNING")] == 0
        assert samples[("wfc_runs_stuck", frozenset())] == 0
        assert labelled(samples, "wfc_runs_finished_total", "workflow", "status") == {("m-orphan", "CANCELLED"): 1}


async def test_scrapes_within_the_interval_read_the_database_once(db_url: str) -> None:
    metrics = Metrics(min_interval=3600)
    async with Engine.open(db_url, serve=False, observers=[metrics]) as client:
        metrics.track(client)
        await client.deploy(FLOWS["m-waits"])
        first = scraped((await metrics.scrape()).decode())
        await client.start("m-waits", run_id="w")
        second = scraped((await metrics.scrape()).decode())
    assert labelled(first, "wfc_runs_active", "workflow") == labelled(second, "wfc_runs_active", "workflow") == {}
    assert labelled(second, "wfc_runs_started_total", "workflow") == {"m-waits": 1}  # counters are live


async def test_without_track_only_the_counters_are_reported(db_url: str) -> None:
    metrics = Metrics()
    async with Engine.open(db_url, TASKS, observers=[metrics], poll_interval=0.1) as engine:
        await engine.deploy(FLOWS["m-ok"])
        await engine.wait(await engine.start("m-ok"), timeout=30)
        samples = scraped((await metrics.scrape()).decode())
    assert labelled(samples, "wfc_task_attempts_total", "task", "outcome") == {("ok-task", "ok"): 1}
    assert ("wfc_timers_due", frozenset()) not in samples

