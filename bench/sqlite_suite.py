"""The SQLite figures, one process per measurement, repetitions interleaved:
throughput at 1,000 and 10,000 runs, one run at a time, a run with many live
children, a restart with runs in flight, the CLI's start-up, and the disk's
commit rate."""

from __future__ import annotations

import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench_stats import merge_reps, spread
from idle import QOS_DEVICE, can_keep_cpus_from_halting, cpus_kept_from_halting
from placement import disk_interrupt_cpus, worth_pinning
from runner import HERE, child

Progress = Callable[[str], None]


@dataclass(frozen=True)
class Sizes:
    """How big each measurement is (``--quick`` shrinks them)."""

    concurrent: int = 1000
    many: int = 10_000
    sequential: int = 300
    """Runs one after the other: 1,500 steps, about a second of wfc's (100 left one
    measurement of a third of a second to a moment of the machine's load)."""
    children: int = 1000
    restart: int = 1000
    cli_reps: int = 7
    limit_seconds: float = 2.0
    api_runs: int = 100_000
    """Runs stored for the API load test (``api_load.py``)."""
    api_requests: int = 2000
    """Measured requests per API scenario."""
    dash_pages: int = 20
    """Dashboard pages listening to live pushes while the engine works (``dashboard_load.py``)."""
    dash_pushes: int = 30
    """Runs started one by one to time the push that names each."""
    migrate_runs: int = 100_000
    """Parked runs moved to a new version by ``wfc migrate apply`` (``migration_bench.py``)."""
    metric_pairs: int = 7
    """Pairs of runs with and without metrics (at least ``--reps``): a 3 %
    difference needs more than three to stand out of the noise."""


QUICK = Sizes(
    concurrent=50,
    many=150,
    sequential=10,
    children=20,
    restart=20,
    cli_reps=1,
    limit_seconds=0.2,
    api_runs=1000,
    api_requests=50,
    metric_pairs=1,
    dash_pages=3,
    dash_pushes=3,
    migrate_runs=200,
)

#: DBOS's side in its default rollback journal and switched to WAL.
DBOS_MODES = {"dbos_default_journal": [], "dbos_wal": ["--wal"]}


def _sqlite(folder: str, name: str) -> str:
    return f"sqlite:///{Path(folder) / name}"


def _interleaved(rep: int, sides: list[str]) -> list[str]:
    """Alternate the order across repetitions so no side always goes first."""
    return sides if rep % 2 == 0 else sides[::-1]


#: A folder in memory (tmpfs), where a commit's flush costs no disk.
MEMORY_FOLDER = "/dev/shm"


def engines(
    scenario: str,
    count: int,
    reps: int,
    with_dbos: bool,
    progress: Progress,
    *,
    many: int | None = None,
    in_memory: bool = False,
    halt_free: bool = False,
    irq_cpus: bool = False,
) -> dict[str, list[dict[str, Any]]]:
    """wfc and (optionally) DBOS in both journal modes, ``reps`` times each.

    With ``many``, wfc is measured at ``many`` runs too (side
    ``wfc_many``), right beside its measurement at ``count`` in every
    repetition: the two sizes are compared pair by pair, each pair under
    the machine's load of the same half minute (measured in phases minutes
    apart, the load that changed in between moved the ratio more than the
    engine did). With ``in_memory``, wfc runs a second time on a file in
    :data:`MEMORY_FOLDER` (side ``wfc_in_memory``, where there is one):
    the engine's own cost, without the disk's. With ``halt_free``, wfc runs
    once more on disk with the machine's idle CPUs kept from halting (side
    ``wfc_halt_free``, where this process may ask for it: see :mod:`idle`):
    what waking from a halt after each flush costs. With ``irq_cpus``, wfc
    runs once more on disk kept on the CPUs that take the disk's interrupts
    (side ``wfc_irq_cpu``, where Linux says which they are and they are not
    all: see :mod:`placement`): what waking on another CPU costs."""
    memory = in_memory and os.path.isdir(MEMORY_FOLDER)
    polling = halt_free and can_keep_cpus_from_halting()
    pinned = disk_interrupt_cpus(tempfile.gettempdir()) if irq_cpus else None
    sides = ["wfc", *(["wfc_many"] if many else []), *(["wfc_in_memory"] if memory else [])]
    sides += ["wfc_halt_free"] if polling else []
    sides += ["wfc_irq_cpu"] if worth_pinning(pinned) else []
    sides += DBOS_MODES if with_dbos else []
    found: dict[str, list[dict[str, Any]]] = {side: [] for side in sides}
    for rep in range(reps):
        for side in _interleaved(rep, sides):
            size = many if side == "wfc_many" and many else count
            progress(f"sqlite {scenario} {size}: {side}, rep {rep + 1}/{reps}")
            folder = MEMORY_FOLDER if side == "wfc_in_memory" else None
            kept = cpus_kept_from_halting() if side == "wfc_halt_free" else nullcontext(True)
            with tempfile.TemporaryDirectory(dir=folder) as tmp, kept as held:
                if not held:
                    raise SystemExit(f"the kernel refused the PM QoS request of {side} ({QOS_DEVICE})")
                if side.startswith("wfc"):
                    cpus = pinned if side == "wfc_irq_cpu" else None
                    found[side].append(child("wfc_bench.py", scenario, _sqlite(tmp, "wfc.db"), size, cpus=cpus))
                    if cpus is not None:
                        found[side][-1]["cpus"] = sorted(cpus)
                else:
                    found[side].append(
                        child("dbos_bench.py", scenario, _sqlite(tmp, "dbos.db"), count, *DBOS_MODES[side])
                    )
    return found


