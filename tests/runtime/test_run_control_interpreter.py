"""Operator inputs in the pure interpreter: halt keeps in-flight results and
pauses timers, resume picks everything up, cancel stops (optionally
compensating), retry re-runs the failed node only; each is refused when it
makes no sense."""

from __future__ import annotations

import pytest
from rtdrive import Driver
from rtspec import (
    exit_,
    fail,
    handler,
    op,
    out,
    sleep,
    spawn,
    spec,
    task,
    thread,
    undo,
    var,
    variable,
    wait,
    wait_threads,
)

from wfc.runtime.interpreter import (
    AbandonTask,
    Cancel,
    DispatchTask,
    Halt,
    OperatorInput,
    Resume,
    Retry,
    TaskCompleted,
    TaskFailed,
    refusal,
    step,
)
from wfc.runtime.interpreter.state import DoneWait, RunStatus, SleepWait, ThreadStatus

THREE = spec("w", [("a", task("a")), ("b", task("b")), ("end", exit_(out("b")))])


def test_halt_dispatches_nothing_new_and_keeps_the_result_of_a_running_task() -> None:
    d = Driver(THREE)
    d.feed(Halt(reason="investigating"))
    assert d.state.status is RunStatus.HALTED and d.entries("RUN_HALTED") == [{"reason": "investigating"}]
    d.finish("a", "A")
    assert isinstance(d.state.root.wait, DoneWait) and d.state.root.outputs["a"] == "A"
    assert not any(isinstance(e, DispatchTask) for e in d.last.effects)
    d.feed(Resume())
    assert d.running("b").task == "b"
    d.finish("b", "B")
    assert d.state.status is RunStatus.COMPLETED and d.state.output == "B"


def test_a_halted_sleep_keeps_its_remaining_time() -> None:
    d = Driver(spec("w", [("z", sleep(100)), ("end", exit_())]))
    d.now = 1030.0
    d.feed(Halt())
    wait = d.state.root.wait
    assert isinstance(wait, SleepWait) and wait.remaining == 70.0 and d.pending_timers() == []
    d.feed(Resume(), at=5000.0)
    [timer] = d.pending_timers()
    assert timer.due == 5070.0


def test_a_halted_run_keeps_events_and_takes_them_on_resume() -> None:
    d = Driver(spec("w", [("w", wait("go")), ("end", exit_(out("w")))]))
    d.feed(Halt())
    d.event("go", 42)
    assert d.state.status is RunStatus.HALTED and [e.name for e in d.state.inbox] == ["go"]
    d.feed(Resume())
    assert d.state.status is RunStatus.COMPLETED and d.state.output == 42


def test_cancel_stops_everything_and_ignores_running_tasks() -> None:
    d = Driver(THREE)
    a = d.running("a")
    d.feed(Cancel(reason="duplicate order"))
    assert d.state.status is RunStatus.CANCELLED and AbandonTask(dispatch_id=a.dispatch_id) in d.last.effects
    late = d.feed(TaskCompleted(dispatch_id=a.dispatch_id, output=1))
    assert late.journal == []


def test_cancel_with_compensate_undoes_completed_steps_and_ends_compensated() -> None:
    s = spec("w", [("a", task("a", compensation=undo("undo-a"))), ("b", task("b")), ("end", exit_())])
    d = Driver(s)
    d.finish("a")
    d.feed(Cancel(reason="customer asked", compensate=True))
    d.finish("b")  # running when cancelled: awaited, it has no compensation
    d.finish("undo-a")
    assert d.state.status is RunStatus.COMPENSATED
    assert d.state.failure is not None and (d.state.failure.name, d.state.failure.message) == (
        "CANCELLED",
        "customer asked",
    )


def test_cancel_with_compensate_and_nothing_to_undo_ends_cancelled() -> None:
    d = Driver(THREE)
    d.feed(Cancel(compensate=True))
    assert d.state.status is RunStatus.CANCELLED


def test_retry_re_runs_the_failed_task_with_the_same_key_and_inputs_then_goes_on() -> None:
    s = spec("w", [("a", task("a")), ("b", task("b", out("a"))), ("end", exit_(out("b")))])
    d = Driver(s)
    d.finish("a", 7)
    d.break_("b", message="down")
    assert d.state.status is RunStatus.FAILED
    first = next(e for e in d.effects if isinstance(e, DispatchTask) and e.task == "b")
    d.feed(Retry())
    again = d.running("b")
    assert (again.idempotency_key, again.args, again.attempt) == (first.idempotency_key, [7], 2)
    assert d.state.status is RunStatus.RUNNING and d.state.failure is None
    d.finish("b", "ok")
    assert d.state.status is RunStatus.COMPLETED and d.state.output == "ok"
    assert sum(1 for e in d.effects if isinstance(e, DispatchTask) and e.task == "a") == 1  # only the failed node
    assert "RUN_RETRIED" in d.kinds()


def test_retry_of_a_failed_wait_timeout_waits_again() -> None:
    d = Driver(spec("w", [("w", wait("go", timeout=10)), ("end", exit_(out("w")))]))
    d.fire()
    assert d.state.failure is not None and d.state.failure.name == "TIMEOUT"
    d.feed(Retry(), at=2000.0)
    [timer] = d.pending_timers()
    assert timer.due == 2010.0
    d.event("go", "late but fine")
    assert d.state.status is RunStatus.COMPLETED


