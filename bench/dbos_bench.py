"""DBOS Transact side of the benchmark, one scenario per process (DBOS keeps
global state); prints one JSON object.

``python dbos_bench.py SCENARIO URL N [--wal]``: ``throughput`` (``N``
five-step workflows at once) or ``sequential`` (one after the other). On
SQLite DBOS keeps its default rollback journal unless ``--wal``, which
switches the new file to WAL before DBOS opens it (the mode is stored in the
file). Every SQLite connection gets ``synchronous=FULL``, as wfc's have, so
both are durable against power loss. Needs the ``dbos`` package, installed
only in the benchmark's virtual environment, never as a wfc dependency.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3
import sys
import time
from pathlib import Path
from typing import Any

from bench_stats import percentile
from probes import (
    SqliteCommits,
    backend_cpu_seconds,
    cpu_seconds,
    sqlite_synchronous,
    written_bytes,
    written_kb_per_step,
)

STEPS = 5
SQLITE = SqliteCommits()


def figures(steps: int, began: float, cpu: float, commits: int, written: int | None) -> dict[str, Any]:
    elapsed = time.perf_counter() - began
    return {
        "steps": steps,
        "seconds": round(elapsed, 3),
        "steps_per_s": round(steps / elapsed, 1),
        "ms_per_step": round(elapsed * 1000 / steps, 4),
        "cpu_ms_per_step": round((cpu_seconds() - cpu) * 1000 / steps, 4),
        "commits_per_step": round((SQLITE.commits - commits) / steps, 5),
        "written_kb_per_step": written_kb_per_step(written, steps),
    }


async def _backend_cpu(url: str) -> float | None:
    return None if url.startswith("sqlite") else await backend_cpu_seconds(url)


async def measure(scenario: str, url: str, count: int) -> dict[str, Any]:
    from dbos import DBOS

    @DBOS.step()
    async def trivial_step(index: int) -> int:
        return index

    @DBOS.workflow()
    async def five_steps() -> int:
        total = 0
        for index in range(STEPS):
            total += await trivial_step(index)
        return total

    DBOS.launch()
    try:
        await five_steps()  # warm up
        began, cpu, commits, written = time.perf_counter(), cpu_seconds(), SQLITE.commits, written_bytes()
        if scenario == "throughput":
            if not count:
                return {}
            backends = await _backend_cpu(url)
            began, cpu = time.perf_counter(), cpu_seconds()
            await asyncio.gather(*(five_steps() for _ in range(count)))
            result = figures(count * STEPS, began, cpu, commits, written)
            after = await _backend_cpu(url)
            if backends is not None and after is not None:
                result["db_backend_cpu_ms_per_step"] = round((after - backends) * 1000 / (count * STEPS), 4)
            return result
        if not count:
            return {}
        durations = []
        for _ in range(count):
            one = time.perf_counter()
            await five_steps()
            durations.append((time.perf_counter() - one) * 1000 / STEPS)
        result = figures(count * STEPS, began, cpu, commits, written)
        result["median_ms_per_step"] = round(percentile(durations, 0.5), 4)
        result["p99_ms_per_step"] = round(percentile(durations, 0.99), 4)
        return result
    finally:
        DBOS.destroy()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("scenario", choices=["throughput", "sequential"])
    parser.add_argument("url")
    parser.add_argument("count", type=int)
    parser.add_argument("--wal", action="store_true", help="switch the SQLite file to WAL first")
    args = parser.parse_args()
    path = args.url.removeprefix("sqlite:///") if args.url.startswith("sqlite:///") else ""
    if path:
        if args.wal:
            conn = sqlite3.connect(path)
            conn.execute("PRAGMA journal_mode = WAL")
            conn.close()
        SQLITE.install(force_full_sync=True)
    from dbos import DBOS

    DBOS(config={"name": "wfc-bench", "system_database_url": args.url})  # type: ignore[typeddict-item]
    result = asyncio.run(measure(args.scenario, args.url, args.count))
    if path:
        mode, _ = sqlite_synchronous(path)
        result["journal_mode"] = mode
        result["synchronous_set"] = sorted(SQLITE.sync_pragmas)
    print(json.dumps(result))


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    main()
