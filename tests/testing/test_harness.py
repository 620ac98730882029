"""The ``wf_env`` fixture of wfc's pytest plugin: a real engine in virtual
time, tasks stubbed by name, and assertions that fail with readable diffs."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

import pytest

from wfc.dsl import Backoff, Workflow, WorkflowThread
from wfc.runtime import RunStatus, TaskContext, TaskException
from wfc.testing import StuckRunError, WorkflowAssertionError, WorkflowEnv

pytestmark = pytest.mark.anyio

YEAR = 365 * 24 * 3600.0
#: Real seconds the 10,000-timer run may take: generous for loaded CI machines
#: (1-2 s on 2 cores shared with four other busy sessions; bench/timers_bench.py
#: reports the figure), yet far below the year it spans.
WALL_BOUND = 10.0


def _charge(wf: WorkflowThread) -> Any:
    amount = wf.declare_float("amount").required()
    charged = wf.execute(
        "charge", amount, retries=3, backoff=Backoff(initial=60.0, multiplier=2.0, maximum=600.0), timeout=30
    )
    wf.execute("receipt", charged["id"])
    return charged["id"]


CHARGE = Workflow("charge", _charge)


def _napper(wf: WorkflowThread) -> Any:
    wf.sleep(YEAR)
    return wf.execute("wake")


NAPPER = Workflow("napper", _napper)


def _waiter(wf: WorkflowThread) -> Any:
    got = wf.wait_for_event("approved", timeout=3600)
    wf.handle_any_failure(got, lambda t: t.execute("escalate"))
    return wf.execute("ship")


WAITER = Workflow("waiter", _waiter)


def _booking(wf: WorkflowThread) -> None:
    flight = wf.execute("book-flight")
    flight.compensate_with("cancel-flight")
    hotel = wf.execute("book-hotel")
    hotel.compensate_with("cancel-hotel")
    car = wf.execute("book-car")
    wf.handle_any_failure(car, lambda t: t.compensate())


BOOKING = Workflow("booking", _booking)


def _many_timers(wf: WorkflowThread) -> Any:
    children = wf.declare_json("children").required()

    def child(t: WorkflowThread) -> None:
        for _ in range(100):  # a hundred timers a child, of a day each
            t.sleep(86400.0)

    spawned = wf.spawn_thread_for_each(children, child, "timers")
    wf.wait_for_threads(spawned)
    wf.sleep(YEAR)
    return wf.execute("done")


MANY_TIMERS = Workflow("many-timers", _many_timers)


# ---------------------------------------------------------------- stubs and virtual time


async def test_a_stub_returns_and_records_each_call(wf_env: WorkflowEnv) -> None:
    charge = wf_env.stub("charge", returns={"id": "ch_1"})
    receipt = wf_env.stub("receipt")
    run = await wf_env.run(CHARGE, {"amount": 12.5})
    assert run.status is RunStatus.COMPLETED and run.output == "ch_1"
    assert charge.args == [[12.5]] and receipt.args == [["ch_1"]]
    assert [c.attempt for c in wf_env.calls("charge")] == [1]


async def test_retry_backoffs_pass_in_virtual_time_and_each_attempt_is_recorded(wf_env: WorkflowEnv) -> None:
    def flaky(amount: float, ctx: TaskContext) -> dict[str, str]:
        if ctx.attempt < 3:
            raise ConnectionError("bank down")
        return {"id": f"ch_{ctx.attempt}"}

    charge = wf_env.stub("charge", effect=flaky)
    wf_env.stub("receipt")
    began = time.perf_counter()
    run = await wf_env.run(CHARGE, {"amount": 1.0})
    assert run.output == "ch_3"
    assert [c.attempt for c in charge.calls] == [1, 2, 3]
    # Backoff 60 s then 120 s (less an "equal jitter" of up to half), in
    # virtual time: each attempt at its own moment.
    first, second, third = (c.at - wf_env.clock.start for c in charge.calls)
    assert first == 0.0 and 30 <= second <= 60 and 60 <= third - second <= 120
    assert time.perf_counter() - began < 10  # real time: no 3 minutes of waiting
    await wf_env.assert_journal(
        run, ["TASK_FAILED charge", "TASK_DISPATCHED charge", "TASK_FAILED charge", "TASK_COMPLETED charge"]
    )


async def test_raises_by_name_is_a_business_failure_that_is_not_retried(wf_env: WorkflowEnv) -> None:
    charge = wf_env.stub("charge", raises="card-declined")
    run = await wf_env.run(CHARGE, {"amount": 1.0})
    assert run.status is RunStatus.FAILED and run.failure is not None
    assert run.failure.name == "card-declined" and charge.call_count == 1


async def test_raises_an_exception_is_a_technical_error_retried_per_policy(wf_env: WorkflowEnv) -> None:
    charge = wf_env.stub("charge", raises=ConnectionError("bank down"))
    run = await wf_env.run(CHARGE, {"amount": 1.0})
    assert run.status is RunStatus.FAILED and charge.call_count == 4  # 1 + 3 retries
    # The run failed with the last attempt, after three backoffs of virtual time.
    assert wf_env.clock.now == charge.calls[-1].at >= wf_env.clock.start + 30 + 60 + 120


async def test_an_async_side_effect_can_take_virtual_time_and_a_task_timeout_cuts_it(wf_env: WorkflowEnv) -> None:
    async def slow_then_fast(amount: float, ctx: TaskContext) -> dict[str, str]:
        if ctx.attempt == 1:
            await wf_env.clock.sleep(600)  # longer than the 30 s timeout
        return {"id": "ch_ok"}

    wf_env.stub("charge", effect=slow_then_fast)
    wf_env.stub("receipt")
    run = await wf_env.run(CHARGE, {"amount": 1.0})
    assert run.output == "ch_ok"
    history = await wf_env.history(run)
    failed = [h for h in history if h.kind == "TASK_FAILED"]
    assert [h.detail["error"] for h in failed] == ["TIMEOUT"]
    # Timed out at 30 s (virtual), retried after the backoff (30 to 60 s).
    first, second = (c.at - wf_env.clock.start for c in wf_env.calls("charge"))
    assert first == 0.0 and 30 + 30 <= second <= 30 + 60


async def test_a_hanging_stub_times_out_on_every_attempt(wf_env: WorkflowEnv) -> None:
    charge = wf_env.stub("charge", hangs=True)
    run = await wf_env.run(CHARGE, {"amount": 1.0})
    assert run.status is RunStatus.FAILED and run.failure is not None and run.failure.name == "TIMEOUT"
    assert charge.call_count == 4 and wf_env.clock.now == charge.calls[-1].at + 30


async def test_a_task_with_no_stub_fails_the_test_with_what_to_add(wf_env: WorkflowEnv) -> None:
    wf_env.stub("charge", returns={"id": "x"})
    with pytest.raises(WorkflowAssertionError, match=r"tasks with no stub and no real task: 'receipt'"):
        await wf_env.run(CHARGE, {"amount": 1.0})


async def test_a_real_task_runs_where_no_stub_is_given(wf_env: WorkflowEnv) -> None:
    from wfc.runtime import task

    @task("receipt")
    def receipt(payment: str) -> str:
        return f"sent {payment}"

    wf_env.add_tasks(receipt)
    wf_env.stub("charge", returns={"id": "ch_9"})
    run = await wf_env.run(CHARGE, {"amount": 1.0})
    assert run.output == "ch_9" and wf_env.calls("receipt")[0].args == ["ch_9"]


async def test_a_year_long_sleep_and_ten_thousand_timers_take_seconds_not_a_year(wf_env: WorkflowEnv) -> None:
    wf_env.stub("done", returns="ok")
    run_id = await wf_env.start(MANY_TIMERS, {"children": list(range(100))})  # 100 x 100 timers
    began = time.perf_counter()
    run = await wf_env.result(run_id)
    took = time.perf_counter() - began
    assert run.status is RunStatus.COMPLETED and run.output == "ok"
    assert wf_env.clock.elapsed.total_seconds() == 100 * 86400 + YEAR  # a hundred days, then a year
    history = await wf_env.history(run)
    assert sum(h.kind == "TIMER_FIRED" for h in history) == 10_001
    # The harness skips 101 times (the children's timers come due together);
    # the engine's own cost per fired timer (~0.1 ms here) is most of the rest.
    assert took < WALL_BOUND, f"{took:.2f} s of real time for {wf_env.clock.elapsed} of virtual time"


# ---------------------------------------------------------------- advancing the clock by hand


async def test_advance_fires_what_comes_due_and_no_more(wf_env: WorkflowEnv) -> None:
    wake = wf_env.stub("wake", returns="up")
    run_id = await wf_env.start(NAPPER)
    await wf_env.clock.advance(YEAR - 1)
    assert wake.call_count == 0 and not (await wf_env.engine.get_run(run_id)).status.finished
    await wf_env.clock.advance(1)
    run = await wf_env.engine.get_run(run_id)
    assert run.status is RunStatus.COMPLETED and run.output == "up"
    assert wake.calls[0].at == wf_env.clock.start + YEAR


async def test_an_event_sent_before_the_timeout_goes_on(wf_env: WorkflowEnv) -> None:
    wf_env.stub("ship", returns="shipped")
    run_id = await wf_env.start(WAITER)
    await wf_env.clock.advance(3599)
    await wf_env.send_event("approved", {"by": "ada"}, run=run_id)
    run = await wf_env.result(run_id)
    await wf_env.assert_path(run, ["entrypoint", "wait-approved", "ship", "exit"])
    await wf_env.assert_output(run, "shipped")


async def test_an_event_timeout_fires_when_nothing_else_can_happen(wf_env: WorkflowEnv) -> None:
    escalate = wf_env.stub("escalate")
    wf_env.stub("ship", returns="shipped")
    run = await wf_env.run(WAITER)
    assert escalate.call_count == 1 and wf_env.clock.elapsed.total_seconds() == 3600
    await wf_env.assert_journal(run, ["EVENT_TIMEOUT wait-approved", "TASK_COMPLETED escalate", "RUN_COMPLETED"])


async def test_a_run_waiting_for_the_test_is_reported_stuck_not_hung(wf_env: WorkflowEnv) -> None:
    def _forever(wf: WorkflowThread) -> None:
        wf.wait_for_event("never")

    with pytest.raises(StuckRunError, match=r"waits for .*never.*send the event"):
        await wf_env.run(Workflow("forever", _forever))


# ---------------------------------------------------------------- assertions and their diffs


async def test_compensations_are_asserted_in_order(wf_env: WorkflowEnv) -> None:
    for name in ("book-flight", "book-hotel", "cancel-flight", "cancel-hotel"):
        wf_env.stub(name)
    wf_env.stub("book-car", raises="no-cars")
    run = await wf_env.run(BOOKING)
    await wf_env.assert_compensations(run, ["cancel-hotel", "cancel-flight"])
    with pytest.raises(WorkflowAssertionError) as failed:
        await wf_env.assert_compensations(run, ["cancel-flight", "cancel-hotel"])
    assert str(failed.value) == "\n".join(
        [
            f"run {run.id!r} compensated otherwise (compensation tasks, in order)",
            "--- expected",
            "+++ actual",
            "@@ -1,2 +1,2 @@",
            "+cancel-hotel",
            " cancel-flight",
            "-cancel-hotel",
        ]
    )


async def test_a_wrong_path_fails_with_a_diff_of_the_nodes(wf_env: WorkflowEnv) -> None:
    wf_env.stub("charge", returns={"id": "c"})
    wf_env.stub("receipt")
    run = await wf_env.run(CHARGE, {"amount": 1.0})
    assert await wf_env.path(run) == {0: ["entrypoint", "charge", "receipt", "exit"]}
    with pytest.raises(WorkflowAssertionError) as failed:
        await wf_env.assert_path(run, ["entrypoint", "charge", "refund", "exit"])
    message = str(failed.value)
    assert message.startswith(f"run {run.id!r} took another path (nodes entered by the entrypoint thread)\n")
    assert "\n charge\n-refund\n+receipt\n exit" in message


async def test_a_wrong_output_fails_with_a_json_diff(wf_env: WorkflowEnv) -> None:
    wf_env.stub("charge", returns={"id": "ch_1"})
    wf_env.stub("receipt")
    run = await wf_env.run(CHARGE, {"amount": 1.0})
    with pytest.raises(WorkflowAssertionError) as failed:
        await wf_env.assert_output(run, "ch_2")
    assert str(failed.value).splitlines()[-2:] == ['-"ch_2"', '+"ch_1"']


async def test_a_missing_journal_entry_fails_showing_the_journal(wf_env: WorkflowEnv) -> None:
    wf_env.stub("charge", returns={"id": "ch_1"})
    wf_env.stub("receipt")
    run = await wf_env.run(CHARGE, {"amount": 1.0})
    await wf_env.assert_journal(run, ["TASK_COMPLETED charge", "TASK_COMPLETED receipt", "RUN_COMPLETED"])
    with pytest.raises(WorkflowAssertionError) as failed:
        await wf_env.assert_journal(run, ["TASK_COMPLETED charge", "TASK_FAILED receipt"])
    message = str(failed.value)
    assert "no journal entry 'TASK_FAILED receipt'" in message
    assert "\n-TASK_FAILED receipt\n" in message and "\n TASK_COMPLETED receipt\n" not in message
    assert "\n+TASK_COMPLETED receipt\n" in message


async def test_a_business_failure_raised_by_an_effect_keeps_its_content(wf_env: WorkflowEnv) -> None:
    def declined(amount: float) -> None:
        raise TaskException("card-declined", "no funds", {"amount": amount})

    wf_env.stub("charge", effect=declined)
    run = await wf_env.run(CHARGE, {"amount": 7.0})
    assert run.failure is not None and run.failure.name == "card-declined"


# ---------------------------------------------------------------- the clock on its own


async def test_the_clock_only_moves_forward() -> None:
    from wfc.testing import VirtualClock

    clock = VirtualClock()
    with pytest.raises(ValueError, match="only moves forward"):
        await clock.advance(-1)
    await clock.advance(dt.timedelta(hours=1))
    assert clock.elapsed == dt.timedelta(hours=1) and clock() == clock.start + 3600
    assert clock.datetime == dt.datetime(2026, 1, 1, 1, tzinfo=dt.UTC)


async def test_a_path_of_several_threads_fails_with_a_diff_per_thread(wf_env: WorkflowEnv) -> None:
    def _fan(wf: WorkflowThread) -> None:
        spawned = wf.spawn_thread_for_each([1, 2], lambda t: t.execute("work", t.variable("item")), "workers")
        wf.wait_for_threads(spawned)

    wf_env.stub("work")
    run = await wf_env.run(Workflow("fan", _fan))
    paths = await wf_env.path(run)
    assert paths[1] == paths[2] == ["entrypoint", "work", "exit"]
    with pytest.raises(WorkflowAssertionError) as failed:
        await wf_env.assert_path(run, {1: ["entrypoint", "work", "exit"], 2: ["entrypoint", "exit"]})
    message = str(failed.value)
    assert "(threads: nodes entered)" in message
    assert message.endswith("\n thread 2: entrypoint\n+thread 2: work\n thread 2: exit")
    assert "thread 0" not in message  # only the threads the test names are compared


async def test_settle_runs_what_can_run_without_moving_the_clock(wf_env: WorkflowEnv) -> None:
    wf_env.stub("charge", raises=ConnectionError("down"))
    run_id = await wf_env.start(CHARGE, {"amount": 1.0})
    await wf_env.settle()
    # The first attempt failed; its retry waits for a backoff nobody skipped.
    assert len(wf_env.calls("charge")) == 1 and wf_env.clock.elapsed.total_seconds() == 0
    assert not (await wf_env.engine.get_run(run_id)).status.finished
