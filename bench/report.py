"""The targets of issue 9 item 8 next to what was measured, and the table
printed to stderr.

Each target row carries wfc's median (with min and max over repetitions),
the target, whether it is met, DBOS's median in the same run where DBOS has
the same figure, and ``x_dbos_*``: how many times better wfc is (DBOS's
ms / wfc's ms, or wfc's steps/s / DBOS's steps/s; above 1, wfc is better).
"""

from __future__ import annotations

import operator
import sys
from collections.abc import Callable
from typing import Any

Compare = Callable[[float, float], bool]
AT_LEAST: Compare = operator.ge
AT_MOST: Compare = operator.le


def _median(figure: Any) -> float | None:
    if isinstance(figure, dict):
        value = figure.get("median")
        return None if value is None else float(value)
    return None if figure is None else float(figure)


def _row(
    name: str, figure: Any, target: float, compare: Compare, peers: dict[str, Any] | None = None
) -> dict[str, Any]:
    value = _median(figure)
    row: dict[str, Any] = {"figure": name, "value": value, "target": target}
    row["target_rule"] = ">=" if compare is AT_LEAST else "<="
    if isinstance(figure, dict):
        row["min"], row["max"] = figure.get("min"), figure.get("max")
    row["met"] = None if value is None else compare(value, target)
    for peer, peer_figure in (peers or {}).items():
        other = _median(peer_figure)
        row[peer] = other
        if value and other:
            row[f"x_{peer}"] = round(other / value if compare is AT_MOST else value / other, 2)
    return row


def _peers(group: dict[str, Any], key: str) -> dict[str, Any]:
    return {side: figures.get(key) for side, figures in group.items() if side.startswith("dbos")}


def targets(result: dict[str, Any]) -> list[dict[str, Any]]:
    """Every item 8 target with its measured value."""
    sqlite = result["sqlite"]
    sizes = result["sizes"]
    rows = []
    through = sqlite["throughput"]
    rows.append(
        _row(
            f"SQLite, {sizes['concurrent']} concurrent 5-step runs, steps/s",
            through["wfc"]["steps_per_s"],
            6000,
            AT_LEAST,
            _peers(through, "steps_per_s"),
        )
    )
    many = _row(
        f"SQLite, {sizes['many']} concurrent runs: steps/s over that at {sizes['concurrent']}, "
        "measured in pairs (target: no lower)",
        sqlite["many"]["ratio_to_concurrent_in_pairs"],
        1.0,
        AT_LEAST,
    )
    many["steps_per_s"] = _median(sqlite["many"]["steps_per_s"])
    many["steps_per_s_at_concurrent"] = _median(through["wfc"]["steps_per_s"])
    rows.append(many)
    sequential = sqlite["sequential"]
    one_at_a_time = _row(
        "SQLite, one run at a time, ms per step",
        sequential["wfc"]["median_ms_per_step"],
        0.5,
        AT_MOST,
        _peers(sequential, "median_ms_per_step"),
    )
    one_at_a_time.update(disk_floor(sequential, result["limits"]["sqlite_wal_full"]))
    in_memory = sqlite.get("sequential_in_memory")
    if in_memory:
        one_at_a_time["in_memory_ms"] = _median(in_memory["median_ms_per_step"])
        one_at_a_time["in_memory_cpu_ms"] = _median(in_memory["cpu_ms_per_step"])
    halt_free = sqlite.get("sequential_halt_free")
    if halt_free:
        one_at_a_time["halt_free_ms"] = _median(halt_free["median_ms_per_step"])
        one_at_a_time["halt_free_cpu_ms"] = _median(halt_free["cpu_ms_per_step"])
    irq_cpu = sqlite.get("sequential_irq_cpu")
    if irq_cpu:
        one_at_a_time["irq_cpu_ms"] = _median(irq_cpu["median_ms_per_step"])
        one_at_a_time["irq_cpu_cpu_ms"] = _median(irq_cpu["cpu_ms_per_step"])
        one_at_a_time["irq_cpus"] = irq_cpu.get("cpus")
    rows.append(one_at_a_time)
    children = result["children"]
    rows.append(
        _row(
            f"run with {children['children']} live child threads: per-step time / with 1",
            children["ratio"],
            1.5,
            AT_MOST,
        )
    )
    restart = result["restart"]
    count = restart["in_flight_runs"]
    rows.append(
        _row(f"restart, {count} in flight: first resumed step, ms", restart["first_resumed_step_ms"], 300, AT_MOST)
    )
    rows.append(_row(f"restart, {count} in flight: all done, ms", restart["all_done_ms"], 1500, AT_MOST))
    rows.append(_row("wfc --help, ms", result["cli"]["help_ms"], 150, AT_MOST))
    rows.append(_row("wfc runs list, ms", result["cli"]["runs_list_ms"], 250, AT_MOST))
    postgres = result.get("postgres")
    if postgres:
        through = postgres["engines"]["throughput"]
        rows.append(
            _row(
                "PostgreSQL, one worker (serving engine, one process), steps/s",
                through["wfc"]["steps_per_s"],
                4000,
                AT_LEAST,
                _peers(through, "steps_per_s"),
            )
        )
        one = postgres["scaling"].get("1")
        if one:
            rows.append(
                _row("PostgreSQL, one `wfc worker` process + a client, steps/s", one["steps_per_s"], 4000, AT_LEAST)
            )
    return rows


