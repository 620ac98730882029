"""Child threads in the pure interpreter: spawning, variable scopes,
``wait_for_threads`` strategies, child failures, the fan-out cap, and no
thread outliving its parent or the run."""

from __future__ import annotations

from typing import Any

import pytest
from rtdrive import Driver
from rtspec import (
    exit_,
    fail,
    for_each,
    handler,
    mut,
    nop,
    out,
    spawn,
    spec,
    task,
    thread,
    var,
    variable,
    wait,
    wait_threads,
)

from wfc.runtime.interpreter import AbandonTask, Limits, TaskCompleted, TaskFailed
from wfc.runtime.interpreter.state import RunStatus, ThreadStatus, ThreadsWait
from wfc.specs import WorkflowSpec

WORKER = thread(
    [("t", task("work", var("x"))), ("end", exit_(out("t")))],
    variables={"x": variable("int", required=True)},
)


def two_children(strategy: str = "ALL", timeout: float | None = None) -> WorkflowSpec:
    return spec(
        "w",
        [
            ("a", spawn("worker", x=1)),
            ("b", spawn("worker", x=2)),
            ("w", wait_threads("a", "b", strategy=strategy, timeout=timeout)),
            ("end", exit_(out("w"))),
        ],
        threads={"worker": WORKER},
    )


def test_siblings_have_their_tasks_in_flight_at_the_same_time() -> None:
    d = Driver(two_children())
    flying = d.in_flight()
    assert [(f.task, f.args, f.thread) for f in flying] == [("work", [1], 1), ("work", [2], 2)]
    assert flying[0].idempotency_key == "r1/1/t/1" and flying[1].idempotency_key == "r1/2/t/1"
    assert isinstance(d.state.root.wait, ThreadsWait) and d.state.root.wait.children == [1, 2]


def test_outputs_come_back_in_spawn_order_whatever_the_completion_order() -> None:
    d = Driver(two_children())
    first, second = d.in_flight()
    d.feed(TaskCompleted(dispatch_id=second.dispatch_id, output="two"))
    assert d.state.status is RunStatus.RUNNING
    d.feed(TaskCompleted(dispatch_id=first.dispatch_id, output="one"))
    assert d.state.status is RunStatus.COMPLETED and d.state.output == ["one", "two"]
    assert d.entries("THREADS_COMPLETED") == [{"strategy": "ALL", "completed": [1, 2]}]


def test_children_read_and_write_the_variables_above_them_but_not_their_siblings() -> None:
    writer = thread(
        [("w", nop(edges=[{"to": "end", "mutations": [mut("total", "add", var("mine"))]}])), ("end", exit_())],
        variables={"mine": variable("int", default=5)},
    )
    nosy = thread([("t", task("peek", var("mine"))), ("end", exit_())])
    s = spec(
        "w",
        [("a", spawn("writer")), ("b", spawn("nosy")), ("w", wait_threads("a", "b")), ("end", exit_(var("total")))],
        variables={"total": variable("int", default=1)},
        threads={"writer": writer, "nosy": nosy},
    )
    d = Driver(s)
    assert d.state.variables["total"] == 6  # the child changed the workflow variable
    nosy_thread = d.state.threads[2]
    assert nosy_thread.status is ThreadStatus.FAILED
    assert nosy_thread.failure is not None and "variable 'mine' is not visible in thread 'nosy'" in (
        nosy_thread.failure.message
    )


def test_all_fails_as_soon_as_one_child_fails_and_halts_the_others() -> None:
    d = Driver(two_children())
    first, _second = d.in_flight()
    d.feed(TaskFailed(dispatch_id=first.dispatch_id, name="TASK_ERROR", message="disk full"))
    assert d.state.status is RunStatus.FAILED
    failure = d.state.failure
    assert failure is not None and failure.name == "CHILD_FAILURE" and failure.node == "w"
    assert "child thread 'worker' (#1) failed with TASK_ERROR at node 't'" in failure.message
    assert failure.content["name"] == "TASK_ERROR"
    sibling = d.state.threads[2]
    assert sibling.status is ThreadStatus.HALTED and sibling.halt_reason == "wait-failed"


