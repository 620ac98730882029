"""How long a page of ``list_runs_page`` takes at a million runs, for the
filters of migration 7 (``where`` on searchable variables, ``updated_after``,
``needs_attention``) and the plain first page, on SQLite and PostgreSQL.

The runs are written straight in SQL (90 % COMPLETED, 9 % RUNNING, 1 in 1,000
FAILED and needing attention; four runs per order id, every run with status
"new"), so seeding a million takes seconds, not an engine's hours. Each
figure is the best of ``--reps`` reads of one page of 50 through the engine.

    python bench/list_runs_1m.py [--runs 1000000] [--postgres URL] [--reps 3]
"""

from __future__ import annotations

import argparse
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio

from wfc.dsl import Workflow, WorkflowThread
from wfc.runtime import Engine, RunKey
from wfc.runtime.store import open_store

_RUNS = (
    "INSERT INTO runs (id, workflow, major, revision, status, version, state, created_at, updated_at, "
    "state_format, needs_attention) SELECT 'p' || i, 'orders', 1, 0, "
    "CASE WHEN i % 1000 = 0 THEN 'FAILED' WHEN i % 10 = 0 THEN 'RUNNING' ELSE 'COMPLETED' END, 1, "
    '\'{{"id":"p\' || i || \'","workflow":"orders","version":{{"major":1,"revision":0}},"seq":1,'
    '"created_at":\' || (1000000000 + i) || \',"updated_at":\' || (1000000005 + i) || \',"threads":{{"0":'
    '{{"number":0,"name":"main","kind":"entrypoint","node":"wait-pay","variables":'
    '{{"order-id":"o-\' || (i % {orders}) || \'","status":"new"}},'
    "\"started_at\":' || (1000000000 + i) || '}}}}}}', "
    "1000000000 + i, 1000000005 + i, 2, i % 1000 = 0 FROM {numbers}"
)
_SEARCH = (
    "INSERT INTO run_search (run_id, key, value, run_created) "
    "SELECT 'p' || i, 'order-id', 's=o-' || (i % {orders}), 1000000000 + i FROM {numbers} "
    "UNION ALL SELECT 'p' || i, 'status', 's=new', 1000000000 + i FROM {numbers}"
)


def orders(wf: WorkflowThread) -> None:
    wf.declare_str("order-id").required().searchable()
    wf.declare_str("status").default("new").searchable()
    wf.wait_for_event("pay")


async def seed(url: str, runs: int, sqlite: bool) -> None:
    async with Engine.open(url, serve=False) as engine:
        await engine.deploy(Workflow("orders", orders).compile())
    store = await open_store(url, time.time())
    if sqlite:
        numbers = f"(WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {runs}) SELECT i FROM n)"
    else:
        numbers = f"generate_series(1, {runs}) AS i"
    try:
        async with store.transaction() as tx:
            await tx.connection.fetch_many(
                [
                    (_RUNS.format(numbers=numbers, orders=runs // 4), ()),
                    (_SEARCH.format(numbers=numbers, orders=runs // 4), ()),
                    ("ANALYZE", ()),
                ]
            )
        if not sqlite:  # what autovacuum does in time: statistics, and a summary of every BRIN range
            await store.dialect.fetch("VACUUM ANALYZE runs")
    finally:
        await store.close()


async def best(reps: int, read: Callable[[], Awaitable[Any]]) -> float:
    times = []
    for _ in range(reps):
        began = time.perf_counter()
        await read()
        times.append(time.perf_counter() - began)
    return min(times) * 1000


async def measure(url: str, runs: int, reps: int) -> list[tuple[str, float]]:
    base = 1000000000.0
    deep = RunKey(created_at=base + runs // 2, id=f"p{runs // 2}")
    queries: list[tuple[str, dict[str, Any]]] = [
        ("first page", {}),
        ("where order-id (4 runs match)", {"where": {"order-id": "o-42"}}),
        ("where status=new (every run), first page", {"where": {"status": "new"}}),
        ("where status=new, a page by cursor mid-way", {"where": {"status": "new"}, "after": deep}),
        ("where order-id and status", {"where": {"order-id": "o-42", "status": "new"}}),
        ("updated_after: the last 100 runs", {"updated_after": base + runs - 95}),
        ("updated_after: none match", {"updated_after": base + runs + 100}),
        ("updated_after: every run", {"updated_after": base}),
        ("needs_attention", {"needs_attention": True}),
    ]
    found = []
    async with Engine.open(url, serve=False) as engine:
        for label, filters in queries:
            ms = await best(reps, lambda f=filters: engine.list_runs_page(limit=50, **f))  # type: ignore[misc]
            found.append((label, ms))
    return found


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1_000_000)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--postgres", metavar="URL", help="also measure on this PostgreSQL database (a new schema)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        targets = [("SQLite", f"sqlite:///{Path(folder) / 'runs.db'}", True)]
        if args.postgres:
            schema = f"wfc_bench_{uuid.uuid4().hex[:8]}"
            sep = "&" if "?" in args.postgres else "?"
            targets.append(("PostgreSQL", f"{args.postgres}{sep}schema={schema}", False))
        for name, url, sqlite in targets:
            began = time.perf_counter()
            await seed(url, args.runs, sqlite)
            print(f"{name}: {args.runs:,} runs seeded in {time.perf_counter() - began:.0f} s")
            for label, ms in await measure(url, args.runs, args.reps):
                print(f"  {label:<48} {ms:8.1f} ms")
            if not sqlite:
                await drop_schema(args.postgres, schema)


async def drop_schema(url: str, schema: str) -> None:
    import asyncpg  # type: ignore[import-untyped]

    conn = await asyncpg.connect(url)
    try:
        await conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
    finally:
        await conn.close()


if __name__ == "__main__":
    anyio.run(main)
