"""How one workflow has been doing over a window: runs started per minute,
how many failed or were compensated, and how long each step took (median and
95th percentile), read from the newest runs of the window.

Bounded by design: at most ``sample`` runs (the newest) are read, with their
task entries by primary key, so asking costs the same on a database of a
thousand runs or a million; the answer says how many runs it is based on.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

#: Most buckets of the runs-started series, whatever the window.
MAX_BUCKETS = 120
#: Statuses a run ends in.
FINISHED = ("COMPLETED", "FAILED", "COMPENSATED", "CANCELLED")


@dataclass(frozen=True)
class StepStats:
    """One node's task attempts in the window."""

    node: str
    attempts: int
    failed: int
    """Attempts that ended in a failure (the node may still have succeeded on a retry)."""
    p50: float
    """Seconds from dispatch to result, median."""
    p95: float


@dataclass(frozen=True)
class WorkflowStats:
    """One workflow over a window, as :meth:`Engine.workflow_stats` reads it."""

    workflow: str
    since: float
    until: float
    runs: int
    """Runs read: every run started in the window, or the newest ``sample`` of them."""
    sampled: bool
    """True when the window held more runs than were read."""
    bucket: int
    """Seconds per bucket of ``started``: a minute, or more for long windows
    (at most :data:`MAX_BUCKETS` buckets)."""
    started: list[tuple[float, int]]
    """(bucket start, runs started in it), oldest first, empty buckets included;
    runs per minute are ``count * 60 / bucket``."""
    statuses: dict[str, int]
    failure_rate: float | None
    """FAILED among the finished runs read; None when none finished."""
    compensation_rate: float | None
    """COMPENSATED among the finished runs read."""
    steps: list[StepStats]


def percentile(values: Sequence[float], share: float) -> float:
    """The nearest-rank percentile of sorted ``values``."""
    if not values:
        return 0.0
    rank = max(1, math.ceil(share * len(values)))
    return values[rank - 1]


def workflow_stats(
    workflow: str, since: float, until: float, runs: Sequence[Any], tasks: Iterable[Any], sample: int
) -> WorkflowStats:
    """Aggregate ``runs`` (rows with status and created_at) and their ``tasks``
    journal rows (run_id, thread, node, kind, attempt, at)."""
    statuses = Counter(str(row["status"]) for row in runs)
    finished = sum(statuses[s] for s in FINISHED)
    bucket = 60 * max(1, math.ceil((until - since) / 60 / MAX_BUCKETS))
    counts: Counter[float] = Counter(float(math.floor(float(row["created_at"]) / bucket) * bucket) for row in runs)
    first = float(math.floor(since / bucket) * bucket)
    starts = [first + bucket * i for i in range(int((until - first) // bucket) + 1)]
    buckets = [(start, counts.get(start, 0)) for start in starts]
    return WorkflowStats(
        workflow=workflow,
        since=since,
        until=until,
        runs=len(runs),
        sampled=len(runs) >= sample,
        bucket=bucket,
        started=buckets,
        statuses=dict(statuses),
        failure_rate=statuses["FAILED"] / finished if finished else None,
        compensation_rate=statuses["COMPENSATED"] / finished if finished else None,
        steps=_steps(tasks),
    )


def _steps(rows: Iterable[Any]) -> list[StepStats]:
    dispatched: dict[tuple[str, int, str, int], float] = {}
    durations: dict[str, list[float]] = defaultdict(list)
    failures: Counter[str] = Counter()
    for row in sorted(rows, key=lambda r: float(r["at"])):
        key = (str(row["run_id"]), int(row["thread"]), str(row["node"]), int(row["attempt"] or 0))
        if row["kind"] == "TASK_DISPATCHED":
            dispatched[key] = float(row["at"])
        elif key in dispatched:
            durations[key[2]].append(float(row["at"]) - dispatched.pop(key))
            if row["kind"] == "TASK_FAILED":
                failures[key[2]] += 1
    stats = []
    for node, times in sorted(durations.items()):
        times.sort()
        stats.append(StepStats(node, len(times), failures[node], percentile(times, 0.5), percentile(times, 0.95)))
    return stats
