"""Misusing the test harness is refused at the call, with a message that
names the argument and the right form, instead of a run that fails later
with an unrelated error (or a store that cannot read its own rows back)."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path
from typing import Any

import anyio
import pytest

from wfc.dsl import Workflow, WorkflowThread
from wfc.specs import MAX_DURATION_SECONDS, MAX_EPOCH_SECONDS
from wfc.testing import VirtualClock, WorkflowEnv, workflow_env

pytestmark = pytest.mark.anyio


def _ship(wf: WorkflowThread) -> Any:
    return wf.execute("ship")


SHIP = Workflow("ship", _ship)


# ---------------------------------------------------------------- stub()


@pytest.mark.parametrize(
    ("takes", "error", "says"),
    [
        (math.inf, ValueError, "finite"),
        (math.nan, ValueError, "finite"),
        (1e13, ValueError, f"at most {MAX_DURATION_SECONDS} seconds"),
        (-1, ValueError, ">= 0"),
        ("5", TypeError, "a number of seconds"),
        (True, TypeError, "a number of seconds"),
        (None, TypeError, "a number of seconds"),
    ],
)
async def test_stub_takes_a_duration_it_can_store(wf_env: WorkflowEnv, takes: Any, error: type, says: str) -> None:
    with pytest.raises(error, match=r"takes") as caught:
        wf_env.stub("ship", takes=takes)
    assert says in str(caught.value) and repr(takes) in str(caught.value)


async def test_stub_takes_a_timedelta_and_a_stub_that_takes_time_still_runs(wf_env: WorkflowEnv) -> None:
    wf_env.stub("ship", returns=1, takes=dt.timedelta(hours=2))
    run = await wf_env.run(SHIP)
    await wf_env.assert_output(run, 1)
    assert wf_env.clock.elapsed == dt.timedelta(hours=2)


@pytest.mark.parametrize(
    ("arguments", "error", "says"),
    [
        ({"name": 5}, TypeError, "task name"),
        ({"name": ""}, ValueError, "task name"),
        ({"raises": 404}, TypeError, "raises"),
        ({"raises": ""}, ValueError, "raises"),
        ({"raises": ConnectionError}, TypeError, r"not the class ConnectionError: raises=ConnectionError\('down'\)"),
        ({"effect": 5}, TypeError, "effect"),
        ({"hangs": "yes"}, TypeError, "hangs"),
    ],
)
async def test_stub_refuses_bad_arguments_at_the_call(
    wf_env: WorkflowEnv, arguments: dict[str, Any], error: type, says: str
) -> None:
    name = arguments.pop("name", "ship")
    with pytest.raises(error, match=says):
        wf_env.stub(name, **arguments)


async def test_changing_a_stub_later_is_checked_too(wf_env: WorkflowEnv) -> None:
    stub = wf_env.stub("ship")
    with pytest.raises(ValueError, match="takes"):
        stub.takes = math.inf
    with pytest.raises(TypeError, match="raises"):
        stub.raises = 404  # type: ignore[assignment]
    assert stub.takes == 0 and stub.raises is None


# ---------------------------------------------------------------- the clock


@pytest.mark.parametrize(
    ("start", "error"), [(math.nan, ValueError), (math.inf, ValueError), (1e300, ValueError), ("now", TypeError)]
)
def test_a_clock_starts_at_a_moment_it_can_store(start: Any, error: type) -> None:
    with pytest.raises(error, match=r"VirtualClock\(start=") as caught:
        VirtualClock(start=start)
    assert repr(start) in str(caught.value)


@pytest.mark.parametrize("seconds", [None, "60", True])
async def test_advance_takes_a_number_of_seconds(seconds: Any) -> None:
    clock = VirtualClock()
    with pytest.raises(TypeError, match=r"advance\(\) takes a number of seconds or a timedelta"):
        await clock.advance(seconds)


async def test_advance_stops_at_the_last_moment_a_store_holds() -> None:
    clock = VirtualClock(start=MAX_EPOCH_SECONDS - 10)
    with pytest.raises(ValueError, match="year 9999"):
        await clock.advance(60)
    assert clock.elapsed == dt.timedelta(0)
    with pytest.raises(ValueError, match=r"\(100 years\)"):
        await VirtualClock().advance(dt.timedelta(days=9000 * 365))


async def test_a_virtual_sleep_takes_a_duration() -> None:
    with anyio.fail_after(5), pytest.raises(ValueError, match="finite"):
        await VirtualClock().sleep(math.inf)


# ---------------------------------------------------------------- workflow_env()


async def test_workflow_env_takes_a_directory_as_a_string(tmp_path: Path, anyio_backend: str) -> None:
    if anyio_backend != "asyncio":
        pytest.skip("the wfc engine runs on asyncio")
    async with workflow_env(str(tmp_path)) as env:  # type: ignore[arg-type]
        env.stub("ship", returns="shipped")
        run = await env.run(SHIP)
        await env.assert_output(run, "shipped")
    assert (tmp_path / "wfc-test.db").exists()


@pytest.mark.parametrize(("directory", "error"), [(5, TypeError), ("/no/such/folder", ValueError)])
async def test_workflow_env_refuses_what_is_not_a_folder(directory: Any, error: type) -> None:
    with pytest.raises(error, match="directory"):
        async with workflow_env(directory):
            pass


async def test_workflow_env_refuses_a_clock_that_is_not_a_virtual_clock() -> None:
    with pytest.raises(TypeError, match="VirtualClock"):
        async with workflow_env(clock=1.0):  # type: ignore[arg-type]
            pass


# ---------------------------------------------------------------- runs and assertions


@pytest.mark.parametrize("run", [5, None, ""])
async def test_a_run_is_named_by_its_id_or_run_info(wf_env: WorkflowEnv, run: Any) -> None:
    with pytest.raises((TypeError, ValueError), match="run id"):
        await wf_env.result(run)


async def test_result_timeout_is_a_positive_number(wf_env: WorkflowEnv) -> None:
    wf_env.stub("ship")
    run_id = await wf_env.start(SHIP)
    with pytest.raises(ValueError, match="timeout"):
        await wf_env.result(run_id, timeout=-1)


@pytest.mark.parametrize(
    "expected", [5, "entrypoint", ["entrypoint", 5], {0: "entrypoint"}, {"main": ["entrypoint"]}, None]
)
async def test_assert_path_refuses_what_is_not_a_path(wf_env: WorkflowEnv, expected: Any) -> None:
    wf_env.stub("ship")
    run = await wf_env.run(SHIP)
    with pytest.raises(TypeError, match=r"assert_path\(\)"):
        await wf_env.assert_path(run, expected)


@pytest.mark.parametrize("method", ["assert_compensations", "assert_journal"])
async def test_other_list_assertions_refuse_a_bare_string(wf_env: WorkflowEnv, method: str) -> None:
    wf_env.stub("ship")
    run = await wf_env.run(SHIP)
    with pytest.raises(TypeError, match=method):
        await getattr(wf_env, method)(run, "TASK_COMPLETED")
