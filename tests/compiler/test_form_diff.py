"""A form change bumps the version like a variable change: what breaks those
who complete tasks (a field that becomes required, a new required field, a
removed or retyped field) is major, everything else a revision."""

from __future__ import annotations

import msgspec
import pytest

from wfc.compiler import compile_workflow
from wfc.compiler.diff import InterfaceChange, diff_specs, next_version
from wfc.dsl import Field, UserTaskForm, Workflow, WorkflowThread
from wfc.specs import FieldDef, FormDef, Version, WorkflowSpec

CARD = FieldDef(name="card_token", type="str", display_name="New card", description="The new card")
NOTE = FieldDef(name="note", type="str", required=False)


def spec_with(*fields: FieldDef, version: tuple[int, int] = (2, 3)) -> WorkflowSpec:
    """The compiled card flow with its form's fields replaced."""
    form = UserTaskForm("update-card", card_token=Field(str))

    def flow(wf: WorkflowThread) -> None:
        wf.assign_user_task(form, group="support")

    spec = Workflow("card", flow).compile()
    return msgspec.structs.replace(spec, forms={"update-card": FormDef(name="update-card", fields=list(fields))},
                                   version=Version(major=version[0], revision=version[1]))


def changes(old: WorkflowSpec, new: WorkflowSpec) -> list[tuple[str, bool]]:
    return [(c.description, c.breaking) for c in diff_specs(old, new).interface]


BASE = spec_with(CARD, NOTE)


@pytest.mark.parametrize(("new", "expected", "bump"), [
    pytest.param(spec_with(CARD, msgspec.structs.replace(NOTE, required=True)),
                 [("form 'update-card': field 'note' became required", True)], "major", id="becomes-required"),
    pytest.param(spec_with(CARD, NOTE, FieldDef(name="amount", type="float")),
                 [("form 'update-card': new required field 'amount' (float)", True)], "major", id="new-required"),
    pytest.param(spec_with(CARD),
                 [("form 'update-card': field 'note' removed", True)], "major", id="removed"),
    pytest.param(spec_with(CARD, msgspec.structs.replace(NOTE, type="json")),
                 [("form 'update-card': field 'note' type str → json", True)], "major", id="retyped"),
    pytest.param(spec_with(CARD, NOTE, FieldDef(name="amount", type="float", required=False)),
                 [("form 'update-card': new optional field 'amount' (float)", False)], "revision", id="new-optional"),
    pytest.param(spec_with(msgspec.structs.replace(CARD, required=False), NOTE),
                 [("form 'update-card': field 'card_token' became optional", False)], "revision",
                 id="becomes-optional"),
    pytest.param(spec_with(msgspec.structs.replace(CARD, display_name="Card"), NOTE),
                 [("form 'update-card': field 'card_token' display_name \"New card\" → \"Card\"", False)], "revision",
                 id="display-name"),
    pytest.param(spec_with(msgspec.structs.replace(CARD, display_name=None), NOTE),
                 [("form 'update-card': field 'card_token' display_name \"New card\" → none", False)], "revision",
                 id="display-name-dropped"),
    pytest.param(spec_with(msgspec.structs.replace(CARD, description="Another card"), NOTE),
                 [("form 'update-card': field 'card_token' description \"The new card\" → \"Another card\"", False)],
                 "revision", id="description"),
    pytest.param(spec_with(NOTE, CARD),
                 [("form 'update-card': fields reordered", False)], "revision", id="reordered"),
])
def test_each_form_rule(new: WorkflowSpec, expected: list[tuple[str, bool]], bump: str) -> None:
    assert changes(BASE, new) == expected
    diff = diff_specs(BASE, new)
    assert diff.bump == bump
    assert next_version(BASE, new) == (Version(major=3, revision=0) if bump == "major" else Version(major=2,
                                                                                                    revision=4))


def test_an_unchanged_form_keeps_the_version() -> None:
    assert diff_specs(BASE, spec_with(CARD, NOTE)).bump == "none"
    assert next_version(BASE, spec_with(CARD, NOTE)) == Version(major=2, revision=3)


def test_every_change_of_a_field_is_listed_and_one_breaking_change_is_enough() -> None:
    new = spec_with(msgspec.structs.replace(CARD, type="int", required=False, description="x"))
    assert changes(BASE, new) == [
        ("form 'update-card': field 'card_token' type str → int", True),
        ("form 'update-card': field 'card_token' became optional", False),
        ("form 'update-card': field 'card_token' description \"The new card\" → \"x\"", False),
        ("form 'update-card': field 'note' removed", True),
    ]
    assert diff_specs(BASE, new).bump == "major"


def test_a_form_added_or_removed_with_its_user_task_is_a_revision() -> None:
    approve = UserTaskForm("approve", ok=Field(bool))

    def before(wf: WorkflowThread) -> None:
        wf.execute("charge")

    def after(wf: WorkflowThread) -> None:
        wf.execute("charge")
        wf.assign_user_task(approve, group="finance")

    old, new = Workflow("w", before).compile(), Workflow("w", after).compile()
    added = diff_specs(old, new)
    assert added.interface == (InterfaceChange("new form 'approve'", False),)
    assert added.bump == "revision"
    removed = diff_specs(new, old)
    assert removed.interface == (InterfaceChange("form 'approve' removed", False),)
    assert removed.bump == "revision"
    assert "new form 'approve'" in added.summary()


def test_compile_against_the_previous_spec_bumps_for_a_form_change() -> None:
    """End to end, as ``wfc compile`` does it: the previous file decides."""
    v1 = UserTaskForm("approve", ok=Field(bool))
    v2 = UserTaskForm("approve", ok=Field(bool), reason=Field(str, required=False))
    v3 = UserTaskForm("approve", ok=Field(bool), reason=Field(str))

    def flow_of(form: UserTaskForm) -> Workflow:
        def flow(wf: WorkflowThread) -> None:
            ut = wf.assign_user_task(form, group="finance")
            wf.execute("record", ut["ok"])

        return Workflow("approval", flow)

    first = compile_workflow(flow_of(v1))
    second = compile_workflow(flow_of(v2), previous=first)
    third = compile_workflow(flow_of(v3), previous=second)
    same = compile_workflow(flow_of(v3), previous=third)
    assert [str(s.version) for s in (first, second, third, same)] == ["1.0", "1.1", "2.0", "2.0"]
