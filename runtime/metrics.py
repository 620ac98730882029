"""Prometheus metrics of an engine (``pip install 'wfc[metrics]'``).

```python
from wfc.runtime.metrics import Metrics

metrics = Metrics()
async with Engine.open(url, tasks=[...], observers=[metrics]) as engine:
    metrics.track(engine)                 # the gauges read from the database
    body = await metrics.scrape()         # the text format, for GET /metrics
```

``wfc server`` serves it at ``/metrics`` and ``wfc worker --metrics-port N``
on a port of its own. What each metric means:

* Counters and histograms count what this process committed (a
  :class:`~wfc.runtime.Observer` over the journal entries of each commit):
  ``wfc_runs_started_total{workflow,version}``,
  ``wfc_runs_finished_total{workflow,version,status}``,
  ``wfc_task_attempts_total{task,outcome}`` and
  ``wfc_task_duration_seconds{task}`` (forward tasks; outcome ``ok``,
  ``error``, ``exception`` or ``timeout``),
  ``wfc_compensations_total{task,outcome}`` (attempts of compensations, whose
  durations go to ``wfc_task_duration_seconds`` under their own task name),
  ``wfc_commit_duration_seconds`` and ``wfc_commit_batch_size``. Every step
  is committed by exactly one process: sum them over all processes.
* Gauges are read from the database when scraped (at most once per
  ``min_interval``), the same for every process serving it:
  ``wfc_runs_active{workflow,status}``, ``wfc_dispatch_backlog{task}``
  (attempts waiting for a worker), ``wfc_oldest_dispatch_age_seconds``
  and ``wfc_timers_due``.

Labels are only what the deployed specs bound (workflow, version, task,
status, outcome), never a run id or a value.
"""

from __future__ import annotations

import asyncio
import bisect
import logging
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Final, TypeVar

try:
    from prometheus_client import CollectorRegistry, generate_latest
    from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
    from prometheus_client.registry import Collector
except ModuleNotFoundError as exc:  # pragma: no cover - the extra is part of every test setup
    raise ImportError(
        f"wfc.runtime.metrics needs {exc.name}, which is not installed: pip install 'wfc[metrics]'"
    ) from exc

from wfc.runtime._observe import ATTEMPT_KINDS, Commit, attempt_of
from wfc.runtime.errors import UsageError
from wfc.runtime.store.workload import Workload

if TYPE_CHECKING:
    from wfc.runtime._engine import Engine

log = logging.getLogger("wfc.metrics")

Labels = TypeVar("Labels", bound=tuple[str, ...])

#: Journal kinds that end a run, and the status each ends it with.
FINISHED: Final = {f"RUN_{status}": status for status in ("COMPLETED", "FAILED", "COMPENSATED", "CANCELLED")}

#: Bounds of the task duration histogram, seconds: Prometheus's defaults,
#: which span what a call to another service takes.
TASK_BUCKETS: Final = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0)
#: Bounds of the commit duration histogram, seconds: from a batched SQLite
#: commit (well under a millisecond per step) to a database in trouble.
COMMIT_BUCKETS: Final = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
#: Bounds of the commands-per-commit histogram, up to the engine's default
#: ``max_batch`` (1000).
BATCH_BUCKETS: Final = (1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0)


class Metrics:
    """The Prometheus metrics of one engine: an observer for
    ``Engine.open(observers=[...])``, and the database gauges once
    :meth:`track` is called.

    Args:
        registry: Where the metrics are registered; a new registry of
            their own by default (serve :attr:`registry`), so engines in one
            process do not clash.
        min_interval: The database is read for the gauges at most once per
            this many seconds, however often they are scraped.
        stuck_after: ``wfc_runs_stuck`` counts the runs stuck for longer
            than this many seconds (see :meth:`wfc.runtime.Engine.count_stuck`).

    Raises:
        UsageError: a negative ``stuck_after``.
    """

    def __init__(
        self, registry: CollectorRegistry | None = None, *, min_interval: float = 1.0, stuck_after: float = 300.0
    ) -> None:
        self.registry = CollectorRegistry(auto_describe=True) if registry is None else registry
        """The registry holding these metrics (and only these, unless you gave yours)."""
        self._counts = _Counts()
        if not stuck_after >= 0:
            raise UsageError(f"Metrics(stuck_after=...) is seconds, zero or more, not {stuck_after!r}")
        self._workload = _WorkloadGauges(min_interval, stuck_after)
        self.registry.register(self._counts)
        self.registry.register(self._workload)

    def committed(self, commit: Commit) -> None:
        """Count what ``commit`` wrote (the engine calls this)."""
        self._counts.add(commit)

    def track(self, engine: Engine) -> None:
        """Read the gauges from ``engine``'s database when scraped. Call it
        in the engine's event loop, while the engine is open."""
        self._workload.track(engine)

    async def refresh(self) -> None:
        """Read the gauges from the database now, unless they were read
        within ``min_interval`` (call it in the engine's event loop)."""
        await self._workload.refresh()

    async def scrape(self) -> bytes:
        """The metrics in Prometheus's text format, with the gauges read
        from the database if they are older than ``min_interval``: what
        ``GET /metrics`` answers (call it in the engine's event loop)."""
        await self.refresh()
        return generate_latest(self.registry)

    def __repr__(self) -> str:
        return f"<wfc Metrics {id(self):#x}>"


