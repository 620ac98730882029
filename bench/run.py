"""Benchmark wfc against DBOS Transact on the same workflow, in one run.

Five sequential trivial steps per workflow run. For each engine: median and
p99 milliseconds per run over sequential runs, and steps per second with many
runs started at once. Prints one JSON line with every figure and the
wfc/DBOS ratios (for latency, below 1 means wfc is faster; for throughput,
above 1 does).

On SQLite both run in one process. On PostgreSQL (unless ``--no-postgres``)
DBOS runs in one process and wfc both ways: in one process, and as a client
with 1, 2 and 4 ``wfc worker`` processes sharing the work. Each side gets a
fresh database of its own on the server of ``--postgres``, dropped afterwards.

Usage: ``bash bench/run`` (sets up the benchmark's own venv), or
``python bench/run.py [--sequential N] [--concurrent N] [--postgres URL]``
inside it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

HERE = Path(__file__).resolve().parent
DEFAULT_POSTGRES = os.environ.get("WFC_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def run_side(script: str, sequential: int, concurrent: int, *extra: str) -> dict[str, Any]:
    """Run one engine's side in its own process and parse its JSON line."""
    done = subprocess.run(
        [sys.executable, str(HERE / script), str(sequential), str(concurrent), *extra],
        capture_output=True,
        text=True,
        check=False,
        cwd=HERE,
    )
    if done.returncode != 0:
        raise SystemExit(f"{script} failed with exit {done.returncode}:\n{done.stderr[-3000:]}")
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    return dict(json.loads(lines[-1]))


def ratios(wfc: dict[str, Any], dbos: dict[str, Any]) -> dict[str, float]:
    """wfc divided by DBOS for every figure."""
    return {key: round(wfc[key] / dbos[key], 3) for key in wfc if key in dbos and dbos.get(key)}


def _database_url(server: str, name: str) -> str:
    parts = urlsplit(server)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", "", ""))


async def _admin(server: str, statement: str) -> None:
    import asyncpg  # type: ignore[import-untyped]

    conn = await asyncpg.connect(server)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


@contextmanager
def fresh_database(server: str, name: str) -> Iterator[str]:
    """A new database on the server of ``server`` (dropped afterwards); its URL."""
    asyncio.run(_admin(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    asyncio.run(_admin(server, f'CREATE DATABASE "{name}"'))
    try:
        yield _database_url(server, name)
    finally:
        asyncio.run(_admin(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def postgres_figures(server: str, sequential: int, concurrent: int, worker_counts: list[int]) -> dict[str, Any]:
    """DBOS and wfc (one process, then N worker processes) on PostgreSQL."""
    tag = os.getpid()
    with fresh_database(server, f"dbos_bench_{tag}") as url:
        dbos = run_side("dbos_bench.py", sequential, concurrent, url)
    with fresh_database(server, f"wfc_bench_{tag}") as url:
        embedded = run_side("wfc_bench.py", sequential, concurrent, url, "0")
    workers: dict[str, dict[str, Any]] = {}
    for count in worker_counts:
        with fresh_database(server, f"wfc_bench_{tag}_{count}") as url:
            workers[str(count)] = run_side("wfc_bench.py", sequential, concurrent, url, str(count))
    over = {"one_process": ratios(embedded, dbos)}
    over.update({f"{count}_workers": ratios(figures, dbos) for count, figures in workers.items()})
    return {
        "server": urlsplit(server).hostname,
        "dbos": dbos,
        "wfc_one_process": embedded,
        "wfc_workers": workers,
        "wfc_over_dbos": over,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sequential", type=int, default=200)
    parser.add_argument("--concurrent", type=int, default=1000)
    parser.add_argument(
        "--postgres",
        default=DEFAULT_POSTGRES,
        metavar="URL",
        help="a PostgreSQL server URL whose user may create databases",
    )
    parser.add_argument("--no-postgres", action="store_true", help="only the SQLite figures")
    parser.add_argument("--workers", default="1,2,4", help="worker process counts on PostgreSQL")
    args = parser.parse_args()
    wfc = run_side("wfc_bench.py", args.sequential, args.concurrent)
    dbos = run_side("dbos_bench.py", args.sequential, args.concurrent)
    result: dict[str, Any] = {
        "workflow": "5 sequential trivial steps",
        "store": "sqlite",
        "sequential_runs": args.sequential,
        "concurrent_runs": args.concurrent,
        "wfc": wfc,
        "dbos": dbos,
        "wfc_over_dbos": ratios(wfc, dbos),
    }
    if not args.no_postgres:
        counts = [int(n) for n in args.workers.split(",") if n.strip()]
        result["postgres"] = postgres_figures(args.postgres, args.sequential, args.concurrent, counts)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
