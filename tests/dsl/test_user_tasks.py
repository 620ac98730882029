"""User tasks in the DSL: forms and fields, ``wf.assign_user_task``, the
output handle and its four timers, as recorded and lowered into the spec, and
every misuse refused with a ``DslError`` at the offending line (checked
exactly: the line holding the ``# mark: <name>`` comment)."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import msgspec
import pytest
from sourcemarks import marks_in

from wfc.dsl import (
    DslError,
    Field,
    NodeOutput,
    UserTaskForm,
    UserTaskOutput,
    WfcError,
    Workflow,
    WorkflowThread,
)
from wfc.specs import (
    BinaryExpr,
    FieldDef,
    FormDef,
    LiteralExpr,
    OutputRef,
    TaskNode,
    UserTaskNode,
    UserTaskTimer,
    VarRef,
    WorkflowSpec,
    dumps,
    loads,
)

THIS_FILE = os.path.realpath(__file__)
mark = marks_in(__file__)

UPDATE_CARD = UserTaskForm(
    "update-card",
    card_token=Field(str, display_name="New card", description="The token of the card to charge"),
    note=Field(str, required=False),
)
APPROVE = UserTaskForm("approve", approved=Field(bool), amount=Field(float), details=Field(dict, required=False))


def at(error: DslError, mark_name: str) -> None:
    assert isinstance(error, WfcError)
    assert error.source is not None
    assert str(error).startswith(f"{error.source}: ")
    file, _, line = error.source.rpartition(":")
    assert (os.path.realpath(file), int(line)) == (THIS_FILE, mark(mark_name)), str(error)


def misuse(fn: Callable[[WorkflowThread], Any]) -> DslError:
    """Compile ``fn`` and return the DslError it must raise."""
    with pytest.raises(DslError) as info:
        Workflow("misuse", fn).compile()
    return info.value


def raised(make: Callable[[], object]) -> DslError:
    with pytest.raises(DslError) as info:
        make()
    return info.value


def user_task(spec: WorkflowSpec, node_id: str = "user-task-update-card", thread: str = "main") -> UserTaskNode:
    node = spec.threads[thread].nodes[node_id]
    assert isinstance(node, UserTaskNode)
    return node


def card_flow(wf: WorkflowThread) -> None:
    customer = wf.declare_str("customer").required()
    ut = wf.assign_user_task(UPDATE_CARD, user=customer, group="support", notes="Your card expired")
    ut.remind_after(86400, "send-card-reminder", customer, ut.node_id)
    ut.reassign_after(3 * 86400, group="support")
    wf.execute("charge-card", customer, ut["card_token"])


# --- forms and fields --------------------------------------------------------------------------------------


def test_a_form_is_its_fields_in_declaration_order() -> None:
    assert UPDATE_CARD.name == "update-card"
    assert list(UPDATE_CARD.fields) == ["card_token", "note"]
    assert UPDATE_CARD.definition == FormDef(name="update-card", fields=[
        FieldDef(name="card_token", type="str", display_name="New card", description="The token of the card to charge"),
        FieldDef(name="note", type="str", required=False),
    ])


@pytest.mark.parametrize(("given", "expected"), [
    (str, "str"), (int, "int"), (float, "float"), (bool, "bool"), (dict, "json"), (list, "json"),
    ("str", "str"), ("int", "int"), ("float", "float"), ("bool", "bool"), ("json", "json"),
])
def test_field_types(given: object, expected: str) -> None:
    assert Field(given).type == expected


def test_field_names_that_are_not_identifiers_are_given_as_a_dict() -> None:
    form = UserTaskForm("f", **{"card-token": Field(str)})
    assert [f.name for f in form.definition.fields] == ["card-token"]


def test_a_form_may_have_no_fields() -> None:
    """An acknowledgement: someone confirms it is done, and sends nothing."""
    assert UserTaskForm("confirm").definition == FormDef(name="confirm")


def test_reprs_show_what_was_written() -> None:
    assert repr(Field(int, required=False, display_name="N")) == "Field('int', required=False, display_name='N')"
    assert repr(UserTaskForm("f", a=Field(str))) == "UserTaskForm('f', a=Field('str'))"


def test_field_of_an_unknown_type() -> None:
    error = raised(lambda: Field(tuple))  # mark: field-type
    at(error, "field-type")
    assert "a field's type is str, int, float, bool or \"json\"" in str(error)
    assert "tuple" in str(error)


@pytest.mark.parametrize("given", ["text", "date", None, 1, [str]])
def test_field_types_that_are_refused(given: object) -> None:
    assert "a field's type is" in str(raised(lambda: Field(given)))


def test_field_required_must_be_a_bool() -> None:
    error = raised(lambda: Field(str, required="no"))  # type: ignore[arg-type]  # mark: field-required
    at(error, "field-required")
    assert "required is True or False, got 'no'" in str(error)


@pytest.mark.parametrize(("options", "message"), [
    ({"display_name": ""}, "display_name is a non-empty string"),
    ({"display_name": 3}, "display_name is a non-empty string"),
    ({"description": None}, "description is a string, got None"),
    ({"description": "a\x00b"}, "the field's description cannot be stored: it contains a NUL character"),
    ({"display_name": "x\ud800"}, "the field's display_name cannot be stored: a string holds a lone UTF-16"),
])
def test_field_labels_that_are_refused(options: dict[str, Any], message: str) -> None:
    assert message in str(raised(lambda: Field(str, **options)))


@pytest.mark.parametrize("name", ["", "has space", "-dash-first", None, 5])
def test_form_names_that_are_refused(name: Any) -> None:
    assert "a form name is letters, digits" in str(raised(lambda: UserTaskForm(name)))


def test_form_name_error_is_at_the_declaration() -> None:
    error = raised(lambda: UserTaskForm("bad name", a=Field(str)))  # mark: form-name
    at(error, "form-name")


def test_field_that_is_not_a_field() -> None:
    error = raised(lambda: UserTaskForm("f", amount=float))  # type: ignore[arg-type]  # mark: not-a-field
    at(error, "not-a-field")
    assert "field 'amount' of form 'f' must be a Field(...), got <class 'float'>: write amount=Field(float)" in str(
        error)


def test_field_name_that_is_refused() -> None:
    error = raised(lambda: UserTaskForm("f", **{"1st": Field(str)}))
    assert "field name '1st' of form 'f' must start with a letter or '_'" in str(error)


# --- assigning ---------------------------------------------------------------------------------------------


def test_assign_user_task_lowers_to_a_user_task_node_and_its_form() -> None:
    spec = Workflow("card", card_flow).compile()
    node = user_task(spec)
    assert node.form == "update-card"
    assert node.user == VarRef(name="customer")
    assert node.group == LiteralExpr(value="support")
    assert node.notes == LiteralExpr(value="Your card expired")
    assert spec.forms == {"update-card": UPDATE_CARD.definition}
    charge = spec.threads["main"].nodes["charge-card"]
    assert isinstance(charge, TaskNode)
    assert charge.args[1] == OutputRef(node="user-task-update-card", path=["card_token"])
    assert [e.to for e in node.edges] == ["charge-card"]


def test_the_spec_round_trips_through_json() -> None:
    spec = Workflow("card", card_flow).compile()
    assert loads(dumps(spec)) == spec
    assert b'"forms"' in dumps(spec)


def test_a_spec_without_user_tasks_has_no_forms_key() -> None:
    spec = Workflow("plain", lambda wf: wf.execute("a")).compile()
    assert spec.forms == {}
    assert b"forms" not in dumps(spec)


def test_assign_returns_a_node_output_handle() -> None:
    seen: list[UserTaskOutput] = []

    def flow(wf: WorkflowThread) -> None:
        seen.append(wf.assign_user_task(APPROVE, group="finance"))

    Workflow("h", flow).compile()
    assert isinstance(seen[0], NodeOutput)
    assert seen[0].node_id == "user-task-approve"
    assert seen[0].form == APPROVE.definition


def test_user_group_and_notes_may_be_expressions() -> None:
    def flow(wf: WorkflowThread) -> None:
        manager = wf.declare_str("manager").required()
        team = wf.declare_str("team").required()
        who = wf.execute("find-approver", team)
        wf.assign_user_task(APPROVE, user=who["login"], group=team + "-leads", notes="Approve for " + manager)

    node = user_task(Workflow("expr", flow).compile(), "user-task-approve")
    assert node.user == OutputRef(node="find-approver", path=["login"])
    assert isinstance(node.group, BinaryExpr) and node.group.right == LiteralExpr(value="-leads")
    assert isinstance(node.notes, BinaryExpr) and node.notes.right == VarRef(name="manager")


def test_group_only_and_user_only() -> None:
    def flow(wf: WorkflowThread) -> None:
        wf.assign_user_task(APPROVE, group="finance")
        wf.assign_user_task(APPROVE, user="ann")

    spec = Workflow("either", flow).compile()
    first, second = user_task(spec, "user-task-approve"), user_task(spec, "user-task-approve-2")
    assert (first.user, first.group) == (None, LiteralExpr(value="finance"))
    assert (second.user, second.group) == (LiteralExpr(value="ann"), None)
    assert list(spec.forms) == ["approve"]


def test_two_forms_and_a_user_task_in_a_child_thread() -> None:
    def child(t: WorkflowThread) -> None:
        t.assign_user_task(APPROVE, group="finance")

    def flow(wf: WorkflowThread) -> None:
        customer = wf.declare_str("customer")
        wf.assign_user_task(UPDATE_CARD, user=customer)
        wf.wait_for_threads(wf.spawn_thread(child, "approval"))

    spec = Workflow("two", flow).compile()
    assert sorted(spec.forms) == ["approve", "update-card"]
    assert user_task(spec, "user-task-approve", "approval").form == "approve"


def test_the_same_form_declared_twice_alike_is_one_form() -> None:
    again = UserTaskForm("approve", approved=Field(bool), amount=Field(float), details=Field(dict, required=False))

    def flow(wf: WorkflowThread) -> None:
        wf.assign_user_task(APPROVE, group="a")
        wf.assign_user_task(again, group="b")

    assert list(Workflow("alike", flow).compile().forms) == ["approve"]


def test_two_different_forms_with_one_name() -> None:
    other = UserTaskForm("approve", approved=Field(bool), amount=Field(int))

    def flow(wf: WorkflowThread) -> None:
        wf.assign_user_task(APPROVE, group="a")
        wf.assign_user_task(other, group="b")  # mark: form-clash

    error = misuse(flow)
    at(error, "form-clash")
    assert "form 'approve'" in str(error)
    assert "differs from the form of the same name used at" in str(error)
    assert "field 'details' only in the first, field 'amount' differs" in str(error)
    assert "A workflow has one form per name" in str(error)


def test_assign_needs_a_form() -> None:
    def flow(wf: WorkflowThread) -> None:
        wf.assign_user_task("update-card", user="ann")  # type: ignore[arg-type]  # mark: no-form

    error = misuse(flow)
    at(error, "no-form")
    assert "assign_user_task() takes a UserTaskForm, got 'update-card'" in str(error)


def test_assign_needs_a_user_or_a_group() -> None:
    def flow(wf: WorkflowThread) -> None:
        wf.assign_user_task(UPDATE_CARD, notes="nobody")  # mark: nobody

    error = misuse(flow)
    at(error, "nobody")
    assert "assign_user_task('update-card') needs user= or group= (or both)" in str(error)


@pytest.mark.parametrize(("options", "message"), [
    ({"user": 42}, "user is a string, a variable or an expression, got 42"),
    ({"group": ["a", "b"]}, "group is a string, a variable or an expression, got ['a', 'b']"),
    ({"user": "ann", "notes": {"text": "x"}}, "notes is a string, a variable or an expression"),
    ({"user": "  "}, "user is an empty string; leave it out (None)"),
    ({"group": ""}, "group is an empty string"),
    ({"user": "a\x00b"}, "the user cannot be stored: it contains a NUL character"),
])
def test_bad_user_group_or_notes(options: dict[str, Any], message: str) -> None:
    def flow(wf: WorkflowThread) -> None:
        wf.assign_user_task(UPDATE_CARD, **options)  # mark: bad-assignee

    error = misuse(flow)
    at(error, "bad-assignee")
    assert message in str(error)


def test_empty_notes_are_allowed() -> None:
    def flow(wf: WorkflowThread) -> None:
        wf.assign_user_task(UPDATE_CARD, user="ann", notes="")

    assert user_task(Workflow("n", flow).compile()).notes == LiteralExpr(value="")


# --- the output --------------------------------------------------------------------------------------------


def test_fields_read_downstream_like_any_output() -> None:
    def flow(wf: WorkflowThread) -> None:
        ut = wf.assign_user_task(APPROVE, group="finance")
        wf.do_if(ut["approved"] == True, lambda t: t.execute("pay", ut["amount"], ut["details"]["iban"]))  # noqa: E712
        wf.execute("log", ut.json_path("$.details.reason"), ut)

    spec = Workflow("read", flow).compile()
    pay = spec.threads["main"].nodes["pay"]
    assert isinstance(pay, TaskNode)
    assert pay.args == [OutputRef(node="user-task-approve", path=["amount"]),
                        OutputRef(node="user-task-approve", path=["details", "iban"])]
    log = spec.threads["main"].nodes["log"]
    assert isinstance(log, TaskNode)
    assert log.args == [OutputRef(node="user-task-approve", path=["details", "reason"]),
                        OutputRef(node="user-task-approve")]


def test_a_field_not_in_the_form() -> None:
    def flow(wf: WorkflowThread) -> None:
        ut = wf.assign_user_task(APPROVE, group="finance")
        wf.execute("pay", ut["amont"])  # mark: unknown-field

    error = misuse(flow)
    at(error, "unknown-field")
    assert "form 'approve' has no field 'amont' (its fields: approved, amount, details)" in str(error)


def test_a_json_path_into_a_field_not_in_the_form() -> None:
    def flow(wf: WorkflowThread) -> None:
        ut = wf.assign_user_task(APPROVE, group="finance")
        wf.execute("pay", ut.json_path("$.nope.x"))  # mark: unknown-path

    at(misuse(flow), "unknown-path")


def test_an_index_into_the_form() -> None:
    def flow(wf: WorkflowThread) -> None:
        ut = wf.assign_user_task(APPROVE, group="finance")
        wf.execute("pay", ut[0])  # mark: index

    error = misuse(flow)
    at(error, "index")
    assert "has no field 0" in str(error)


def test_cancelled_is_an_error_code_to_handle() -> None:
    def flow(wf: WorkflowThread) -> None:
        ut = wf.assign_user_task(APPROVE, group="finance")
        ut.cancel_after(3600)
        wf.handle_error(ut, lambda t: t.execute("reject"), error="USER_TASK_CANCELLED")

    node = user_task(Workflow("h", flow).compile(), "user-task-approve")
    assert [(h.on, h.name, h.thread) for h in node.handlers] == [
        ("error", "USER_TASK_CANCELLED", "user-task-approve-on-user_task_cancelled")]


# --- timers ------------------------------------------------------------------------------------------------


def test_timers_are_recorded_in_call_order() -> None:
    spec = Workflow("card", card_flow).compile()
    assert user_task(spec).timers == [
        UserTaskTimer(after=86400.0, action="remind", task="send-card-reminder",
                      args=[VarRef(name="customer"), LiteralExpr(value="user-task-update-card")]),
        UserTaskTimer(after=259200.0, action="reassign", group=LiteralExpr(value="support")),
    ]


def test_every_timer_kind_and_chaining() -> None:
    def flow(wf: WorkflowThread) -> None:
        lead = wf.declare_str("lead")
        ut = wf.assign_user_task(APPROVE, user="ann", group="finance")
        same = (ut.release_to_group_after(60).reassign_after(120, user=lead, group="finance-leads")
                .remind_after(30, "nudge").cancel_after(1.5 * 86400))
        assert same is ut

    timers = user_task(Workflow("all", flow).compile(), "user-task-approve").timers
    assert timers == [
        UserTaskTimer(after=60.0, action="release"),
        UserTaskTimer(after=120.0, action="reassign", user=VarRef(name="lead"),
                      group=LiteralExpr(value="finance-leads")),
        UserTaskTimer(after=30.0, action="remind", task="nudge"),
        UserTaskTimer(after=129600.0, action="cancel"),
    ]


def test_a_timer_added_later_still_belongs_to_its_task() -> None:
    """Timers may be added after other steps, even from a handler: they are
    the user task's, whatever was recorded in between."""

    def flow(wf: WorkflowThread) -> None:
        ut = wf.assign_user_task(APPROVE, group="finance")
        wf.execute("next")
        wf.handle_error(ut, lambda t: (ut.remind_after(10, "nudge"), t.execute("reject")))
        ut.cancel_after(100)

    spec = Workflow("later", flow).compile()
    assert [t.action for t in user_task(spec, "user-task-approve").timers] == ["remind", "cancel"]


