"""Searchable variables: indexed in the commit that changes them, found by
``list_runs_page(where=...)`` with every other filter and keyset paging,
and the plans of the indexed run filters (migration 7) on both stores."""

from __future__ import annotations

import re
from typing import Any

import pytest
from rtdb import Db

from wfc.compiler import CompileError
from wfc.dsl import Workflow, WorkflowThread
from wfc.runtime import Engine, RunKey, UsageError

pytestmark = pytest.mark.anyio


def orders(wf: WorkflowThread) -> None:
    wf.declare_str("order-id").required().searchable()
    wf.declare_int("count").default(1).searchable()
    wf.declare_bool("rush").default(False).searchable()
    wf.declare_json("tags").searchable()
    wf.declare_str("note")  # not searchable
    status = wf.declare_str("status").default("new").searchable()
    wf.wait_for_event("pay")
    status.assign("paid")


ORDERS = Workflow("orders", orders).compile()


def index_rows(db: Db, run_id: str) -> dict[str, str]:
    return dict(db.rows(f"SELECT key, value FROM run_search WHERE run_id = '{run_id}'"))  # type: ignore[arg-type]


async def ids(engine: Engine, **filters: Any) -> list[str]:
    page = await engine.list_runs_page(**filters)
    return [run.id for run in page.runs]


async def test_values_are_indexed_at_start_and_follow_every_change(db: Db) -> None:
    async with Engine.open(db.url, poll_interval=0.05) as engine:
        await engine.deploy(ORDERS)
        await engine.start("orders", {"order-id": "o-1", "count": 3, "tags": {"b": 1, "a": [True]}}, run_id="r1")
        assert index_rows(db, "r1") == {
            "order-id": "s=o-1",
            "count": "i=3",
            "rush": "b=false",
            "status": "s=new",
            "tags": 'j={"a":[true],"b":1}',
        }
        await engine.start("orders", {"order-id": "o-2"}, run_id="r2")
        assert "tags" not in index_rows(db, "r2")  # no value, no row
        assert await ids(engine, where={"status": "new"}) == ["r2", "r1"]
        await engine.send_event("pay", run_id="r1", event_id="e1")
        await engine.wait("r1", timeout=10)
        # the commit that changed the state changed the index
        assert index_rows(db, "r1")["status"] == "s=paid"
        assert await ids(engine, where={"status": "new"}) == ["r2"]
        assert await ids(engine, where={"status": "paid"}) == ["r1"]


async def test_where_reads_values_as_the_declared_type_and_combines_with_filters(db: Db) -> None:
    async with Engine.open(db.url, poll_interval=0.05) as engine:
        await engine.deploy(ORDERS)
        for n in range(6):
            inputs = {"order-id": f"o-{n % 2}", "count": n, "rush": n % 3 == 0, "tags": ["x", n]}
            await engine.start("orders", inputs, run_id=f"r{n}")
        assert await ids(engine, where={"count": "4"}) == ["r4"]
        assert await ids(engine, where={"count": 4}) == ["r4"]
        assert await ids(engine, where={"rush": "true"}) == ["r3", "r0"]
        assert await ids(engine, where={"tags": '[ "x", 5 ]'}) == ["r5"]
        assert await ids(engine, where={"order-id": "o-1", "rush": "true"}) == ["r3"]
        assert await ids(engine, where={"order-id": "o-0"}, status="RUNNING", workflow="orders") == ["r4", "r2", "r0"]
        assert await ids(engine, where={"order-id": "o-0"}, status=["RUNNING", "HALTED"]) == ["r4", "r2", "r0"]
        assert await ids(engine, where={"order-id": "o-0"}, status="COMPLETED") == []
        # keyset pages over a search neither skip nor repeat
        seen: list[str] = []
        after: RunKey | None = None
        while True:
            page = await engine.list_runs_page(where={"order-id": "o-1"}, limit=2, after=after)
            seen += [run.id for run in page.runs]
            if page.next is None:
                break
            after = page.next
        assert seen == ["r5", "r3", "r1"]


