"""wfc side of the benchmark, one scenario per process; prints one JSON object.

``python wfc_bench.py SCENARIO URL N [--client] [--metrics]``

- ``throughput``: ``N`` five-step runs started at once; steps/s.
- ``sequential``: ``N`` five-step runs one after the other; ms per step.
- ``children``: one run spawns ``N`` child threads that wait for an event,
  another spawns one; then the two take :data:`CHILD_STEPS` steps each, in
  turns of :data:`CHILD_TURN` steps (:class:`bench_tasks.Turns`); ms per
  step of each.

Every scenario reports CPU ms per step (this process's CPU time over the
measured phase / steps) and, on SQLite, commits per step (statements that
commit, seen through SQLite's trace hook), on PostgreSQL round trips per step
(asyncpg calls). ``--client`` opens a non-serving engine: ``wfc worker``
processes started by ``run.py`` run the tasks. ``--metrics`` opens the
engine with the Prometheus metrics observing every commit (and their
database gauges, scraped once a second meanwhile), to measure what metrics
cost.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from probes import (
    AsyncpgCalls,
    SqliteCommits,
    backend_cpu_seconds,
    cpu_seconds,
    sqlite_synchronous,
    written_bytes,
    written_kb_per_step,
)

SQLITE = SqliteCommits()
ASYNCPG = AsyncpgCalls()
STEPS = 5
CHILD_STEPS = 200
CHILD_TURN = 10


def _install(url: str) -> None:
    """Counters go in before wfc opens anything."""
    if url.startswith("sqlite"):
        SQLITE.install()
    else:
        ASYNCPG.install()


class Meter:
    """CPU, commits and round trips over a measured phase."""

    def __init__(self) -> None:
        self.cpu = cpu_seconds()
        self.written = written_bytes()
        self.commits = SQLITE.commits
        self.trips = ASYNCPG.round_trips
        self.pg_commits = ASYNCPG.commits
        self.verbs = dict(ASYNCPG.verbs)
        self.began = time.perf_counter()

    def figures(self, steps: int) -> dict[str, Any]:
        elapsed = time.perf_counter() - self.began
        return {
            "steps": steps,
            "seconds": round(elapsed, 3),
            "steps_per_s": round(steps / elapsed, 1),
            "ms_per_step": round(elapsed * 1000 / steps, 4),
            "cpu_ms_per_step": round((cpu_seconds() - self.cpu) * 1000 / steps, 4),
            "commits_per_step": round((SQLITE.commits - self.commits) / steps, 5),
            "written_kb_per_step": written_kb_per_step(self.written, steps),
            "round_trips_per_step": round((ASYNCPG.round_trips - self.trips) / steps, 3),
            "begin_commit_per_step": round((ASYNCPG.commits - self.pg_commits) / steps, 5),
            "round_trips_per_step_by_verb": {
                verb: round((count - self.verbs.get(verb, 0)) / steps, 4)
                for verb, count in sorted(ASYNCPG.verbs.items())
                if count > self.verbs.get(verb, 0)
            },
        }


async def throughput(engine: Any, count: int) -> dict[str, Any]:
    import anyio

    run_ids: list[str] = []

    async def start_and_wait() -> None:
        run_id = await engine.start("five-steps", {})
        run_ids.append(run_id)
        await engine.wait(run_id)

    backends = await _backend_cpu(engine.url)
    meter = Meter()
    async with anyio.create_task_group() as tg:
        for _ in range(count):
            tg.start_soon(start_and_wait)
    result = meter.figures(count * STEPS) if count else {}
    after = await _backend_cpu(engine.url)
    if count and backends is not None and after is not None:
        result["db_backend_cpu_ms_per_step"] = round((after - backends) * 1000 / (count * STEPS), 4)
    runs = [await engine.get_run(run_id) for run_id in run_ids]
    if any(run.status != "COMPLETED" for run in runs):
        raise SystemExit("some benchmark runs did not complete")
    return result


async def sequential(engine: Any, count: int) -> dict[str, Any]:
    from bench_stats import percentile

    if not count:
        return {}
    durations = []
    meter = Meter()
    for _ in range(count):
        began = time.perf_counter()
        await engine.wait(await engine.start("five-steps", {}))
        durations.append((time.perf_counter() - began) * 1000 / STEPS)
    result = meter.figures(count * STEPS)
    result["median_ms_per_step"] = round(percentile(durations, 0.5), 4)
    result["p99_ms_per_step"] = round(percentile(durations, 0.99), 4)
    return result


async def children(engine: Any, count: int) -> dict[str, Any]:
    """Per-step time of a parent while ``count`` children wait, and of one
    with a single child, the two stepping in turns on this engine (the run
    with ``count`` first: its spawn is done before the other starts)."""
    from bench_tasks import TURNS

    TURNS.begin("many", "one", CHILD_TURN)
    many = await engine.start("with-children", {"items": list(range(count)), "tag": "many"})
    one = await engine.start("with-children", {"items": [0], "tag": "one"})
    for run_id, children in ((many, count), (one, 1)):
        info = await engine.wait(run_id)
        if info.status != "COMPLETED":
            raise SystemExit(f"the run with {children} children ended {info.status}")
    return {
        "children": count,
        "steps": CHILD_STEPS,
        "ms_per_step": round(TURNS.ms_per_step("many", skip_turns=2), 4),
        "ms_per_step_with_1": round(TURNS.ms_per_step("one", skip_turns=2), 4),
    }


async def _backend_cpu(url: str) -> float | None:
    """The PostgreSQL backends' CPU seconds (``None`` on SQLite)."""
    return None if url.startswith("sqlite") else await backend_cpu_seconds(url)


