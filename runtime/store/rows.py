"""Typed records from store rows, by column name, for every store.

Both ``sqlite3.Row`` and asyncpg's ``Record`` read columns by name and list
them with ``keys()``; text columns holding JSON come back as ``str`` and the
records keep them as bytes.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol

from wfc.runtime.store.base import (
    EventRecord,
    JournalRecord,
    RunRecord,
    RunVersion,
    SpecRecord,
    TaskRecord,
    TimerRecord,
    UserTaskRecord,
)


class Row(Protocol):
    """A row read by column name."""

    def __getitem__(self, key: str) -> Any: ...

    def keys(self) -> Iterable[str]: ...


def run_version(row: Row) -> RunVersion:
    """A :class:`RunVersion` from a ``runs`` row."""
    return RunVersion(
        id=row["id"],
        workflow=row["workflow"],
        major=row["major"],
        revision=row["revision"],
        status=row["status"],
        version=row["version"],
    )


def run_record(row: Row) -> RunRecord:
    """A :class:`RunRecord` from a ``runs`` row with its ``thread_states``
    (see :func:`~wfc.runtime.store.core.run_columns`): threads stored apart
    are put back into the state."""
    state = row["state"].encode()
    threads = row["thread_states"]
    if threads is not None:
        state = join_threads(state, threads.encode())
    return RunRecord(
        id=row["id"],
        workflow=row["workflow"],
        major=row["major"],
        revision=row["revision"],
        status=row["status"],
        version=row["version"],
        state=state,
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        state_format=row["state_format"],
        threads_apart=threads is not None,
    )


def join_threads(state: bytes, threads: bytes) -> bytes:
    """A run's JSON state with its threads put back in: ``state`` is the
    run's JSON object without them, ``threads`` the members of the
    ``threads`` object (``"0":{...},"1":{...}``)."""
    return b'{"threads":{' + threads + b"}," + state.lstrip()[1:]


def spec_record(row: Row) -> SpecRecord:
    """A :class:`SpecRecord` from a ``specs`` row."""
    return SpecRecord(
        name=row["name"],
        major=row["major"],
        revision=row["revision"],
        hash=row["hash"],
        body=row["body"].encode(),
        deployed_at=row["deployed_at"],
    )


def event_record(row: Row) -> EventRecord:
    """An :class:`EventRecord` from an ``events`` row."""
    return EventRecord(
        seq=row["seq"],
        event_id=row["event_id"],
        name=row["name"],
        correlation=row["correlation"],
        payload=row["payload"].encode(),
        run_id=row["run_id"],
        created_at=row["created_at"],
    )


def journal_record(row: Row) -> JournalRecord:
    """A :class:`JournalRecord` from a ``journal`` row."""
    return JournalRecord(
        run_id=row["run_id"],
        seq=row["seq"],
        at=row["at"],
        thread=row["thread"],
        node=row["node"],
        kind=row["kind"],
        attempt=row["attempt"],
        detail=row["detail"].encode(),
    )


def task_record(row: Row) -> TaskRecord:
    """A :class:`TaskRecord` from a ``tasks`` row (with ``fresh`` when claimed)."""
    return TaskRecord(
        dispatch_id=row["dispatch_id"],
        run_id=row["run_id"],
        workflow=row["workflow"],
        thread=row["thread"],
        node=row["node"],
        task=row["task"],
        args=row["args"].encode(),
        attempt=row["attempt"],
        idempotency_key=row["idempotency_key"],
        timeout=row["timeout"],
        created_at=row["created_at"],
        lease_owner=row["lease_owner"],
        lease_expires_at=row["lease_expires_at"],
        # `in row` would test the values of a sqlite3.Row, not its columns.
        fresh="fresh" in row.keys() and bool(row["fresh"]),  # noqa: SIM118
    )


def timer_record(row: Row) -> TimerRecord:
    """A :class:`TimerRecord` from a ``timers`` row."""
    return TimerRecord(run_id=row["run_id"], timer=row["timer"], due_at=row["due_at"])


def user_task_record(row: Row) -> UserTaskRecord:
    """A :class:`UserTaskRecord` from a ``user_tasks`` row."""
    return UserTaskRecord(
        id=row["id"],
        run_id=row["run_id"],
        workflow=row["workflow"],
        major=row["major"],
        revision=row["revision"],
        thread=row["thread"],
        node=row["node"],
        form=row["form"],
        status=row["status"],
        user=row["user_id"],
        group=row["user_group"],
        notes=row["notes"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        body=row["body"].encode(),
    )
