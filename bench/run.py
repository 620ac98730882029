"""Benchmark wfc against DBOS Transact on the same workflow, in one run.

Five sequential trivial steps per workflow run. Measures the figures of
issue 9 item 8 with their targets and, where DBOS has the same figure, the
ratio to DBOS in the same run: on SQLite (wfc in WAL; DBOS in its default
rollback journal and in WAL, both ``synchronous=FULL``), a run with many
live children, a restart with runs in flight, the CLI's start-up, and on
PostgreSQL (``synchronous_commit`` as the server has it, reported) DBOS and
wfc in one process, then wfc with 1, 2 and 4 ``wfc worker`` processes, and
the REST API under load (``api_load.py``: ``wfc server`` on a loopback port
over 100,000 stored runs), ``wfc migrate apply`` over 100,000 parked
runs (``migration_bench.py``), and the test harness's virtual time
(``timers_bench.py``: a run setting 10,000 timers over a year). The disk's
and the server's single-row commit
rates are measured in the same run as the physical reference.

Every measurement runs in a process of its own; ``--reps N`` repetitions of
wfc and DBOS are interleaved (the order alternates), and each figure is the
median with min and max. wfc at 10,000 runs is measured beside wfc at 1,000
in each repetition, and compared pair by pair. A human-readable table goes
to stderr; stdout gets ONE JSON line.

Usage: ``bash bench/run [--quick] [--reps N] [--no-dbos] [--no-postgres] [--no-api] [--no-migrate]
[--no-timers]``
(sets up the benchmark's own venv), or ``python bench/run.py ...`` inside a
venv with wfc (and ``dbos`` unless ``--no-dbos``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import pg_suite
import sqlite_suite
from bench_stats import merge_reps, spread
from idle import idle_settings
from report import print_table, targets
from runner import child

DEFAULT_POSTGRES = os.environ.get("WFC_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def progress(message: str) -> None:
    """One line on stderr per measurement, so a long run shows where it is."""
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def sqlite_figures(sizes: sqlite_suite.Sizes, reps: int, with_dbos: bool) -> dict[str, Any]:
    """Everything measured on SQLite."""
    result: dict[str, Any] = {}
    found = sqlite_suite.engines("throughput", sizes.concurrent, reps, with_dbos, progress, many=sizes.many)
    ratios = sqlite_suite.paired_ratios(found)
    result["many"] = merge_reps(found.pop("wfc_many"))
    result["many"]["ratio_to_concurrent_in_pairs"] = spread(ratios)
    result["throughput"] = {side: merge_reps(side_reps) for side, side_reps in found.items()}
    found = sqlite_suite.engines(
        "sequential", sizes.sequential, reps, with_dbos, progress, in_memory=True, halt_free=True, irq_cpus=True
    )
    for side, key in (
        ("wfc_in_memory", "sequential_in_memory"),
        ("wfc_halt_free", "sequential_halt_free"),
        ("wfc_irq_cpu", "sequential_irq_cpu"),
    ):
        if side in found:
            result[key] = merge_reps(found.pop(side))
    result["sequential"] = {side: merge_reps(side_reps) for side, side_reps in found.items()}
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=None, help="repetitions per figure (default 3; 1 with --quick)")
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke test of the benchmark itself")
    parser.add_argument("--no-dbos", action="store_true", help="wfc only (no dbos package needed)")
    parser.add_argument("--no-postgres", action="store_true", help="only the SQLite figures")
    parser.add_argument(
        "--postgres", default=DEFAULT_POSTGRES, metavar="URL", help="a server whose user may create databases"
    )
    parser.add_argument("--workers", default="1,2,4", help="worker process counts on PostgreSQL")
    parser.add_argument("--no-api", action="store_true", help="skip the API load test (api_load.py)")
    parser.add_argument("--no-dashboard", action="store_true", help="skip the dashboard's load (dashboard_load.py)")
    parser.add_argument("--no-migrate", action="store_true", help="skip the migration bench (migration_bench.py)")
    parser.add_argument("--no-timers", action="store_true", help="skip the virtual-time harness run (timers_bench.py)")
    args = parser.parse_args()
    reps = args.reps or (1 if args.quick else 3)
    sizes = sqlite_suite.QUICK if args.quick else sqlite_suite.Sizes()
    with_dbos = not args.no_dbos
    began = time.perf_counter()
    result: dict[str, Any] = {
        "workflow": "5 sequential trivial steps",
        "quick": args.quick,
        "reps": reps,
        "sizes": asdict(sizes),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
            "idle": idle_settings(),
        },
        "durability": {
            "wfc_sqlite": "WAL, synchronous=FULL (set by runtime/store/sqlite_setup.py; synchronous_set shows it)",
            "dbos_sqlite": "dbos_default_journal: DBOS's default rollback journal (DELETE); dbos_wal: the file "
            "switched to WAL before DBOS opens it; synchronous=FULL forced on every DBOS connection",
            "postgres": "synchronous_commit as the server has it (limits.postgres.synchronous_commit)",
        },
    }
    progress("physical limits")
    result["limits"] = {"sqlite_wal_full": sqlite_suite.disk_limit(sizes.limit_seconds, reps)}
    if not args.no_postgres:
        result["limits"]["postgres_one_connection"] = pg_suite.server_limit(args.postgres, sizes.limit_seconds, reps)
    result["sqlite"] = sqlite_figures(sizes, reps, with_dbos)
    result["metrics_cost"] = sqlite_suite.metrics_cost(sizes.concurrent, max(reps, sizes.metric_pairs), progress)
    result["children"] = sqlite_suite.children(sizes.children, reps, progress)
    result["restart"], result["cli"] = sqlite_suite.restart_and_cli(sizes, reps, progress)
    if not args.no_postgres:
        counts = [int(n) for n in args.workers.split(",") if n.strip()]
        result["postgres"] = {
            "engines": pg_suite.engines(args.postgres, sizes, reps, with_dbos, progress),
            "scaling": pg_suite.scaling(args.postgres, counts, sizes.concurrent, reps, progress),
        }
    if not args.no_api:
        progress(f"api load: {sizes.api_runs} runs, {sizes.api_requests} requests per scenario")
        result["api"] = child("api_load.py", "--runs", sizes.api_runs, "--requests", sizes.api_requests, timeout=3600)
    if not args.no_dashboard:
        progress(f"dashboard: {sizes.dash_pages} open pages over {sizes.concurrent} runs, push latency, layout")
        result["dashboard"] = child(
            "dashboard_load.py",
            "--runs",
            sizes.concurrent,
            "--pages",
            sizes.dash_pages,
            "--reps",
            reps,
            "--pushes",
            sizes.dash_pushes,
            timeout=3600,
        )
    if not args.no_migrate:
        progress(f"migration: {sizes.migrate_runs} parked runs planned and applied")
        result["migration"] = child("migration_bench.py", "--runs", sizes.migrate_runs, timeout=3600)
    if not args.no_timers:
        shape = ("--children", 10, "--sleeps", 10) if args.quick else ("--children", 100, "--sleeps", 100)
        progress(f"virtual timers: {shape[1] * shape[3] + 1} timers under wfc.testing's virtual clock")
        result["virtual_timers"] = child("timers_bench.py", "--reps", reps, *shape)
    result["machine"]["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    result["targets"] = targets(result)
    result["seconds"] = round(time.perf_counter() - began, 1)
    print_table(result)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