async def test_unknown_or_unsearchable_names_and_bad_values_are_refused(db: Db) -> None:
    async with Engine.open(db.url, poll_interval=0.05) as engine:
        await engine.deploy(ORDERS)
        with pytest.raises(UsageError, match=r"'note'.*not a searchable variable; searchable: count, order-id"):
            await engine.list_runs_page(where={"note": "x"})
        with pytest.raises(UsageError, match=r"'count' is declared int"):
            await engine.list_runs_page(where={"count": "three"})
        with pytest.raises(UsageError, match=r"'rush' is declared bool"):
            await engine.list_runs_page(where={"rush": "yes"})
        with pytest.raises(UsageError, match="searchable: none"):
            await engine.list_runs_page(where={"order-id": "o-1"}, workflow="nothing-deployed")


def test_masked_and_searchable_is_refused_at_compile() -> None:
    def leaky(wf: WorkflowThread) -> None:
        wf.declare_str("card").masked().searchable()

    with pytest.raises(CompileError, match="both masked and searchable"):
        Workflow("leaky", leaky).compile()


async def test_long_values_are_stored_hashed_and_still_found(db: Db) -> None:
    long_id = "o-" + "x" * 5000
    async with Engine.open(db.url, poll_interval=0.05) as engine:
        await engine.deploy(ORDERS)
        await engine.start("orders", {"order-id": long_id}, run_id="long")
        await engine.start("orders", {"order-id": long_id + "y"}, run_id="other")
        stored = index_rows(db, "long")["order-id"]
        assert stored.startswith("s#") and len(stored) == 66
        assert await ids(engine, where={"order-id": long_id}) == ["long"]


async def test_values_postgresql_cannot_store_as_text_are_stored_hashed_and_found(db: Db) -> None:
    """A NUL in a searchable value: PostgreSQL refused the start's commit,
    and a search for it failed as a bug in wfc. (A lone surrogate is no
    input at all: the start refuses it.)"""
    odd = {"nul": "o-1\x00x", "nul-only": "\x00"}
    async with Engine.open(db.url, poll_interval=0.05) as engine:
        await engine.deploy(ORDERS)
        for run_id, order in odd.items():
            await engine.start("orders", {"order-id": order}, run_id=run_id)
        await engine.start("orders", {"order-id": "o-1"}, run_id="plain")
        for run_id, order in odd.items():
            stored = index_rows(db, run_id)["order-id"]
            assert stored.startswith("s#") and len(stored) == 66
            assert await ids(engine, where={"order-id": order}) == [run_id]
        assert await ids(engine, where={"order-id": "o-1"}) == ["plain"]


async def test_purge_deletes_the_index_rows(db: Db) -> None:
    async with Engine.open(db.url, poll_interval=0.05) as engine:
        await engine.deploy(ORDERS)
        await engine.start("orders", {"order-id": "o-1"}, run_id="r1")
        await engine.send_event("pay", run_id="r1", event_id="e1")
        finished = await engine.wait("r1", timeout=10)
        assert index_rows(db, "r1")
        assert await engine.purge_runs(finished.updated_at.timestamp() + 1) == 1
        assert index_rows(db, "r1") == {}
        assert await ids(engine, where={"order-id": "o-1"}) == []


# ---------------------------------------------------------------- query plans

SEEDED = 20_000
_SEED_RUNS = (
    "INSERT INTO runs (id, workflow, major, revision, status, version, state, created_at, updated_at, "
    "state_format, needs_attention) SELECT 'p' || i, 'orders', 1, 0, "
    "CASE WHEN i % 1000 = 0 THEN 'FAILED' WHEN i % 10 = 0 THEN 'RUNNING' ELSE 'COMPLETED' END, 1, '{{}}', "
    "i, i + 5, 2, i % 1000 = 0 FROM {numbers}"
)
_SEED_SEARCH = (
    "INSERT INTO run_search (run_id, key, value, run_created) "
    "SELECT 'p' || i, 'order-id', 's=o-' || (i % 5000), i FROM {numbers} "
    "UNION ALL SELECT 'p' || i, 'status', 's=new', i FROM {numbers}"
)


async def seeded_store(db: Db) -> Any:
    """A store of ``orders`` runs written straight in SQL (``SEEDED`` of
    them: 90 % COMPLETED, one in a thousand needing attention, four runs per
    order id, every run with status "new"), with fresh statistics."""
    from wfc.runtime.store import open_store

    async with Engine.open(db.url, serve=False) as engine:
        await engine.deploy(ORDERS)
    store = await open_store(db.url, 0.0)
    if db.kind == "sqlite":
        numbers = (
            f"(WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {SEEDED}) SELECT i FROM n)"
        )
    else:
        numbers = f"generate_series(1, {SEEDED}) AS i"
    async with store.transaction() as tx:
        await tx.connection.fetch_many(
            [
                (_SEED_RUNS.format(numbers=numbers), ()),
                (_SEED_SEARCH.format(numbers=numbers), ()),
                ("ANALYZE", ()),
            ]
        )
    return store


