"""Storage backends behind one :class:`Store` interface, chosen by URL."""

from __future__ import annotations

from typing import Final

from wfc.runtime.errors import UnsupportedUrlError
from wfc.runtime.store.base import (
    EngineRecord,
    EventRecord,
    JournalRecord,
    RunRecord,
    RunVersion,
    RunWrite,
    SpecRecord,
    Store,
    StoreTransaction,
    TaskRecord,
    TimerRecord,
    Wakeup,
    WakeupHandler,
    WriteBatch,
)

#: URL forms :func:`open_store` accepts, for messages.
SUPPORTED_URLS: Final = (
    "sqlite:///relative/path.db",
    "sqlite:////absolute/path.db",
    "sqlite:///:memory:",
    "postgresql://user:password@host:5432/database[?schema=wfc]",
)


def sqlite_path(url: str) -> str | None:
    """The file path of a ``sqlite:///`` URL, or ``None`` if it is not one."""
    prefix = "sqlite:///"
    if not url.startswith(prefix) or len(url) == len(prefix):
        return None
    return url[len(prefix) :]


def is_postgres_url(url: str) -> bool:
    """True for ``postgresql://`` and ``postgres://`` URLs."""
    return url.startswith(("postgresql://", "postgres://"))


async def open_store(url: str, now: float) -> Store:
    """Open the database at ``url``: ``sqlite:///...`` (one process) or
    ``postgresql://...`` (many processes; needs ``pip install 'wfc[postgres]'``;
    wfc's tables live in the schema ``?schema=NAME``, by default ``wfc``).

    Raises:
        UnsupportedUrlError: the scheme has no store.
        StoreError: the database cannot be used; it was not changed.
    """
    if is_postgres_url(url):
        from wfc.runtime.store.postgres import open_postgres

        return await open_postgres(url, now)
    path = sqlite_path(url)
    if path is None:
        raise UnsupportedUrlError(url, SUPPORTED_URLS)
    from wfc.runtime.store.sqlite import open_sqlite

    return await open_sqlite(path, now)


__all__ = [
    "SUPPORTED_URLS",
    "EngineRecord",
    "EventRecord",
    "JournalRecord",
    "RunRecord",
    "RunVersion",
    "RunWrite",
    "SpecRecord",
    "Store",
    "StoreTransaction",
    "TaskRecord",
    "TimerRecord",
    "Wakeup",
    "WakeupHandler",
    "WriteBatch",
    "is_postgres_url",
    "open_store",
    "sqlite_path",
]