@pytest.mark.parametrize("seconds", [0, -1, float("nan"), float("inf"), True, "60", None])
def test_timer_seconds_must_be_positive_numbers(seconds: Any) -> None:
    def flow(wf: WorkflowThread) -> None:
        ut = wf.assign_user_task(APPROVE, group="finance")
        ut.cancel_after(seconds)  # mark: bad-seconds

    error = misuse(flow)
    at(error, "bad-seconds")
    assert "cancel_after() takes a number of seconds > 0 after the assignment" in str(error)


@pytest.mark.parametrize("method", ["reassign_after", "release_to_group_after", "remind_after", "cancel_after"])
def test_every_timer_checks_its_seconds(method: str) -> None:
    def flow(wf: WorkflowThread) -> None:
        ut = wf.assign_user_task(APPROVE, group="finance")
        extra: list[Any] = ["nudge"] if method == "remind_after" else []
        getattr(ut, method)(-5, *extra)

    assert f"{method}() takes a number of seconds > 0" in str(misuse(flow))


def test_timer_longer_than_a_hundred_years() -> None:
    def flow(wf: WorkflowThread) -> None:
        wf.assign_user_task(APPROVE, group="finance").release_to_group_after(10**10)

    assert "release_to_group_after(): a duration may be at most" in str(misuse(flow))