WORKER = thread(
    [("t", task("work", var("x"))), ("end", exit_(out("t")))],
    variables={"x": variable("int", required=True)},
)


def test_retry_of_a_child_failure_re_runs_the_child_node_and_revives_its_siblings() -> None:
    s = spec(
        "w",
        [
            ("a", spawn("worker", x=1)),
            ("b", spawn("worker", x=2)),
            ("w", wait_threads("a", "b")),
            ("end", exit_(out("w"))),
        ],
        threads={"worker": WORKER},
    )
    d = Driver(s)
    one, two = d.in_flight()
    d.feed(TaskFailed(dispatch_id=one.dispatch_id, name="TASK_ERROR", message="down"))
    assert d.state.status is RunStatus.FAILED and d.state.threads[2].halt_reason == "wait-failed"
    d.feed(Retry())
    flying = {f.args[0]: f for f in d.in_flight()}
    assert flying[1].idempotency_key == one.idempotency_key and flying[1].attempt == 2
    assert flying[2].idempotency_key == two.idempotency_key and flying[2].attempt == 2  # halted, picked up again
    for f in d.in_flight():
        d.feed(TaskCompleted(dispatch_id=f.dispatch_id, output=f.args[0] * 10))
    assert d.state.status is RunStatus.COMPLETED and d.state.output == [10, 20]


def test_retry_of_a_failed_failure_handler_runs_its_node_then_the_parent_goes_on() -> None:
    s = spec(
        "w",
        [("a", task("a", handlers=[handler("any", "fix")])), ("end", exit_("done"))],
        threads={"fix": [("mend", task("mend")), ("end", exit_())]},
    )
    d = Driver(s)
    d.break_("a", "broken", business=True)
    d.break_("mend")
    assert d.state.status is RunStatus.FAILED
    d.feed(Retry())
    d.finish("mend")
    assert d.state.status is RunStatus.COMPLETED and d.state.output == "done"


def test_retry_of_a_failed_compensation_runs_it_again_and_goes_on() -> None:
    s = spec(
        "w",
        [
            ("a", task("a", compensation=undo("undo-a", retries=0))),
            ("b", task("b", compensation=undo("undo-b", retries=0))),
            ("f", fail("boom")),
        ],
    )
    d = Driver(s)
    d.finish("a")
    d.finish("b")
    d.break_("undo-b")
    assert d.state.status is RunStatus.FAILED and d.state.compensation_failed
    d.feed(Retry())
    again = d.running("undo-b")
    assert again.attempt == 2 and d.state.status is RunStatus.RUNNING and not d.state.compensation_failed
    d.finish("undo-b")
    d.finish("undo-a")
    assert d.state.status is RunStatus.COMPENSATED
    assert d.state.failure is not None and d.state.failure.name == "boom"


def test_retry_during_a_halt_of_a_child_keeps_the_child_frozen_until_resume() -> None:
    s = spec("w", [("z", sleep(5)), ("a", task("a")), ("end", exit_())])
    d = Driver(s)
    d.feed(Halt())
    d.feed(Resume())
    d.fire()
    assert d.running("a")


@pytest.mark.parametrize(
    ("body", "command", "reason"),
    [
        ([("end", exit_(1))], Retry(), "it completed; there is nothing to retry"),
        ([("end", exit_(1))], Resume(), "it already finished"),
        ([("end", exit_(1))], Halt(), "it already finished"),
        ([("end", exit_(1))], Cancel(), "it already finished"),
        ([("t", task("t")), ("end", exit_())], Resume(), "it is not halted"),
        ([("t", task("t")), ("end", exit_())], Retry(), "only a FAILED run can be retried"),
        ([("f", fail("nope"))], Retry(), "it failed at fail node 'f', which raises 'nope' every time"),
        ([("f", fail("nope"))], Resume(), "a failed run is retried"),
        ([("x", task("t", op("a", "/", 2))), ("end", exit_())], Retry(), "it failed with EXPRESSION_ERROR"),
    ],
)
def test_commands_that_make_no_sense_are_refused_with_a_reason(
    body: list[tuple[str, dict[str, object]]], command: OperatorInput, reason: str
) -> None:
    d = Driver(spec("w", body))
    found = refusal(d.state, d.spec, command)
    assert found is not None and reason in found
    result = step(d.state, d.spec, command, 2000.0)
    assert result.journal == [] and result.effects == []


def test_compensated_and_cancelled_runs_cannot_be_retried() -> None:
    s = spec("w", [("a", task("a", compensation=undo("undo-a"))), ("f", fail("boom"))])
    d = Driver(s)
    d.finish("a")
    d.finish("undo-a")
    assert refusal(d.state, d.spec, Retry()) == "its completed steps were compensated (undone); start a new run instead"
    d2 = Driver(THREE)
    d2.feed(Cancel())
    assert refusal(d2.state, d2.spec, Retry()) == "it was cancelled; start a new run instead"
    d3 = Driver(THREE)
    d3.feed(Halt())
    assert refusal(d3.state, d3.spec, Halt()) == "it is already halted; resume it to let it go on"
    d3.feed(Cancel(compensate=True))
    assert d3.state.status is RunStatus.CANCELLED
    assert all(t.status is not ThreadStatus.RUNNING for t in d3.state.threads.values())
