"""User task rows: the inbox reads (see migration 9).

Each listing is read one status at a time, along the index that fits its
filter (``user_tasks_by_user``, ``_by_group``, ``_by_run`` or
``_by_status``), ``limit`` rows deep, and the ranges are merged in
``(created_at, id)`` order: a single ``IN`` over several statuses would sort
every matching task before the ``LIMIT``, the way :meth:`Store.list_runs`
avoids it too. Every statement is shared by both dialects.
"""

from __future__ import annotations

from typing import Any, Final

import msgspec

from wfc.runtime.store import rows as decode
from wfc.runtime.store.base import JournalRecord, UserTaskFilter, UserTaskRecord
from wfc.runtime.store.dialect import Connection, Dialect

#: Every status a user task can have, in the order a listing without one reads them.
STATUSES: Final = ("UNASSIGNED", "ASSIGNED", "DONE", "CANCELLED")
_GET: Final = "SELECT * FROM user_tasks WHERE id = ?"


async def get(dialect: Dialect, task_id: str) -> UserTaskRecord | None:
    """A user task's row, outside any transaction."""
    rows = await dialect.fetch(_GET, (task_id,))
    return decode.user_task_record(rows[0]) if rows else None


async def get_in(conn: Connection, task_id: str) -> UserTaskRecord | None:
    """A user task's row as a write transaction sees it."""
    rows = await conn.fetch(_GET, (task_id,))
    return decode.user_task_record(rows[0]) if rows else None


def query(dialect: Dialect, where: UserTaskFilter, status: str | None) -> tuple[str, list[Any]]:
    """The statement of one status's range of a listing (``None``: any status)."""
    order = dialect.code_point_order
    conditions: list[str] = []
    params: list[Any] = []
    for condition, value in (
        ("run_id = ?", where.run_id),
        ("status = ?", status),
        ("user_id = ?", where.user),
        ("user_group = ?", where.group),
    ):
        if value is not None:
            conditions.append(condition)
            params.append(value)
    if where.after is not None:
        conditions.append(f"created_at >= ? AND (created_at > ? OR id{order} > ?)")
        params.extend((where.after[0], where.after[0], where.after[1]))
    statement = "SELECT * FROM user_tasks"
    if conditions:
        statement += " WHERE " + " AND ".join(conditions)
    statement += f" ORDER BY created_at, id{order} LIMIT ?"
    params.append(where.limit)
    return statement, params


async def listing(dialect: Dialect, where: UserTaskFilter) -> list[UserTaskRecord]:
    """The user tasks ``where`` picks, oldest first, at most ``where.limit``."""
    # A run has few tasks: one range of user_tasks_by_run, statuses tested on it.
    statuses: tuple[str | None, ...] = where.statuses or (STATUSES if where.run_id is None else (None,))
    found: list[UserTaskRecord] = []
    for status in statuses:
        statement, params = query(dialect, where, status)
        found.extend(decode.user_task_record(row) for row in await dialect.fetch(statement, params))
    found.sort(key=lambda t: (t.created_at, t.id))
    return found[: where.limit]


async def journal(dialect: Dialect, run_id: str, task_id: str) -> list[JournalRecord]:
    """The entries of the run's journal whose detail names the task
    (``"user_task": id``), in order: its audit trail. The text match is a
    first cut inside the run's rows; the decoded detail decides."""
    pattern = "%" + _like(msgspec.json.encode({"user_task": task_id}).decode()[1:-1]) + "%"
    rows = await dialect.fetch(
        "SELECT * FROM journal WHERE run_id = ? AND detail LIKE ? ESCAPE '!' ORDER BY seq", (run_id, pattern)
    )
    records = [decode.journal_record(row) for row in rows]
    return [r for r in records if _names(r.detail, task_id)]


def _like(text: str) -> str:
    return text.replace("!", "!!").replace("%", "!%").replace("_", "!_")


def _names(detail: bytes, task_id: str) -> bool:
    try:
        decoded = msgspec.json.decode(detail)
    except msgspec.DecodeError:
        return False
    return isinstance(decoded, dict) and decoded.get("user_task") == task_id
