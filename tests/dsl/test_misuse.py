"""Misusing the DSL raises ``DslError`` at the offending call.

Every error is a ``WfcError``, carries the user's ``file:line`` (checked
exactly: the line holding the ``# mark: <name>`` comment below) and says
what was wrong and what to write instead.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable
from typing import Any

import pytest
from sourcemarks import marks_in

from wfc.compiler import CompileError
from wfc.dsl import (
    Backoff,
    DslError,
    IfChain,
    NodeOutput,
    SpawnedThread,
    VariableHandle,
    WfcError,
    Workflow,
    WorkflowThread,
)
from wfc.specs import dumps, loads

THIS_FILE = os.path.realpath(__file__)
mark = marks_in(__file__)


def location(source: str | None) -> tuple[str, int]:
    assert source, "the error has no source"
    file, _, line = source.rpartition(":")
    return os.path.realpath(file), int(line)


def misuse(fn: Callable[[WorkflowThread], Any], name: str = "misuse") -> DslError:
    """Compile ``fn`` and return the DslError it must raise."""
    with pytest.raises(DslError) as info:
        Workflow(name, fn).compile()
    return check(info.value)


def check(error: DslError) -> DslError:
    assert isinstance(error, WfcError)
    assert error.source is not None
    assert str(error).startswith(f"{error.source}: ")
    return error


def at(error: DslError, mark_name: str) -> None:
    assert location(error.source) == (THIS_FILE, mark(mark_name)), str(error)


def noop(t: WorkflowThread) -> None:
    """A thread body that does nothing."""


# --- handles from another workflow ----------------------------------------------------------


class Stash:
    """Handles kept from a workflow that was already compiled."""

    def __init__(self) -> None:
        def source(wf: WorkflowThread) -> None:
            self.var = wf.declare_str("order-id")
            self.output = wf.execute("charge-card")
            self.spawned = wf.spawn_thread(noop, "kid")
            self.condition = self.var == "x"
            self.wf = wf
            wf.wait_for_threads(self.spawned)

        Workflow("source", source).compile()


@pytest.fixture
def stash() -> Stash:
    return Stash()


def test_variable_from_another_workflow_as_a_task_argument(stash: Stash) -> None:
    def flow(wf: WorkflowThread) -> None:
        wf.execute("ship", stash.var)  # mark: foreign-arg

    error = misuse(flow)
    at(error, "foreign-arg")
    assert "comes from another workflow" in str(error)
    assert "use only handles that the workflow function being compiled declared or received" in str(error)


def test_node_output_from_another_workflow_in_a_comparison(stash: Stash) -> None:
    def flow(wf: WorkflowThread) -> None:
        amount = wf.declare_float("amount")
        wf.do_if(amount > stash.output["amount"], noop)  # mark: foreign-compare

    error = misuse(flow)
    at(error, "foreign-compare")
    assert "comes from another workflow" in str(error)


def test_condition_from_another_workflow(stash: Stash) -> None:
    def flow(wf: WorkflowThread) -> None:
        wf.do_if(stash.condition, noop)  # mark: foreign-condition

    at(misuse(flow), "foreign-condition")


def test_output_from_another_workflow_bound_in_a_condition_string(stash: Stash) -> None:
    def flow(wf: WorkflowThread) -> None:
        wf.condition("c.ok", c=stash.output)  # mark: foreign-binding

    at(misuse(flow), "foreign-binding")


def test_mutating_a_variable_of_another_workflow(stash: Stash) -> None:
    def flow(wf: WorkflowThread) -> None:
        wf.execute("a")
        wf.mutate(stash.var, "assign", "x")  # mark: foreign-mutate

    error = misuse(flow)
    at(error, "foreign-mutate")
    assert "comes from another workflow" in str(error)


def test_assigning_a_variable_of_another_workflow(stash: Stash) -> None:
    def flow(wf: WorkflowThread) -> None:
        stash.var.assign("x")  # mark: foreign-assign

    error = misuse(flow)
    at(error, "foreign-assign")
    assert "'source' was recorded" in str(error)


def test_handler_on_a_node_of_another_workflow(stash: Stash) -> None:
    def flow(wf: WorkflowThread) -> None:
        wf.handle_error(stash.output, noop)  # mark: foreign-handler

    error = misuse(flow)
    at(error, "foreign-handler")
    assert "comes from another workflow" in str(error)


def test_compensating_a_node_of_another_workflow(stash: Stash) -> None:
    def flow(wf: WorkflowThread) -> None:
        stash.output.compensate_with("refund")  # mark: foreign-compensate

    error = misuse(flow)
    at(error, "foreign-compensate")
    assert "'source' was recorded" in str(error)


def test_waiting_for_a_thread_of_another_workflow(stash: Stash) -> None:
    def flow(wf: WorkflowThread) -> None:
        wf.wait_for_threads(stash.spawned)  # mark: foreign-wait

    error = misuse(flow)
    at(error, "foreign-wait")
    assert "another workflow" in str(error)


def test_the_builder_of_another_workflow(stash: Stash) -> None:
    def flow(wf: WorkflowThread) -> None:
        stash.wf.execute("x")  # mark: foreign-builder

    error = misuse(flow)
    at(error, "foreign-builder")
    assert "wf.execute() was called after workflow 'source' was recorded" in str(error)


def test_handle_from_an_earlier_compile_of_the_same_workflow() -> None:
    kept: list[VariableHandle] = []

    def flow(wf: WorkflowThread) -> None:
        order = wf.declare_str("order-id")
        wf.execute("charge", *kept)  # mark: earlier-compile
        kept.append(order)

    workflow = Workflow("twice", flow)
    workflow.compile()
    with pytest.raises(DslError) as info:
        workflow.compile()
    at(check(info.value), "earlier-compile")
    assert "another compile of this one" in str(info.value)


# --- bodies that are not callable -------------------------------------------------------------


def _chain(wf: WorkflowThread) -> IfChain:
    return wf.do_if(wf.condition("true"), noop)


NOT_CALLABLE: dict[str, Callable[[WorkflowThread], Any]] = {
    "do_if": lambda wf: wf.do_if(wf.condition("true"), "ship"),  # mark: body-do_if
    "do_elif": lambda wf: _chain(wf).do_elif(wf.condition("false"), 5),  # mark: body-do_elif
    "do_else": lambda wf: _chain(wf).do_else(None),  # type: ignore[arg-type]  # mark: body-do_else
    "do_while": lambda wf: wf.do_while(wf.condition("true"), [noop]),  # mark: body-do_while
    "spawn_thread": lambda wf: wf.spawn_thread("ship", "kid"),  # mark: body-spawn_thread
    "spawn_thread_for_each": lambda wf: wf.spawn_thread_for_each([1], None, "kid"),  # mark: body-spawn_thread_for_each
    "handle_error": lambda wf: wf.handle_error(wf.execute("a"), "retry"),  # mark: body-handle_error
    "handle_exception": lambda wf: wf.handle_exception(wf.execute("a"), 1),  # mark: body-handle_exception
    "handle_any_failure": lambda wf: wf.handle_any_failure(wf.execute("a"), {}),  # mark: body-handle_any_failure
    "add_interrupt_handler": lambda wf: wf.add_interrupt_handler("stop", "x"),  # mark: body-add_interrupt_handler
}


@pytest.mark.parametrize("verb", list(NOT_CALLABLE))
def test_body_that_is_not_callable(verb: str) -> None:
    error = misuse(NOT_CALLABLE[verb])
    at(error, f"body-{verb}")
    text = str(error)
    assert "function" in text or "callable" in text
    # the right form: a function taking the WorkflowThread
    assert "lambda t: t.execute(" in text or "def ship_item(t: WorkflowThread)" in text


NO_THREAD_PARAMETER: dict[str, Callable[[WorkflowThread], Any]] = {
    "do_if": lambda wf: wf.do_if(wf.condition("true"), lambda: None),  # mark: arity-do_if
    "spawn_thread": lambda wf: wf.spawn_thread(lambda: None, "kid"),  # mark: arity-spawn_thread
}


@pytest.mark.parametrize("verb", list(NO_THREAD_PARAMETER))
def test_body_that_takes_no_thread(verb: str) -> None:
    """Not a DslError, but still a WfcError at the user's line."""
    with pytest.raises(CompileError) as info:
        Workflow("arity", NO_THREAD_PARAMETER[verb]).compile()
    (problem,) = info.value.problems
    assert location(problem.source) == (THIS_FILE, mark(f"arity-{verb}"))
    assert "takes 0 positional arguments but 1 was given" in problem.message


