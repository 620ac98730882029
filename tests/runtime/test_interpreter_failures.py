"""Failure handlers (LittleHorse semantics): the handler thread runs with a
``failure`` variable, then the failed thread continues after the node."""

from __future__ import annotations

from rtdrive import Driver
from rtspec import edge, exit_, fail, handler, mut, nop, op, out, spec, task, thread, var, variable

from wfc.runtime.interpreter.state import HandlerWait, RunStatus, ThreadStatus

FAILURE_VAR = {"failure": variable("json")}


def _spec(handlers: list[dict[str, object]], handler_body: list[tuple[str, dict[str, object]]] | None = None):
    return spec(
        "w",
        [
            ("charge", task("charge", handlers=handlers)),
            ("after", task("after")),
            ("end", exit_(var("log"))),
        ],
        variables={"log": variable("json", default=[])},
        threads={
            "recover": thread(
                handler_body
                or [("note", nop(edges=[edge("end", None, mut("log", "append", var("failure")))])), ("end", exit_())],
                variables=FAILURE_VAR,
            )
        },
    )


def test_handle_error_runs_the_handler_then_continues_after_the_node() -> None:
    d = Driver(_spec([handler("error", "recover")]))
    d.fail_task(message="boom")
    assert d.state.root.status is ThreadStatus.RUNNING
    after = d.dispatch()
    assert after.node == "after" and after.thread == 0
    assert d.state.threads[1].status is ThreadStatus.COMPLETED
    assert d.state.threads[1].kind == "handler" and d.state.threads[1].parent == 0
    d.complete(None)
    assert d.state.status is RunStatus.COMPLETED
    [logged] = d.state.output
    assert logged["name"] == "TASK_ERROR" and logged["node"] == "charge" and "boom" in logged["message"]
    kinds = d.kinds()
    assert kinds.index("FAILURE_HANDLER_STARTED") < kinds.index("THREAD_STARTED") < kinds.index("FAILURE_HANDLED")


def test_handlers_match_on_kind_and_name_first_match_wins() -> None:
    s = _spec([handler("exception", "recover", "card-declined"), handler("error", "recover")])
    d = Driver(s)
    d.fail_task(name="card-declined", business=True)
    assert d.dispatch().node == "after"

    d2 = Driver(s)
    d2.fail_task(name="other-exception", business=True)
    assert d2.state.status is RunStatus.FAILED  # no handler for that exception name

    d3 = Driver(_spec([handler("error", "recover", "TIMEOUT")]))
    d3.fail_task(name="TASK_ERROR")
    assert d3.state.status is RunStatus.FAILED

    d4 = Driver(_spec([handler("any", "recover")]))
    d4.fail_task(name="x", business=True)
    assert d4.dispatch().node == "after"


def test_handle_exception_does_not_take_technical_errors() -> None:
    d = Driver(_spec([handler("exception", "recover")]))
    d.fail_task(name="TASK_ERROR")
    assert d.state.status is RunStatus.FAILED
    assert d.state.failure is not None and d.state.failure.node == "charge"


def test_a_handler_that_waits_keeps_the_failed_thread_waiting() -> None:
    body = [("page", task("page-oncall", out("page") if False else var("failure", "name"))), ("end", exit_())]
    d = Driver(_spec([handler("error", "recover")], body))
    d.fail_task()
    page = d.dispatch()
    assert page.thread == 1 and page.args == ["TASK_ERROR"]
    assert isinstance(d.state.root.wait, HandlerWait)
    assert d.state.root.wait.handler == 1
    d.complete(None)
    assert d.dispatch().node == "after"


def test_a_failing_handler_fails_the_thread_with_its_own_failure() -> None:
    body = [("give-up", fail("unrecoverable", "handler gave up"))]
    d = Driver(_spec([handler("error", "recover")], body))
    d.fail_task()
    failure = d.state.failure
    assert d.state.status is RunStatus.FAILED
    assert failure is not None
    assert (failure.name, failure.thread, failure.node) == ("unrecoverable", "recover", "give-up")
    assert d.state.threads[1].status is ThreadStatus.FAILED


def test_unhandled_failure_ends_the_run_failed_with_name_message_node() -> None:
    d = Driver(_spec([]))
    d.fail_task(name="card-declined", message="insufficient funds", business=True)
    failure = d.state.failure
    assert failure is not None
    assert (failure.name, failure.message, failure.node, failure.thread) == (
        "card-declined",
        "insufficient funds",
        "charge",
        "main",
    )
    assert d.kinds()[-1] == "RUN_FAILED"
    assert d.entries("RUN_FAILED")[0]["error"] == "card-declined"


def test_expression_errors_on_edges_can_be_handled_once() -> None:
    s = spec(
        "w",
        [
            ("check", nop(edges=[edge("end", op(var("n"), ">", 1))], handlers=[handler("error", "recover")])),
            ("end", exit_()),
        ],
        variables={"n": variable("json", default="text")},
        threads={"recover": thread([("end", exit_())], variables=FAILURE_VAR)},
    )
    d = Driver(s)
    # The handler ran; continuing along the same edges fails again, and that
    # second failure is not handled (it would only loop).
    assert d.state.status is RunStatus.FAILED
    assert d.state.failure is not None and d.state.failure.name == "EXPRESSION_ERROR"
    assert d.kinds().count("FAILURE_HANDLER_STARTED") == 1