async def plan(store: Any, where: Any) -> str:
    """The database's plan of the list query for ``where``, as text."""
    from wfc.runtime.store.core import runs_query

    statement, params = runs_query(store.dialect, where, await store._few_updated(where))
    if store.dialect.name == "sqlite":
        rows = await store.dialect.fetch("EXPLAIN QUERY PLAN " + statement, params)
        return "\n".join(row["detail"] for row in rows)
    rows = await store.dialect.fetch("EXPLAIN " + statement, params)
    return "\n".join(row[0] for row in rows)


async def _updated_index_keeps_hot(store: Any) -> bool:
    """SQLite, or PostgreSQL 16 and newer: migration 7 indexes updated_at."""
    if store.dialect.name == "sqlite":
        return True
    rows = await store.dialect.fetch("SELECT current_setting('server_version_num')::int AS v")
    return int(rows[0]["v"]) >= 160000


def _sorts(text: str) -> bool:
    """The plan sorts every row it found, not only the ties of created_at
    (SQLite's "RIGHT PART OF ORDER BY", PostgreSQL's incremental sort)."""
    return "TEMP B-TREE FOR ORDER BY" in text or re.search(r"^\s*(->\s+)?Sort\s+\(", text, re.M) is not None


async def test_searches_and_indexed_filters_are_index_ranges_in_order(db: Db) -> None:
    from wfc.runtime.store import RunFilter

    store = await seeded_store(db)
    try:
        rare = RunFilter(search=(("order-id", ("s=o-42",)),), limit=50)
        hot_page = RunFilter(search=(("status", ("s=new",)),), limit=50, after=(15_000.0, "p15000"))
        both = RunFilter(search=(("order-id", ("s=o-42",)), ("status", ("s=new",))), limit=50, statuses=("COMPLETED",))
        for where in (rare, hot_page, both):
            text = await plan(store, where)
            assert "run_search_by_value" in text, text
            assert not _sorts(text), text  # read in order from the index: a page costs its size
        recent = await plan(store, RunFilter(updated_after=SEEDED + 10.0, limit=50))
        if await _updated_index_keeps_hot(store):
            assert "runs_by_updated" in recent, recent
        else:  # PostgreSQL 15 and older: no index on updated_at (it would make every update non-HOT)
            assert "runs_by_updated" not in recent, recent
        # every run changed since: the newest-first index gives the page at once
        wide = await plan(store, RunFilter(updated_after=0.0, limit=50))
        assert "runs_by_created" in wide and not _sorts(wide), wide
        old = await plan(store, RunFilter(updated_before=100.0, limit=50))
        assert "runs_by_updated" in old or "runs_by_created" in old, old
        flagged = await plan(store, RunFilter(needs_attention=True, limit=50))
        assert "runs_needing_attention" in flagged, flagged
        # and the queries give what the plans promise
        found = await store.list_runs(rare)
        assert [r.id for r in found] == [f"p{n}" for n in (15042, 10042, 5042, 42)]
        assert len(await store.list_runs(RunFilter(needs_attention=True))) == SEEDED // 1000
        assert await store.list_runs(RunFilter(updated_after=SEEDED + 10.0)) == []
    finally:
        await store.close()


async def test_of_concurrent_starts_in_two_engines_exactly_one_created_the_run(db: Db) -> None:
    import anyio

    async with Engine.open(db.url, serve=False) as one, Engine.open(db.url, serve=False) as two:
        await one.deploy(ORDERS)
        for round_ in range(10):
            results: list[bool] = []

            async def begin(engine: Engine, run_id: str = f"c-{round_}", results: list[bool] = results) -> None:
                started = await engine.start_run("orders", {"order-id": "o-c"}, run_id=run_id)
                assert started.run_id == run_id
                results.append(started.created)

            async with anyio.create_task_group() as tg:
                for engine in (one, two, one, two):
                    tg.start_soon(begin, engine)
            assert sorted(results) == [False, False, False, True]
        again = await two.start_run("orders", {"order-id": "o-c"}, run_id="c-0")
        assert not again.created
        assert await two.start("orders", {"order-id": "o-c"}, run_id="c-0") == "c-0"
