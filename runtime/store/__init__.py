"""wfc's database: one :class:`Store` core over a dialect (SQLite or
PostgreSQL), chosen by URL."""

from __future__ import annotations

import os
from typing import Final

from wfc.runtime.errors import StoreError, UnsupportedUrlError
from wfc.runtime.store.base import (
    STATE_FORMAT,
    EngineRecord,
    EventRecord,
    JournalFilter,
    JournalRecord,
    RunFilter,
    RunRecord,
    RunVersion,
    RunWrite,
    SpecRecord,
    StuckWindow,
    TaskRecord,
    TimerRecord,
    UserTaskFilter,
    UserTaskRecord,
    Wakeup,
    WakeupHandler,
    WriteBatch,
)
from wfc.runtime.store.core import Store, StoreTransaction
from wfc.runtime.store.dialect import Connection, Dialect
from wfc.runtime.store.stuck import OverdueTimer, StuckDispatch

#: URL forms :func:`open_store` accepts, for messages.
SUPPORTED_URLS: Final = (
    "sqlite:///relative/path.db",
    "sqlite:////absolute/path.db",
    "sqlite:///:memory:",
    "sqlite:///path.db?busy_timeout=SECONDS",
    "postgresql://user:password@host:5432/database[?schema=wfc]",
)


_SQLITE_PREFIX: Final = "sqlite:///"


def sqlite_path(url: str) -> str | None:
    """The file path of a ``sqlite:///`` URL (without its ``?`` parameters),
    or ``None`` if it is not one."""
    rest = _sqlite_rest(url)
    return None if rest is None else rest.partition("?")[0]


def _sqlite_rest(url: str) -> str | None:
    if not url.startswith(_SQLITE_PREFIX) or not url[len(_SQLITE_PREFIX) :].partition("?")[0]:
        return None
    return url[len(_SQLITE_PREFIX) :]


def is_postgres_url(url: str) -> bool:
    """True for ``postgresql://`` and ``postgres://`` URLs."""
    return url.startswith(("postgresql://", "postgres://"))


async def open_store(url: str, now: float, *, read_only: bool = False, create: bool = True) -> Store:
    """Open the database at ``url``: ``sqlite:///...`` (one process; wait
    for another process's write lock up to ``?busy_timeout=SECONDS``) or
    ``postgresql://...`` (many processes; needs ``pip install 'wfc[postgres]'``;
    wfc's tables live in the schema ``?schema=NAME``, by default ``wfc``).

    ``read_only``: the caller only reads. A SQLite file is then opened
    without writing anything (no journal mode switch, no migration when it is
    up to date), so a read-only file or folder can be read; on PostgreSQL no
    engine registration is written. Writes raise
    :class:`~wfc.runtime.errors.ReadOnlyDatabaseError`.

    ``create=False`` (and ``read_only``): a database that does not exist yet
    is refused rather than made, so that a client given a mistyped URL
    creates nothing: a SQLite file that does not exist, a PostgreSQL schema
    that is missing or empty.

    Raises:
        UnsupportedUrlError: the scheme has no store.
        StoreError: the database cannot be used (a subclass says why); it was
            not changed.
    """
    if is_postgres_url(url):
        from wfc.runtime.store.postgres import open_postgres

        return await open_postgres(url, now, read_only=read_only, create=create)
    rest = _sqlite_rest(url)
    if rest is None:
        raise UnsupportedUrlError(url, SUPPORTED_URLS)
    path = rest.partition("?")[0]
    if not create and path != ":memory:" and not os.path.exists(path):
        raise StoreError(path, "no such file; `wfc run` creates a database, or give the path of an existing one")
    from wfc.runtime.store.sqlite import open_sqlite

    return await open_sqlite(rest, now, read_only=read_only)


__all__ = [
    "STATE_FORMAT",
    "SUPPORTED_URLS",
    "Connection",
    "Dialect",
    "EngineRecord",
    "EventRecord",
    "JournalFilter",
    "JournalRecord",
    "OverdueTimer",
    "RunFilter",
    "RunRecord",
    "RunVersion",
    "RunWrite",
    "SpecRecord",
    "Store",
    "StoreTransaction",
    "StuckDispatch",
    "StuckWindow",
    "TaskRecord",
    "TimerRecord",
    "UserTaskFilter",
    "UserTaskRecord",
    "Wakeup",
    "WakeupHandler",
    "WriteBatch",
    "is_postgres_url",
    "open_store",
    "sqlite_path",
]