def disk_floor(sequential: dict[str, Any], disk: dict[str, Any]) -> dict[str, Any]:
    """What the disk alone takes per step of a run alone, for each side:
    its commits per step times the same run's isolated commit latency
    (``limits.py``). Nothing that commits before it acts goes below it."""
    commit_ms = _median(disk.get("isolated_commit_ms"))
    if commit_ms is None:
        return {}
    floors = {"isolated_commit_ms": commit_ms}
    for side, figures in sequential.items():
        commits = _median(figures.get("commits_per_step"))
        if commits is not None:
            floors[f"disk_floor_ms_{side}"] = round(commits * commit_ms, 4)
    return floors


def _fmt(value: Any) -> str:
    if isinstance(value, dict) and "median" in value:
        return f"{value['median']:g} [{value['min']:g}-{value['max']:g}]"
    if isinstance(value, float):
        return f"{value:g}"
    return "-" if value is None else str(value)


def print_table(result: dict[str, Any]) -> None:
    """A human-readable summary on stderr (the JSON line is on stdout)."""
    out = sys.stderr
    print("\n== item 8 targets (median [min-max] over reps; x_dbos = times better than DBOS) ==", file=out)
    for row in result["targets"]:
        met = {True: "met", False: "NOT met", None: "?"}[row["met"]]
        spread_text = f" [{row['min']:g}-{row['max']:g}]" if row.get("min") is not None else ""
        peers = "  ".join(f"{k}={v:g}" for k, v in row.items() if k.startswith("x_") and v is not None)
        value = "-" if row["value"] is None else f"{row['value']:g}"
        print(
            f"  {row['figure']}: {value}{spread_text} (target {row['target_rule']} {row['target']:g}: {met}) {peers}",
            file=out,
        )
        if row.get("steps_per_s") is not None:
            sizes = result["sizes"]
            print(
                f"    steps/s, medians: {row['steps_per_s']:g} at {sizes['many']} runs, "
                f"{row['steps_per_s_at_concurrent']:g} at {sizes['concurrent']}",
                file=out,
            )
        floor = row.get("disk_floor_ms_wfc")
        if floor is not None:
            print(
                f"    the disk alone: {floor:g} ms per step (commits per step x an isolated commit, "
                f"{row['isolated_commit_ms']:g} ms)",
                file=out,
            )
        if row.get("in_memory_ms") is not None:
            print(
                f"    the engine alone, its file in memory: {row['in_memory_ms']:g} ms per step "
                f"(CPU {row['in_memory_cpu_ms']:g})",
                file=out,
            )
        if row.get("halt_free_ms") is not None:
            print(
                f"    on disk, the idle CPUs kept from halting (PM QoS 0 us): {row['halt_free_ms']:g} ms per step "
                f"(CPU {row['halt_free_cpu_ms']:g})",
                file=out,
            )
        if row.get("irq_cpu_ms") is not None:
            print(
                f"    on disk, kept on the CPUs taking the disk's interrupts {row['irq_cpus']}: "
                f"{row['irq_cpu_ms']:g} ms per step (CPU {row['irq_cpu_cpu_ms']:g})",
                file=out,
            )
    timers = result.get("virtual_timers")
    if timers:
        spread = timers["seconds_spread"]
        print(
            f"\n== virtual time (wfc.testing) ==\n  a run setting {timers['timers']} timers over "
            f"{timers['virtual_days']:g} virtual days: {spread['median']:g} s [{spread['min']:g}-{spread['max']:g}] "
            f"(target < {timers['target_seconds']:g} s), {timers['ms_per_timer']:g} ms per timer",
            file=out,
        )
    print("\n== cost per step ==", file=out)
    sqlite = result["sqlite"]
    groups = [("sqlite throughput", side, figures) for side, figures in sqlite["throughput"].items()]
    if sqlite.get("many"):
        groups.append(("sqlite throughput, the many runs", "wfc", sqlite["many"]))
    groups += [("sqlite one run at a time", side, figures) for side, figures in sqlite.get("sequential", {}).items()]
    if sqlite.get("sequential_in_memory"):
        groups.append(("sqlite one run at a time, its file in memory", "wfc", sqlite["sequential_in_memory"]))
    if sqlite.get("sequential_halt_free"):
        groups.append(("sqlite one run at a time, CPUs kept from halting", "wfc", sqlite["sequential_halt_free"]))
    if sqlite.get("sequential_irq_cpu"):
        groups.append(("sqlite one run at a time, on the disk's interrupt CPUs", "wfc", sqlite["sequential_irq_cpu"]))
    for group_name, side, figures in groups:
        print(
            f"  {group_name} {side}: cpu ms/step {_fmt(figures.get('cpu_ms_per_step'))}, "
            f"commits/step {_fmt(figures.get('commits_per_step'))}, "
            f"written KiB/step {_fmt(figures.get('written_kb_per_step'))}, journal {figures.get('journal_mode')}",
            file=out,
        )
    postgres = result.get("postgres")
    if postgres:
        for side, figures in postgres["engines"]["throughput"].items():
            print(
                f"  postgres throughput {side}: steps/s {_fmt(figures.get('steps_per_s'))}, cpu ms/step "
                f"{_fmt(figures.get('cpu_ms_per_step'))}, commits/step {_fmt(figures.get('commits_per_step'))} "
                f"(BEGIN..COMMIT {_fmt(figures.get('begin_commit_per_step'))}), "
                f"round trips/step {_fmt(figures.get('round_trips_per_step'))}, "
                f"db backend cpu ms/step {_fmt(figures.get('db_backend_cpu_ms_per_step'))}",
                file=out,
            )
        print("\n== PostgreSQL scaling (wfc worker processes + one client) ==", file=out)
        for count, figures in postgres["scaling"].items():
            print(
                f"  {count} worker(s): steps/s {_fmt(figures['steps_per_s'])}, worker cpu ms/step each "
                f"{_fmt(figures['worker_cpu_ms_per_step_each'])} (all workers "
                f"{_fmt(figures['worker_cpu_ms_per_step_total'])}, client {_fmt(figures['client_cpu_ms_per_step'])}), "
                f"round trips/step {_fmt(figures['round_trips_per_step'])}, commits/step "
                f"{_fmt(figures['commits_per_step'])} (BEGIN..COMMIT {_fmt(figures['begin_commit_per_step'])}), "
                f"db backend cpu ms/step {_fmt(figures.get('db_backend_cpu_ms_per_step'))}",
                file=out,
            )
    api = result.get("api")
    if api:
        print(f"\n== REST API under load: {api['runs']} stored runs on {api['store']}, loopback ==", file=out)
        for name, figures in api["scenarios"].items():
            print(
                f"  {name}: p50 {figures['p50_ms']:g} ms, p99 {figures['p99_ms']:g} ms, "
                f"{figures['requests_per_s']:g} requests/s ({figures['requests']} requests, "
                f"{figures['concurrency']} in flight)",
                file=out,
            )
    dash = result.get("dashboard")
    if dash:
        push = dash["push_latency_ms"]
        drawn = "not measured (no Chromium)" if dash["render_ms"] is None else f"drawn in {dash['render_ms']:g} ms"
        print(f"\n== Dashboard: {dash['pages']} open pages over {dash['runs']} runs ==", file=out)
        print(
            f"  steps/s {dash['steps_per_s_no_pages']:g} without pages, {dash['steps_per_s_with_pages']:g} with "
            f"(ratio {dash['with_pages_ratio']:g}); push p50 {push['p50']:g} ms, p99 {push['p99']:g} ms; "
            f"{dash['layout_nodes']}-node thread laid out in {dash['layout_ms']:g} ms, {drawn}",
            file=out,
        )
    migration = result.get("migration")
    if migration:
        print(f"\n== wfc migrate apply: {migration['runs']} parked runs on {migration['store']} ==", file=out)
        print(
            f"  plan {migration['plan_seconds']:g} s, apply {migration['apply_seconds']:g} s "
            f"({migration['runs_per_second']:g} runs/s; target: 100,000 runs within {migration['target_seconds']} s)",
            file=out,
        )
    cost = result.get("metrics_cost")
    if cost:
        print("\n== Prometheus metrics (observer + a scrape per second), SQLite throughput ==", file=out)
        print(
            f"  {cost['runs']} runs, {cost['pairs']} interleaved pairs: steps/s without "
            f"{_fmt(cost['steps_per_s_without'])}, with {_fmt(cost['steps_per_s_with'])}; "
            f"throughput cost % {_fmt(cost['throughput_cost_percent'])}, "
            f"cpu/step cost % {_fmt(cost['cpu_per_step_cost_percent'])}, metrics' own time % of a step's cpu "
            f"{_fmt(cost['own_time_percent_of_step_cpu'])} (target <= {cost['target_percent_at_most']:g})",
            file=out,
        )
    limits = result["limits"]
    print("\n== physical limits, same run ==", file=out)
    for name, figures in limits.items():
        trips = figures.get("select_round_trips_per_s")
        extra = f", {_fmt(trips)} SELECT 1 round trips/s" if trips else ""
        print(f"  {name}: {_fmt(figures['commits_per_s'])} commits/s{extra} ({figures['mode']})", file=out)
        if "isolated_commit_ms" in figures:
            print(
                f"  {name}: an isolated commit of {_median(figures['isolated_commit_pages']):g} pages after "
                f"{_median(figures['isolated_gap_ms']):g} ms of computing: {_fmt(figures['isolated_commit_ms'])} ms",
                file=out,
            )


