"""The attempts an engine runs (:class:`wfc.runtime._attempts.Attempts`)."""

from __future__ import annotations

import asyncio

import pytest

from wfc.runtime import task
from wfc.runtime._attempts import Attempts
from wfc.runtime._commands import Command
from wfc.runtime.interpreter import DispatchTask

pytestmark = pytest.mark.anyio


@task("nap")
async def nap() -> str:
    await asyncio.sleep(0)
    return "rested"


def _dispatch(number: int) -> DispatchTask:
    return DispatchTask(dispatch_id=f"d{number}", idempotency_key=f"k{number}", run_id="r", workflow="w", thread=0,
                        node="n", task="nap", args=[], attempt=1)  # fmt: skip


async def test_an_attempt_abandoned_before_it_first_ran_is_not_counted_as_running() -> None:
    """Two turns acted on in one go (pipelined commits) may start an
    attempt and abandon it before its task first runs: its coroutine then
    never starts, and it must not stay counted (the test harness waited
    for it for ever)."""
    submitted: list[Command] = []
    attempts = Attempts({"nap": nap.definition}, 10, submitted.append)
    attempts.open()
    attempts.start(_dispatch(1))
    attempts.abandon("d1")
    attempts.start(_dispatch(2))
    assert len(attempts) == 2
    for _ in range(5):
        await asyncio.sleep(0)
    assert len(attempts) == 0 and "d1" not in attempts
    assert [type(c.input).__name__ for c in submitted] == ["TaskCompleted"]  # d2's result only