def specs() -> list[Any]:
    """The benchmark's workflows, compiled."""
    from wfc.dsl import Workflow, WorkflowThread

    def five_steps(wf: WorkflowThread) -> None:
        for index in range(STEPS):
            wf.execute("trivial-step", index)

    def child(t: WorkflowThread) -> None:
        t.wait_for_event("bench-release")

    def with_children(wf: WorkflowThread) -> None:
        items = wf.declare_json("items").required()
        tag = wf.declare_str("tag").required()
        wf.spawn_thread_for_each(items, child, "waiter")
        for index in range(CHILD_STEPS):
            wf.execute("stamped-step", tag, index)

    return [Workflow("five-steps", five_steps).compile(), Workflow("with-children", with_children).compile()]


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    from bench_tasks import stamped_step, trivial_step

    from wfc.runtime import Engine

    scenario = {"throughput": throughput, "sequential": sequential, "children": children}[args.scenario]
    tasks = [] if args.client else [trivial_step, stamped_step]
    spans = _counting_exporter() if args.otel else None
    tracing = None if spans is None else _tracing(spans)
    observers: list[Any] = []
    if args.metrics:
        from wfc.runtime.metrics import Metrics

        observers.append(Timed(Metrics()))
    opened = Engine.open(args.url, tasks=tasks, serve=not args.client, tracing=tracing, observers=observers)
    async with opened as engine:
        for spec in specs():
            await engine.deploy(spec)
        if args.scenario != "children" and not (args.client and not args.count):
            await engine.wait(await engine.start("five-steps", {}))  # warm up
        if observers:
            result = await _scraped(engine, observers[0], scenario(engine, args.count))
        else:
            result = await scenario(engine, args.count)
        if spans is not None:
            result["spans_exported_when_runs_ended"] = spans.count
    if spans is not None:
        result["spans_exported"] = spans.count
    return result


def _counting_exporter() -> Any:
    """An OpenTelemetry exporter that counts the spans and drops them: the
    cost of making and handing them over, without a collector."""
    from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

    class Counting(SpanExporter):
        count = 0

        def export(self, spans: Any) -> SpanExportResult:
            self.count += len(spans)
            return SpanExportResult.SUCCESS

    return Counting()


def _tracing(exporter: Any) -> Any:
    from wfc.runtime.tracing import Tracing

    return Tracing(exporter)


class Timed:
    """An observer timed: the CPU seconds its ``committed`` took in all
    (CPU, not wall time: on a busy machine the wall time of a short call
    also counts the other processes that ran meanwhile)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.seconds = 0.0

    def committed(self, commit: Any) -> None:
        began = time.thread_time()
        self.inner.committed(commit)
        self.seconds += time.thread_time() - began


async def _scraped(engine: Any, timed: Timed, measured: Any) -> dict[str, Any]:
    """Await ``measured`` while Prometheus would scrape the metrics (here
    once a second, the gauges read from the database each time); add the
    time the observer and the scrapes took within it."""
    import anyio

    metrics = timed.inner
    metrics.track(engine)
    scrapes = 0

    async def scrape() -> None:
        nonlocal scrapes
        while True:
            await metrics.scrape()
            scrapes += 1
            await anyio.sleep(1.0)

    timed.seconds = 0.0  # the warm-up run is not measured
    async with anyio.create_task_group() as tg:
        tg.start_soon(scrape)
        result: dict[str, Any] = await measured
        tg.cancel_scope.cancel()
    # A scrape's cost, timed alone once the engine is idle: timed during
    # the run, an await would also count the commits the loop ran meanwhile.
    metrics._workload._min_interval = 0.0  # every scrape reads the database, as the first of each second does
    began = time.process_time()
    for _ in range(20):
        await metrics.scrape()
    scrape_ms = (time.process_time() - began) * 1000 / 20
    steps = result["steps"]
    return {
        **result,
        "scrapes": scrapes,
        "observer_ms_per_step": round(timed.seconds * 1000 / steps, 5),
        "scrape_ms": round(scrape_ms, 4),
        "scrape_ms_per_step": round(scrape_ms * scrapes / steps, 5),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("scenario", choices=["throughput", "sequential", "children"])
    parser.add_argument("url")
    parser.add_argument("count", type=int)
    parser.add_argument("--client", action="store_true", help="start runs only; wfc workers run the tasks")
    parser.add_argument("--otel", action="store_true", help="export OpenTelemetry spans (counted, then dropped)")
    parser.add_argument("--metrics", action="store_true", help="with the Prometheus metrics observing the engine")
    args = parser.parse_args()
    _install(args.url)
    import anyio

    result = anyio.run(main_async, args)
    if args.url.startswith("sqlite:///") and not args.url.endswith(":memory:"):
        mode, level = sqlite_synchronous(args.url.removeprefix("sqlite:///").partition("?")[0])
        result["journal_mode"] = mode
        result["synchronous_set"] = sorted(SQLITE.sync_pragmas)
        result["file_default_synchronous"] = level
    print(json.dumps(result))


if __name__ == "__main__":
    sys.path.insert(0, __file__.rpartition("/")[0])
    main()