def test_workflow_function_that_is_not_callable() -> None:
    with pytest.raises(DslError) as info:
        Workflow("checkout", "checkout")  # type: ignore[arg-type]  # mark: workflow-fn
    error = check(info.value)
    at(error, "workflow-fn")
    assert 'Workflow("checkout", checkout)' in str(error)


@pytest.mark.parametrize("name", ["", "has space", "a/b", 5, None, "-x"])
def test_workflow_name_that_is_not_valid(name: Any) -> None:
    with pytest.raises(DslError) as info:
        Workflow(name, noop)  # mark: workflow-name
    error = check(info.value)
    at(error, "workflow-name")
    assert 'Workflow("checkout", checkout)' in str(error)


# --- calling the builder after compile ----------------------------------------------------------


class Kept:
    """Everything a workflow function handed out, kept after the compile."""

    def __init__(self) -> None:
        def flow(wf: WorkflowThread) -> None:
            self.wf = wf
            self.var = wf.declare_int("count")
            self.output = wf.execute("charge")
            self.chain = wf.do_if(self.var > 1, noop)

        self.workflow = Workflow("kept", flow)
        self.spec = self.workflow.compile()


AFTER: dict[str, Callable[[Kept], Any]] = {
    "execute": lambda k: k.wf.execute("late"),  # mark: after-execute
    "declare": lambda k: k.wf.declare_str("late"),  # mark: after-declare
    "condition": lambda k: k.wf.condition("count > 1"),  # mark: after-condition
    "do_if": lambda k: k.wf.do_if(k.var > 2, noop),  # mark: after-do_if
    "do_elif": lambda k: k.chain.do_elif(k.var > 2, noop),  # mark: after-do_elif
    "do_else": lambda k: k.chain.do_else(noop),  # mark: after-do_else
    "mutate": lambda k: k.wf.mutate(k.var, "add", 1),  # mark: after-mutate
    "assign": lambda k: k.var.assign(3),  # mark: after-assign
    "compensate_with": lambda k: k.output.compensate_with("refund"),  # mark: after-compensate_with
    "sleep": lambda k: k.wf.sleep(1),  # mark: after-sleep
    "complete": lambda k: k.wf.complete(1),  # mark: after-complete
    "spawn_thread": lambda k: k.wf.spawn_thread(noop, "late"),  # mark: after-spawn_thread
}


