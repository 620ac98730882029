"""Why a run is stuck, in words an operator can act on.

What "stuck" means is decided where it is stored (:mod:`wfc.runtime.store.stuck`):
a RUNNING run with an attempt dispatched more than N seconds ago that no live
engine holds, or a timer overdue by more than N seconds. This module checks
the N a caller gives and turns the stored causes into :class:`StuckReason`.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from wfc.runtime.errors import UsageError
from wfc.runtime.store import OverdueTimer, StuckDispatch


@dataclass(frozen=True)
class StuckReason:
    """One thing a stuck run is owed and nobody is doing."""

    kind: Literal["dispatch", "timer"]
    """``dispatch``: a task attempt no live worker holds; ``timer``: a timer nobody fired."""
    since: dt.datetime
    """When the run should have moved on: the attempt's dispatch, or the timer's due time (UTC)."""
    message: str
    """The reason in one sentence."""
    task: str | None = None
    node: str | None = None
    attempt: int | None = None
    dispatch_id: str | None = None
    holder: str | None = None
    """The engine whose lease on the attempt expired; ``None``: nobody held it."""
    lease_expired_at: dt.datetime | None = None
    timer: int | None = None


def stuck_seconds(stuck_for: float | dt.timedelta) -> float:
    """``stuck_for`` as seconds, checked.

    Raises:
        UsageError: not a duration of zero seconds or more.
    """
    if isinstance(stuck_for, dt.timedelta):
        seconds = stuck_for.total_seconds()
    elif isinstance(stuck_for, int | float) and not isinstance(stuck_for, bool):
        seconds = float(stuck_for)
    else:
        raise UsageError(
            f"stuck_for must be seconds (a number) or a timedelta, got {stuck_for!r}: e.g. stuck_for=300"
        )
    if not math.isfinite(seconds) or seconds < 0:
        raise UsageError(f"stuck_for must be zero seconds or more, got {stuck_for!r}: e.g. stuck_for=300")
    return seconds


def _moment(epoch: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(epoch, dt.UTC)


def _shown(moment: dt.datetime) -> str:
    return moment.isoformat(timespec="seconds")


def dispatch_reason(cause: StuckDispatch) -> StuckReason:
    """Why an attempt nobody runs holds its run."""
    since = _moment(cause.created_at)
    expired = None if cause.lease_expires_at is None else _moment(cause.lease_expires_at)
    if cause.lease_owner is not None and expired is not None:
        why = f"the lease of engine {cause.lease_owner} expired at {_shown(expired)} (its heartbeat stopped)"
    elif expired is not None:
        why = "the engine holding it was found gone and released it, and no worker claimed it since"
    else:
        why = f"no worker claimed it (is a worker serving task {cause.task!r} running?)"
    return StuckReason(
        kind="dispatch",
        since=since,
        message=(
            f"attempt {cause.attempt} of task {cause.task!r} (node {cause.node}, dispatch {cause.dispatch_id}) "
            f"waiting since {_shown(since)} with no live worker: {why}"
        ),
        task=cause.task,
        node=cause.node,
        attempt=cause.attempt,
        dispatch_id=cause.dispatch_id,
        holder=cause.lease_owner,
        lease_expired_at=expired,
    )


def timer_reason(cause: OverdueTimer) -> StuckReason:
    """Why a timer nobody fired holds its run."""
    due = _moment(cause.due_at)
    return StuckReason(
        kind="timer",
        since=due,
        message=f"timer {cause.timer} due at {_shown(due)} was not fired: no serving engine fires timers",
        timer=cause.timer,
    )


def reasons_by_run(
    dispatches: Iterable[StuckDispatch], timers: Iterable[OverdueTimer]
) -> dict[str, tuple[StuckReason, ...]]:
    """The reasons of each stuck run, oldest first."""
    found: dict[str, list[StuckReason]] = {}
    for dispatch in dispatches:
        found.setdefault(dispatch.run_id, []).append(dispatch_reason(dispatch))
    for timer in timers:
        found.setdefault(timer.run_id, []).append(timer_reason(timer))
    return {run_id: tuple(sorted(reasons, key=lambda r: r.since)) for run_id, reasons in found.items()}
