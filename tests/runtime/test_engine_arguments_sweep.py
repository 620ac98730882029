"""Arguments of the public engine API that a sweep found trusted: each bad
one is a :class:`UsageError` (or :class:`SpecError`, for a spec) naming the
argument and the form it takes, raised before anything is opened, started
or written; never a raw TypeError from deep inside, a crash of the
background loop, or a value stored that breaks later reads."""

from __future__ import annotations

import datetime as dt
import logging
import math
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
import msgspec
import pytest
from faults import Fault, FaultyStore
from rtclock import ManualClock
from rtspec import exit_, sleep, spec, task, undo, wait

from wfc.runtime import Engine, RunStatus, UsageError
from wfc.runtime import task as wfc_task
from wfc.runtime.store import open_store
from wfc.specs import SpecError

pytestmark = pytest.mark.anyio

undone: list[str] = []


@wfc_task("reserve")
def reserve() -> str:
    return "reserved"


@wfc_task("release")
def release() -> None:
    undone.append("release")


TASKS = [reserve, release]
# A run that reserved (a step with an undo), then waits for an event.
RESERVING = spec(
    "reserving",
    [("r", task("reserve", compensation=undo("release"))), ("w", wait("shipped")), ("end", exit_())],
)
DONE = spec("flow", [("end", exit_())])


def open_engine(url: str, **options: Any) -> Any:
    return Engine.open(url, tasks=TASKS, poll_interval=0.05, **options)


async def waiting_run(engine: Engine) -> str:
    await engine.deploy(RESERVING)
    run_id = await engine.start("reserving")
    with anyio.fail_after(10):
        while "@w" not in str((await engine.get_run(run_id)).waiting_on):
            await anyio.sleep(0.01)
    return run_id


def refusals(cases: list[tuple[str, Callable[[], Any], str]]) -> Callable[[], Awaitable[list[str]]]:
    """Run each ``(label, call, expected)`` and collect what did not raise a
    UsageError matching ``expected``: every case is tried, and all misses
    reported at once."""

    async def run() -> list[str]:
        missed = []
        for label, call, expected in cases:
            try:
                result = call()
                if isinstance(result, Awaitable):
                    await result
            except UsageError as exc:
                if expected not in str(exc):
                    missed.append(f"{label}: UsageError without {expected!r}: {exc}")
            except Exception as exc:
                missed.append(f"{label}: {type(exc).__name__}: {exc}")
            else:
                missed.append(f"{label}: accepted")
        return missed

    return run


# ---------------------------------------------------------------- 1. the clock


@pytest.mark.parametrize(
    "clock",
    [
        pytest.param(lambda: time.time() * 1000, id="milliseconds"),
        pytest.param(time.time_ns, id="nanoseconds"),
        pytest.param(lambda: float("inf"), id="infinite"),
        pytest.param(lambda: math.nan, id="nan"),
        pytest.param(lambda: "now", id="text"),
        pytest.param(lambda: True, id="bool"),
        pytest.param(lambda: -1e12, id="before-year-1"),
        pytest.param("time.time", id="not-callable"),
    ],
)
async def test_a_clock_not_in_epoch_seconds_is_refused_before_the_database_is_made(
    sqlite_path: Path, clock: Any
) -> None:
    with pytest.raises(UsageError, match=r"clock must return epoch seconds like time\.time"):
        async with Engine.open(f"sqlite:///{sqlite_path}", clock=clock):
            pass
    assert not sqlite_path.exists()


async def test_a_clock_that_raises_is_a_usage_error(sqlite_path: Path) -> None:
    def broken() -> float:
        raise RuntimeError("no time source")

    with pytest.raises(UsageError, match=r"clock must return epoch seconds.*RuntimeError: no time source"):
        async with Engine.open(f"sqlite:///{sqlite_path}", clock=broken):
            pass


async def test_a_clock_in_milliseconds_says_what_it_returned(sqlite_path: Path) -> None:
    with pytest.raises(UsageError, match="milliseconds or nanoseconds"):
        async with Engine.open(f"sqlite:///{sqlite_path}", clock=lambda: 1_767_225_600_000.0):
            pass


async def test_a_clock_in_epoch_seconds_is_taken(db_url: str) -> None:
    clock = ManualClock()
    async with Engine.open(db_url, clock=clock) as engine:
        await engine.deploy(DONE)
        run = await engine.wait(await engine.start("flow"), timeout=10)
        assert run.created_at.timestamp() == clock.now
        assert [r.id for r in await engine.list_runs()] == [run.id]


