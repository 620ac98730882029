"""Storage backends behind one :class:`Store` interface, chosen by URL."""

from __future__ import annotations

from typing import Final

from wfc.runtime.errors import UnsupportedUrlError
from wfc.runtime.store.base import (
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
    WriteBatch,
)

#: URL forms :func:`open_store` accepts, for messages.
SUPPORTED_URLS: Final = ("sqlite:///relative/path.db", "sqlite:////absolute/path.db", "sqlite:///:memory:")


def sqlite_path(url: str) -> str | None:
    """The file path of a ``sqlite:///`` URL, or ``None`` if it is not one."""
    prefix = "sqlite:///"
    if not url.startswith(prefix) or len(url) == len(prefix):
        return None
    return url[len(prefix) :]


async def open_store(url: str, now: float) -> Store:
    """Open the database at ``url``.

    Raises:
        UnsupportedUrlError: the scheme has no store (PostgreSQL comes later).
        StoreError: the database cannot be used; it was not changed.
    """
    path = sqlite_path(url)
    if path is None:
        raise UnsupportedUrlError(url, SUPPORTED_URLS)
    from wfc.runtime.store.sqlite import open_sqlite

    return await open_sqlite(path, now)


__all__ = [
    "SUPPORTED_URLS",
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
    "WriteBatch",
    "open_store",
    "sqlite_path",
]
