"""The benchmark's tasks, in a module of their own so that ``wfc worker``
processes can import them (``--tasks bench_tasks.py``)."""

from __future__ import annotations

import asyncio
import itertools
import os
import time

import anyio

from wfc.runtime import task


class Turns:
    """Two runs whose parents take ``stamped-step`` in turns of
    :attr:`block` steps each, so both are timed on the same engine and disk
    in the same seconds: a virtual disk's commit latency shifts from one
    second to the next, and timing the two apart compared those shifts more
    than the runs. Each call records ``(turn, time.perf_counter())`` under its
    run's tag in :attr:`stamps`; the last step of a turn hands the turn to
    the other run, whose next call was waiting for it."""

    def __init__(self) -> None:
        self.block = 10
        self.tags: tuple[str, str] = ("", "")
        self.holder = ""
        self.left = 0
        self.turn = 0
        self.stamps: dict[str, list[tuple[int, float]]] = {}
        self._gates: dict[str, asyncio.Event] = {}

    def begin(self, first: str, second: str, block: int) -> None:
        """``first`` takes the first turn."""
        self.tags, self.block, self.holder, self.left, self.turn = (first, second), block, first, block, 0
        self.stamps = {first: [], second: []}
        self._gates = {first: asyncio.Event(), second: asyncio.Event()}
        self._gates[first].set()

    async def step(self, tag: str) -> None:
        """Wait for ``tag``'s turn, record the step, hand the turn on after
        its last one."""
        gate = self._gates[tag]
        while self.holder != tag:
            gate.clear()
            await gate.wait()
        self.stamps[tag].append((self.turn, time.perf_counter()))
        self.left -= 1
        if self.left == 0:
            self.holder = self.tags[1] if tag == self.tags[0] else self.tags[0]
            self.left, self.turn = self.block, self.turn + 1
            self._gates[self.holder].set()

    def ms_per_step(self, tag: str, skip_turns: int) -> float:
        """Mean ms between two steps of ``tag`` within one of its turns,
        its first ``skip_turns`` turns left out (the engine warming up)."""
        stamps = self.stamps[tag]
        gaps = [
            later - earlier
            for (turn, earlier), (next_turn, later) in itertools.pairwise(stamps)
            if turn == next_turn and turn >= skip_turns
        ]
        return sum(gaps) * 1000 / len(gaps)


#: The children benchmark's two runs.
TURNS = Turns()
#: Calls of ``held-step`` so far, and the wall time of the first.
HELD: dict[str, float] = {"calls": 0, "first_at": 0.0}
#: Set in a process whose ``held-step`` must block forever (the one the
#: restart benchmark kills with its attempts in flight).
HOLD_ENV = "WFC_BENCH_HOLD"


@task("trivial-step")
async def trivial_step(index: int) -> int:
    return index


@task("stamped-step")
async def stamped_step(tag: str, index: int) -> int:
    await TURNS.step(tag)
    return index


@task("held-step")
async def held_step(index: int) -> int:
    if not HELD["calls"]:
        HELD["first_at"] = time.time()
    HELD["calls"] += 1
    if os.environ.get(HOLD_ENV):
        await anyio.sleep_forever()
    return index