# ---------------------------------------------------------------- 2 and 5. Engine.open


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({"max_concurrent_tasks": 0}, "max_concurrent_tasks must be an int >= 1, got 0"),
        ({"max_concurrent_tasks": -1}, "max_concurrent_tasks must be an int >= 1, got -1"),
        ({"max_concurrent_tasks": 2.0}, "max_concurrent_tasks must be an int >= 1"),
        ({"max_concurrent_tasks": True}, "max_concurrent_tasks must be an int >= 1"),
        ({"tasks": 5}, "tasks must be a list (any iterable) of @task functions, got 5"),
        ({"tasks": "reserve"}, "tasks must be a list"),
        ({"observers": 5}, "observers must be a list"),
        ({"store": 5}, "store must be an open wfc.runtime.store.Store"),
        ({"max_batch": 0}, "max_batch must be an int >= 1, got 0"),
        ({"max_batch": -1}, "max_batch must be an int >= 1, got -1"),
        ({"max_children_per_run": 0}, "max_children_per_run must be an int >= 1, got 0"),
        ({"poll_interval": "1"}, "poll_interval must be a number of seconds > 0, got '1'"),
        ({"poll_interval": math.nan}, "poll_interval must be a number of seconds > 0, got nan"),
        ({"poll_interval": math.inf}, "poll_interval must be a number of seconds > 0"),
        ({"poll_interval": 0}, "poll_interval must be a number of seconds > 0, got 0"),
        ({"lease_seconds": "30"}, "lease_seconds must be a number of seconds > 0, got '30'"),
        ({"lease_seconds": 0}, "lease_seconds must be a number of seconds > 0, got 0"),
        ({"lease_seconds": -1}, "lease_seconds must be a number of seconds > 0, got -1"),
        ({"lease_seconds": 1e12}, "at most 3153600000 seconds"),
        ({"serve": "no"}, "serve must be True or False, got 'no'"),
        ({"read_only": 1, "serve": False}, "read_only must be True or False, got 1"),
        ({"check_tasks": "yes"}, "check_tasks must be True, False or None, got 'yes'"),
        ({"cache_waiting_runs": 0}, "cache_waiting_runs must be True or False, got 0"),
        ({"retention": math.inf}, "retention must be a timedelta or seconds from 0 to 3153600000 (100 years)"),
        ({"retention": math.nan}, "retention must be a timedelta or seconds from 0"),
    ],
)
async def test_bad_options_of_open_are_refused_before_anything_starts(
    sqlite_path: Path, options: dict[str, Any], expected: str
) -> None:
    with pytest.raises(UsageError) as refused:
        async with Engine.open(f"sqlite:///{sqlite_path}", **options):
            pass
    assert expected in str(refused.value)
    assert not sqlite_path.exists()


@pytest.mark.parametrize("url", [None, 5, b"sqlite:///wfc.db"])
async def test_a_url_that_is_not_a_string_is_refused(url: Any) -> None:
    with pytest.raises(UsageError, match="url must be a database URL"):
        async with Engine.open(url):
            pass


async def test_closing_an_engine_with_a_short_lease_releases_it(db_url: str, caplog: pytest.LogCaptureFixture) -> None:
    async with Engine.open(db_url, lease_seconds=0.5) as engine:
        await engine.deploy(DONE)
    assert "without releasing its leases" not in caplog.text


# ---------------------------------------------------------------- 3. bool flags


async def test_cancel_with_compensate_not_a_bool_compensates_nothing(db_url: str) -> None:
    undone.clear()
    async with open_engine(db_url) as engine:
        run_id = await waiting_run(engine)
        for flag in ("no", 0, 1, None):
            with pytest.raises(UsageError, match=f"compensate must be True or False, got {flag!r}"):
                await engine.cancel(run_id, compensate=flag)  # type: ignore[arg-type]
        assert (await engine.get_run(run_id)).status is RunStatus.RUNNING
        assert "RUN_CANCEL_REQUESTED" not in [h.kind for h in await engine.history(run_id)]
        cancelled = await engine.cancel(run_id, compensate=False)
        assert cancelled.status is RunStatus.CANCELLED
    assert undone == []


async def test_the_other_flags_must_be_bools(db_url: str) -> None:
    async with open_engine(db_url) as engine:
        await engine.deploy(DONE)
        cases: list[tuple[str, Callable[[], Any], str]] = [
            ("needs_attention", lambda: engine.list_runs(needs_attention="no"), "needs_attention must be True, False"),
            ("dry_run", lambda: engine.purge_runs(time.time(), dry_run="yes"), "dry_run must be True or False"),
            ("migrate_later", lambda: engine.plan_migration("flow", "1.0", "1.0", migrate_later=1),
             "migrate_later must be True or False"),
        ]  # fmt: skip
        assert await refusals(cases)() == []