def paired_ratios(found: dict[str, list[dict[str, Any]]]) -> list[float]:
    """wfc's steps/s at many runs over that at the usual count, one ratio
    per repetition (see :func:`engines`)."""
    return [
        many["steps_per_s"] / usual["steps_per_s"] for many, usual in zip(found["wfc_many"], found["wfc"], strict=True)
    ]


def metrics_cost(count: int, reps: int, progress: Progress) -> dict[str, Any]:
    """What the Prometheus metrics cost: SQLite throughput of ``count``
    runs with and without them, interleaved, ``reps`` pairs. The cost is
    the throughput lost (and the CPU per step added), in percent, per pair
    and then the median of the pairs: one pair runs back to back, so it
    shares the machine's state."""
    plain: list[dict[str, Any]] = []
    observed: list[dict[str, Any]] = []
    for rep in range(reps):
        for side in _interleaved(rep, ["plain", "metrics"]):
            progress(f"metrics cost, sqlite throughput {count}: {side}, rep {rep + 1}/{reps}")
            flags = ["--metrics"] if side == "metrics" else []
            with tempfile.TemporaryDirectory() as tmp:
                found = child("wfc_bench.py", "throughput", _sqlite(tmp, "wfc.db"), count, *flags)
            (observed if flags else plain).append(found)
    lost = [100 * (1 - m["steps_per_s"] / p["steps_per_s"]) for p, m in zip(plain, observed, strict=True)]
    # The metrics' own time (observer and scrapes, timed inside the run)
    # over the CPU time of a step without them: the cost without the
    # noise of the disk and of the machine's other work.
    share = [
        100 * (m["observer_ms_per_step"] + m["scrape_ms_per_step"]) / p["cpu_ms_per_step"]
        for p, m in zip(plain, observed, strict=True)
    ]
    cpu = [100 * (m["cpu_ms_per_step"] / p["cpu_ms_per_step"] - 1) for p, m in zip(plain, observed, strict=True)]
    return {
        "runs": count,
        "pairs": reps,
        "steps_per_s_without": spread([p["steps_per_s"] for p in plain]),
        "steps_per_s_with": spread([m["steps_per_s"] for m in observed]),
        "throughput_cost_percent": spread(lost),
        "cpu_per_step_cost_percent": spread(cpu),
        "own_time_percent_of_step_cpu": spread(share),
        "observer_ms_per_step": spread([m["observer_ms_per_step"] for m in observed]),
        "scrapes_per_run": spread([float(m["scrapes"]) for m in observed]),
        "target_percent_at_most": 3.0,
    }


