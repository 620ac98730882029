"""DBOS Transact side of the benchmark: five sequential trivial steps.

Run by ``bench/run.py`` in its own process (DBOS keeps global state); prints
one JSON object. Needs the ``dbos`` package, which is installed only in the
benchmark's virtual environment, never as a wfc dependency.
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench_stats import summarize
from dbos import DBOS

STEPS = 5


def configure(url: str) -> None:
    DBOS(config={"name": "wfc-bench", "system_database_url": url})  # type: ignore[typeddict-item]


@DBOS.step()
async def trivial_step(index: int) -> int:
    return index


@DBOS.workflow()
async def five_steps() -> int:
    total = 0
    for index in range(STEPS):
        total += await trivial_step(index)
    return total


async def measure(sequential: int, concurrent: int) -> dict[str, Any]:
    await five_steps()  # warm up
    durations = []
    for _ in range(sequential):
        began = time.perf_counter()
        await five_steps()
        durations.append((time.perf_counter() - began) * 1000)
    began = time.perf_counter()
    await asyncio.gather(*(five_steps() for _ in range(concurrent)))
    elapsed = time.perf_counter() - began
    return summarize(durations, concurrent * STEPS / elapsed, STEPS)


def main() -> None:
    sequential, concurrent = int(sys.argv[1]), int(sys.argv[2])
    url = sys.argv[3] if len(sys.argv) > 3 else ""
    with tempfile.TemporaryDirectory() as tmp:
        configure(url or f"sqlite:///{Path(tmp) / 'dbos.db'}")
        DBOS.launch()
        try:
            result = asyncio.run(measure(sequential, concurrent))
        finally:
            DBOS.destroy()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