# ---------------------------------------------------------------- 4. ids and reasons


async def test_ids_and_reasons_that_are_not_strings_never_reach_the_database(
    db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    class Reason:
        pass

    async with open_engine(db_url) as engine:
        run_id = await waiting_run(engine)
        cases: list[tuple[str, Callable[[], Any], str]] = [
            ("event_id list", lambda: engine.send_event("shipped", {}, run_id=run_id, event_id=["a"]), "event_id"),
            ("event_id int", lambda: engine.send_event("shipped", {}, run_id=run_id, event_id=5), "event_id"),
            ("run_id list", lambda: engine.send_event("go", 1, run_id=["w1"]), "run_id must be a non-empty string"),
            ("cancel reason object", lambda: engine.cancel(run_id, reason=Reason()), "reason must be a string"),
            ("cancel reason int", lambda: engine.cancel(run_id, reason=42), "reason must be a string, got 42"),
            ("cancel reason set", lambda: engine.cancel(run_id, reason={1}), "reason must be a string, got {1}"),
            ("halt reason int", lambda: engine.halt(run_id, reason=5), "reason must be a string, got 5"),
            ("halt reason bytes", lambda: engine.halt(run_id, reason=b"x"), "reason must be a string"),
            ("correlation list", lambda: engine.send_event("go", 1, correlation=["a"]), "correlation must be a string"),
            ("correlation bool", lambda: engine.send_event("go", 1, correlation=True), "correlation must be a string"),
        ]
        with caplog.at_level(logging.WARNING):
            assert await refusals(cases)() == []
        run = await engine.get_run(run_id)
        kinds = [h.kind for h in await engine.history(run_id)]
    assert run.status is RunStatus.RUNNING and run.pending_events == ()
    assert not {"RUN_HALTED", "RUN_CANCEL_REQUESTED", "EVENT_RECEIVED"} & set(kinds)
    assert "cannot use database" not in caplog.text and "commit" not in caplog.text


# ---------------------------------------------------------------- 6. queries


async def test_query_arguments_of_another_type_are_usage_errors(db_url: str) -> None:
    async with open_engine(db_url) as engine:
        await engine.deploy(DONE)
        run_id = await engine.start("flow")
        await engine.wait(run_id, timeout=10)
        huge = 2**63
        cases: list[tuple[str, Callable[[], Any], str]] = [
            ("wait timeout", lambda: engine.wait(run_id, timeout="3"), "timeout must be a number of seconds >= 0"),
            ("wait timeout nan", lambda: engine.wait(run_id, timeout=math.nan), "timeout must be a number"),
            ("wait run_id", lambda: engine.wait(["a"]), "run_id must be a non-empty string"),
            ("history after", lambda: engine.history(run_id, after=huge), "after must be an int >= 0"),
            ("history after -1", lambda: engine.history(run_id, after=-1), "after must be an int >= 0"),
            ("history thread", lambda: engine.history(run_id, thread=2**70), "thread must be an int >= 0"),
            ("history limit", lambda: engine.history(run_id, limit="5"), "limit must be an int >= 1"),
            ("history node", lambda: engine.history(run_id, node=5), "node must be a string or None"),
            ("history kinds str", lambda: engine.history(run_id, kinds="TASK"), "kinds must be a list of kinds"),
            ("history kinds int", lambda: engine.history(run_id, kinds=5), "kinds must be a list of kinds"),
            ("history run_id", lambda: engine.history(["a"]), "run_id must be a non-empty string"),
            ("get_run", lambda: engine.get_run(["a"]), "run_id must be a non-empty string"),
            ("count cap", lambda: engine.count_runs(cap=huge), "cap must be an int >= 1"),
            ("count cap str", lambda: engine.count_runs(cap="5"), "cap must be an int >= 1, got '5'"),
            ("count workflow", lambda: engine.count_runs(["flow"]), "workflow must be a workflow name"),
            ("page version", lambda: engine.list_runs_page(version=2**70), "version number is at most"),
            ("page after", lambda: engine.list_runs_page(after="x"), "after must be the RunKey"),
            ("page updated_after", lambda: engine.list_runs_page(updated_after=[1]), "updated_after must be"),
            ("status int", lambda: engine.list_runs(status=5), "status must be a run status or a list of them"),
            ("limit str", lambda: engine.list_runs(limit="5"), "limit must be an int >= 1 or None, got '5'"),
            ("limit 0", lambda: engine.list_runs(limit=0), "limit must be an int >= 1"),
            ("started_after str", lambda: engine.list_runs(started_after="2024-01-01"), "started_after must be"),
            ("started_before inf", lambda: engine.list_runs(started_before=math.inf), "started_before must be"),
            ("started_after nan", lambda: engine.list_runs(started_after=math.nan), "finite epoch seconds"),
            ("started_after huge", lambda: engine.list_runs(started_after=2**2000), "finite epoch seconds"),
            ("list workflow list", lambda: engine.list_runs(workflow=["flow"]), "workflow must be a workflow name"),
            ("list workflow int", lambda: engine.list_runs(workflow=5), "workflow must be a workflow name"),
            ("stats since", lambda: engine.workflow_stats("flow", "2024-01-01"), "since must be a datetime"),
            ("stats until", lambda: engine.workflow_stats("flow", dt.datetime(2024, 1, 1), 5), "until must be"),
            ("stats sample", lambda: engine.workflow_stats("flow", dt.datetime(2024, 1, 1), sample="9"), "sample"),
            ("stats workflow", lambda: engine.workflow_stats(5, dt.datetime(2024, 1, 1)), "workflow must be"),
            ("list_specs", lambda: engine.list_specs(["flow"]), "workflow must be a workflow name"),
            ("searchable", lambda: engine.searchable_variables(["flow"]), "workflow must be a workflow name"),
            ("start workflow", lambda: engine.start(["flow"], {}), "workflow must be a workflow name"),
            ("get_spec workflow", lambda: engine.get_spec(["flow"]), "workflow must be a workflow name"),
            ("subscribe poll", lambda: engine.subscribe("x", poll_interval="1"), "poll_interval must be a number"),
            ("subscribe poll -1", lambda: engine.subscribe("x", poll_interval=-1), "poll_interval must be a number"),
            ("purge batch", lambda: engine.purge_runs(time.time(), batch="5"), "batch must be an int from 1 to 500"),
            ("purge moment", lambda: engine.purge_runs(math.nan), "finite"),
            ("drain grace", lambda: engine.drain("1"), "grace must be a number of seconds >= 0"),
        ]
        assert await refusals(cases)() == []
        # The engine is fine after all that.
        assert [r.id for r in await engine.list_runs(workflow="flow")] == [run_id]
        assert (await engine.count_runs("flow"))[RunStatus.COMPLETED] == 1


# ---------------------------------------------------------------- 7. a closed engine


async def test_a_closed_engine_says_so(db_url: str) -> None:
    async with open_engine(db_url) as engine:
        await engine.deploy(DONE)
        run_id = await engine.start("flow")
        await engine.wait(run_id, timeout=10)

    async def watched() -> None:
        async for _ in engine.watch(run_id):
            pass

    for call in (engine.list_specs, watched):
        with pytest.raises(UsageError, match="the engine is closed"):
            await call()
    assert not engine.busy


async def test_an_engine_is_not_busy_once_closed_with_a_timer_it_could_not_commit(db_url: str) -> None:
    clock = ManualClock()
    store = FaultyStore(await open_store(db_url, clock()))

    async def release_soon() -> None:
        await anyio.sleep(0.2)
        store.release()

    # The task group outlives the engine: the release comes while it closes.
    async with (
        anyio.create_task_group() as tg,
        Engine.open(db_url, clock=clock, store=store, poll_interval=0.05) as engine,
    ):
        await engine.deploy(spec("sleepy", [("s", sleep(5)), ("end", exit_())]))
        await engine.start("sleepy")
        # The fired timer's commit waits, then fails while the engine closes
        # (a closing engine does not drop it from its timers in flight).
        store.hold()
        store.fail(Fault.DISK_FULL)
        clock.advance(10)
        engine.wake_timers()
        await store.holding()
        tg.start_soon(release_soon)
    assert not engine.busy


# ---------------------------------------------------------------- 8. a spec changed after it was built


@pytest.mark.parametrize(
    ("change", "path", "expected"),
    [
        ({"version": 5}, "$.version", "Expected `object`, got `int`"),
        ({"variables": None}, "$.variables", "Expected `object`, got `null`"),
        ({"name": 5}, "$.name", "Expected `str`, got `int`"),
        ({"threads": {"main": 5}}, "$.threads.main", "Expected `object`, got `int`"),
        ({"variables": object()}, "$", "Encoding objects of type object is unsupported"),
    ],
)
async def test_a_spec_whose_fields_were_replaced_is_refused_by_deploy(
    db_url: str, change: dict[str, Any], path: str, expected: str
) -> None:
    altered = msgspec.structs.replace(DONE, **change)
    async with open_engine(db_url) as engine:
        with pytest.raises(SpecError, match="not a valid WorkflowSpec") as refused:
            await engine.deploy(altered)
        assert refused.value.path == path and expected in refused.value.reason
        assert await engine.list_specs() == []
        assert await engine.deploy(DONE) is True
