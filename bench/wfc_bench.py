"""wfc side of the benchmark: five sequential trivial steps.

Run by ``bench/run.py`` in its own process; prints one JSON object.

``python wfc_bench.py SEQUENTIAL CONCURRENT [URL [WORKERS]]``: without a URL,
on a fresh SQLite file. With ``WORKERS`` 0 (the default) this process runs the
tasks itself (one process, like DBOS); with ``WORKERS`` N > 0 it starts N
``wfc worker`` processes on the database and is only a client that starts
runs and waits for them, so the figures include the hops between processes.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import anyio
from bench_stats import summarize
from bench_tasks import trivial_step

from wfc.dsl import Workflow, WorkflowThread
from wfc.runtime import Engine

STEPS = 5
HERE = Path(__file__).resolve().parent
WORKER_CONCURRENCY = 1000


def five_steps(wf: WorkflowThread) -> None:
    for index in range(STEPS):
        wf.execute("trivial-step", index)


@contextmanager
def worker_processes(url: str, count: int) -> Iterator[None]:
    """``count`` ``wfc worker`` processes on ``url``, serving until the block ends."""
    command = [sys.executable, "-c", "from wfc.cli import main; main()", "worker", "--db", url]
    command += ["--tasks", "bench_tasks.py", "--concurrency", str(WORKER_CONCURRENCY), "--stats-every", "3600"]
    processes = [
        subprocess.Popen(command, cwd=HERE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for _ in range(count)
    ]
    try:
        for process in processes:  # each prints one line once it serves
            assert process.stdout is not None
            line = process.stdout.readline()
            if "serving" not in line:
                raise SystemExit(f"a wfc worker did not start: {line}{process.stdout.read()}")
        yield
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()


async def measure(url: str, sequential: int, concurrent: int, workers: int) -> dict[str, Any]:
    spec = Workflow("five-steps", five_steps).compile()
    tasks = [] if workers else [trivial_step]
    async with Engine.open(url, tasks=tasks, serve=not workers) as engine:
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
    workers = int(sys.argv[4]) if len(sys.argv) > 4 else 0
    with tempfile.TemporaryDirectory() as tmp:
        url = url or f"sqlite:///{Path(tmp) / 'wfc.db'}"
        if workers:
            # Create the schema first, so the workers do not race to migrate it.
            anyio.run(_open_once, url)
            with worker_processes(url, workers):
                result = anyio.run(measure, url, sequential, concurrent, workers)
        else:
            result = anyio.run(measure, url, sequential, concurrent, workers)
    result["worker_processes"] = workers
    print(json.dumps(result))


async def _open_once(url: str) -> None:
    async with Engine.open(url, serve=False):
        pass


if __name__ == "__main__":
    main()
