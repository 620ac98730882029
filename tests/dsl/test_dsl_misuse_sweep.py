"""Misuses found by a sweep: each gives a clear error at the user's line
instead of a hang, a silent drop, a stray exception or a wfc-internal location."""

from __future__ import annotations

import gc
import os
import sys
import warnings
from collections.abc import Callable
from typing import Any

import pytest
from sourcemarks import marks_in

from wfc.compiler import CompileError
from wfc.dsl import DslError, Field, UserTaskForm, Workflow, WorkflowThread
from wfc.dsl.handles import Expression

THIS_FILE = os.path.realpath(__file__)
mark = marks_in(__file__)


def at(source: str | None, mark_name: str) -> None:
    assert source, "no source"
    file, _, line = source.rpartition(":")
    assert (os.path.realpath(file), int(line)) == (THIS_FILE, mark(mark_name)), source


def misuse(fn: Callable[[WorkflowThread], Any]) -> DslError:
    with pytest.raises(DslError) as info:
        Workflow("sweep", fn).compile()
    return info.value


def compile_error(fn: Callable[[WorkflowThread], Any]) -> CompileError:
    with pytest.raises(CompileError) as info:
        Workflow("sweep", fn).compile()
    return info.value


# --- 1. a handle is not a Python sequence -----------------------------------------------------

FORM = UserTaskForm("approve", approved=Field(bool))

#: Every kind of handle the DSL gives out, made from a fresh builder.
HANDLES: dict[str, Callable[[WorkflowThread], Expression]] = {
    "variable": lambda wf: wf.declare_json("items"),
    "task output": lambda wf: wf.execute("fetch"),
    "field of an output": lambda wf: wf.execute("fetch")["items"],
    "json path": lambda wf: wf.declare_json("items").json_path("$.a[0]"),
    "comparison": lambda wf: wf.declare_int("n") > 1,
    "condition": lambda wf: wf.condition("n > 1", n=1),
    "event payload": lambda wf: wf.wait_for_event("ready"),
    "user task": lambda wf: wf.assign_user_task(FORM, user="ana"),
    "threads' outputs": lambda wf: wf.wait_for_threads(wf.spawn_thread(lambda t: None, "child")),
}


@pytest.mark.parametrize("kind", list(HANDLES))
def test_iterating_a_handle_fails_at_once_instead_of_looping_forever(kind: str) -> None:
    def workflow(wf: WorkflowThread) -> None:
        handle = HANDLES[kind](wf)
        # zip stops after three steps even where iteration would never end.
        for _, item in zip(range(3), handle, strict=False):  # mark: iterate
            wf.execute("ship", item)

    error = misuse(workflow)
    at(error.source, "iterate")
    assert "not a Python sequence" in str(error)
    assert "wf.spawn_thread_for_each" in str(error)


@pytest.mark.parametrize("kind", list(HANDLES))
def test_unpacking_a_handle_is_the_same_clear_error(kind: str) -> None:
    def workflow(wf: WorkflowThread) -> None:
        _first, _second = HANDLES[kind](wf)  # mark: unpack

    error = misuse(workflow)
    at(error.source, "unpack")
    assert "not a Python sequence" in str(error)


@pytest.mark.parametrize("kind", list(HANDLES))
def test_len_of_a_handle_names_the_run_time_len(kind: str) -> None:
    def workflow(wf: WorkflowThread) -> None:
        len(HANDLES[kind](wf))  # mark: len

    error = misuse(workflow)
    at(error.source, "len")
    assert "not a Python sequence" in str(error)
    assert "len(" in str(error) and "wf.condition" in str(error)


@pytest.mark.parametrize("kind", list(HANDLES))
def test_in_on_a_handle_points_at_contains(kind: str) -> None:
    def workflow(wf: WorkflowThread) -> None:
        assert "sku-1" in HANDLES[kind](wf)  # mark: in

    error = misuse(workflow)
    at(error.source, "in")
    assert ".contains(" in str(error) and ".is_in(" in str(error)


def test_spawn_thread_for_each_still_takes_a_handle() -> None:
    def workflow(wf: WorkflowThread) -> None:
        items = wf.declare_json("items")
        wf.wait_for_threads(wf.spawn_thread_for_each(items, lambda t: t.execute("ship", t.variable("item")), "ship"))

    assert "ship" in Workflow("sweep", workflow).compile().threads


# --- 2. a second registration is refused, not dropped ---------------------------------------------