def test_reassign_needs_a_user_or_a_group() -> None:
    def flow(wf: WorkflowThread) -> None:
        ut = wf.assign_user_task(APPROVE, group="finance")
        ut.reassign_after(60)  # mark: reassign-nobody

    error = misuse(flow)
    at(error, "reassign-nobody")
    assert "reassign_after() needs user= or group= (or both)" in str(error)


def test_reassign_to_a_bad_user() -> None:
    def flow(wf: WorkflowThread) -> None:
        wf.assign_user_task(APPROVE, group="finance").reassign_after(60, user=7)  # mark: reassign-bad

    error = misuse(flow)
    at(error, "reassign-bad")
    assert "user is a string, a variable or an expression, got 7" in str(error)


@pytest.mark.parametrize("task", ["", "  ", None, 3])
def test_remind_needs_a_task_name(task: Any) -> None:
    def flow(wf: WorkflowThread) -> None:
        wf.assign_user_task(APPROVE, group="finance").remind_after(60, task)  # mark: remind-task

    error = misuse(flow)
    at(error, "remind-task")
    assert "remind_after() needs the name of the reminder task" in str(error)


def test_remind_arguments_are_json_or_handles() -> None:
    def flow(wf: WorkflowThread) -> None:
        wf.assign_user_task(APPROVE, group="finance").remind_after(60, "nudge", object())  # mark: remind-arg

    error = misuse(flow)
    at(error, "remind-arg")
    assert "must be JSON data" in str(error)


