"""Run ids the engine makes: time-ordered UUIDs (version 7), so that the
rows of runs started together sit together in every index keyed by run."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import pytest
from rtspec import exit_, spec, var, variable

from wfc.runtime import Engine
from wfc.runtime._ids import new_run_id

pytestmark = pytest.mark.anyio


def test_a_new_run_id_is_a_version_7_uuid_in_32_hex_digits() -> None:
    run_id = new_run_id()
    parsed = uuid.UUID(hex=run_id)
    assert len(run_id) == 32 and run_id == parsed.hex
    assert parsed.version == 7 and parsed.variant == uuid.RFC_4122


def test_its_first_48_bits_are_the_time_in_milliseconds() -> None:
    before = time.time_ns() // 1_000_000
    run_id = new_run_id()
    after = time.time_ns() // 1_000_000
    assert before <= int(run_id[:12], 16) <= after


def test_ids_of_later_milliseconds_sort_after_and_ids_never_repeat() -> None:
    first = [new_run_id() for _ in range(2000)]
    time.sleep(0.002)
    later = [new_run_id() for _ in range(2000)]
    assert max(first) < min(later)
    assert len(set(first + later)) == 4000


async def test_a_run_started_without_an_id_gets_one(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'wfc.db'}"
    flow = spec("echo-x", [("end", exit_(var("x")))], variables={"x": variable("int")})
    async with Engine.open(url) as engine:
        await engine.deploy(flow)
        earlier = await engine.start("echo-x", {"x": 1})
        time.sleep(0.002)
        later = await engine.start("echo-x", {"x": 2})
        named = await engine.start("echo-x", {"x": 3}, run_id="order-123")
        assert uuid.UUID(hex=earlier).version == 7 and earlier < later
        assert named == "order-123"
        assert (await engine.wait(later, timeout=10)).output == 2