@pytest.mark.parametrize("verb", list(AFTER))
def test_builder_after_compile(verb: str) -> None:
    kept = Kept()
    with pytest.raises(DslError) as info:
        AFTER[verb](kept)
    error = check(info.value)
    at(error, f"after-{verb}")
    assert "after workflow 'kept' was recorded" in str(error)
    assert "inside Workflow(...).compile()" in str(error)


def test_builder_calls_after_compile_do_not_change_the_spec() -> None:
    kept = Kept()
    with pytest.raises(DslError):
        kept.wf.execute("late")
    assert "late" not in kept.spec.threads["main"].nodes
    assert kept.workflow.compile() == kept.spec


# --- values that are not JSON -----------------------------------------------------------------------

NOT_JSON = [
    pytest.param(object(), "got object", id="object"),
    pytest.param({1, 2}, "got set", id="set"),
    pytest.param(b"bytes", "got bytes", id="bytes"),
    pytest.param(math.nan, "nan has no JSON form", id="nan"),
    pytest.param(math.inf, "inf has no JSON form", id="inf"),
    pytest.param({1: "a"}, "dict key 1 is not a string", id="int-key"),
    pytest.param([1, object()], "got object", id="nested-in-list"),
    pytest.param({"a": {"b": {1j}}}, "got set", id="nested-in-dict"),
    pytest.param(1j, "got complex", id="complex"),
]


@pytest.mark.parametrize(("value", "problem"), NOT_JSON)
def test_non_json_task_argument(value: Any, problem: str) -> None:
    def flow(wf: WorkflowThread) -> None:
        wf.execute("a", "ok", value)  # mark: json-arg

    error = misuse(flow)
    at(error, "json-arg")
    assert "a literal value must be JSON data (None, bool, int, float, str, list, dict with str keys)" in str(error)
    assert problem in str(error)