def test_a_second_interrupt_handler_for_the_same_event_is_refused() -> None:
    def workflow(wf: WorkflowThread) -> None:
        wf.add_interrupt_handler("cancel", lambda t: t.execute("h1"))  # mark: first-interrupt
        wf.add_interrupt_handler("cancel", lambda t: t.execute("h2"))  # mark: second-interrupt
        wf.execute("work")

    error = compile_error(workflow)
    [problem] = error.problems
    at(problem.source, "second-interrupt")
    assert "already has an interrupt handler for event 'cancel'" in problem.message
    assert f":{mark('first-interrupt')}" in problem.message


def test_interrupt_handlers_for_different_events_are_fine() -> None:
    def workflow(wf: WorkflowThread) -> None:
        wf.add_interrupt_handler("cancel", lambda t: t.execute("h1"))
        wf.add_interrupt_handler("pause", lambda t: t.execute("h2"))
        wf.execute("work")

    assert [i.event for i in Workflow("sweep", workflow).compile().threads["main"].interrupts] == ["cancel", "pause"]


def test_a_second_compensation_of_one_step_is_refused() -> None:
    def workflow(wf: WorkflowThread) -> None:
        charge = wf.execute("charge")
        charge.compensate_with("refund")  # mark: first-compensation
        charge.compensate_with("refund-again")  # mark: second-compensation

    error = compile_error(workflow)
    [problem] = error.problems
    at(problem.source, "second-compensation")
    assert "already has a compensation" in problem.message and "'refund'" in problem.message
    assert f":{mark('first-compensation')}" in problem.message


# --- 3. what the workflow function is and what it raises --------------------------------------------


class Unprintable(Exception):
    def __str__(self) -> str:
        raise RuntimeError("x")


def test_an_exception_that_cannot_print_itself_is_still_a_compile_error() -> None:
    def workflow(wf: WorkflowThread) -> None:
        raise Unprintable  # mark: unprintable

    error = compile_error(workflow)
    [problem] = error.problems
    at(problem.source, "unprintable")
    assert "raised Unprintable" in problem.message and "__str__ raised RuntimeError" in problem.message


async def _async_workflow(wf: WorkflowThread) -> None:
    wf.execute("task")


def test_an_async_workflow_function_is_refused_up_front_without_a_warning() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(DslError) as info:
            Workflow("sweep", _async_workflow)  # mark: async-workflow
        gc.collect()
    at(info.value.source, "async-workflow")
    assert "a workflow function must be a plain function, not async" in str(info.value)
    assert not [w for w in caught if "never awaited" in str(w.message)]


def _misuse_without_a_warning(workflow: Callable[[WorkflowThread], Any]) -> DslError:
    """:func:`misuse`, checking that no coroutine was left unawaited
    (Python warns of one when it is collected)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        error = misuse(workflow)
        gc.collect()
    assert not [w for w in caught if "never awaited" in str(w.message)]
    return error


def test_an_async_thread_body_is_refused_without_a_warning() -> None:
    async def child(t: WorkflowThread) -> None:
        t.execute("task")

    def workflow(wf: WorkflowThread) -> None:
        wf.spawn_thread(child, "child")  # mark: async-child

    error = _misuse_without_a_warning(workflow)
    at(error.source, "async-child")
    assert "not async" in str(error)


class AsyncCallable:
    """An object whose __call__ is async: only found out once called."""

    async def __call__(self, t: WorkflowThread) -> None:
        t.execute("task")


def test_a_body_with_an_async_call_is_refused_without_a_warning() -> None:
    def workflow(wf: WorkflowThread) -> None:
        wf.do_if(wf.declare_int("n") > 1, AsyncCallable())  # mark: async-callable

    error = _misuse_without_a_warning(workflow)
    at(error.source, "async-callable")
    assert "the body of wf.do_if() must be a plain function, not async" in str(error)


# --- 4. nesting past Python's recursion limit ---------------------------------------------------


def test_nesting_too_deeply_names_the_users_line_and_the_limit() -> None:
    def workflow(wf: WorkflowThread) -> None:
        count = wf.declare_int("count")
        depth = [0]

        def body(t: WorkflowThread) -> None:
            depth[0] += 1
            if depth[0] < sys.getrecursionlimit():  # deeper than Python can go
                t.do_if(count > depth[0], body)  # mark: nest

        body(wf)

    error = compile_error(workflow)
    [problem] = error.problems
    at(problem.source, "nest")
    assert "nests too deeply" in problem.message
    assert str(sys.getrecursionlimit()) in problem.message
