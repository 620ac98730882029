"""The ``user_tasks`` rows on every store (migration 9): written with the
run's commit or not at all, upserted by id, listed along the inbox indexes
in ``(created_at, id)`` order with keyset paging, the audit trail read from
the journal, and deleted with their run by a purge."""

from __future__ import annotations

import re

import msgspec
import pytest
from rtdb import Db
from rtstore import run_write as _run
from rtstore import seed as _seed

from wfc.runtime.errors import StaleRunError
from wfc.runtime.store import JournalRecord, Store, UserTaskFilter, UserTaskRecord, open_store
from wfc.runtime.store.retention import Cutoff, purge_batch

pytestmark = pytest.mark.anyio


def _task(
    task_id: str,
    run_id: str = "r1",
    status: str = "ASSIGNED",
    user: str | None = "ann",
    group: str | None = "support",
    created: float = 10.0,
    body: dict[str, object] | None = None,
) -> UserTaskRecord:
    return UserTaskRecord(
        id=task_id, run_id=run_id, workflow="w", major=1, revision=0, thread=0, node="approve", form="approval",
        status=status, user=user, group=group, notes="please", created_at=created, updated_at=created + 1,
        body=msgspec.json.encode(body or {}),
    )  # fmt: skip


async def _ids(store: Store, **where: object) -> list[str]:
    return [t.id for t in await store.list_user_tasks(UserTaskFilter(**where))]  # type: ignore[arg-type]


async def test_a_row_is_written_with_its_run_and_updated_in_place(db: Db) -> None:
    store = await open_store(db.url, 1.0)
    try:
        await _seed(store)
        async with store.transaction() as tx:
            tx.batch.runs["r1"] = _run("r1", 1)
            tx.batch.user_tasks["ut-1"] = _task("ut-1", status="UNASSIGNED", user=None)
        async with store.transaction() as tx:
            # The last change of a task in one batch wins.
            tx.batch.runs["r1"] = _run("r1", 2)
            tx.batch.user_tasks["ut-1"] = _task("ut-1", status="ASSIGNED", user="bob")
            assert (await tx.get_user_task("ut-1")) == _task("ut-1", status="ASSIGNED", user="bob")  # queued
        async with store.transaction() as tx:
            tx.batch.runs["r1"] = _run("r1", 3)
            tx.batch.user_tasks["ut-1"] = _task("ut-1", status="DONE", body={"values": {"ok": True}, "by": "bob"})
        assert db.rows("SELECT id, status, user_id, user_group, created_at, updated_at FROM user_tasks") == [
            ("ut-1", "DONE", "ann", "support", 10.0, 11.0)
        ]
        found = await store.get_user_task("ut-1")
        assert found is not None and msgspec.json.decode(found.body) == {"values": {"ok": True}, "by": "bob"}
        assert await store.get_user_task("ut-none") is None
    finally:
        await store.close()


async def test_a_row_is_not_written_when_its_runs_commit_fails(db: Db) -> None:
    store = await open_store(db.url, 1.0)
    try:
        await _seed(store)
        async with store.transaction() as tx:
            tx.batch.runs["r1"] = _run("r1", 1)
            tx.batch.user_tasks["ut-1"] = _task("ut-1")
        with pytest.raises(StaleRunError):
            async with store.transaction() as tx:
                tx.batch.runs["r1"] = _run("r1", 1)  # read at version 1, but it is 2 now
                tx.batch.user_tasks["ut-1"] = _task("ut-1", status="DONE")
                tx.batch.user_tasks["ut-2"] = _task("ut-2")
        assert db.rows("SELECT id, status FROM user_tasks") == [("ut-1", "ASSIGNED")]
    finally:
        await store.close()


async def test_inbox_listings_follow_the_indexes_in_creation_order(db: Db) -> None:
    store = await open_store(db.url, 1.0)
    try:
        await _seed(store, "r1")
        await _seed(store, "r2")
        async with store.transaction() as tx:
            for task in (
                _task("ut-a", created=5.0),
                _task("ut-b", status="UNASSIGNED", user=None, created=1.0),
                _task("ut-c", run_id="r2", status="UNASSIGNED", user=None, group="sales", created=3.0),
                _task("ut-d", run_id="r2", user="bob", created=3.0),
                _task("ut-e", status="DONE", created=2.0),
                _task("ut-f", status="CANCELLED", user=None, created=4.0),
                _task("ut-B", run_id="r2", user="bob", created=3.0),
            ):
                tx.batch.user_tasks[task.id] = task
        # Ties of created_at in code point order of the id ("B" < "d").
        assert await _ids(store) == ["ut-b", "ut-e", "ut-B", "ut-c", "ut-d", "ut-f", "ut-a"]
        assert await _ids(store, statuses=("ASSIGNED",), user="ann") == ["ut-a"]
        assert await _ids(store, user="ann") == ["ut-e", "ut-a"]
        assert await _ids(store, statuses=("UNASSIGNED",), group="support") == ["ut-b"]
        open_support = await _ids(store, statuses=("UNASSIGNED", "ASSIGNED"), group="support")
        assert open_support == ["ut-b", "ut-B", "ut-d", "ut-a"]
        assert await _ids(store, group="support", limit=2) == ["ut-b", "ut-e"]
        assert await _ids(store, run_id="r2") == ["ut-B", "ut-c", "ut-d"]
        assert await _ids(store, run_id="r2", statuses=("UNASSIGNED",)) == ["ut-c"]
        assert await _ids(store, run_id="r2", user="bob", group="sales") == []
        # Keyset pages: after the (created_at, id) of the last task seen.
        pages, after = [], None
        while True:
            page = await store.list_user_tasks(UserTaskFilter(limit=3, after=after))
            pages.append([t.id for t in page])
            if len(page) < 3:
                break
            after = (page[-1].created_at, page[-1].id)
        assert pages == [["ut-b", "ut-e", "ut-B"], ["ut-c", "ut-d", "ut-f"], ["ut-a"]]
    finally:
        await store.close()