def markdown(result: dict[str, Any]) -> str:
    """The targets as a Markdown table, for the README."""
    lines = [
        "| figure | target | wfc median [min-max] | DBOS (SQLite: default journal) | DBOS (SQLite: WAL) "
        "| wfc ÷ DBOS (times, >1 better) |",
        "|---|---|---|---|---|---|",
    ]
    for row in result["targets"]:
        spread_text = f" [{row['min']:.4g}-{row['max']:.4g}]" if row.get("min") is not None else ""
        value = "-" if row["value"] is None else f"{row['value']:.4g}"
        met = {True: "met", False: "not met", None: "?"}[row["met"]]
        peers = [row.get("dbos_default_journal", row.get("dbos")), row.get("dbos_wal")]
        times = [row.get(key) for key in ("x_dbos_default_journal", "x_dbos_wal", "x_dbos") if row.get(key)]
        lines.append(
            f"| {row['figure']} | {row['target_rule']} {row['target']:.4g} ({met}) | {value}{spread_text} | "
            + " | ".join("" if peer is None else f"{peer:.4g}" for peer in peers)
            + f" | {' / '.join(f'{t:g}' for t in times)} |"
        )
        if row.get("steps_per_s") is not None:
            sizes = result["sizes"]
            lines.append(
                f"| same, steps/s (medians) | | {row['steps_per_s']:.4g} at {sizes['many']}, "
                f"{row['steps_per_s_at_concurrent']:.4g} at {sizes['concurrent']} | | | |"
            )
        if row.get("disk_floor_ms_wfc") is not None:
            floors = [row.get(f"disk_floor_ms_{side}") for side in ("wfc", "dbos_default_journal", "dbos_wal")]
            cells = " | ".join("" if floor is None else f"{floor:.4g}" for floor in floors)
            label = f"same, the disk alone (commits/step times an isolated commit, {row['isolated_commit_ms']:.4g} ms)"
            lines.append(f"| {label} | | {cells} | |")
        if row.get("in_memory_ms") is not None:
            label = "same, the engine alone: its file in memory (tmpfs), no disk"
            lines.append(f"| {label} | | {row['in_memory_ms']:.4g} (CPU {row['in_memory_cpu_ms']:.4g}) | | | |")
        if row.get("halt_free_ms") is not None:
            label = "same, on disk with the idle CPUs kept from halting (PM QoS, `cpu_dma_latency` 0)"
            lines.append(f"| {label} | | {row['halt_free_ms']:.4g} (CPU {row['halt_free_cpu_ms']:.4g}) | | | |")
        if row.get("irq_cpu_ms") is not None:
            label = f"same, on disk, kept on the CPUs taking the disk's interrupts ({row['irq_cpus']})"
            lines.append(f"| {label} | | {row['irq_cpu_ms']:.4g} (CPU {row['irq_cpu_cpu_ms']:.4g}) | | | |")
    return "\n".join(lines)


