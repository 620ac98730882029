"""Retention: purging finished runs older than a cutoff in small batches,
once (``Engine.purge_runs``, ``wfc runs purge``) or in the background of a
serving engine (``Engine.open(retention=...)``), and reading them out first
for archiving (``Engine.export_runs``, ``wfc runs export``).

Each batch is one short transaction of its own: between two batches the
commit loop commits as usual, so a purge of a million runs slows a serving
engine down a little for a long time instead of stopping it once.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import AsyncIterator, Callable, Iterable
from typing import Final

import anyio

from wfc.runtime._arguments import Moment, epoch, parse_statuses
from wfc.runtime.errors import UsageError
from wfc.runtime.interpreter.state import RunStatus
from wfc.runtime.store import RunRecord, Store, retention
from wfc.specs.limits import MAX_DURATION_SECONDS

log = logging.getLogger("wfc.runtime")

#: Runs deleted per transaction.
BATCH: Final = 100
#: Seconds a background purge rests between two batches (the commit loop
#: gets the database in between) and between two rounds.
PAUSE: Final = 0.05
ROUND: Final = 60.0


def cutoff(finished_before: Moment, statuses: RunStatus | str | Iterable[RunStatus | str] | None) -> retention.Cutoff:
    """The runs a purge or an export takes.

    Raises:
        UsageError: a status that is not a finished one, or a bad moment.
    """
    if isinstance(finished_before, bool) or not isinstance(finished_before, (dt.datetime, int, float)):
        raise UsageError(f"finished_before must be a datetime or epoch seconds, got {finished_before!r}")
    before = float(epoch(finished_before) or 0.0)
    chosen = retention.FINISHED if statuses is None else tuple(parse_statuses(statuses))
    unfinished = [s for s in chosen if s not in retention.FINISHED]
    if unfinished or not chosen:
        raise UsageError(
            f"only finished runs can be purged or exported ({', '.join(retention.FINISHED)}); "
            f"{', '.join(unfinished) or 'no status'} given"
        )
    return retention.Cutoff(before, chosen)


def retention_seconds(value: dt.timedelta | float | None) -> float | None:
    """The ``retention=`` setting in seconds.

    Raises:
        UsageError: not a positive duration.
    """
    if value is None:
        return None
    seconds = value.total_seconds() if isinstance(value, dt.timedelta) else value
    # Up to the longest duration wfc takes: an infinity (keep for ever) is None.
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not 0 < seconds <= MAX_DURATION_SECONDS:
        raise UsageError(
            f"retention must be a timedelta or seconds from 0 to {MAX_DURATION_SECONDS} (100 years), or None to "
            f"keep runs, got {value!r}"
        )
    return float(seconds)


async def purge(store: Store, where: retention.Cutoff, batch: int = BATCH, pause: float = 0.0) -> int:
    """Delete every run ``where`` takes, ``batch`` per transaction; how many."""
    total = 0
    while True:
        ids = await retention.purge_batch(store, where, batch)
        total += len(ids)
        if len(ids) < batch:
            return total
        if pause:
            await anyio.sleep(pause)


async def runs_taken(store: Store, where: retention.Cutoff, page: int = 500) -> AsyncIterator[RunRecord]:
    """Every run ``where`` takes, status by status, oldest first."""
    after: dict[str, tuple[float, str]] = {}
    for status in where.statuses:
        single = retention.Cutoff(where.finished_before, (status,))
        while True:
            records = await retention.old_runs(store, single, page, after)
            for record in records:
                yield record
            if len(records) < page:
                break
            after[status] = (records[-1].created_at, records[-1].id)


async def keep_for(store: Store, seconds: float, clock: Callable[[], float], closed: anyio.Event) -> None:
    """A serving engine's background purge: every :data:`ROUND` seconds,
    the runs finished more than ``seconds`` ago, in small batches. An error
    is logged and tried again next round; it never stops the engine."""
    while not closed.is_set():
        try:
            where = retention.Cutoff(clock() - seconds)
            purged = await purge(store, where, BATCH, PAUSE)
            if purged:
                log.info("retention: purged %d runs finished more than %.0f s ago", purged, seconds)
        except Exception as exc:  # a database error must not end a serving engine
            log.warning("retention: purge failed, trying again in %.0f s: %s", ROUND, exc)
        with anyio.move_on_after(ROUND):
            await closed.wait()
