"""The benchmark's tasks, in a module of their own so that ``wfc worker``
processes can import them (``--tasks bench_tasks.py``)."""

from __future__ import annotations

import os
import time

import anyio

from wfc.runtime import task

#: ``time.perf_counter()`` at each call of ``stamped-step``.
STAMPS: list[float] = []
#: Calls of ``held-step`` so far, and the wall time of the first.
HELD: dict[str, float] = {"calls": 0, "first_at": 0.0}
#: Set in a process whose ``held-step`` must block forever (the one the
#: restart benchmark kills with its attempts in flight).
HOLD_ENV = "WFC_BENCH_HOLD"


@task("trivial-step")
async def trivial_step(index: int) -> int:
    return index


@task("stamped-step")
async def stamped_step(index: int) -> int:
    STAMPS.append(time.perf_counter())
    return index


@task("held-step")
async def held_step(index: int) -> int:
    if not HELD["calls"]:
        HELD["first_at"] = time.time()
    HELD["calls"] += 1
    if os.environ.get(HOLD_ENV):
        await anyio.sleep_forever()
    return index