@pytest.mark.parametrize(("value", "problem"), NOT_JSON)
def test_non_json_default(value: Any, problem: str) -> None:
    def flow(wf: WorkflowThread) -> None:
        wf.declare_json("meta").default(value)  # mark: json-default

    error = misuse(flow)
    at(error, "json-default")
    assert "default of variable 'meta' must be JSON data" in str(error)
    assert problem in str(error)


NON_JSON_USES: dict[str, Callable[[WorkflowThread], Any]] = {
    "assign": lambda wf: wf.declare_json("j").assign(object()),  # mark: json-use-assign
    "mutate": lambda wf: wf.mutate(wf.declare_json("j"), "append", {1, 2}),  # mark: json-use-mutate
    "complete": lambda wf: wf.complete(object()),  # mark: json-use-complete
    "fail": lambda wf: wf.fail("x", "m", content=object()),  # mark: json-use-fail
    "binding": lambda wf: wf.condition("x == 1", x=object()),  # mark: json-use-binding
    "correlation": lambda wf: wf.wait_for_event("e", correlation=object()),  # mark: json-use-correlation
    "inputs": lambda wf: wf.spawn_thread(noop, "k", {"a": object()}),  # mark: json-use-inputs
    "items": lambda wf: wf.spawn_thread_for_each({1, 2}, noop, "k"),  # mark: json-use-items
    "sleep": lambda wf: wf.sleep(object()),  # mark: json-use-sleep
    "sleep_until": lambda wf: wf.sleep_until(object()),  # mark: json-use-sleep_until
    "compensation": lambda wf: wf.execute("a").compensate_with("b", object()),  # mark: json-use-compensation
    "comparison": lambda wf: wf.do_if(wf.declare_str("s") == object(), noop),  # mark: json-use-comparison
}


@pytest.mark.parametrize("use", list(NON_JSON_USES))
def test_non_json_value_anywhere(use: str) -> None:
    error = misuse(NON_JSON_USES[use])
    at(error, f"json-use-{use}")
    assert "must be JSON data" in str(error)


def test_a_dict_holding_a_handle_is_not_json() -> None:
    def flow(wf: WorkflowThread) -> None:
        order = wf.declare_str("order-id")
        wf.execute("a", {"order": order})  # mark: json-dict-handle

    error = misuse(flow)
    at(error, "json-dict-handle")
    assert "must be JSON data" in str(error)
    assert "VariableHandle" in str(error)


def test_a_spawned_thread_is_not_a_value() -> None:
    def flow(wf: WorkflowThread) -> None:
        kid = wf.spawn_thread(noop, "kid")
        wf.execute("a", kid)  # mark: spawned-value

    error = misuse(flow)
    at(error, "spawned-value")
    assert "is not a value; pass it to wf.wait_for_threads(...)" in str(error)


# --- handles have no truth value ----------------------------------------------------------------


def test_if_on_a_comparison() -> None:
    def flow(wf: WorkflowThread) -> None:
        amount = wf.declare_float("amount")
        if amount > 100:  # mark: truth-if
            wf.execute("fraud-check")

    error = misuse(flow)
    at(error, "truth-if")
    text = str(error)
    assert "no truth value" in text
    assert "wf.do_if(amount > 100, body) instead of `if amount > 100:`" in text
    assert "(a == 1) & (b > 2)" in text


TRUTH: dict[str, Callable[[WorkflowThread], Any]] = {
    "bare-if": lambda wf: wf.execute("a") if wf.declare_bool("ok") else None,  # mark: truth-bare-if
    "and": lambda wf: (wf.declare_int("n") > 1) and (wf.declare_int("m") > 1),  # mark: truth-and
    "or": lambda wf: (wf.declare_int("n") > 1) or True,  # mark: truth-or
    "not": lambda wf: not wf.declare_bool("ok"),  # mark: truth-not
    "chained": lambda wf: 1 < wf.declare_int("n") < 3,  # mark: truth-chained
    "in-list": lambda wf: wf.declare_int("n") in [1, 2],  # mark: truth-in-list
    "bool": lambda wf: bool(wf.execute("a")),  # mark: truth-bool
}


@pytest.mark.parametrize("form", list(TRUTH))
def test_no_truth_value(form: str) -> None:
    error = misuse(TRUTH[form])
    at(error, f"truth-{form}")
    assert "no truth value" in str(error)


# --- the outer wf inside a thread function ---------------------------------------------------------


