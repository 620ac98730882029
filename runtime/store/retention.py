"""Retention: finding finished runs older than a cutoff, and deleting them
with everything stored for them, one small batch per transaction (so a purge
never holds the write lock, or a serving engine's commits, for long).

Kept apart from the store core; every statement is shared by both dialects.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from wfc.runtime.store.base import RunRecord, distinct
from wfc.runtime.store.core import Store, run_columns, run_record

#: Statuses of runs that never change again by themselves (the only ones
#: retention deletes).
FINISHED: Final = ("COMPLETED", "FAILED", "COMPENSATED", "CANCELLED")
#: Tables holding rows of a run, deleted before the run's row (children
#: first; their foreign keys would cascade too, but explicitly is plain).
RUN_TABLES: Final = (
    "journal", "tasks", "timers", "events", "event_waits", "run_threads", "run_search", "run_search_pending",
    "user_tasks",
)


@dataclass(frozen=True)
class Cutoff:
    """Which finished runs retention takes."""

    finished_before: float
    """Runs last changed (finished) before this epoch second."""
    statuses: tuple[str, ...] = FINISHED
    """Of these statuses only (all finished ones by default)."""

    def __post_init__(self) -> None:
        wrong = [s for s in self.statuses if s not in FINISHED]
        if wrong or not self.statuses:
            raise ValueError(f"retention takes finished runs only ({', '.join(FINISHED)}), not {wrong or 'none'}")
        # Each status once: a purge, a count and an export go status by
        # status, so a repeated one would be counted or exported twice.
        object.__setattr__(self, "statuses", distinct(self.statuses))


def _select(
    store: Store, columns: str, cutoff: Cutoff, status: str, limit: int | None, after: tuple[float, str] | None
) -> tuple[str, list[Any]]:
    # updated_at >= created_at: bounding created_at too keeps this a range of
    # the runs_by_status index instead of every run of the status.
    statement = f"SELECT {columns} FROM runs WHERE status = ? AND updated_at < ? AND created_at < ?"
    params: list[Any] = [status, cutoff.finished_before, cutoff.finished_before]
    if after is not None:
        statement += f" AND (created_at > ? OR (created_at = ? AND id{store.dialect.code_point_order} > ?))"
        params.extend((after[0], after[0], after[1]))
    if limit is not None:
        statement += f" ORDER BY created_at, id{store.dialect.code_point_order} LIMIT ?"
        params.append(limit)
    return statement, params


async def old_runs(
    store: Store, cutoff: Cutoff, limit: int, after: dict[str, tuple[float, str]] | None = None
) -> list[RunRecord]:
    """Up to ``limit`` runs ``cutoff`` takes, oldest first within each
    status; ``after`` pages on: the ``(created_at, id)`` of the last run read
    of each status."""
    found: list[RunRecord] = []
    for status in cutoff.statuses:
        if len(found) >= limit:
            break
        statement, params = _select(
            store, run_columns(store.dialect), cutoff, status, limit - len(found), (after or {}).get(status)
        )
        found.extend(run_record(store.location, row) for row in await store.dialect.fetch(statement, params))
    return found


async def count(store: Store, cutoff: Cutoff) -> int:
    """How many runs ``cutoff`` takes."""
    total = 0
    for status in cutoff.statuses:
        statement, params = _select(store, "count(*) AS n", cutoff, status, None, None)
        total += int((await store.dialect.fetch(statement, params))[0]["n"])
    return total


async def purge_batch(store: Store, cutoff: Cutoff, limit: int) -> list[str]:
    """Delete up to ``limit`` runs ``cutoff`` takes, with every row stored
    for them, in one transaction; their ids. The runs are picked and locked
    in the transaction, so a run that changed meanwhile (retried, say) is
    left alone."""
    async with store.writing() as tx:
        ids: list[str] = []
        for status in cutoff.statuses:
            if len(ids) >= limit:
                break
            statement, params = _select(store, "id", cutoff, status, limit - len(ids), None)
            statement += store.dialect.lock_rows
            ids.extend(row["id"] for row in await tx.connection.fetch(statement, params))
        if ids:
            await tx.connection.fetch_many(_deletes(store, ids))
    return ids


def _deletes(store: Store, ids: Sequence[str]) -> list[tuple[str, Sequence[Any]]]:
    statements: list[tuple[str, Sequence[Any]]] = []
    for table in RUN_TABLES:
        condition, params = store.dialect.any_of("run_id", list(ids))
        statements.append((f"DELETE FROM {table} WHERE {condition}", params))
    condition, params = store.dialect.any_of("id", list(ids))
    statements.append((f"DELETE FROM runs WHERE {condition}", params))
    return statements
