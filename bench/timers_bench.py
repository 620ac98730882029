"""Virtual time in the test harness: a run that sets 10,000 durable timers
and sleeps for a year, under ``wfc.testing`` (issue 13 item 4: under 1 s).

The run spawns ``--children`` threads that each sleep ``--sleeps`` times a
day, waits for them, then sleeps a year and runs one stubbed task: the same
workflow as ``tests/testing/test_harness.py``, on the harness's in-memory
SQLite store with a virtual clock. The figure is the real time from the start
of the run to its end as the harness saw it (``WorkflowEnv.run``), the
engine's start-up left out; the CPU time of the process over the same span
is reported beside it. Each repetition runs in a process of its own; the
figure is the median with min and max.

Usage: ``python bench/timers_bench.py [--reps 3] [--children 100] [--sleeps 100]``;
ONE JSON line on stdout: ``{"figure": "virtual_timers", "timers": 10000,
"seconds": median, ...}``. ``bench/run.py`` runs it as one of its figures.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from typing import Any

YEAR = 365 * 24 * 3600.0
DAY = 86400.0


def one(children: int, sleeps: int) -> dict[str, Any]:
    """One measurement, in this process."""
    import anyio

    from wfc.dsl import Workflow, WorkflowThread
    from wfc.runtime import RunStatus
    from wfc.testing import workflow_env

    def many_timers(wf: WorkflowThread) -> Any:
        numbers = wf.declare_json("children").required()

        def child(t: WorkflowThread) -> None:
            for _ in range(sleeps):
                t.sleep(DAY)

        spawned = wf.spawn_thread_for_each(numbers, child, "timers")
        wf.wait_for_threads(spawned)
        wf.sleep(YEAR)
        return wf.execute("done")

    workflow = Workflow("many-timers", many_timers)

    async def measure() -> dict[str, Any]:
        async with workflow_env() as env:
            env.stub("done", returns="ok")
            await env.deploy(workflow)
            await env.open()
            began, cpu = time.perf_counter(), time.process_time()
            run = await env.run(workflow, {"children": list(range(children))})
            seconds, cpu_seconds = time.perf_counter() - began, time.process_time() - cpu
            fired = sum(entry.kind == "TIMER_FIRED" for entry in await env.history(run))
            if run.status is not RunStatus.COMPLETED or fired != children * sleeps + 1:
                raise SystemExit(f"the run ended {run.status.value} with {fired} timers fired")
            return {
                "seconds": round(seconds, 4),
                "cpu_seconds": round(cpu_seconds, 4),
                "virtual_days": round(env.clock.elapsed.total_seconds() / DAY, 1),
            }

    return anyio.run(measure)


def spread(values: list[float]) -> dict[str, float]:
    return {"median": round(statistics.median(values), 4), "min": min(values), "max": max(values)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--children", type=int, default=100)
    parser.add_argument("--sleeps", type=int, default=100, help="timers each child sets (a day each)")
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)  # a repetition, in its own process
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one(args.children, args.sleeps)))
        return
    reps = []
    for _ in range(args.reps):
        command = [sys.executable, __file__, "--one", "--children", str(args.children), "--sleeps", str(args.sleeps)]
        done = subprocess.run(command, capture_output=True, text=True, check=False, timeout=600)
        if done.returncode != 0:
            raise SystemExit(f"timers_bench.py --one failed with exit {done.returncode}:\n{done.stderr[-3000:]}")
        reps.append(json.loads(done.stdout.strip().splitlines()[-1]))
    timers = args.children * args.sleeps + 1
    seconds = spread([r["seconds"] for r in reps])
    result = {
        "figure": "virtual_timers",
        "timers": timers,
        "seconds": seconds["median"],
        "seconds_spread": seconds,
        "cpu_seconds": spread([r["cpu_seconds"] for r in reps]),
        "ms_per_timer": round(seconds["median"] * 1000 / timers, 4),
        "virtual_days": reps[0]["virtual_days"],
        "target_seconds": 1.0,
        "reps": len(reps),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }
    print(
        f"virtual timers: {timers} timers over {result['virtual_days']} virtual days in {seconds['median']} s "
        f"[{seconds['min']}-{seconds['max']}] (target < 1 s)",
        file=sys.stderr,
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