OUTER: dict[str, Callable[[WorkflowThread], Any]] = {
    "spawn_thread": lambda wf: wf.spawn_thread(lambda t: wf.execute("x"), "kid"),  # mark: outer-spawn_thread
    "for_each": lambda wf: wf.spawn_thread_for_each([1], lambda t: wf.sleep(1), "kid"),  # mark: outer-for_each
    "handler": lambda wf: wf.handle_error(wf.execute("a"), lambda t: wf.fail("x")),  # mark: outer-handler
    "interrupt": lambda wf: wf.add_interrupt_handler("stop", lambda t: wf.declare_str("s")),  # mark: outer-interrupt
    "condition": lambda wf: wf.spawn_thread(lambda t: wf.condition("true"), "kid"),  # mark: outer-condition
    "do_if": lambda wf: wf.spawn_thread(lambda t: wf.do_if(t.condition("true"), noop), "kid"),  # mark: outer-do_if
}


@pytest.mark.parametrize("where", list(OUTER))
def test_outer_builder_inside_a_thread_function(where: str) -> None:
    error = misuse(OUTER[where])
    at(error, f"outer-{where}")
    text = str(error)
    assert re.search(r"wf\.\w+\(\) was called on thread 'main' while thread '[\w-]+' was being recorded", text)
    assert "call the WorkflowThread passed to that function (lambda t: t.execute(...))" in text


def test_middle_builder_inside_a_grandchild() -> None:
    def flow(wf: WorkflowThread) -> None:
        def child(t: WorkflowThread) -> None:
            t.spawn_thread(lambda g: t.execute("x"), "grandchild")  # mark: outer-grandchild

        wf.spawn_thread(child, "child")

    error = misuse(flow)
    at(error, "outer-grandchild")
    assert "called on thread 'child' while thread 'grandchild' was being recorded" in str(error)


def test_outer_builder_inside_a_branch_body_is_fine() -> None:
    def flow(wf: WorkflowThread) -> None:
        flag = wf.declare_bool("flag")
        wf.do_if(flag, lambda t: wf.execute("x"))
        wf.do_while(~flag, lambda t: wf.execute("y"))

    spec = Workflow("branches", flow).compile()
    assert {"x", "y"} <= set(spec.threads["main"].nodes)


# --- do_elif and do_else must chain right after do_if ----------------------------------------------


def test_do_elif_after_another_step() -> None:
    def flow(wf: WorkflowThread) -> None:
        flag = wf.declare_bool("flag")
        chain = wf.do_if(flag, noop)
        wf.execute("in-between")
        chain.do_elif(~flag, noop)  # mark: elif-late

    error = misuse(flow)
    at(error, "elif-late")
    assert "do_elif() must be chained right after do_if(): wf.do_if(a, f).do_elif(...)" in str(error)


def test_do_else_after_another_step() -> None:
    def flow(wf: WorkflowThread) -> None:
        flag = wf.declare_bool("flag")
        chain = wf.do_if(flag, noop)
        wf.do_if(~flag, noop)
        chain.do_else(noop)  # mark: else-late

    error = misuse(flow)
    at(error, "else-late")
    assert "do_else() must be chained right after do_if()" in str(error)


def test_do_elif_from_inside_a_later_branch() -> None:
    def flow(wf: WorkflowThread) -> None:
        flag = wf.declare_bool("flag")
        chain = wf.do_if(flag, noop)
        wf.do_if(~flag, lambda t: chain.do_elif(flag, noop))  # mark: elif-nested

    at(misuse(flow), "elif-nested")


def test_do_elif_after_do_else() -> None:
    def flow(wf: WorkflowThread) -> None:
        flag = wf.declare_bool("flag")
        chain = wf.do_if(flag, noop)
        chain.do_else(noop)
        chain.do_elif(~flag, noop)  # mark: elif-after-else

    error = misuse(flow)
    at(error, "elif-after-else")
    assert "do_elif() after do_else(): the else branch must come last" in str(error)


def test_do_else_twice() -> None:
    def flow(wf: WorkflowThread) -> None:
        flag = wf.declare_bool("flag")
        chain = wf.do_if(flag, noop)
        chain.do_else(noop)
        chain.do_else(noop)  # mark: else-twice

    error = misuse(flow)
    at(error, "else-twice")
    assert "the else branch must come last" in str(error)


