"""The journal feed: every run's journal entries in one order that only grows
at its end, read from a position, and the saved positions of subscribers.

A position is an opaque string. Reading is two statements: the *horizon*
first (what is surely committed), then the rows after the position up to
the horizon. Any row written later lands after the horizon, so a reader that
moves its position to the horizon once it has read everything below never
skips a row, whatever order concurrent transactions commit in:

- SQLite has one writer, so the ``feed`` id (AUTOINCREMENT, assigned at
  insert) is in commit order; the horizon is the highest id.
- PostgreSQL orders the feed by ``(feed_xid, run_id, seq)``, ``feed_xid``
  being the id of the transaction that wrote the row (a column default),
  raised by a trigger to the run's previous row's where a later writer of a
  run holds a lower id (migration 4); the horizon is the oldest transaction still
  running, ``pg_snapshot_xmin(pg_current_snapshot())``: every transaction
  below it has ended, so every row below it is visible to the next
  statement, and no row can appear below it later.

Kept apart from the store core: the engine's commit path writes the journal
as before; the migration and this module add the order and the reading.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Final

import msgspec

from wfc.runtime.store import rows as decode
from wfc.runtime.store.base import JournalRecord
from wfc.runtime.store.core import Store
from wfc.specs.limits import MAX_INT

#: The position before every entry.
START: Final = ""
_PG_FEED: Final = "j.feed_xid, j.run_id, j.seq"
_COLUMNS: Final = "j.run_id, j.seq, j.at, j.thread, j.node, j.kind, j.attempt, j.detail, r.workflow"
_SAVE: Final = (
    "INSERT INTO subscribers (name, position, updated_at) VALUES (?, ?, ?) "
    "ON CONFLICT (name) DO UPDATE SET position = excluded.position, updated_at = excluded.updated_at"
)


class FeedPositionError(ValueError):
    """A position that this database's feed never gave out."""


@dataclass(frozen=True)
class FeedRecord:
    """One journal row read from the feed, with where it is in the feed."""

    position: str
    """Give it back to read what comes after this row."""
    workflow: str
    journal: JournalRecord


@dataclass(frozen=True)
class FeedPage:
    """Rows after a position, in feed order."""

    records: list[FeedRecord]
    position: str
    """Where the next read starts: after the last row, or the horizon when
    every row up to it was read (then nothing before it is read again)."""


def _postgres(store: Store) -> bool:
    return store.dialect.name == "postgres"


def _pg_position(xid: int, run_id: str, seq: int) -> str:
    return msgspec.json.encode([xid, run_id, seq]).decode()


#: A PostgreSQL position: a transaction id, a run and a seq (-1: before its
#: first entry), each number within what the server binds, a bigint.
_PgPosition = tuple[
    Annotated[int, msgspec.Meta(ge=0, le=MAX_INT)], str, Annotated[int, msgspec.Meta(ge=-1, le=MAX_INT)]
]


def _pg_key(position: str) -> tuple[int, str, int]:
    if position == START:
        return (0, "", -1)
    try:
        xid, run_id, seq = msgspec.json.decode(position, type=_PgPosition)
    except (msgspec.DecodeError, msgspec.ValidationError):
        raise FeedPositionError(f"{position!r} is not a position of a PostgreSQL journal feed") from None
    return (xid, run_id, seq)


def _sqlite_key(position: str) -> int:
    if position == START:
        return 0
    # ASCII digits (isdigit() takes "²" too), and no more than SQLite binds:
    # a larger number failed in the driver, an internal error.
    if not (position.isascii() and position.isdigit() and len(position) <= len(str(MAX_INT))):
        raise FeedPositionError(f"{position!r} is not a position of a SQLite journal feed")
    key = int(position)
    if key > MAX_INT:
        raise FeedPositionError(f"{position!r} is not a position of a SQLite journal feed")
    return key


def check_position(store: Store, position: str) -> None:
    """Refuse a position this kind of database never gives out.

    Raises:
        FeedPositionError: it is not one.
    """
    if _postgres(store):
        _pg_key(position)
    else:
        _sqlite_key(position)