class _Histogram:
    """Observations counted per bucket (not cumulative: one increment per
    observation) and summed."""

    __slots__ = ("bounds", "counts", "total")

    def __init__(self, bounds: Sequence[float]) -> None:
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)
        self.total = 0.0

    def observe(self, value: float) -> None:
        # The first bound >= value: Prometheus's buckets are "less or equal".
        self.counts[bisect.bisect_left(self.bounds, value)] += 1
        self.total += value

    def buckets(self) -> list[tuple[str, float]]:
        """Cumulative counts by upper bound, ``+Inf`` last."""
        found: list[tuple[str, float]] = []
        running = 0
        for bound, count in zip([*map(str, self.bounds), "+Inf"], self.counts, strict=True):
            running += count
            found.append((bound, running))
        return found


class _Counts(Collector):
    """The counters and histograms, kept as plain numbers and turned into
    metric families only when scraped: counting a commit costs a few dict
    updates under one lock, not a locked Prometheus child per fact."""

    def __init__(self) -> None:
        self._lock = threading.Lock()  # commits count in the event loop; scrapes may read in another thread
        self._started: dict[tuple[str, str], int] = {}
        self._finished: dict[tuple[str, str, str], int] = {}
        self._attempts: dict[tuple[str, str], int] = {}
        self._compensations: dict[tuple[str, str], int] = {}
        self._durations: dict[str, _Histogram] = {}
        self._commit_seconds = _Histogram(COMMIT_BUCKETS)
        self._batch_size = _Histogram(BATCH_BUCKETS)

    def add(self, commit: Commit) -> None:
        with self._lock:
            for entry in commit.journal:
                kind = entry.kind
                if kind in ATTEMPT_KINDS:
                    attempt = attempt_of(entry)
                    counts = self._compensations if attempt.compensation else self._attempts
                    key = (attempt.task, attempt.outcome)
                    counts[key] = counts.get(key, 0) + 1
                    if attempt.duration is not None:
                        durations = self._durations.get(attempt.task)
                        if durations is None:
                            durations = self._durations[attempt.task] = _Histogram(TASK_BUCKETS)
                        durations.observe(attempt.duration)
                elif kind == "RUN_STARTED":
                    labels = commit.labels(entry.run_id)
                    started = (labels.workflow, labels.version)
                    self._started[started] = self._started.get(started, 0) + 1
                elif kind in FINISHED:
                    labels = commit.labels(entry.run_id)
                    finished = (labels.workflow, labels.version, FINISHED[kind])
                    self._finished[finished] = self._finished.get(finished, 0) + 1
            self._commit_seconds.observe(commit.duration)
            self._batch_size.observe(commit.batch_size)

    def describe(self) -> Iterable[Metric]:
        return list(self._families())

    def collect(self) -> Iterable[Metric]:
        with self._lock:
            return list(self._families())

    def _families(self) -> Iterator[Metric]:
        yield _counter(
            "wfc_runs_started", "Runs started (committed by this process).", ["workflow", "version"], self._started
        )
        yield _counter(
            "wfc_runs_finished",
            "Runs that reached a final status (a retried run that ends again counts again).",
            ["workflow", "version", "status"],
            self._finished,
        )
        yield _counter(
            "wfc_task_attempts", "Task attempts whose result was committed.", ["task", "outcome"], self._attempts
        )
        durations = HistogramMetricFamily(
            "wfc_task_duration_seconds",
            "How long task attempts ran (compensations under their own task names).",
            labels=["task"],
        )
        for task in sorted(self._durations):
            histogram = self._durations[task]
            durations.add_metric([task], histogram.buckets(), histogram.total)
        yield durations
        yield _counter(
            "wfc_compensations", "Compensation attempts whose result was committed.", ["task", "outcome"],
            self._compensations,
        )  # fmt: skip
        yield _histogram(
            "wfc_commit_duration_seconds",
            "Seconds from the start of a transaction of the commit loop to the end of its commit.",
            self._commit_seconds,
        )
        yield _histogram("wfc_commit_batch_size", "Commands applied per transaction.", self._batch_size)


