"""The pure interpreter: node kinds, edges, mutations, loops, outputs.

No database and no clock: time is an argument.
"""

from __future__ import annotations

import pytest
from rtdrive import Driver
from rtspec import call, edge, exit_, fail, lit, mut, nop, op, out, spawn, spec, task, var, variable

from wfc.runtime.errors import InputError
from wfc.runtime.interpreter import STEP_BUDGET, DispatchTask, RunFinished, step
from wfc.runtime.interpreter.state import RunStatus, ThreadStatus


def test_start_runs_until_the_first_task_and_dispatches_it() -> None:
    s = spec(
        "w",
        [("charge", task("charge-card", var("amount"), "EUR")), ("end", exit_())],
        variables={"amount": variable("float", required=True)},
    )
    d = Driver(s, {"amount": 10})
    dispatch = d.dispatch()
    assert dispatch == DispatchTask(
        dispatch_id="r1/0/charge/1#1",
        idempotency_key="r1/0/charge/1",
        run_id="r1",
        workflow="w",
        thread=0,
        node="charge",
        task="charge-card",
        args=[10.0, "EUR"],
        attempt=1,
        timeout=None,
    )
    assert d.state.status is RunStatus.RUNNING
    assert d.state.root.node == "charge"
    assert d.kinds() == ["RUN_STARTED", "NODE_ENTERED", "TASK_DISPATCHED"]
    assert d.state.variables == {"amount": 10.0}  # an int input of a float variable becomes a float


def test_task_output_feeds_later_nodes_and_exit_output_completes_the_run() -> None:
    s = spec("w", [("a", task("add", 1, 2)), ("b", task("add", out("a"), 10)), ("end", exit_(out("b")))])
    d = Driver(s)
    d.complete(3)
    assert d.dispatch().args == [3, 10]
    d.complete(13, at=1005.0)
    assert d.state.status is RunStatus.COMPLETED
    assert d.state.output == 13
    assert d.state.updated_at == 1005.0
    assert RunFinished(status=RunStatus.COMPLETED) in d.last.effects
    assert d.kinds()[-2:] == ["NODE_ENTERED", "RUN_COMPLETED"]


def test_step_does_not_change_the_state_it_was_given() -> None:
    s = spec("w", [("a", task("t")), ("end", exit_())])
    d = Driver(s)
    before = d.state
    d.complete("x")
    assert before.status is RunStatus.RUNNING and before.root.outputs == {}
    assert d.state.status is RunStatus.COMPLETED


def test_first_true_edge_wins_and_the_edge_without_condition_is_tried_last() -> None:
    branch = nop(edges=[edge("fallback"), edge("big", op(var("n"), ">", 10)), edge("bigger", op(var("n"), ">", 5))])
    s = spec(
        "w",
        [("b", branch), ("fallback", exit_("fallback")), ("big", exit_("big")), ("bigger", exit_("bigger"))],
        variables={"n": variable("int")},
    )
    assert Driver(s, {"n": 20}).state.output == "big"
    assert Driver(s, {"n": 7}).state.output == "bigger"
    assert Driver(s, {"n": 1}).state.output == "fallback"


def test_no_matching_edge_is_an_expression_error_on_the_node() -> None:
    s = spec("w", [("b", nop(edges=[edge("end", op(1, "==", 2))])), ("end", exit_())])
    d = Driver(s)
    assert d.state.status is RunStatus.FAILED
    assert d.state.failure is not None
    assert (d.state.failure.name, d.state.failure.node) == ("EXPRESSION_ERROR", "b")
    assert "no edge out of node 'b' applies" in d.state.failure.message


def test_mutations_apply_in_order_on_the_edge_taken() -> None:
    s = spec(
        "w",
        [
            (
                "a",
                task(
                    "t",
                    edges=[
                        edge(
                            "end",
                            None,
                            mut("total", "add", out("a", "n")),
                            mut("log", "append", "a"),
                            mut("log", "extend", lit(["b", "c"])),
                            mut("log", "remove", "b"),
                            mut("meta", "remove_key", "x"),
                            mut("total", "multiply", 2),
                            mut("name", "assign", call("upper", "x")),
                        )
                    ],
                ),
            ),
            ("end", exit_(var("total"))),
        ],
        variables={
            "total": variable("int", default=1),
            "log": variable("json"),
            "meta": variable("json", default={"x": 1, "y": 2}),
            "name": variable("str"),
        },
    )
    d = Driver(s)
    d.complete({"n": 4})
    assert d.state.variables == {"total": 10, "log": ["a", "c"], "meta": {"y": 2}, "name": "X"}
    sets = d.entries("VARIABLE_SET")
    assert [e["var"] for e in sets] == ["total", "log", "log", "log", "meta", "total", "name"]
    assert d.state.output == 10


def test_a_failing_mutation_rolls_back_the_whole_edge() -> None:
    s = spec(
        "w",
        [("a", task("t", edges=[edge("end", None, mut("n", "add", 1), mut("n", "assign", "text"))])), ("end", exit_())],
        variables={"n": variable("int", default=1)},
    )
    d = Driver(s)
    d.complete(None)
    assert d.state.status is RunStatus.FAILED
    assert d.state.failure is not None and d.state.failure.name == "EXPRESSION_ERROR"
    assert "expected int, got str" in d.state.failure.message
    assert d.state.variables == {"n": 1}


