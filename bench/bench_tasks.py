"""The benchmark's one task, in a module of its own so that ``wfc worker``
processes can import it (``--tasks bench_tasks.py``)."""

from __future__ import annotations

from wfc.runtime import task


@task("trivial-step")
async def trivial_step(index: int) -> int:
    return index