async def test_the_audit_trail_is_the_journal_entries_naming_the_task(db: Db) -> None:
    store = await open_store(db.url, 1.0)
    try:
        await _seed(store)
        details = [
            {"user_task": "ut-1", "form": "approval"},
            {"user_task": "ut-10", "user": "x"},  # another task whose id starts alike
            {"task": "ut-1"},  # names it under another key
            {"user_task": "ut-1", "by": "ann", "note": "100% sure_"},
        ]
        async with store.transaction() as tx:
            for seq, detail in enumerate(details, 1):
                tx.batch.journal.append(
                    JournalRecord("r1", seq, float(seq), 0, "approve", f"K{seq}", None, msgspec.json.encode(detail))
                )
        audit = await store.user_task_journal("r1", "ut-1")
        assert [(r.seq, r.kind) for r in audit] == [(1, "K1"), (4, "K4")]
        assert await store.user_task_journal("r1", "ut-%") == []
    finally:
        await store.close()


async def test_a_purge_deletes_the_tasks_of_the_runs_it_takes(db: Db) -> None:
    store = await open_store(db.url, 1.0)
    try:
        await _seed(store, "r1")
        await _seed(store, "r2")
        async with store.transaction() as tx:
            tx.batch.runs["r1"] = _run("r1", 1, "CANCELLED")
            tx.batch.user_tasks["ut-1"] = _task("ut-1", status="CANCELLED")
            tx.batch.user_tasks["ut-2"] = _task("ut-2", run_id="r2")
        assert await purge_batch(store, Cutoff(finished_before=100.0), 10) == ["r1"]
        assert db.rows("SELECT id FROM user_tasks") == [("ut-2",)]
    finally:
        await store.close()


# ---------------------------------------------------------------- query plans

SEEDED = 20_000
_SEED_RUNS = (
    "INSERT INTO runs (id, workflow, major, revision, status, version, state, created_at, updated_at) "
    "SELECT 'p' || i, 'w', 1, 0, 'RUNNING', 1, '{{}}', i, i FROM {numbers} WHERE i <= 2000"
)
_SEED_TASKS = (
    "INSERT INTO user_tasks (id, run_id, workflow, major, revision, thread, node, form, status, user_id, "
    "user_group, notes, created_at, updated_at, body) SELECT 'ut-' || i, 'p' || (1 + i % 2000), 'w', 1, 0, 0, "
    "'ask', 'approval', CASE WHEN i % 10 = 0 THEN 'UNASSIGNED' WHEN i % 10 < 4 THEN 'ASSIGNED' ELSE 'DONE' END, "
    "CASE WHEN i % 10 = 0 THEN NULL ELSE 'u' || (i % 500) END, 'g' || (i % 50), NULL, i, i, '{{}}' FROM {numbers}"
)


async def _seeded(db: Db) -> Store:
    store = await open_store(db.url, 1.0)
    await _seed(store)
    if db.kind == "sqlite":
        numbers = (
            f"(WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {SEEDED}) SELECT i FROM n)"
        )
    else:
        numbers = f"generate_series(1, {SEEDED}) AS i"
    async with store.transaction() as tx:
        await tx.connection.fetch_many(
            [(_SEED_RUNS.format(numbers=numbers), ()), (_SEED_TASKS.format(numbers=numbers), ()), ("ANALYZE", ())]
        )
    return store


async def _plan(store: Store, where: UserTaskFilter, status: str | None) -> str:
    from wfc.runtime.store.user_tasks import query

    statement, params = query(store.dialect, where, status)
    if store.dialect.name == "sqlite":
        rows = await store.dialect.fetch("EXPLAIN QUERY PLAN " + statement, params)
        return "\n".join(row["detail"] for row in rows)
    rows = await store.dialect.fetch("EXPLAIN " + statement, params)
    return "\n".join(row[0] for row in rows)


def _sorts(text: str) -> bool:
    return "TEMP B-TREE FOR ORDER BY" in text or re.search(r"^\s*(->\s+)?Sort\s+\(", text, re.M) is not None


async def test_inbox_queries_are_index_ranges_read_in_order(db: Db) -> None:
    store = await _seeded(db)
    try:
        for where, status, index in (
            (UserTaskFilter(user="u1", limit=50), "ASSIGNED", "user_tasks_by_user"),
            (UserTaskFilter(group="g7", limit=50), "UNASSIGNED", "user_tasks_by_group"),
            (UserTaskFilter(group="g7", limit=50, after=(1000.0, "ut-1000")), "UNASSIGNED", "user_tasks_by_group"),
            (UserTaskFilter(limit=50), "UNASSIGNED", "user_tasks_by_status"),
            (UserTaskFilter(run_id="p7", limit=50), None, "user_tasks_by_run"),
        ):
            text = await _plan(store, where, status)
            assert index in text, text
            # SQLite reads a page in order from the index; PostgreSQL may
            # sort the few rows of a narrow inbox when it estimates that cheaper.
            assert db.kind != "sqlite" or not _sorts(text), text
        mine = await store.list_user_tasks(UserTaskFilter(statuses=("ASSIGNED",), user="u1", limit=3))
        assert [t.id for t in mine] == ["ut-1", "ut-501", "ut-1001"]
    finally:
        await store.close()
