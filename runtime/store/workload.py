"""What a database holds to be done, counted: the gauges an operator
watches (unfinished runs, task attempts waiting for a worker, timers past
due). Three grouped reads, shared by both dialects, each over an index or
over the outbox, which holds only unfinished attempts.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from wfc.runtime.store.base import StuckWindow
from wfc.runtime.store.core import Store

#: Statuses of runs that are not finished (the others never change by themselves).
ACTIVE: tuple[str, ...] = ("RUNNING", "HALTED")

_RUNS = (
    "SELECT workflow, status, count(*) AS n FROM runs WHERE status IN ("
    + ", ".join("?" for _ in ACTIVE)
    + ") GROUP BY workflow, status"
)
# Waiting: dispatched, and held by no live lease (never claimed, released by
# a worker that stopped, or held by one whose lease ran out).
_WAITING = (
    "SELECT task, count(*) AS n, min(created_at) AS oldest FROM tasks "
    "WHERE lease_owner IS NULL OR lease_expires_at IS NULL OR lease_expires_at < ? GROUP BY task"
)
_TIMERS_DUE = "SELECT count(*) AS n FROM timers WHERE due_at <= ?"


@dataclass(frozen=True)
class Workload:
    """What the database holds to be done, at :attr:`at`."""

    at: float
    """When it was read (epoch seconds, by the engine's clock)."""
    active_runs: dict[tuple[str, str], int] = field(default_factory=dict)
    """Unfinished runs (RUNNING, HALTED) by ``(workflow, status)``."""
    waiting_attempts: dict[str, int] = field(default_factory=dict)
    """Task attempts dispatched and held by no live lease, by task name:
    waiting for a worker that runs the task (or has room for it)."""
    oldest_waiting_age: float = 0.0
    """Seconds since the oldest of :attr:`waiting_attempts` was dispatched;
    0 when none waits."""
    timers_due: int = 0
    """Durable timers past their due time and not fired yet."""
    stuck_runs: int = 0
    """Runs stuck for longer than :attr:`stuck_after` (see
    :meth:`wfc.runtime.Engine.count_stuck`)."""
    stuck_after: float = 300.0


async def read_workload(store: Store, now: float, stuck_after: float = 300.0) -> Workload:
    """Count what the database at ``store`` holds to be done, as of ``now``,
    runs stuck for longer than ``stuck_after`` seconds included."""
    runs = await store.dialect.fetch(_RUNS, ACTIVE)
    waiting = await store.dialect.fetch(_WAITING, (now,))
    timers = await store.dialect.fetch(_TIMERS_DUE, (now,))
    oldest = min((float(row["oldest"]) for row in waiting), default=None)
    return Workload(
        at=now,
        active_runs={(row["workflow"], row["status"]): int(row["n"]) for row in runs},
        waiting_attempts={row["task"]: int(row["n"]) for row in waiting},
        oldest_waiting_age=0.0 if oldest is None else max(0.0, now - oldest),
        timers_due=int(timers[0]["n"]) if timers else 0,
        stuck_runs=await store.count_stuck(StuckWindow(now, stuck_after)),
        stuck_after=stuck_after,
    )