def test_do_elif_chained_over_several_lines_is_fine() -> None:
    def flow(wf: WorkflowThread) -> None:
        flag = wf.declare_bool("flag")
        chain = wf.do_if(flag, noop)
        chain.do_elif(~flag, noop)
        chain.do_else(noop)

    Workflow("ok", flow).compile()


def test_do_elif_after_a_mutation() -> None:
    def flow(wf: WorkflowThread) -> None:
        count = wf.declare_int("count")
        chain = wf.do_if(count > 1, noop)
        count.assign(5)
        chain.do_elif(count > 0, noop)  # mark: elif-after-mutation

    error = misuse(flow)
    at(error, "elif-after-mutation")
    assert "must be chained right after do_if()" in str(error)


# --- arguments of the wrong shape -----------------------------------------------------------------


BAD_ARGUMENTS: dict[str, Callable[[WorkflowThread], Any]] = {
    "declare-empty": lambda wf: wf.declare_str(""),  # mark: bad-declare-empty
    "declare-space": lambda wf: wf.declare_int("a b"),  # mark: bad-declare-space
    "declare-digit": lambda wf: wf.declare_json("1x"),  # mark: bad-declare-digit
    "declare-type": lambda wf: wf.declare_bool(5),  # mark: bad-declare-type
    "task-empty": lambda wf: wf.execute(""),  # mark: bad-task-empty
    "task-none": lambda wf: wf.execute(None),  # mark: bad-task-none
    "retries-negative": lambda wf: wf.execute("a", retries=-1),  # mark: bad-retries-negative
    "retries-bool": lambda wf: wf.execute("a", retries=True),  # mark: bad-retries-bool
    "retries-str": lambda wf: wf.execute("a", retries="3"),  # mark: bad-retries-str
    "retries-float": lambda wf: wf.execute("a", retries=1.5),  # mark: bad-retries-float
    "timeout-zero": lambda wf: wf.execute("a", timeout=0),  # mark: bad-timeout-zero
    "timeout-negative": lambda wf: wf.execute("a", timeout=-3),  # mark: bad-timeout-negative
    "timeout-str": lambda wf: wf.execute("a", timeout="5"),  # mark: bad-timeout-str
    "timeout-bool": lambda wf: wf.execute("a", timeout=True),  # mark: bad-timeout-bool
    "backoff-dict": lambda wf: wf.execute("a", backoff={"initial": 1}),  # mark: bad-backoff-dict
    "event-timeout": lambda wf: wf.wait_for_event("e", timeout=0),  # mark: bad-event-timeout
    "event-empty": lambda wf: wf.wait_for_event(""),  # mark: bad-event-empty
    "sleep-zero": lambda wf: wf.sleep(0),  # mark: bad-sleep-zero
    "sleep-negative": lambda wf: wf.sleep(-5),  # mark: bad-sleep-negative
    "mutate-output": lambda wf: wf.mutate(wf.execute("a"), "assign", 1),  # mark: bad-mutate-output
    "mutate-op": lambda wf: wf.mutate(wf.declare_int("n"), "increment", 1),  # mark: bad-mutate-op
    "error-code": lambda wf: wf.handle_error(wf.execute("a"), noop, error="BOOM"),  # mark: bad-error-code
    "exception-name": lambda wf: wf.handle_exception(wf.execute("a"), noop, name=""),  # mark: bad-exception-name
    "handler-on-var": lambda wf: wf.handle_error(wf.declare_int("n"), noop),  # mark: bad-handler-on-var
    "handler-on-str": lambda wf: wf.handle_any_failure("charge-card", noop),  # mark: bad-handler-on-str
    "wait-nothing": lambda wf: wf.wait_for_threads(),  # mark: bad-wait-nothing
    "wait-output": lambda wf: wf.wait_for_threads(wf.execute("a")),  # mark: bad-wait-output
    "strategy": lambda wf: wf.wait_for_threads(wf.spawn_thread(noop, "k"), strategy="SOME"),  # mark: bad-strategy
    "wait-timeout": lambda wf: wf.wait_for_threads(wf.spawn_thread(noop, "k"), timeout=-1),  # mark: bad-wait-timeout
    "inputs-list": lambda wf: wf.spawn_thread(noop, "k", [("a", 1)]),  # mark: bad-inputs-list
    "inputs-key": lambda wf: wf.spawn_thread(noop, "k", {1: "a"}),  # mark: bad-inputs-key
    "thread-name": lambda wf: wf.spawn_thread(noop, ""),  # mark: bad-thread-name
    "thread-name-type": lambda wf: wf.spawn_thread(noop, 7),  # mark: bad-thread-name-type
    "if-bool": lambda wf: wf.do_if(True, noop),  # mark: bad-if-bool
    "if-str": lambda wf: wf.do_if("amount > 1", noop),  # mark: bad-if-str
    "elif-str": lambda wf: _chain(wf).do_elif("x", noop),  # mark: bad-elif-str
    "while-int": lambda wf: wf.do_while(1, noop),  # mark: bad-while-int
    "json-path": lambda wf: wf.execute("a").json_path("a.b"),  # mark: bad-json-path
    "index-float": lambda wf: wf.execute("a")[1.5],  # mark: bad-index-float
    "index-bool": lambda wf: wf.declare_json("j")[True],  # mark: bad-index-bool
    "unknown-variable": lambda wf: wf.variable("nope"),  # mark: bad-unknown-variable
    "fail-name": lambda wf: wf.fail(""),  # mark: bad-fail-name
    "fail-message": lambda wf: wf.fail("x", 5),  # mark: bad-fail-message
    "interrupt-event": lambda wf: wf.add_interrupt_handler("", noop),  # mark: bad-interrupt-event
    "compensation-name": lambda wf: wf.execute("a").compensate_with(""),  # mark: bad-compensation-name
    "undo-retries": lambda wf: wf.execute("a").compensate_with("b", retries=-1),  # mark: bad-undo-retries
}

