"""wfc side of the benchmark: five sequential trivial steps on SQLite.

Run by ``bench/run.py`` in its own process; prints one JSON object.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import anyio
from bench_stats import summarize

from wfc.dsl import Workflow, WorkflowThread
from wfc.runtime import Engine, task

STEPS = 5


@task("trivial-step")
async def trivial_step(index: int) -> int:
    return index


def five_steps(wf: WorkflowThread) -> None:
    for index in range(STEPS):
        wf.execute("trivial-step", index)


async def measure(url: str, sequential: int, concurrent: int) -> dict[str, Any]:
    spec = Workflow("five-steps", five_steps).compile()
    async with Engine.open(url, tasks=[trivial_step]) as engine:
        await engine.deploy(spec)
        await engine.wait(await engine.start("five-steps", {}))  # warm up
        durations = []
        for _ in range(sequential):
            began = time.perf_counter()
            await engine.wait(await engine.start("five-steps", {}))
            durations.append((time.perf_counter() - began) * 1000)
        began = time.perf_counter()
        run_ids = []
        async with anyio.create_task_group() as tg:
            async def start_and_wait() -> None:
                run_id = await engine.start("five-steps", {})
                run_ids.append(run_id)
                await engine.wait(run_id)

            for _ in range(concurrent):
                tg.start_soon(start_and_wait)
        elapsed = time.perf_counter() - began
        completed = [await engine.get_run(run_id) for run_id in run_ids]
        if any(run.status != "COMPLETED" for run in completed):
            raise SystemExit("some benchmark runs did not complete")
    return summarize(durations, concurrent * STEPS / elapsed, STEPS)


def main() -> None:
    sequential, concurrent = int(sys.argv[1]), int(sys.argv[2])
    url = sys.argv[3] if len(sys.argv) > 3 else ""
    with tempfile.TemporaryDirectory() as tmp:
        result = anyio.run(measure, url or f"sqlite:///{Path(tmp) / 'wfc.db'}", sequential, concurrent)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
