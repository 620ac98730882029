"""The trace contexts stored with runs (migration 6), read for tracing.

Written by the commit path with each new run (``RunWrite.trace``); kept
apart from the store core like :mod:`wfc.runtime.store.feed`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from wfc.runtime.store.core import Store

#: Most run ids in one statement (SQLite binds at most 32,766 parameters).
_CHUNK: Final = 500


async def trace_contexts(store: Store, run_ids: Sequence[str]) -> dict[str, str | None]:
    """The stored trace context of each run that exists (``None``: started
    before wfc stored one)."""
    found: dict[str, str | None] = {}
    for start in range(0, len(run_ids), _CHUNK):
        condition, params = store.dialect.any_of("id", list(run_ids[start : start + _CHUNK]))
        rows = await store.dialect.fetch(f"SELECT id, trace_context FROM runs WHERE {condition}", params)
        found.update((row["id"], row["trace_context"]) for row in rows)
    return found