#: What each message shows as the right form.
RIGHT_FORMS: dict[str, str] = {
    "declare-empty": 'wf.declare_str("order-id")',
    "declare-space": 'wf.declare_int("order-id")',
    "declare-digit": 'wf.declare_json("order-id")',
    "declare-type": 'wf.declare_bool("order-id")',
    "task-empty": 'wf.execute("charge-card", ...)',
    "task-none": 'wf.execute("charge-card", ...)',
    "retries-negative": "retries=3",
    "retries-bool": "retries=3",
    "retries-str": "retries=3",
    "retries-float": "retries=3",
    "timeout-zero": "seconds > 0",
    "timeout-negative": "seconds > 0",
    "timeout-str": "seconds > 0",
    "timeout-bool": "seconds > 0",
    "backoff-dict": "Backoff(initial=",
    "event-timeout": "seconds > 0",
    "event-empty": "non-empty string",
    "sleep-zero": "seconds > 0",
    "sleep-negative": "seconds > 0",
    "mutate-output": 'wf.mutate(total, "add", 1)',
    "mutate-op": "use one of: assign, add",
    "error-code": "TASK_ERROR",
    "exception-name": "non-empty",
    "handler-on-var": "charge = wf.execute",
    "handler-on-str": "charge = wf.execute",
    "wait-nothing": "at least one spawned thread",
    "wait-output": "what spawn_thread() returned",
    "strategy": "ALL, FIRST or ANY",
    "wait-timeout": "seconds > 0",
    "inputs-list": '{"sku": sku}',
    "inputs-key": '{"sku": sku}',
    "thread-name": "a thread name is letters, digits",
    "thread-name-type": "a thread name is letters, digits",
    "if-bool": 'wf.do_if(wf.condition("amount > 100"), body)',
    "if-str": "wf.do_if(amount > 100, body)",
    "elif-str": "wf.do_if(amount > 100, body)",
    "while-int": "wf.condition(",
    "json-path": "$",
    "index-float": "handle['field'] or handle[0]",
    "index-bool": "handle['field'] or handle[0]",
    "unknown-variable": "no variable 'nope' is visible",
    "fail-name": 'wf.fail("out-of-stock", "...")',
    "fail-message": "the failure message is a string",
    "interrupt-event": "non-empty string",
    "compensation-name": "non-empty string",
    "undo-retries": "int from 0 to",
}


@pytest.mark.parametrize("case", list(BAD_ARGUMENTS))
def test_bad_argument(case: str) -> None:
    error = misuse(BAD_ARGUMENTS[case])
    at(error, f"bad-{case}")
    assert RIGHT_FORMS[case] in str(error)