def test_a_child_business_exception_reaches_the_parent_under_its_own_name() -> None:
    picky = thread([("f", fail("out-of-stock", "no SKU-1", var("x")))], variables={"x": variable("int")})
    s = spec("w", [("a", spawn("picky", x=7)), ("w", wait_threads("a")), ("end", exit_())], threads={"picky": picky})
    d = Driver(s)
    failure = d.state.failure
    assert failure is not None
    assert (failure.name, failure.kind, failure.message, failure.content, failure.node) == (
        "out-of-stock",
        "exception",
        "no SKU-1",
        7,
        "w",
    )


def test_a_handler_on_the_wait_takes_child_failure_and_the_parent_goes_on() -> None:
    s = spec(
        "w",
        [
            ("a", spawn("worker", x=1)),
            ("w", wait_threads("a", handlers=[handler("error", "apologise", "CHILD_FAILURE")])),
            ("end", exit_("recovered")),
        ],
        threads={"worker": WORKER, "apologise": [("sorry", task("email")), ("end", exit_())]},
    )
    d = Driver(s)
    d.break_("work")
    d.finish("email")
    assert d.state.status is RunStatus.COMPLETED and d.state.output == "recovered"


def test_first_takes_the_first_child_to_end_and_halts_the_rest() -> None:
    d = Driver(two_children("FIRST"))
    _first, second = d.in_flight()
    d.feed(TaskCompleted(dispatch_id=second.dispatch_id, output="fast"))
    assert d.state.status is RunStatus.COMPLETED and d.state.output == [None, "fast"]
    assert d.state.threads[1].status is ThreadStatus.HALTED and d.state.threads[1].halt_reason == "wait-finished"


def test_first_fails_when_the_first_child_to_end_failed() -> None:
    d = Driver(two_children("FIRST"))
    d.feed(TaskFailed(dispatch_id=d.in_flight()[1].dispatch_id, name="declined", business=True))
    assert d.state.failure is not None and d.state.failure.name == "declined"


def test_any_takes_the_first_success_and_fails_only_when_all_failed() -> None:
    d = Driver(two_children("ANY"))
    first, second = d.in_flight()
    d.feed(TaskFailed(dispatch_id=first.dispatch_id, name="TASK_ERROR", message="nope"))
    assert d.state.status is RunStatus.RUNNING  # one child still may succeed
    d.feed(TaskCompleted(dispatch_id=second.dispatch_id, output="ok"))
    assert d.state.status is RunStatus.COMPLETED and d.state.output == [None, "ok"]

    d2 = Driver(two_children("ANY"))
    first, second = d2.in_flight()
    d2.feed(TaskFailed(dispatch_id=second.dispatch_id, name="TASK_ERROR", message="one"))
    d2.feed(TaskFailed(dispatch_id=first.dispatch_id, name="TASK_ERROR", message="two"))
    failure = d2.state.failure
    assert failure is not None and failure.name == "CHILD_FAILURE" and "(#2)" in failure.message  # the first to fail


def test_a_wait_for_threads_timeout_halts_the_children_and_fails_with_timeout() -> None:
    d = Driver(two_children(timeout=30))
    [timer] = d.pending_timers()
    assert timer.due == 1030.0
    flying = d.in_flight()
    d.fire(timer)
    failure = d.state.failure
    assert (
        failure is not None
        and failure.name == "TIMEOUT"
        and "threads [1, 2] did not finish within 30 s" in (failure.message)
    )
    assert all(d.state.threads[n].halt_reason == "wait-failed" for n in (1, 2))
    assert all(AbandonTask(dispatch_id=f.dispatch_id) in d.effects for f in flying)


def for_each_spec(items: Any = None, strategy: str = "ALL") -> WorkflowSpec:
    item_thread = thread(
        [("pick", task("pick", var("item", "sku"), var("order"))), ("end", exit_(out("pick")))],
        variables={"item": variable("json", required=True), "order": variable("str")},
    )
    return spec(
        "w",
        [
            ("each", for_each("item-thread", var("items") if items is None else items, order=var("order-id"))),
            ("w", wait_threads("each", strategy=strategy)),
            ("end", exit_(out("w"))),
        ],
        variables={"items": variable("json"), "order-id": variable("str", default="o-1")},
        threads={"item-thread": item_thread},
    )