def _counter(name: str, documentation: str, labels: list[str], counts: Mapping[Labels, int]) -> Metric:
    family = CounterMetricFamily(name, documentation, labels=labels)
    for key in sorted(counts):
        family.add_metric(list(key), counts[key])
    return family


def _histogram(name: str, documentation: str, histogram: _Histogram) -> Metric:
    family = HistogramMetricFamily(name, documentation)
    family.add_metric([], histogram.buckets(), histogram.total)
    return family


class _WorkloadGauges(Collector):
    """The gauges read from the database (:meth:`Engine.workload`), as a
    Prometheus collector: what :meth:`collect` reports was read at most
    ``min_interval`` ago.

    A scrape from another thread (``prometheus_client``'s own HTTP server)
    reads the database through the engine's event loop and waits for it; a
    scrape in the event loop itself cannot wait, so it reports what the
    last :meth:`refresh` read (``Metrics.scrape`` refreshes first)."""

    def __init__(self, min_interval: float, stuck_after: float) -> None:
        self._min_interval = min_interval
        self._stuck_after = stuck_after
        self._engine: Engine | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: int | None = None
        self._lock: asyncio.Lock | None = None
        self._read: Workload | None = None
        self._read_at = float("-inf")
        self._failing = False
        # Label values seen once stay reported (as 0 when nothing is left),
        # so a series drops to zero instead of vanishing.
        self._seen_runs: set[tuple[str, str]] = set()
        self._seen_tasks: set[str] = set()
        self._collecting = threading.Lock()  # scrapes in the event loop and in server threads

    def track(self, engine: Engine) -> None:
        self._engine = engine
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        self._lock = asyncio.Lock()

    async def refresh(self) -> None:
        if self._engine is None or self._lock is None:
            return
        async with self._lock:  # scrapes at once share one read
            if time.monotonic() - self._read_at < self._min_interval:
                return
            try:
                read = await self._engine.workload(self._stuck_after)
            except Exception as exc:  # the database's trouble must not fail the scrape of the counters
                if not self._failing:
                    log.warning("could not read the metrics' gauges from the database: %s", exc)
                self._failing = True
                self._read = None
            else:
                self._failing = False
                self._read = read
            self._read_at = time.monotonic()

    def _refresh_from_thread(self) -> None:
        loop = self._loop
        if loop is None or threading.get_ident() == self._loop_thread or loop.is_closed():
            return
        try:
            asyncio.run_coroutine_threadsafe(self.refresh(), loop).result(timeout=10)
        except Exception as exc:  # the loop closed, or the database hangs: report what was read
            log.warning("could not read the metrics' gauges in time: %s", exc or type(exc).__name__)

    def describe(self) -> Iterable[GaugeMetricFamily]:
        return list(self._families(None))

    def collect(self) -> Iterable[GaugeMetricFamily]:
        if time.monotonic() - self._read_at >= self._min_interval:
            self._refresh_from_thread()
        with self._collecting:
            return list(self._families(self._read))

    def _families(self, read: Workload | None) -> Iterator[GaugeMetricFamily]:
        runs = GaugeMetricFamily(
            "wfc_runs_active", "Unfinished runs in the database (RUNNING, HALTED).", labels=["workflow", "status"]
        )
        backlog = GaugeMetricFamily(
            "wfc_dispatch_backlog",
            "Task attempts dispatched and held by no live worker: waiting for one that runs the task.",
            labels=["task"],
        )
        oldest = GaugeMetricFamily(
            "wfc_oldest_dispatch_age_seconds", "Seconds the oldest attempt of wfc_dispatch_backlog has waited."
        )
        timers = GaugeMetricFamily("wfc_timers_due", "Durable timers past their due time and not fired yet.")
        stuck = GaugeMetricFamily(
            "wfc_runs_stuck",
            f"Runs stuck for longer than {self._stuck_after:g} s: RUNNING with an attempt no live worker holds "
            "or a timer overdue (wfc runs list --stuck).",
        )
        if read is not None:
            self._seen_runs.update(read.active_runs)
            for key in sorted(self._seen_runs):
                runs.add_metric(list(key), read.active_runs.get(key, 0))
            self._seen_tasks.update(read.waiting_attempts)
            for task in sorted(self._seen_tasks):
                backlog.add_metric([task], read.waiting_attempts.get(task, 0))
            oldest.add_metric([], read.oldest_waiting_age)
            timers.add_metric([], read.timers_due)
            stuck.add_metric([], read.stuck_runs)
        yield from (runs, backlog, oldest, timers, stuck)
