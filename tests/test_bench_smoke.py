"""The benchmark must not rot: its wfc-only part runs here in ``--quick`` mode
on SQLite (no DBOS, no PostgreSQL, no network) and its JSON line must carry
every figure. Nothing here asserts on speed; speed lives in ``bench/``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: Where the bench puts the file of its run in memory (bench/sqlite_suite.py).
MEMORY_FOLDER = "/dev/shm"
#: What the bench writes to keep the idle CPUs from halting (bench/idle.py).
QOS_DEVICE = "/dev/cpu_dma_latency"


def run_quick_bench() -> tuple[dict[str, Any], str, str]:
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "run.py"), "--quick", "--no-dbos", "--no-postgres"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 1, f"expected one JSON line on stdout, got {done.stdout[-2000:]}"
    return dict(json.loads(lines[0])), lines[0], done.stderr


def test_quick_bench_reports_every_item_8_figure_and_the_api_load_on_sqlite() -> None:
    result, line, printed = run_quick_bench()
    assert result["quick"] is True
    assert result["reps"] == 1
    figures = [row["figure"] for row in result["targets"]]
    assert len(figures) == 8, figures
    assert all(row["value"] is not None and row["value"] > 0 for row in result["targets"]), result["targets"]
    assert all("x_dbos_default_journal" not in row for row in result["targets"])  # DBOS was not run

    throughput = result["sqlite"]["throughput"]
    assert set(throughput) == {"wfc"}
    wfc = throughput["wfc"]
    assert wfc["steps"]["median"] == result["sizes"]["concurrent"] * 5
    assert wfc["journal_mode"] == "wal"
    assert "PRAGMA synchronous = FULL" in wfc["synchronous_set"]  # durable against power loss
    assert wfc["commits_per_step"]["median"] > 0
    assert wfc["cpu_ms_per_step"]["median"] > 0
    if Path("/proc/self/io").exists():  # Linux says what a process wrote to storage
        assert wfc["written_kb_per_step"]["median"] > 0
    many = result["sqlite"]["many"]
    assert many["steps"]["median"] == result["sizes"]["many"] * 5
    # The many runs are measured beside the usual count, pair by pair: the
    # target's figure is the ratio within each pair.
    ratio = many["ratio_to_concurrent_in_pairs"]
    assert ratio["n"] == 1
    assert ratio["median"] == pytest.approx(many["steps_per_s"]["median"] / wfc["steps_per_s"]["median"], rel=1e-3)
    many_row = result["targets"][1]
    assert "measured in pairs" in many_row["figure"]
    assert (many_row["value"], many_row["target"]) == (ratio["median"], 1.0)

    restart = result["restart"]
    assert restart["in_flight_runs"] == result["sizes"]["restart"]
    assert restart["first_resumed_step_ms"]["median"] < restart["all_done_ms"]["median"]
    assert result["children"]["ratio"]["n"] == 1
    assert result["metrics_cost"]["own_time_percent_of_step_cpu"]["median"] > 0
    disk = result["limits"]["sqlite_wal_full"]
    assert disk["commits_per_s"]["median"] > 0
    assert disk["isolated_commit_ms"]["median"] > 0  # a commit alone, after computing: a run alone's floor
    one_at_a_time = next(row for row in result["targets"] if row["figure"].startswith("SQLite, one run at a time"))
    sequential = result["sqlite"]["sequential"]["wfc"]
    assert one_at_a_time["disk_floor_ms_wfc"] == round(
        sequential["commits_per_step"]["median"] * disk["isolated_commit_ms"]["median"], 4
    )
    # The cost of a step of a run alone is printed beside that of many at once.
    assert "sqlite one run at a time wfc: cpu ms/step " in printed
    assert "postgres" not in result
    timers = result["virtual_timers"]  # the harness's virtual time (issue 13): 10 children x 10 sleeps, then a year
    assert (timers["figure"], timers["timers"], timers["virtual_days"]) == ("virtual_timers", 101, 375.0)
    assert timers["seconds"] > 0

    table = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "report.py")], input=line, capture_output=True, text=True, check=True
    ).stdout.splitlines()
    # The README's Markdown table: header, rule, one row per target, the steps/s of the pair's two sizes, and
    # under one run at a time the disk's floor, (where there is a tmpfs) the engine's own cost, (where this
    # process may hold a PM QoS request) the same on disk with the idle CPUs kept from halting, and (where
    # Linux says which CPUs take the disk's interrupts, and they are not all) the same kept on those.
    in_memory = Path(MEMORY_FOLDER).is_dir()
    halt_free = os.access(QOS_DEVICE, os.W_OK)
    pinned = result["sqlite"].get("sequential_irq_cpu")  # where Linux said (read at the bench's start)
    assert len(table) == 2 + len(figures) + 2 + in_memory + halt_free + (pinned is not None)
    assert table[2].startswith(f"| {figures[0]} |")
    assert table[3].startswith(f"| {figures[1]} |") and table[4].startswith("| same, steps/s (medians)")
    assert table[5].startswith(f"| {figures[2]} |") and table[6].startswith("| same, the disk alone")
    if in_memory:
        assert table[7].startswith("| same, the engine alone: its file in memory")
        alone = result["sqlite"]["sequential_in_memory"]
        assert alone["steps"]["median"] == sequential["steps"]["median"]
        assert one_at_a_time["in_memory_ms"] == alone["median_ms_per_step"]["median"] > 0
    else:
        assert "sequential_in_memory" not in result["sqlite"]
    if halt_free:
        assert table[7 + in_memory].startswith("| same, on disk with the idle CPUs kept from halting")
        polled = result["sqlite"]["sequential_halt_free"]
        assert polled["steps"]["median"] == sequential["steps"]["median"]
        assert polled["commits_per_step"]["median"] == sequential["commits_per_step"]["median"]
        assert one_at_a_time["halt_free_ms"] == polled["median_ms_per_step"]["median"] > 0
        assert "on disk, the idle CPUs kept from halting (PM QoS 0 us): " in printed
    else:
        assert "sequential_halt_free" not in result["sqlite"]
    if pinned is not None:
        assert table[7 + in_memory + halt_free].startswith("| same, on disk, kept on the CPUs taking the disk's")
        assert pinned["cpus"] and set(pinned["cpus"]) < os.sched_getaffinity(0)  # some, not all
        assert pinned["steps"]["median"] == sequential["steps"]["median"]
        assert one_at_a_time["irq_cpu_ms"] == pinned["median_ms_per_step"]["median"] > 0
        assert one_at_a_time["irq_cpus"] == pinned["cpus"]
        assert f"kept on the CPUs taking the disk's interrupts {pinned['cpus']}: " in printed
    assert set(result["machine"]["idle"]) == {"cpuidle_driver", "cpuidle_governor", "guest_halt_poll_ns"}

    # The API load test, tiny: a real `wfc server` on loopback over the stored runs.
    api = result["api"]
    assert api["runs"] == result["sizes"]["api_runs"] and api["store"] == "sqlite"
    assert set(api["scenarios"]) == {"runs_list_first", "runs_list_deep", "runs_list_status", "run_detail"}
    for figures in api["scenarios"].values():
        assert figures["requests"] == result["sizes"]["api_requests"]  # every answer was checked and right
        assert 0 < figures["p50_ms"] <= figures["p99_ms"] and figures["requests_per_s"] > 0
    api_table = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "report.py"), "--api"],
        input=line, capture_output=True, text=True, check=True,
    ).stdout.splitlines()  # fmt: skip
    assert len(api_table) == 2 + 4 and "p99 ms" in api_table[0]

    # The dashboard's load, tiny: open pages on a real `wfc server`, pushes timed, a 500-node layout.
    dash = result["dashboard"]
    assert dash["pages"] == result["sizes"]["dash_pages"] and dash["runs"] == result["sizes"]["concurrent"]
    assert dash["steps_per_s_no_pages"] > 0 and dash["steps_per_s_with_pages"] > 0
    assert dash["push_latency_ms"]["n"] == result["sizes"]["dash_pushes"] and dash["push_latency_ms"]["p50"] >= 0
    assert dash["layout_nodes"] >= 500 and dash["layout_ms"] > 0

    migration = result["migration"]  # wfc migrate apply over parked runs, tiny
    assert migration["figure"] == "migrate_apply" and migration["runs"] == result["sizes"]["migrate_runs"]


def test_migration_bench_plans_and_applies_200_parked_runs() -> None:
    """``bench/migration_bench.py`` alone: it checks itself that every run
    moved (it exits non-zero otherwise) and prints one JSON line."""
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "migration_bench.py"), "--runs", "200"],
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 1, done.stdout[-2000:]
    figure = json.loads(lines[0])
    assert figure["figure"] == "migrate_apply" and figure["runs"] == 200 and figure["target_seconds"] == 60
    assert figure["plan_seconds"] >= 0 and figure["apply_seconds"] >= 0 and figure["runs_per_second"] > 0
