"""The compiler and loads agree: every spec the compiler writes loads, and
what loads would refuse is a CompileError at the user's file:line."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

# The helper lives with the DSL tests; with --import-mode=importlib pytest does
# not put that folder on sys.path itself.
sys.path.insert(0, str(Path(__file__).parents[1] / "dsl"))

from sourcemarks import marks_in

from wfc.compiler import CompileError, compile_workflow
from wfc.dsl import DslError, Workflow, WorkflowThread
from wfc.specs import MAX_EXPRESSION_DEPTH, dumps, loads

THIS_FILE = os.path.realpath(__file__)
mark = marks_in(__file__)


def compile_error(fn: Callable[[WorkflowThread], Any]) -> CompileError:
    with pytest.raises(CompileError) as info:
        compile_workflow(Workflow("door", fn))
    return info.value


def where(error: CompileError, index: int = 0) -> tuple[str, int]:
    file, _, line = error.problems[index].source.rpartition(":")
    return os.path.realpath(file), int(line)


def round_trip(fn: Callable[[WorkflowThread], Any]) -> None:
    spec = compile_workflow(Workflow("door", fn))
    assert loads(dumps(spec)) == spec


# --- @node references ---------------------------------------------------------------------------------


def test_a_reference_to_a_missing_node_is_a_compile_error_at_its_line() -> None:
    def flow(wf: WorkflowThread) -> None:
        wf.execute("a")
        wf.do_if(wf.condition("@missing-node.ok"), lambda t: t.execute("b"))  # mark: missing-node

    error = compile_error(flow)
    assert where(error) == (THIS_FILE, mark("missing-node"))
    message = error.problems[0].message
    assert message.startswith("@missing-node: thread 'main' has no node 'missing-node' that runs (its nodes: a, ")
    assert "in: @missing-node.ok" in message


def test_a_reference_to_a_node_of_the_thread_compiles_and_loads() -> None:
    def flow(wf: WorkflowThread) -> None:
        wf.execute("check")
        wf.do_if(wf.condition("@check.ok == true"), lambda t: t.execute("b"))

    round_trip(flow)


def test_a_node_of_another_thread_is_reported_once() -> None:
    def flow(wf: WorkflowThread) -> None:
        charge = wf.execute("charge")
        wf.spawn_thread(lambda t: t.execute("use", charge["id"]), "kid")

    error = compile_error(flow)
    assert len(error.problems) == 1
    assert "node outputs are only visible in their own thread" in error.problems[0].message


# --- long expressions ---------------------------------------------------------------------------------


def chains(terms: int) -> dict[str, Callable[[WorkflowThread], Any]]:
    def condition_text(wf: WorkflowThread) -> None:
        wf.declare_bool("x")
        wf.do_if(wf.condition(" and ".join(["x"] * terms)), lambda t: t.execute("a"))

    def sum_text(wf: WorkflowThread) -> None:
        wf.declare_int("x")
        wf.do_if(wf.condition("x" + " + 1" * (terms - 1) + " > 3"), lambda t: t.execute("a"))

    def operators(wf: WorkflowThread) -> None:
        x = wf.declare_bool("x")
        cond = x == True  # noqa: E712 - builds an expression
        for _ in range(terms - 1):
            cond = cond & (x == True)  # noqa: E712
        wf.do_if(cond, lambda t: t.execute("a"))

    def deep_not(wf: WorkflowThread) -> None:
        wf.declare_bool("x")
        wf.do_while(wf.condition("not " * terms + "x"), lambda t: t.execute("a"))

    return {"condition": condition_text, "sum": sum_text, "operators": operators, "not": deep_not}


@pytest.mark.parametrize("kind", ["condition", "sum", "operators", "not"])
def test_a_500_term_expression_is_a_compile_error_not_a_recursion_error(kind: str) -> None:
    error = compile_error(chains(500)[kind])
    assert len(error.problems) == 1
    assert "levels deep, more than the 256 allowed" in error.problems[0].message
    assert where(error)[0] == THIS_FILE


@pytest.mark.parametrize("kind", ["condition", "operators"])
def test_a_long_expression_within_the_limit_compiles_and_loads(kind: str) -> None:
    round_trip(chains(MAX_EXPRESSION_DEPTH - 2)[kind])


# --- literals -------------------------------------------------------------------------------------------


def test_an_integer_past_64_bits_in_a_condition_is_refused_at_its_column() -> None:
    def flow(wf: WorkflowThread) -> None:
        wf.declare_int("n")
        wf.do_if(wf.condition("n > 99999999999999999999"), lambda t: t.execute("a"))  # mark: big-literal

    error = compile_error(flow)
    assert where(error) == (THIS_FILE, mark("big-literal"))
    assert error.problems[0].message.startswith("integer too large at column 4")


def test_an_object_literal_nested_past_the_limit_is_refused() -> None:
    def flow(wf: WorkflowThread) -> None:
        wf.declare_json("j")
        wf.do_if(wf.condition("j == " + '{"a": ' * 70 + "1" + "}" * 70), lambda t: t.execute("a"))  # mark: deep

    error = compile_error(flow)
    assert where(error) == (THIS_FILE, mark("deep"))
    assert "nested deeper than 64 levels" in error.problems[0].message


# --- loops that never end -------------------------------------------------------------------------


def test_a_loop_without_a_way_out_is_a_compile_error_naming_its_nodes() -> None:
    def flow(wf: WorkflowThread) -> None:
        wf.do_while(wf.condition("true"), lambda t: t.execute("poll"))  # mark: forever

    error = compile_error(flow)
    assert where(error) == (THIS_FILE, mark("forever"))
    assert error.problems[0].message.startswith(
        "nodes $.threads.main.nodes.while, $.threads.main.nodes.poll, $.threads.main.nodes.entrypoint can never "
        "reach an exit, fail or compensate node")


def test_a_loop_is_reported_with_the_other_problems() -> None:
    def two(wf: WorkflowThread) -> None:
        wf.do_if(wf.condition("nope"), lambda t: t.execute("x"))
        wf.do_while(wf.condition("true"), lambda t: t.execute("poll"))

    assert len(compile_error(two).problems) == 2


def test_a_loop_with_a_way_out_compiles_and_loads() -> None:
    def flow(wf: WorkflowThread) -> None:
        def body(t: WorkflowThread) -> None:
            done = t.execute("poll")
            t.do_if(done["ready"] == True, lambda b: b.complete("ok"))  # noqa: E712

        wf.do_while(wf.condition("true"), body)

    round_trip(flow)


def test_a_loop_on_a_condition_that_does_not_parse_reports_only_the_syntax() -> None:
    def flow(wf: WorkflowThread) -> None:
        wf.do_while(wf.condition("attempts <"), lambda t: t.execute("poll"))

    error = compile_error(flow)
    assert len(error.problems) == 1
    assert error.problems[0].message.startswith("unexpected end of expression")


# --- names the spec format cannot hold --------------------------------------------------------------


def test_derived_handler_names_are_valid_thread_names() -> None:
    def flow(wf: WorkflowThread) -> None:
        charge = wf.execute("charge card!")
        wf.handle_exception(charge, lambda t: t.execute("notify"), name="card declined (hard)")
        wf.add_interrupt_handler("cancel order?", lambda t: t.execute("stop"))

    spec = compile_workflow(Workflow("door", flow))
    assert loads(dumps(spec)) == spec
    assert {"charge-card-on-card-declined-hard", "interrupt-cancel-order"} <= set(spec.threads)


def test_names_the_database_cannot_store_are_dsl_errors() -> None:
    for step in (lambda wf: wf.execute("charge\x00"), lambda wf: wf.wait_for_event("paid\ud800"),
                 lambda wf: wf.fail("out\x00", "m"), lambda wf: wf.fail("out", "\udc00")):
        with pytest.raises(DslError, match="cannot be stored"):
            compile_workflow(Workflow("door", step))


@pytest.mark.parametrize("name", ["my thread", "kid\n", "-kid", "ünï"])
def test_a_thread_name_the_format_refuses_is_a_dsl_error(name: str) -> None:
    def flow(wf: WorkflowThread) -> None:
        wf.spawn_thread(lambda t: t.execute("x"), name)

    with pytest.raises(DslError, match="a thread name is letters, digits"):
        compile_workflow(Workflow("door", flow))


def test_a_workflow_name_with_a_trailing_newline_is_refused() -> None:
    with pytest.raises(DslError, match="a workflow name is letters"):
        Workflow("door\n", lambda wf: None)


def test_an_item_var_the_format_refuses_is_a_dsl_error() -> None:
    def flow(wf: WorkflowThread) -> None:
        wf.spawn_thread_for_each([1, 2], lambda t: t.execute("x"), "kid", item_var="the item")

    with pytest.raises(DslError, match="item_var names the child's variable"):
        compile_workflow(Workflow("door", flow))


def test_what_the_checks_miss_is_still_a_compile_error_at_the_node(monkeypatch: pytest.MonkeyPatch) -> None:
    """The last line of defence: validate() on the compiled spec."""
    import wfc.compiler.compile as compile_module
    import wfc.dsl.tasks as tasks_module

    monkeypatch.setattr(compile_module, "check_recording", lambda recording: [])
    monkeypatch.setattr(tasks_module, "check_stored_name", lambda text, what, source: None)

    def flow(wf: WorkflowThread) -> None:
        wf.execute("a\u0000b")  # mark: nul-task

    error = compile_error(flow)
    assert where(error) == (THIS_FILE, mark("nul-task"))
    assert error.problems[0].message == ("task name contains a NUL character, which the database cannot store "
                                         "(at $.threads.main.nodes.a-b.task of the spec)")
