"""Migration bench: plan and apply the move of many parked runs to a new
version, on a fresh SQLite file.

1. Park ``--runs`` runs of ``ship`` 1.0 at a ``wait_for_event`` through the
   engine's own write path (``Engine.start`` from a client engine, many at
   once so the commit loop batches them); deploy 1.1 (a new task after the
   wait, a new variable with a default: every parked run is safe to move now).
2. ``Engine.plan_migration`` (timed: ``plan_seconds``), the plan's document
   through JSON as ``wfc migrate plan --json`` writes it.
3. ``Engine.apply_migration`` on a client engine, as ``wfc migrate apply``
   does (timed: ``apply_seconds``); then checked: every run migrated, every
   run row on 1.1.

Prints ONE JSON line: ``{"figure": "migrate_apply", "runs", "plan_seconds",
"apply_seconds", "runs_per_second", "target_seconds": 60, ...}``
(``target_seconds``: 100,000 runs applied within a minute). A progress line
per phase goes to stderr.

Usage: ``python bench/migration_bench.py [--runs 100000] [--db PATH]`` (a
temporary SQLite file unless ``--db`` names a file that does not exist yet);
``bench/run.py`` runs it as one of its figures.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import anyio

#: Starts in flight at once while parking (the commit loop batches up to 1000 per transaction).
_IN_FLIGHT = 2000
TARGET_SECONDS = 60


def progress(message: str) -> None:
    print(f"[migration {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _specs() -> tuple[Any, Any]:
    from wfc.dsl import Workflow, WorkflowThread

    def v1(wf: WorkflowThread) -> Any:
        order = wf.declare_str("order-id").required()
        wf.wait_for_event("approved", correlation=order, timeout=3600)
        return wf.execute("finish", order)

    def v2(wf: WorkflowThread) -> Any:
        order = wf.declare_str("order-id").required()
        wf.declare_str("channel").default("web")
        wf.wait_for_event("approved", correlation=order, timeout=3600)
        wf.execute("notify", order)
        return wf.execute("finish", order)

    old = Workflow("ship", v1).compile()
    return old, Workflow("ship", v2).compile(previous=old)


async def park(url: str, runs: int) -> float:
    """Store ``runs`` runs of 1.0 waiting for their event, and deploy 1.1; the seconds it took."""
    from wfc.runtime import Engine

    old, new = _specs()
    began = time.perf_counter()
    async with Engine.open(url, serve=False, check_tasks=False) as engine:
        await engine.deploy(old)
        limit = anyio.Semaphore(_IN_FLIGHT)

        async def start(index: int) -> None:
            async with limit:
                await engine.start("ship", {"order-id": f"o-{index}"}, run_id=f"ship-{index:07d}")

        async with anyio.create_task_group() as tg:
            for index in range(runs):
                await limit.acquire()  # bounded: never more than _IN_FLIGHT coroutines alive
                limit.release()
                tg.start_soon(start, index)
        await engine.deploy(new)
    return time.perf_counter() - began


async def measure(url: str, runs: int) -> dict[str, Any]:
    from wfc.runtime import Engine

    async with Engine.open(url, serve=False, check_tasks=False) as engine:
        began = time.perf_counter()
        plan = await engine.plan_migration("ship", "1.0", "1.1")
        document = json.loads(json.dumps(plan.document()))  # what `wfc migrate apply PLAN` reads
        plan_seconds = time.perf_counter() - began
        if plan.counts()["safe_now"] != runs:
            raise SystemExit(f"the plan has {plan.counts()} for {runs} parked runs, not all safe now")
        progress(f"planned in {plan_seconds:.1f} s; applying")
        began = time.perf_counter()
        report = await engine.apply_migration(document)
        apply_seconds = time.perf_counter() - began
        counts = report.counts()
        if counts["migrated"] != runs or not report.complete:
            raise SystemExit(f"applying moved {counts} of {runs} runs")
        store = engine._store
        rows = await store.dialect.fetch(
            "SELECT count(*) AS n FROM runs WHERE workflow = 'ship' AND major = 1 AND revision = 1"
        )
        ((moved,),) = [tuple(row) for row in rows]
        if moved != runs:
            raise SystemExit(f"{moved} of {runs} run rows are on 1.1 after applying")
    return {"plan_seconds": round(plan_seconds, 2), "apply_seconds": round(apply_seconds, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100_000, help="parked runs to move (default 100,000)")
    parser.add_argument("--db", metavar="PATH", help="a SQLite file that does not exist yet (default: a temporary one)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="wfc-migration-") as tmp:
        path = Path(args.db) if args.db else Path(tmp) / "migration.db"
        if path.exists():
            raise SystemExit(f"{path} exists; give a new file (the bench parks its own runs)")
        url = f"sqlite:///{path.resolve()}"
        progress(f"parking {args.runs} runs on {path}")
        park_seconds = anyio.run(park, url, args.runs)
        progress(f"parked in {park_seconds:.1f} s; planning")
        figures = anyio.run(measure, url, args.runs)
    result = {
        "figure": "migrate_apply",
        "runs": args.runs,
        "plan_seconds": figures["plan_seconds"],
        "apply_seconds": figures["apply_seconds"],
        "runs_per_second": round(args.runs / max(figures["apply_seconds"], 1e-9), 1),
        "target_seconds": TARGET_SECONDS,
        "park_seconds": round(park_seconds, 2),
        "store": "sqlite",
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
