"""Indexing the searchable variables of runs stored before migration 7.

Migration 7 lists every run then stored whose spec has a searchable variable
in ``run_search_pending``. A serving engine indexes them in the background,
a small batch per transaction (like retention, between the commit loop's
commits), and stops once none is left. Each batch reads its runs locked
where other processes write, so its rows are those of the runs' current
state, and a commit that changes one of them afterwards writes its change
over them as usual: the index is never left stale.

Until the list is empty a ``where`` does not find those runs yet; runs
started since are indexed by their own commits.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, Final

import anyio

from wfc.runtime._search import search_values
from wfc.runtime._spec_cache import SpecCache
from wfc.runtime.interpreter.state import decode_state
from wfc.runtime.store import Store

log = logging.getLogger("wfc.runtime")

#: Runs indexed per transaction.
BATCH: Final = 200
#: Seconds between two batches (the commit loop gets the database), and
#: before trying again after an error.
PAUSE: Final = 0.05
RETRY: Final = 60.0

_UPSERT: Final = (
    "INSERT INTO run_search (run_id, key, value, run_created) VALUES (?, ?, ?, ?) "
    "ON CONFLICT (run_id, key) DO UPDATE SET value = excluded.value"
)
_DELETE: Final = "DELETE FROM run_search WHERE run_id = ? AND key = ?"


async def index_pending(store: Store, specs: SpecCache, closed: anyio.Event) -> None:
    """Index every pending run, batch by batch, until none is left or
    ``closed`` is set. An error is logged and tried again later; it never
    stops the engine. Nearly always nothing is pending: a plain read says
    so without taking the write lock."""
    try:
        if not await store.dialect.fetch("SELECT 1 AS pending FROM run_search_pending LIMIT 1"):
            return
    except Exception as exc:  # the batch below meets it again, and says so
        log.debug("search index: could not look for older runs: %s", exc)
    while not closed.is_set():
        try:
            indexed = await index_batch(store, specs, BATCH)
        except Exception as exc:  # a database error must not end a serving engine
            log.warning("search index: indexing older runs failed, trying again in %.0f s: %s", RETRY, exc)
            with anyio.move_on_after(RETRY):
                await closed.wait()
            continue
        if not indexed:
            return
        log.info("search index: indexed %d runs stored before it existed", indexed)
        with anyio.move_on_after(PAUSE):
            await closed.wait()


async def index_batch(store: Store, specs: SpecCache, limit: int) -> int:
    """Index up to ``limit`` pending runs in one transaction; how many were
    taken off the list (0: none is left)."""
    async with store.transaction() as tx:
        rows = await tx.connection.fetch(
            f"SELECT run_id FROM run_search_pending ORDER BY run_id LIMIT ?{store.dialect.lock_rows}", (limit,)
        )
        ids = [row["run_id"] for row in rows]
        if not ids:
            return 0
        statements: list[tuple[str, Sequence[Any]]] = []
        for run_id, record in (await tx.load_runs(ids)).items():
            cached = await specs.load(tx, (record.workflow, record.major, record.revision), run_id)
            if not cached.searchable:
                continue
            values = search_values(decode_state(record.state).variables, cached.searchable)
            for key, value in values.items():
                if value is None:
                    statements.append((_DELETE, (run_id, key)))
                else:
                    statements.append((_UPSERT, (run_id, key, value, record.created_at)))
        condition, params = store.dialect.any_of("run_id", ids)
        statements.append((f"DELETE FROM run_search_pending WHERE {condition}", params))
        await tx.connection.fetch_many(statements)
    return len(ids)
