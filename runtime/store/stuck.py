"""Stuck runs: RUNNING runs owed progress that nothing is making.

A RUNNING run moves only when a task attempt's result comes in, a timer
fires, or an event arrives. An event is nobody's debt (a run may wait a week
for one), and a timer not yet due or an attempt a live engine holds is on its
way. So, from what is stored, a run is stuck for ``seconds`` at ``now`` when
it is RUNNING and

- it has an outbox row (a dispatched attempt) created more than ``seconds``
  ago that no live engine holds: not leased, or its lease expired (the
  holder's heartbeat, which extends the lease, stopped: it died or was cut
  off), or released when its engine was found gone; or
- it has a timer due more than ``seconds`` ago that nobody fired (no engine
  serves the database, or none can commit).

A HALTED run is not stuck: an operator paused it. Both reads start from the
outbox and the timers (small tables: the attempts in flight and the pending
timers, ``timers_by_due`` an index range), never from a scan of every run.
Every statement is shared by both dialects.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any, Final

from wfc.runtime.store.base import StuckWindow
from wfc.runtime.store.dialect import Dialect, Statement
from wfc.runtime.store.rows import Row

#: An outbox row no live engine holds, at ``?`` (now). SQLite clears both
#: lease columns on release; PostgreSQL keeps ``lease_expires_at`` (a claim
#: tells a fresh dispatch from a released one by it), so the owner is tested.
_UNHELD: Final = "(lease_owner IS NULL OR lease_expires_at IS NULL OR lease_expires_at < ?)"
#: Ids of the runs with an unheld dispatch older than the cutoff, or a timer
#: overdue by more than the stuck time; parameters (cutoff, now, cutoff).
_STUCK_IDS: Final = (
    f"SELECT run_id FROM tasks WHERE created_at < ? AND {_UNHELD} UNION SELECT run_id FROM timers WHERE due_at < ?"
)
#: The status test of a stuck run, written so that no index on ``status``
#: serves it: the planner then drives from the stuck ids (a few rows found by
#: id) instead of probing every RUNNING run.
_RUNNING: Final = "status || '' = 'RUNNING'"
_COUNT: Final = f"SELECT count(*) AS stuck FROM runs WHERE id IN ({_STUCK_IDS}) AND {_RUNNING}"


@dataclass(frozen=True)
class StuckDispatch:
    """A dispatched attempt older than the window that no live engine holds."""

    run_id: str
    dispatch_id: str
    task: str
    node: str
    thread: int
    attempt: int
    created_at: float
    lease_owner: str | None
    """The engine whose lease expired; ``None``: nobody holds it."""
    lease_expires_at: float | None
    """When the last lease ran out; ``None``: never leased, or released on SQLite."""


@dataclass(frozen=True)
class OverdueTimer:
    """A timer due before the window's cutoff that nobody fired."""

    run_id: str
    timer: int
    due_at: float


def stuck_condition(window: StuckWindow) -> Statement:
    """A condition over ``runs`` picking the stuck runs, and its parameters."""
    return f"id IN ({_STUCK_IDS}) AND {_RUNNING}", [window.cutoff, window.now, window.cutoff]


async def count_stuck(dialect: Dialect, window: StuckWindow) -> int:
    """How many runs are stuck: one statement, from the outbox and the timers."""
    rows = await dialect.fetch(_COUNT, [window.cutoff, window.now, window.cutoff])
    return int(rows[0]["stuck"])


async def stuck_causes(
    dialect: Dialect, run_ids: Collection[str], window: StuckWindow
) -> tuple[list[StuckDispatch], list[OverdueTimer]]:
    """What makes each of ``run_ids`` stuck, oldest first."""
    dispatches: list[StuckDispatch] = []
    timers: list[OverdueTimer] = []
    ids = sorted(run_ids)
    size = dialect.max_ids or max(len(ids), 1)
    for start in range(0, len(ids), size):
        where, params = dialect.any_of("run_id", ids[start : start + size])
        held: list[Any] = [*params, window.cutoff, window.now]
        statement = (
            "SELECT run_id, dispatch_id, task, node, thread, attempt, created_at, lease_owner, lease_expires_at "
            f"FROM tasks WHERE {where} AND created_at < ? AND {_UNHELD} ORDER BY created_at, dispatch_id"
        )
        dispatches.extend(_dispatch(row) for row in await dialect.fetch(statement, held))
        statement = f"SELECT run_id, timer, due_at FROM timers WHERE {where} AND due_at < ? ORDER BY due_at, timer"
        for row in await dialect.fetch(statement, [*params, window.cutoff]):
            timers.append(OverdueTimer(run_id=row["run_id"], timer=row["timer"], due_at=row["due_at"]))
    return dispatches, timers


def _dispatch(row: Row) -> StuckDispatch:
    return StuckDispatch(
        run_id=row["run_id"],
        dispatch_id=row["dispatch_id"],
        task=row["task"],
        node=row["node"],
        thread=row["thread"],
        attempt=row["attempt"],
        created_at=row["created_at"],
        lease_owner=row["lease_owner"],
        lease_expires_at=row["lease_expires_at"],
    )
