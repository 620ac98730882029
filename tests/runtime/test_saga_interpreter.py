"""Sagas in the pure interpreter: compensations of completed steps run in
reverse order of completion (across threads), each a durable dispatch with
its own key and retries; the run ends COMPENSATED, or FAILED and flagged when
a compensation keeps failing."""

from __future__ import annotations

from rtdrive import Driver
from rtspec import (
    compensate,
    exit_,
    fail,
    handler,
    out,
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

from wfc.runtime.interpreter import AbandonTask, Halt, Resume, TaskCompleted, TaskFailed
from wfc.runtime.interpreter.state import RunStatus, ThreadStatus
from wfc.specs import WorkflowSpec


def checkout(**handlers: str) -> WorkflowSpec:
    """charge → reserve → ship, each undoable; ``handlers`` maps a node to a handler thread."""

    def on(node: str) -> list[dict[str, object]]:
        return [handler("any", handlers[node])] if node in handlers else []

    return spec(
        "w",
        [
            (
                "charge",
                task("charge", retries=0, compensation=undo("refund", out("charge", "id")), handlers=on("charge")),
            ),
            ("reserve", task("reserve", compensation=undo("release", out("reserve", "id"), retries=2))),
            ("ship", task("ship", handlers=on("ship"))),
            ("end", exit_("shipped")),
        ],
        threads={"undo-all": [("tell", task("notify")), ("c", compensate())]},
    )


def test_an_unhandled_failure_compensates_completed_steps_in_reverse_order() -> None:
    d = Driver(checkout())
    d.finish("charge", {"id": "pay-1"})
    d.finish("reserve", {"id": "rsv-1"})
    d.break_("ship", "carrier-down", business=True)
    release = d.running("release")
    assert (release.args, release.idempotency_key, release.node, release.attempt) == (
        ["rsv-1"],
        "r1/0/reserve/1/compensate",
        "reserve",
        1,
    )
    assert d.state.status is RunStatus.RUNNING and d.state.root.status is ThreadStatus.FAILED
    d.finish("release")
    refund = d.running("refund")
    assert (refund.args, refund.idempotency_key) == (["pay-1"], "r1/0/charge/1/compensate")
    d.finish("refund")
    assert d.state.status is RunStatus.COMPENSATED
    failure = d.state.failure
    assert failure is not None and (failure.name, failure.node) == ("carrier-down", "ship")
    assert d.entries("COMPENSATION_PLANNED")[0]["steps"] == [
        {"task": "release", "node": "reserve", "thread": 0},
        {"task": "refund", "node": "charge", "thread": 0},
    ]
    assert d.entries("RUN_COMPENSATED")[-1]["compensated"] == ["release", "refund"]


def test_a_failure_with_nothing_to_compensate_ends_failed() -> None:
    d = Driver(checkout())
    d.break_("charge", "card-declined", business=True)
    assert d.state.status is RunStatus.FAILED and "COMPENSATION_STARTED" not in d.kinds()


def test_a_compensation_retries_on_its_own_timer_then_succeeds() -> None:
    d = Driver(checkout())
    d.finish("charge", {"id": "pay-1"})
    d.finish("reserve", {"id": "rsv-1"})
    d.break_("ship")
    d.break_("release", message="warehouse offline")
    [timer] = d.pending_timers()
    assert d.entries("COMPENSATION_FAILED")[0]["next_attempt"] == 2
    d.fire(timer)
    assert d.running("release").attempt == 2
    assert d.running("release").dispatch_id == "r1/0/reserve/1/compensate#2"
    d.finish("release")
    d.finish("refund")
    assert d.state.status is RunStatus.COMPENSATED


def test_a_compensation_that_keeps_failing_ends_the_run_failed_and_flagged() -> None:
    d = Driver(checkout())
    d.finish("charge", {"id": "pay-1"})
    d.finish("reserve", {"id": "rsv-1"})
    d.break_("ship")
    for _ in range(3):  # the first attempt and its 2 retries
        d.break_("release", message="warehouse offline")
        if d.pending_timers():
            d.fire()
    assert d.state.status is RunStatus.FAILED and d.state.compensation_failed
    failure = d.state.failure
    assert failure is not None and failure.name == "COMPENSATION_FAILED" and failure.node == "reserve"
    assert "compensation 'release' of step 'reserve' failed" in failure.message
    assert failure.content["not_run"] == [{"task": "refund", "node": "charge", "thread": 0}]
    assert failure.content["cause"]["name"] == "TASK_ERROR"
    assert d.entries("COMPENSATION_SKIPPED") == [{"task": "refund"}]
    assert d.entries("COMPENSATION_FAILED")[-1]["final"] is True
    assert not any(e.task == "refund" for e in d.in_flight())


def test_a_business_exception_of_a_compensation_is_not_retried() -> None:
    d = Driver(checkout())
    d.finish("charge", {"id": "pay-1"})
    d.finish("reserve", {"id": "rsv-1"})
    d.break_("ship")
    d.break_("release", "already-shipped", business=True)
    assert d.state.status is RunStatus.FAILED and d.state.compensation_failed


def test_a_compensate_node_in_a_handler_compensates_and_ends_compensated() -> None:
    d = Driver(checkout(ship="undo-all"))
    d.finish("charge", {"id": "pay-1"})
    d.finish("reserve", {"id": "rsv-1"})
    d.break_("ship", "no-carrier", business=True)
    d.finish("notify")
    d.finish("release")
    d.finish("refund")
    assert d.state.status is RunStatus.COMPENSATED
    failure = d.state.failure
    assert failure is not None and (failure.name, failure.node) == ("no-carrier", "ship")  # the handled failure
    assert [e["task"] for e in d.entries("COMPENSATION_DISPATCHED")] == ["release", "refund"]


def test_compensations_run_in_reverse_completion_order_across_threads() -> None:
    worker = thread(
        [("book", task("book", var("x"), compensation=undo("unbook", var("x")))), ("end", exit_())],
        variables={"x": variable("str", required=True)},
    )
    s = spec(
        "w",
        [
            ("a", spawn("worker", x="A")),
            ("b", spawn("worker", x="B")),
            ("w", wait_threads("a", "b")),
            ("f", fail("changed-mind")),
        ],
        threads={"worker": worker},
    )
    d = Driver(s)
    first, second = d.in_flight()
    d.feed(TaskCompleted(dispatch_id=second.dispatch_id))  # B completes first
    d.feed(TaskCompleted(dispatch_id=first.dispatch_id))
    assert d.running("unbook").args == ["A"]  # the last to complete is undone first
    d.finish("unbook")
    assert d.running("unbook").args == ["B"]
    d.finish("unbook")
    assert d.state.status is RunStatus.COMPENSATED


def test_a_step_still_running_when_compensation_starts_is_awaited_and_compensated() -> None:
    worker = thread(
        [("book", task("book", compensation=undo("unbook"))), ("end", exit_())],
    )
    s = spec(
        "w",
        [("a", spawn("worker")), ("c", task("charge", compensation=undo("refund"))), ("f", fail("oops"))],
        threads={"worker": worker},
    )
    d = Driver(s)
    book = d.running("book")
    d.finish("charge")  # the root then fails at `f`, while `book` still runs
    assert d.state.saga is not None and [x.wait.task for x in d.state.saga.draining] == ["book"]
    assert AbandonTask(dispatch_id=book.dispatch_id) not in d.effects
    assert not any(t.task == "refund" for t in d.in_flight())  # compensation waits for it
    d.feed(TaskCompleted(dispatch_id=book.dispatch_id))
    assert [t.task for t in d.in_flight()] == ["unbook"]  # completed after charge: undone first
    d.finish("unbook")
    d.finish("refund")
    assert d.state.status is RunStatus.COMPENSATED


def test_halting_during_compensation_pauses_it() -> None:
    d = Driver(checkout())
    d.finish("charge", {"id": "pay-1"})
    d.finish("reserve", {"id": "rsv-1"})
    d.break_("ship")
    d.feed(Halt(reason="look first"))
    assert d.state.status is RunStatus.HALTED
    d.finish("release")  # the running compensation finishes and counts
    assert d.in_flight() == []  # but the next one waits for resume
    d.feed(Resume())
    d.finish("refund")
    assert d.state.status is RunStatus.COMPENSATED


def test_a_task_failure_handled_by_a_handler_does_not_compensate() -> None:
    s = spec(
        "w",
        [
            ("charge", task("charge", compensation=undo("refund"))),
            ("w", wait("confirm", timeout=10, handlers=[handler("error", "ignore", "TIMEOUT")])),
            ("end", exit_()),
        ],
        threads={"ignore": [("end", exit_())]},
    )
    d = Driver(s)
    d.finish("charge")
    d.fire()
    assert d.state.status is RunStatus.COMPLETED and d.in_flight() == []


def test_masked_compensation_arguments_are_hidden_in_the_journal() -> None:
    s = spec(
        "w",
        [("charge", task("charge", compensation=undo("refund", var("card")))), ("f", fail("nope"))],
        variables={"card": variable("str", masked=True)},
    )
    d = Driver(s, {"card": "4111"})
    d.finish("charge")
    assert d.running("refund").args == ["4111"]
    assert d.entries("COMPENSATION_DISPATCHED")[0]["args"] == ["***"]


def test_a_compensation_failure_result_for_a_stale_attempt_is_ignored() -> None:
    d = Driver(checkout())
    d.finish("charge", {"id": "pay-1"})
    d.break_("reserve", "out-of-stock", business=True)
    refund = d.running("refund")
    d.finish("refund")
    late = d.feed(TaskFailed(dispatch_id=refund.dispatch_id, name="TASK_ERROR"))
    assert late.journal == [] and d.state.status is RunStatus.COMPENSATED
