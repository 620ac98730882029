"""Restart with many runs in flight: how soon a new process resumes them.

``python restart_bench.py hold URL N IDS_FILE``: start ``N`` five-step runs
whose first task blocks forever, write their ids to ``IDS_FILE`` and print
``ready`` once all ``N`` attempts are running; then wait to be killed.

``python restart_bench.py resume URL IDS_FILE``: open an engine whose task
returns at once and wait for every run; prints one JSON object with the wall
times (``time.time()``) of the first resumed task call, of the moment no run
is left running (``all_done_at``: the last run's end, seen by a poll every
5 ms), and of having read back every run one by one and found it COMPLETED
(``all_read_at``: the client's 1,000 reads, not the recovery, make the
difference). ``run.py`` kills the holder with SIGKILL and measures from just
before it starts the resuming process, so Python's start-up and wfc's
imports are in the figures.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

STEPS = 5


def spec() -> Any:
    from wfc.dsl import Workflow, WorkflowThread

    def held(wf: WorkflowThread) -> None:
        for index in range(STEPS):
            wf.execute("held-step", index)

    return Workflow("held-steps", held).compile()


async def hold(url: str, count: int, ids_file: str) -> None:
    import anyio
    from bench_tasks import HELD, held_step

    from wfc.runtime import Engine

    async with Engine.open(url, tasks=[held_step], max_concurrent_tasks=count) as engine:
        await engine.deploy(spec())
        ids = [await engine.start("held-steps", {}) for _ in range(count)]
        Path(ids_file).write_text(json.dumps(ids))
        while HELD["calls"] < count:
            await anyio.sleep(0.02)
        print("ready", flush=True)
        await anyio.sleep_forever()


async def resume(url: str, ids_file: str) -> dict[str, Any]:
    import anyio
    from bench_tasks import HELD, held_step

    from wfc.runtime import Engine

    ids = json.loads(Path(ids_file).read_text())
    async with Engine.open(url, tasks=[held_step], max_concurrent_tasks=len(ids)) as engine:
        # The last run started is resumed last: its end is woken by the
        # commit that finishes it, without reading anything meanwhile. Then
        # look for any run still running (a cheap query), until none is.
        await engine.wait(ids[-1])
        while await engine.list_runs(status="RUNNING", limit=1):
            await anyio.sleep(0.005)
        done_at = time.time()
        for run_id in ids:
            info = await engine.wait(run_id)
            if info.status != "COMPLETED":
                raise SystemExit(f"resumed run {run_id} ended {info.status}")
        read_at = time.time()
    return {"first_step_at": HELD["first_at"], "all_done_at": done_at, "all_read_at": read_at, "runs": len(ids)}


def main() -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import anyio

    mode = sys.argv[1]
    if mode == "hold":
        anyio.run(hold, sys.argv[2], int(sys.argv[3]), sys.argv[4])
    else:
        print(json.dumps(anyio.run(resume, sys.argv[2], sys.argv[3])))


if __name__ == "__main__":
    main()