async def head(store: Store) -> str:
    """The position after every entry committed now (and, on PostgreSQL,
    before any entry of a transaction still running): where a reader that
    wants only what happens from now on starts."""
    if _postgres(store):
        rows = await store.dialect.fetch("SELECT pg_snapshot_xmin(pg_current_snapshot())::text AS horizon")
        return _pg_position(int(rows[0]["horizon"]), "", -1)
    rows = await store.dialect.fetch("SELECT coalesce(max(feed), 0) AS horizon FROM journal")
    return str(rows[0]["horizon"])


async def committed_end(store: Store) -> str:
    """A position after every entry committed now, which a reader reaches
    once it read them all. On PostgreSQL that is after every transaction
    that started by now (the next transaction id), so the horizon passes it
    only once those that were running ended: a reader that wants what was
    committed before some moment reads until :func:`reached` says so."""
    if _postgres(store):
        rows = await store.dialect.fetch("SELECT pg_snapshot_xmax(pg_current_snapshot())::text AS next")
        return _pg_position(int(rows[0]["next"]), "", -1)
    return await head(store)


def reached(store: Store, position: str, target: str) -> bool:
    """True when a reader at ``position`` read everything before ``target``.

    Raises:
        FeedPositionError: either is not a position of this feed.
    """
    if _postgres(store):
        return _pg_key(position) >= _pg_key(target)
    return _sqlite_key(position) >= _sqlite_key(target)


async def read(store: Store, position: str, limit: int, kinds: Sequence[str] = ()) -> FeedPage:
    """Up to ``limit`` journal rows after ``position`` (of the given
    ``kinds`` only, if any), in feed order.

    Raises:
        FeedPositionError: ``position`` is not a position of this feed.
    """
    postgres = _postgres(store)
    horizon_key: Any
    params: list[Any]
    if postgres:
        key = _pg_key(position)
        rows = await store.dialect.fetch("SELECT pg_snapshot_xmin(pg_current_snapshot())::text AS horizon")
        horizon_key = int(rows[0]["horizon"])
        statement = (
            f"SELECT {_COLUMNS}, j.feed_xid::text AS feed_at FROM journal AS j JOIN runs AS r ON r.id = j.run_id "
            f"WHERE ({_PG_FEED}) > (?::text::xid8, ?, ?) AND j.feed_xid < ?::text::xid8"
        )
        params = [str(key[0]), key[1], key[2], str(horizon_key)]
    else:
        after = _sqlite_key(position)
        rows = await store.dialect.fetch("SELECT coalesce(max(feed), 0) AS horizon FROM journal")
        horizon_key = int(rows[0]["horizon"])
        statement = (
            f"SELECT {_COLUMNS}, j.feed FROM journal AS j JOIN runs AS r ON r.id = j.run_id "
            "WHERE j.feed > ? AND j.feed <= ?"
        )
        params = [after, horizon_key]
    if kinds:
        condition, values = store.dialect.any_of("j.kind", list(kinds))
        statement += f" AND {condition}"
        params.extend(values)
    statement += f" ORDER BY {_PG_FEED if postgres else 'j.feed'} LIMIT ?"
    params.append(limit)
    found = await store.dialect.fetch(statement, params)
    records = [
        FeedRecord(
            position=(_pg_position(int(row["feed_at"]), row["run_id"], row["seq"]) if postgres else str(row["feed"])),
            workflow=row["workflow"],
            journal=decode.journal_record(row),
        )
        for row in found
    ]
    if len(records) == limit:
        next_position = records[-1].position
    elif postgres:
        next_position = _pg_position(horizon_key, "", -1)
    else:
        next_position = str(horizon_key)
    return FeedPage(records, next_position)


async def load_position(store: Store, name: str) -> str | None:
    """The position saved under subscriber ``name``, if any."""
    rows = await store.dialect.fetch("SELECT position FROM subscribers WHERE name = ?", (name,))
    return str(rows[0]["position"]) if rows else None


async def save_position(store: Store, name: str, position: str, now: float) -> None:
    """Save subscriber ``name``'s position (durably: committed on return)."""
    async with store.writing() as tx:
        await tx.connection.fetch(_SAVE, (name, position, now))


async def drop_subscriber(store: Store, name: str) -> bool:
    """Forget subscriber ``name``'s position; false if none was saved."""
    async with store.writing() as tx:
        rows = await tx.connection.fetch("DELETE FROM subscribers WHERE name = ? RETURNING name", (name,))
    return bool(rows)
