"""The PostgreSQL figures: DBOS and wfc in one process, then wfc with 1, 2
and 4 ``wfc worker`` processes sharing one database, repetitions interleaved.

Each measurement gets a fresh database, so ``pg_stat_database.xact_commit``
of that database counts its commits (read-only transactions included). The
same measurement with zero runs (open, deploy, warm up, close) is made once
per kind and subtracted, so commits per step leave out start-up. Round trips
are asyncpg calls counted inside every wfc process (the measured phase in a
serving or client process; the whole life of a worker process, less the
zero-run worker's), and so are ``COMMIT`` statements
(``begin_commit_per_step``: the transactions that wfc opens with ``BEGIN``,
the writes; ``commits_per_step`` also counts single statements outside a
transaction, reads among them). A worker's CPU time is read from ``/proc`` while the
client process lives (its start-up, warm-up run and measured phase), so the
workers' own start-up is left out.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench_stats import merge_reps, spread
from pg_admin import fresh_database, show, xact_commit
from probes import process_cpu_seconds
from runner import child, worker_totals, workers

Progress = Callable[[str], None]
STEPS = 5


class Counter:
    """Fresh database names, unique within this benchmark run."""

    def __init__(self) -> None:
        self.next = 0

    def name(self, side: str) -> str:
        self.next += 1
        return f"wfcbench_{os.getpid()}_{side}_{self.next}"


NAMES = Counter()


def _one_process(server: str, side: str, scenario: str, count: int) -> tuple[dict[str, Any], int]:
    """One serving process (wfc or DBOS); its figures and xact_commit delta."""
    name = NAMES.name(side)
    with fresh_database(server, name) as url:
        before = xact_commit(server, name)
        script = "wfc_bench.py" if side == "wfc" else "dbos_bench.py"
        found = child(script, scenario, url, count)
        return found, xact_commit(server, name) - before


def _with_workers(server: str, count: int, runs: int) -> tuple[dict[str, Any], int, dict[str, Any]]:
    """A client starting ``runs`` runs, ``count`` worker processes serving."""
    name = NAMES.name(f"w{count}")
    with fresh_database(server, name) as url, tempfile.TemporaryDirectory() as tmp:
        child("wfc_bench.py", "throughput", url, 0, "--client")  # the schema first: workers must not race
        before = xact_commit(server, name)
        with workers(url, count, Path(tmp)) as (outs, pids):
            cpu_before = [process_cpu_seconds(pid) for pid in pids]
            found = child("wfc_bench.py", "throughput", url, runs, "--client")
            cpu = [process_cpu_seconds(pid) - before for pid, before in zip(pids, cpu_before, strict=True)]
        totals = worker_totals(outs)
        totals["cpu_s"] = cpu  # over the client's life only: the workers' start-up left out
        return found, xact_commit(server, name) - before, totals


def _commits(found: dict[str, Any], delta: int, base: int, runs: int) -> None:
    if runs:
        found["commits_per_step"] = round((delta - base) / (runs * STEPS), 5)
        found["xact_commit_delta"] = delta - base


def engines(server: str, sizes: Any, reps: int, with_dbos: bool, progress: Progress) -> dict[str, Any]:
    """DBOS and wfc each in one process: throughput and one run at a time."""
    sides = ["wfc", *(["dbos"] if with_dbos else [])]
    result: dict[str, Any] = {}
    for scenario, count in (("throughput", sizes.concurrent), ("sequential", sizes.sequential)):
        base = {side: _one_process(server, side, scenario, 0)[1] for side in sides}
        found: dict[str, list[dict[str, Any]]] = {side: [] for side in sides}
        for rep in range(reps):
            for side in sides if rep % 2 == 0 else sides[::-1]:
                progress(f"postgres {scenario} {count}: {side}, rep {rep + 1}/{reps}")
                figures, delta = _one_process(server, side, scenario, count)
                _commits(figures, delta, base[side], count)
                found[side].append(figures)
        result[scenario] = {side: merge_reps(reps_found) for side, reps_found in found.items()}
    return result


def scaling(server: str, counts: list[int], runs: int, reps: int, progress: Progress) -> dict[str, Any]:
    """steps/s, CPU per step per worker process, round trips and commits per
    step with each number of worker processes."""
    result: dict[str, Any] = {}
    for count in counts:
        _, base_commits, base_totals = _with_workers(server, count, 0)
        found = []
        for rep in range(reps):
            progress(f"postgres scaling: {count} worker(s), rep {rep + 1}/{reps}")
            figures, delta, totals = _with_workers(server, count, runs)
            steps = runs * STEPS
            _commits(figures, delta, base_commits, runs)
            worker_cpu = [cpu * 1000 / steps for cpu in totals["cpu_s"]]
            trips = figures["round_trips_per_step"] + (totals["round_trips"] - base_totals["round_trips"]) / steps
            begins = figures["begin_commit_per_step"] + (totals["commits"] - base_totals["commits"]) / steps
            found.append(
                {
                    "steps_per_s": figures["steps_per_s"],
                    "client_cpu_ms_per_step": figures["cpu_ms_per_step"],
                    "worker_cpu_ms_per_step_total": round(sum(worker_cpu), 4),
                    "worker_cpu_ms_per_step_each": round(sum(worker_cpu) / count, 4),
                    "round_trips_per_step": round(trips, 3),
                    "client_round_trips_per_step": figures["round_trips_per_step"],
                    "commits_per_step": figures.get("commits_per_step", 0.0),
                    "db_backend_cpu_ms_per_step": figures.get("db_backend_cpu_ms_per_step"),
                    "begin_commit_per_step": round(begins, 5),
                    "worker_round_trips_per_step_by_verb": {
                        verb: round((n - base_totals["verbs"].get(verb, 0)) / steps, 4)
                        for verb, n in sorted(totals["verbs"].items())
                    },
                    "client_round_trips_per_step_by_verb": figures["round_trips_per_step_by_verb"],
                }
            )
        result[str(count)] = {"worker_processes": count, **merge_reps(found)}
    return result


def server_limit(server: str, seconds: float, reps: int) -> dict[str, Any]:
    """Single-row commits/s and ``SELECT 1`` round trips/s on one connection."""
    rates = []
    trips = []
    mode = ""
    for _ in range(reps):
        name = NAMES.name("limit")
        with fresh_database(server, name) as url:
            found = child("limits.py", "postgres", url, seconds)
            rates.append(found["commits_per_s"])
            trips.append(found["select_round_trips_per_s"])
            mode = found["mode"]
    return {
        "commits_per_s": spread(rates),
        "select_round_trips_per_s": spread(trips),
        "mode": mode,
        "synchronous_commit": show(server, "synchronous_commit"),
    }