def test_loops_revisit_nodes_with_new_idempotency_keys() -> None:
    s = spec(
        "w",
        [
            ("body", task("t", var("i"), edges=[edge("check", None, mut("i", "add", 1))])),
            ("check", nop(edges=[edge("body", op(var("i"), "<", 3)), edge("end")])),
            ("end", exit_(var("i"))),
        ],
        variables={"i": variable("int", default=0)},
    )
    d = Driver(s)
    keys = []
    for expected in range(3):
        dispatch = d.dispatch()
        assert dispatch.args == [expected]
        keys.append(dispatch.idempotency_key)
        d.complete(None)
    assert keys == ["r1/0/body/1", "r1/0/body/2", "r1/0/body/3"]
    assert d.state.output == 3


def test_a_loop_that_never_waits_fails_with_loop_limit() -> None:
    s = spec(
        "w",
        # The way out is never taken at run time (a spec without one is refused).
        [("spin", nop(edges=[edge("end", op(var("i"), "<", 0)), edge("spin", None, mut("i", "add", 1))])),
         ("end", exit_())],
        variables={"i": variable("int", default=0)},
    )
    d = Driver(s)
    assert d.state.status is RunStatus.FAILED
    assert d.state.failure is not None and d.state.failure.name == "LOOP_LIMIT"
    assert d.state.variables["i"] == STEP_BUDGET - 1


def test_expression_errors_in_task_arguments_fail_the_node() -> None:
    s = spec("w", [("a", task("t", var("order", "id"))), ("end", exit_())], variables={"order": variable("json")})
    d = Driver(s, {"order": {"no-id": 1}})
    failure = d.state.failure
    assert failure is not None
    assert (failure.name, failure.node, failure.kind) == ("EXPRESSION_ERROR", "a", "error")
    assert "has no key 'id'" in failure.message
    assert d.last.effects == [RunFinished(status=RunStatus.FAILED)]


def test_fail_node_raises_a_business_exception_with_content() -> None:
    s = spec(
        "w",
        [("f", fail("out-of-stock", "nothing left", content=var("sku"))), ("end", exit_())],
        variables={"sku": variable("str", default="A1")},
    )
    d = Driver(s)
    failure = d.state.failure
    assert failure is not None
    assert (failure.name, failure.message, failure.content, failure.kind) == (
        "out-of-stock",
        "nothing left",
        "A1",
        "exception",
    )
    assert d.kinds()[-1] == "RUN_FAILED"


def test_inputs_are_checked_against_declarations_all_problems_at_once() -> None:
    s = spec(
        "w",
        [("end", exit_())],
        variables={"id": variable("str", required=True), "n": variable("int"), "flag": variable("bool", default=False)},
    )
    with pytest.raises(InputError) as info:
        Driver(s, {"n": "3", "bogus": 1})
    assert info.value.workflow == "w"
    assert dict(info.value.problems).keys() == {"bogus", "id", "n"}
    assert info.value.variable == "bogus"
    assert "required str input is missing" in str(info.value)
    assert Driver(s, {"id": "x"}).state.variables == {"id": "x", "n": None, "flag": False}


def test_journal_masks_masked_variables_and_outputs_that_flow_into_them() -> None:
    s = spec(
        "w",
        [
            (
                "tok",
                task(
                    "get-token",
                    var("card"),
                    var("amount"),
                    edges=[edge("end", None, mut("token", "assign", out("tok")))],
                ),
            ),
            ("end", exit_(var("amount"))),
        ],
        variables={
            "card": variable("str", masked=True),
            "token": variable("str", masked=True),
            "amount": variable("int"),
        },
    )
    d = Driver(s, {"card": "4111", "amount": 5})
    # While the run goes on, its state keeps the real values: the run needs them.
    assert d.state.variables["card"] == "4111"
    d.complete("secret-token")
    text = repr(d.journal)
    assert "4111" not in text and "secret-token" not in text
    assert d.entries("RUN_STARTED")[0]["inputs"] == {"card": "***", "amount": 5}
    assert d.entries("TASK_DISPATCHED")[0]["args"] == ["***", 5]
    assert d.entries("TASK_COMPLETED")[0]["output"] == "***"
    assert d.entries("VARIABLE_SET")[0]["value"] == "***"
    # A completed run can never use them again: its state forgets them.
    assert d.state.variables == {"card": "***", "token": "***", "amount": 5}
    assert "4111" not in repr(d.state) and "secret-token" not in repr(d.state)
    assert d.last.effects[-1] == RunFinished(status=RunStatus.COMPLETED)


def test_a_spawned_child_runs_and_the_parent_moves_on_at_once() -> None:
    s = spec("w", [("s", spawn("child")), ("end", exit_())], threads={"child": [("c", task("t")), ("end", exit_())]})
    d = Driver(s)
    # The parent reached its exit while the child was still running: the
    # child is halted with the run (no thread outlives the run).
    assert d.state.status is RunStatus.COMPLETED
    assert d.state.threads[1].status is ThreadStatus.HALTED and d.state.threads[1].halt_reason == "run-ended"
    assert "THREAD_HALTED" in d.kinds()


def test_inputs_after_the_run_finished_change_nothing() -> None:
    s = spec("w", [("end", exit_(1))])
    d = Driver(s)
    from wfc.runtime.interpreter import Cancel

    result = step(d.state, s, Cancel(), 2000.0)
    assert result.effects == [] and result.journal == []
    assert result.state.status is RunStatus.COMPLETED


def test_a_compensate_node_with_nothing_to_undo_ends_the_run_compensated() -> None:
    s = spec("w", [("undo", {"kind": "compensate", "edges": []})])
    d = Driver(s)
    assert d.state.status is RunStatus.COMPENSATED and d.state.failure is None
    assert d.kinds()[-1] == "RUN_COMPENSATED"