def test_for_each_starts_one_child_per_item_with_the_item_and_the_inputs() -> None:
    d = Driver(for_each_spec(), {"items": [{"sku": "A"}, {"sku": "B"}, {"sku": "C"}]})
    assert [f.args for f in d.in_flight()] == [["A", "o-1"], ["B", "o-1"], ["C", "o-1"]]
    for dispatch in reversed(d.in_flight()):
        d.feed(TaskCompleted(dispatch_id=dispatch.dispatch_id, output=dispatch.args[0].lower()))
    assert d.state.output == ["a", "b", "c"]


def test_for_each_over_an_empty_list_waits_for_nothing() -> None:
    d = Driver(for_each_spec(), {"items": []})
    assert d.state.status is RunStatus.COMPLETED and d.state.output == []


def test_for_each_over_a_non_list_is_an_expression_error() -> None:
    d = Driver(for_each_spec(), {"items": {"sku": "A"}})
    failure = d.state.failure
    assert failure is not None and failure.name == "EXPRESSION_ERROR" and failure.node == "each"
    assert "spawn_thread_for_each needs a list of items, got object" in failure.message


def test_a_missing_required_child_input_fails_the_spawn_node() -> None:
    s = spec("w", [("a", spawn("worker")), ("w", wait_threads("a")), ("end", exit_())], threads={"worker": WORKER})
    d = Driver(s)
    failure = d.state.failure
    assert failure is not None and failure.name == "EXPRESSION_ERROR" and failure.node == "a"
    assert "cannot start thread 'worker': 'x': required int input is missing" in failure.message


def test_the_fan_out_cap_queues_extra_children_until_a_slot_frees() -> None:
    items = [{"sku": s} for s in "ABCDE"]
    d = Driver(for_each_spec(), {"items": items}, limits=Limits(max_children=2))
    assert [f.args[0] for f in d.in_flight()] == ["A", "B"]
    statuses = [d.state.threads[n].status for n in range(1, 6)]
    assert statuses == [ThreadStatus.RUNNING] * 2 + [ThreadStatus.QUEUED] * 3
    assert len(d.entries("THREAD_QUEUED")) == 3 and d.entries("THREAD_QUEUED")[0]["cap"] == 2
    while d.state.status is RunStatus.RUNNING:
        flying = d.in_flight()
        assert len(flying) <= 2
        d.feed(TaskCompleted(dispatch_id=flying[-1].dispatch_id, output=flying[-1].args[0]))
    assert d.state.status is RunStatus.COMPLETED and d.state.output == list("ABCDE")


def test_a_thread_that_ends_halts_the_threads_it_started() -> None:
    # The child spawns a grandchild and ends without waiting for it.
    child = [("g", spawn("grandchild")), ("end", exit_("child done"))]
    grandchild = [("slow", task("slow")), ("end", exit_())]
    s = spec(
        "w",
        [("c", spawn("child")), ("w", wait_threads("c")), ("nap", wait("go")), ("end", exit_())],
        threads={"child": child, "grandchild": grandchild},
    )
    d = Driver(s)
    grand = d.state.threads[2]
    assert grand.status is ThreadStatus.HALTED and grand.halt_reason == "parent-ended"
    assert d.in_flight() == [] and d.state.root.node == "nap"


def test_when_the_run_ends_no_child_is_left_running() -> None:
    s = spec("w", [("a", spawn("worker", x=1)), ("t", task("main")), ("end", exit_())], threads={"worker": WORKER})
    d = Driver(s)
    worker_dispatch = d.running("work")
    d.finish("main")
    assert d.state.status is RunStatus.COMPLETED
    assert d.state.threads[1].status is ThreadStatus.HALTED
    assert AbandonTask(dispatch_id=worker_dispatch.dispatch_id) in d.last.effects
    # A late result of the halted child changes nothing.
    late = d.feed(TaskCompleted(dispatch_id=worker_dispatch.dispatch_id, output=1))
    assert late.journal == [] and late.effects == []


@pytest.mark.parametrize("strategy", ["ALL", "FIRST", "ANY"])
def test_every_strategy_waits_while_no_child_ended(strategy: str) -> None:
    d = Driver(two_children(strategy))
    assert d.state.status is RunStatus.RUNNING and isinstance(d.state.root.wait, ThreadsWait)
    assert d.state.root.wait.strategy == strategy