def children(count: int, reps: int, progress: Progress) -> dict[str, Any]:
    """Per-step time of a run with ``count`` live children over one with one,
    the two timed in turns in one process (see ``wfc_bench.py children``)."""
    one: list[float] = []
    many: list[float] = []
    for rep in range(reps):
        progress(f"children 1 vs {count}, rep {rep + 1}/{reps}")
        with tempfile.TemporaryDirectory() as tmp:
            found = child("wfc_bench.py", "children", _sqlite(tmp, "wfc.db"), count)
        one.append(found["ms_per_step_with_1"])
        many.append(found["ms_per_step"])
    ratios = [m / o for m, o in zip(many, one, strict=True)]
    return {
        "children": count,
        "ms_per_step_with_1": spread(one),
        f"ms_per_step_with_{count}": spread(many),
        "ratio": spread(ratios),
    }


def _hold(url: str, count: int, ids: Path) -> None:
    """Start the holder, wait until all its attempts run, SIGKILL it."""
    command = [sys.executable, str(HERE / "restart_bench.py"), "hold", url, str(count), str(ids)]
    env = {**os.environ, "WFC_BENCH_HOLD": "1"}
    holder = subprocess.Popen(command, cwd=HERE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert holder.stdout is not None
        line = holder.stdout.readline()
        if "ready" not in line:
            raise SystemExit(
                f"the restart holder did not get ready: {line}{holder.stderr.read() if holder.stderr else ''}"
            )
    finally:
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait()


def restart_once(folder: str, count: int) -> dict[str, float]:
    """One restart: ms from starting the new process to its first resumed
    step, to every run done, and to every run read back one by one."""
    url = _sqlite(folder, "restart.db")
    ids = Path(folder) / "ids.json"
    _hold(url, count, ids)
    began = time.time()
    found = child("restart_bench.py", "resume", url, ids)
    return {
        "first_resumed_step_ms": (found["first_step_at"] - began) * 1000,
        "all_done_ms": (found["all_done_at"] - began) * 1000,
        "all_read_ms": (found["all_read_at"] - began) * 1000,
    }


def _wfc_command() -> list[str]:
    script = Path(sys.executable).parent / "wfc"
    return [str(script)] if script.exists() else [sys.executable, "-c", "from wfc.cli import main; main()"]


def _wall_ms(command: list[str], reps: int) -> dict[str, Any]:
    times = []
    for _ in range(reps):
        began = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        times.append((time.perf_counter() - began) * 1000)
        if done.returncode != 0:
            raise SystemExit(f"{' '.join(command)} failed: {done.stderr[-2000:]}")
    return spread(times)


def restart_and_cli(sizes: Sizes, reps: int, progress: Progress) -> tuple[dict[str, Any], dict[str, Any]]:
    """The restart figures, then the CLI timed on the last restart's
    database (``sizes.restart`` finished runs)."""
    found = []
    cli: dict[str, Any] = {}
    for rep in range(reps):
        progress(f"restart with {sizes.restart} in flight, rep {rep + 1}/{reps}")
        with tempfile.TemporaryDirectory() as tmp:
            found.append(restart_once(tmp, sizes.restart))
            if rep == reps - 1:
                progress("wfc --help and wfc runs list")
                wfc = _wfc_command()
                cli = {
                    "help_ms": _wall_ms([*wfc, "--help"], sizes.cli_reps),
                    "runs_list_ms": _wall_ms(
                        [*wfc, "runs", "list", "--db", _sqlite(tmp, "restart.db")], sizes.cli_reps
                    ),
                    "runs_in_db": sizes.restart,
                    "command": " ".join(wfc),
                }
    restart = {"in_flight_runs": sizes.restart, **merge_reps(found)}
    return restart, cli


def disk_limit(seconds: float, reps: int) -> dict[str, Any]:
    """SQLite WAL + synchronous=FULL: single-row commits/s back to back, and
    the latency of an isolated commit (see ``limits.py``)."""
    found = []
    for _ in range(reps):
        with tempfile.TemporaryDirectory() as tmp:
            found.append(child("limits.py", "sqlite", Path(tmp) / "limit.db", seconds))
    return merge_reps(found)


def median_of(reps: list[dict[str, Any]], key: str) -> float:
    """The median of one figure over repetitions."""
    return float(statistics.median(rep[key] for rep in reps))


def as_json(value: Any) -> str:
    """Compact JSON, for the progress lines."""
    return json.dumps(value, separators=(",", ":"))