def test_unknown_variable_lists_the_visible_ones() -> None:
    def flow(wf: WorkflowThread) -> None:
        wf.declare_str("order-id")

        def kid(t: WorkflowThread) -> None:
            t.declare_int("count")
            t.variable("ammount")  # mark: visible-list

        wf.spawn_thread(kid, "kid")

    error = misuse(flow)
    at(error, "visible-list")
    assert "no variable 'ammount' is visible in thread 'kid'; visible: ['count', 'order-id']" in str(error)


def test_bad_json_path_shows_the_path() -> None:
    def flow(wf: WorkflowThread) -> None:
        wf.execute("a").json_path("$.a..b")  # mark: json-path-caret

    error = misuse(flow)
    at(error, "json-path-caret")
    assert "$.a..b" in str(error)
    assert "^" in str(error)


# --- found by these tests: the DSL accepts values the spec format cannot hold ---------------------------


@pytest.mark.parametrize("value", [math.inf, math.nan])
@pytest.mark.parametrize("verb", ["execute", "wait_for_event", "wait_for_threads"])
def test_timeout_that_is_not_finite(verb: str, value: float) -> None:
    def flow(wf: WorkflowThread) -> None:
        if verb == "execute":
            wf.execute("a", timeout=value)
        elif verb == "wait_for_event":
            wf.wait_for_event("e", timeout=value)
        else:
            wf.wait_for_threads(wf.spawn_thread(noop, "k"), timeout=value)

    error = misuse(flow)
    assert "seconds > 0" in str(error)


@pytest.mark.parametrize(
    "backoff",
    [
        Backoff(initial=math.nan),
        Backoff(initial=-1.0),
        Backoff(multiplier=0.0),
        Backoff(initial="1"),  # type: ignore[arg-type]
    ],
    ids=["nan", "negative", "zero-multiplier", "str"],
)
def test_backoff_with_bad_values(backoff: Backoff) -> None:
    def flow(wf: WorkflowThread) -> None:
        wf.execute("a", retries=3, backoff=backoff)  # mark: backoff-values

    error = misuse(flow)
    at(error, "backoff-values")
    assert "Backoff(initial=, multiplier=, maximum=)" in str(error)


def test_a_valid_backoff_round_trips() -> None:
    def flow(wf: WorkflowThread) -> None:
        wf.execute("a", backoff=Backoff(initial=0.5))

    spec = Workflow("ok", flow).compile()
    assert loads(dumps(spec)) == spec


@pytest.mark.parametrize("text", [5, None, ["a > 1"]])
def test_condition_text_that_is_not_a_string(text: Any) -> None:
    def flow(wf: WorkflowThread) -> None:
        wf.condition(text)  # mark: condition-not-str

    error = misuse(flow)
    at(error, "condition-not-str")
    assert 'wf.condition("amount > 100")' in str(error)


def test_lambda_returning_an_if_chain_has_no_output() -> None:
    def flow(wf: WorkflowThread) -> None:
        wf.spawn_thread(lambda t: t.do_if(t.condition("true"), noop), "kid")

    spec = Workflow("chain", flow).compile()
    assert spec.threads["kid"].nodes["exit"].output is None  # type: ignore[union-attr]


def test_bad_returned_value_points_at_the_users_code() -> None:
    def flow(wf: WorkflowThread) -> object:
        wf.execute("a")
        return object()

    error = misuse(flow)
    assert location(error.source)[0] == THIS_FILE, error.source


def test_returned_value_of_a_child_points_at_the_spawn() -> None:
    def flow(wf: WorkflowThread) -> None:
        wf.spawn_thread(lambda t: object(), "kid")  # mark: child-return

    error = misuse(flow)
    at(error, "child-return")


def test_dsl_error_keeps_its_source_attribute() -> None:
    error = DslError("something is wrong", "flow.py:12")
    assert error.source == "flow.py:12"
    assert str(error) == "flow.py:12: something is wrong"
    assert str(DslError("no source")) == "no source"
    assert DslError("x").source is None


def test_handles_are_the_exported_types() -> None:
    types: list[type] = []

    def flow(wf: WorkflowThread) -> None:
        types.append(type(wf.declare_str("s")))
        types.append(type(wf.execute("a")))
        types.append(type(wf.spawn_thread(noop, "k")))

    Workflow("types", flow).compile()
    assert types == [VariableHandle, NodeOutput, SpawnedThread]