def test_a_task_is_cancelled_once() -> None:
    def flow(wf: WorkflowThread) -> None:
        ut = wf.assign_user_task(APPROVE, group="finance")
        ut.cancel_after(60)
        ut.cancel_after(120)  # mark: cancel-twice

    error = misuse(flow)
    at(error, "cancel-twice")
    assert "already has cancel_after(60)" in str(error)


def test_timers_after_the_workflow_was_recorded() -> None:
    kept: list[UserTaskOutput] = []

    def flow(wf: WorkflowThread) -> None:
        kept.append(wf.assign_user_task(APPROVE, group="finance"))

    Workflow("kept", flow).compile()
    error = raised(lambda: kept[0].cancel_after(60))  # mark: too-late
    at(error, "too-late")
    assert "cancel_after() was called after workflow 'kept' was recorded" in str(error)


def test_compiling_twice_gives_equal_specs() -> None:
    workflow = Workflow("card", card_flow)
    assert dumps(workflow.compile()) == dumps(workflow.compile())


def test_user_task_struct_is_what_the_contract_says() -> None:
    """The node as JSON: the keys the interpreter and the tools read."""
    spec = Workflow("card", card_flow).compile()
    node = msgspec.to_builtins(user_task(spec))
    assert sorted(node) == ["edges", "form", "group", "kind", "notes", "timers", "user"]
    assert node["kind"] == "user_task"