#: What each API scenario requests, for the table.
API_SCENARIOS = {
    "runs_list_first": "`GET /api/v1/runs?limit=50` (first page)",
    "runs_list_deep": "`GET /api/v1/runs?limit=50&cursor=…` (keyset page 90% down)",
    "runs_list_status": "`GET /api/v1/runs?limit=50&status=RUNNING`",
    "run_detail": "`GET /api/v1/runs/{id}` (random runs)",
}


def api_markdown(result: dict[str, Any]) -> str:
    """The API load figures as a Markdown table, for the README."""
    api = result["api"]
    lines = [
        f"| request ({api['runs']:,} stored runs, {api['store']}) | p50 ms | p99 ms | requests/s |",
        "|---|---|---|---|",
    ]
    for name, figures in api["scenarios"].items():
        label = API_SCENARIOS.get(name, name)
        p50, p99, rate = figures["p50_ms"], figures["p99_ms"], figures["requests_per_s"]
        lines.append(f"| {label} | {p50:.4g} | {p99:.4g} | {rate:.4g} |")
    return "\n".join(lines)


if __name__ == "__main__":
    import json

    line = json.loads(sys.stdin.read().strip().splitlines()[-1])
    if sys.argv[1:] == ["--api"]:
        # The JSON line of bench/run.py (its "api" part) or of api_load.py alone.
        print(api_markdown(line if "api" in line else {"api": line}))
    else:
        print(markdown(line))
