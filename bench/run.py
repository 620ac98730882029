"""Benchmark wfc against DBOS Transact on the same workflow, in one run.

Five sequential trivial steps per workflow run. For each engine: median and
p99 milliseconds per run over sequential runs, and steps per second with many
runs started at once. Prints one JSON line with both and the wfc/DBOS ratios
(for latency, below 1 means wfc is faster; for throughput, above 1 does).

Usage: ``bash bench/run`` (sets up the benchmark's own venv), or
``python bench/run.py [--sequential N] [--concurrent N]`` inside it.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


def run_side(script: str, sequential: int, concurrent: int, *extra: str) -> dict[str, Any]:
    """Run one engine's side in its own process and parse its JSON line."""
    done = subprocess.run(
        [sys.executable, str(HERE / script), str(sequential), str(concurrent), *extra],
        capture_output=True, text=True, check=False, cwd=HERE,
    )
    if done.returncode != 0:
        raise SystemExit(f"{script} failed with exit {done.returncode}:\n{done.stderr[-3000:]}")
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    return dict(json.loads(lines[-1]))


def ratios(wfc: dict[str, Any], dbos: dict[str, Any]) -> dict[str, float]:
    """wfc divided by DBOS for every figure."""
    return {key: round(wfc[key] / dbos[key], 3) for key in wfc if dbos.get(key)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sequential", type=int, default=200)
    parser.add_argument("--concurrent", type=int, default=1000)
    args = parser.parse_args()
    wfc = run_side("wfc_bench.py", args.sequential, args.concurrent)
    dbos = run_side("dbos_bench.py", args.sequential, args.concurrent)
    result = {
        "workflow": "5 sequential trivial steps",
        "store": "sqlite",
        "sequential_runs": args.sequential,
        "concurrent_runs": args.concurrent,
        "wfc": wfc,
        "dbos": dbos,
        "wfc_over_dbos": ratios(wfc, dbos),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
