"""The compiler's checks of user tasks: what their expressions may read,
timers that can never act, and handlers that can never run; each problem at
the ``file:line`` of the call that caused it (the ``# mark: <name>`` line)."""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

# The helper lives with the DSL tests; with --import-mode=importlib pytest does
# not put that folder on sys.path itself.
sys.path.insert(0, str(Path(__file__).parents[1] / "dsl"))

from sourcemarks import marks_in

from wfc.compiler import CompileError, CompileWarning, Problem, compile_workflow
from wfc.dsl import Field, UserTaskForm, Workflow, WorkflowThread
from wfc.specs import UserTaskNode, WorkflowSpec, dumps, loads

THIS_FILE = os.path.realpath(__file__)
mark = marks_in(__file__)
APPROVE = UserTaskForm("approve", approved=Field(bool), comment=Field(str, required=False))


def here(name: str) -> tuple[str, int]:
    return THIS_FILE, mark(name)


def location(source: str) -> tuple[str, int]:
    file, _, line = source.rpartition(":")
    return os.path.realpath(file), int(line)


def problems(fn: Callable[[WorkflowThread], Any]) -> list[Problem]:
    with pytest.raises(CompileError) as info:
        compile_workflow(Workflow("checked", fn))
    return info.value.problems


def only(fn: Callable[[WorkflowThread], Any]) -> Problem:
    (problem,) = problems(fn)
    return problem


def warned(fn: Callable[[WorkflowThread], Any]) -> tuple[WorkflowSpec, list[tuple[tuple[str, int], str]]]:
    """Compile ``fn``; its spec and each CompileWarning as (where, message)."""
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        spec = compile_workflow(Workflow("warned", fn))
    assert loads(dumps(spec)) == spec
    found = []
    for warning in record:
        assert issubclass(warning.category, CompileWarning)
        where, _, message = str(warning.message).partition(": ")
        found.append((location(where), message))
    return spec, found


def clean(fn: Callable[[WorkflowThread], Any]) -> WorkflowSpec:
    spec, found = warned(fn)
    assert found == []
    return spec


# --- what user, group and notes may be ---------------------------------------------------------------------


def test_a_user_that_is_not_a_string() -> None:
    def flow(wf: WorkflowThread) -> None:
        employee = wf.declare_int("employee-number")
        wf.assign_user_task(APPROVE, user=employee)  # mark: int-user

    problem = only(flow)
    assert location(problem.source) == here("int-user")
    assert problem.message == ("the user of a user task is a string (a user id, a group name, text), but this is "
                               "int variable 'employee-number'")


def test_notes_that_are_a_bool() -> None:
    def flow(wf: WorkflowThread) -> None:
        urgent = wf.declare_bool("urgent")
        wf.assign_user_task(APPROVE, group="finance", notes=urgent)  # mark: bool-notes

    problem = only(flow)
    assert location(problem.source) == here("bool-notes")
    assert problem.message.startswith("the notes of a user task is a string")


def test_a_reassign_group_that_is_a_number_is_reported_at_the_timer() -> None:
    def flow(wf: WorkflowThread) -> None:
        level = wf.declare_float("level")
        ut = wf.assign_user_task(APPROVE, group="finance")
        ut.reassign_after(60, group=level * 2)  # mark: float-group

    problem = only(flow)
    assert location(problem.source) == here("float-group")
    assert problem.message.startswith("the group of reassign_after() is a string")


def test_strings_json_and_outputs_are_accepted() -> None:
    def flow(wf: WorkflowThread) -> None:
        who = wf.declare_str("who").required()
        team = wf.declare_json("team")
        lookup = wf.execute("lookup", who)
        ut = wf.assign_user_task(APPROVE, user=lookup["login"], group=team["name"], notes="Please " + who)
        ut.reassign_after(60, user=who, group=team).remind_after(30, "nudge", who, team, lookup)

    node = clean(flow).threads["main"].nodes["user-task-approve"]
    assert isinstance(node, UserTaskNode) and len(node.timers) == 2


# --- what expressions may read -----------------------------------------------------------------------------


def test_a_timer_reading_the_tasks_own_output() -> None:
    def flow(wf: WorkflowThread) -> None:
        ut = wf.assign_user_task(APPROVE, group="finance")
        ut.remind_after(60, "nudge", ut["comment"])  # mark: own-output

    problem = only(flow)
    assert location(problem.source) == here("own-output")
    assert problem.message == ("this timer of user task 'user-task-approve' reads the task's own output, which "
                               "exists only once the task is completed, and timers act only while it is open")


def test_a_timer_reading_a_variable_its_thread_cannot_see() -> None:
    """A timer added inside a handler still runs in the user task's thread,
    so it cannot read the handler's variables."""

    def flow(wf: WorkflowThread) -> None:
        ut = wf.assign_user_task(APPROVE, group="finance")

        def handler(t: WorkflowThread) -> None:
            local = t.declare_str("local")
            ut.remind_after(60, "nudge", local)  # mark: invisible-var

        wf.handle_error(ut, handler)

    problem = only(flow)
    assert location(problem.source) == here("invisible-var")
    assert problem.message.startswith("unknown name 'local': no variable of that name is visible in thread 'main'")


def test_a_user_task_in_a_child_reading_an_output_of_the_parent() -> None:
    def flow(wf: WorkflowThread) -> None:
        found = wf.execute("find-manager")

        def child(t: WorkflowThread) -> None:
            t.assign_user_task(APPROVE, user=found["login"])  # mark: parent-output

        wf.wait_for_threads(wf.spawn_thread(child, "approval"))

    problem = only(flow)
    assert location(problem.source) == here("parent-output")
    assert "node outputs are only visible in their own thread" in problem.message


def test_a_user_task_in_a_child_thread_reads_the_parents_variables() -> None:
    def flow(wf: WorkflowThread) -> None:
        manager = wf.declare_str("manager").required()

        def child(t: WorkflowThread) -> None:
            ut = t.assign_user_task(APPROVE, user=manager)
            ut.remind_after(10, "nudge", manager)

        wf.wait_for_threads(wf.spawn_thread(child, "approval"))

    spec = clean(flow)
    assert spec.forms["approve"].name == "approve"


# --- warnings ----------------------------------------------------------------------------------------------


def test_timers_at_or_after_the_cancel_never_act() -> None:
    def flow(wf: WorkflowThread) -> None:
        ut = wf.assign_user_task(APPROVE, user="ann", group="finance")
        ut.cancel_after(3600)  # mark: the-cancel
        ut.remind_after(3600, "nudge")  # mark: late-remind
        ut.reassign_after(1800, group="leads")

    _, found = warned(flow)
    ((where, message),) = found
    assert where == here("late-remind")
    assert message.startswith("this remind timer (3600 s) never acts: the task is cancelled after 3600 s (at ")
    assert location(message.removesuffix(")").rpartition("(at ")[2]) == here("the-cancel")


def test_release_without_any_group_warns() -> None:
    def flow(wf: WorkflowThread) -> None:
        ut = wf.assign_user_task(APPROVE, user="ann")
        ut.release_to_group_after(60)  # mark: release-nowhere

    spec, found = warned(flow)
    assert found == [(here("release-nowhere"),
                      "release_to_group_after() on user task 'user-task-approve', which has no group to release it "
                      "to, so it does nothing unless an operator gives the task a group; assign it with group=... "
                      "as well")]
    assert [t.action for t in spec.threads["main"].nodes["user-task-approve"].timers] == ["release"]  # type: ignore[union-attr]


def test_release_with_a_group_from_a_reassign_timer_is_fine() -> None:
    def flow(wf: WorkflowThread) -> None:
        ut = wf.assign_user_task(APPROVE, user="ann")
        ut.reassign_after(60, group="finance").release_to_group_after(120)

    clean(flow)


def test_user_task_cancelled_on_a_task_node_warns() -> None:
    def flow(wf: WorkflowThread) -> None:
        charge = wf.execute("charge")
        wf.handle_error(charge, lambda t: t.execute("x"), error="USER_TASK_CANCELLED")  # mark: wrong-node

    _, found = warned(flow)
    assert found == [(here("wrong-node"), "node 'charge' is not a user task, so it never fails with "
                      "USER_TASK_CANCELLED; register this handler on what wf.assign_user_task() returned")]


def test_handling_the_cancellation_of_a_user_task_is_clean() -> None:
    def flow(wf: WorkflowThread) -> None:
        ut = wf.assign_user_task(APPROVE, group="finance")
        ut.cancel_after(86400)
        wf.handle_error(ut, lambda t: t.fail("not-approved", "nobody approved in time"), error="USER_TASK_CANCELLED")
        wf.execute("pay", ut["approved"])

    spec = clean(flow)
    assert spec.threads["main"].nodes["user-task-approve"].handlers[0].name == "USER_TASK_CANCELLED"


def test_compensating_a_user_task_is_refused() -> None:
    def flow(wf: WorkflowThread) -> None:
        ut = wf.assign_user_task(APPROVE, group="finance")
        ut.compensate_with("undo")  # mark: compensate-ut

    problem = only(flow)
    assert location(problem.source) == here("compensate-ut")
    assert "a user_task node: only task steps can be compensated" in problem.message


def test_an_unreachable_user_task_and_its_form_are_left_out() -> None:
    def flow(wf: WorkflowThread) -> None:
        wf.fail("stop")
        wf.assign_user_task(APPROVE, group="finance")  # mark: unreachable-ut

    problem = only(flow)
    assert location(problem.source) == here("unreachable-ut")
    assert "can never run" in problem.message
