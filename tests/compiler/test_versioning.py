"""Versions against ``previous``: unchanged keeps the version, a broken
interface bumps the major version, anything else bumps the revision."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from wfc.compiler import CompileError, compile_workflow, diff_specs, next_version
from wfc.dsl import Workflow, WorkflowThread
from wfc.specs import Version, WorkflowSpec, body_hash, dumps, loads


def order(
    *,
    retries: int = 3,
    amount_type: str = "float",
    extra_required: bool = False,
    extra_optional: bool = False,
    drop_note: bool = False,
    note_default: str = "none",
    note_masked: bool = False,
    customer_required: bool = False,
    extra_step: bool = False,
    output: str = "str",
    threshold: int = 100,
    handler: bool = False,
    child_task: str = "ship-item",
) -> Workflow:
    """The order workflow, with one knob per kind of change."""

    def flow(wf: WorkflowThread) -> Any:
        order_id = wf.declare_str("order-id").required()
        amount = getattr(wf, f"declare_{amount_type}")("amount").required()
        customer = wf.declare_str("customer")
        if customer_required:
            customer.required()
        if not drop_note:
            note = wf.declare_str("note").default(note_default)
            if note_masked:
                note.masked()
        if extra_required:
            wf.declare_str("currency").required()
        if extra_optional:
            wf.declare_str("coupon").default("")
        charge = wf.execute("charge-card", order_id, amount, retries=retries)
        if extra_step:
            wf.execute("fraud-check", order_id)
        if handler:
            wf.handle_error(charge, lambda t: t.execute("alert", order_id))
        wf.do_if(amount > threshold, lambda t: t.execute("review", order_id))
        kid = wf.spawn_thread(lambda t: t.execute(child_task, t.variable("order-id")), "ship")
        wf.wait_for_threads(kid)
        return {"str": order_id, "json": charge, "int": 1, "none": None}[output]

    return Workflow("order", flow)


def at(version: tuple[int, int], **changes: Any) -> WorkflowSpec:
    """The spec of ``order(**changes)`` as if it had been released as ``version``."""
    spec = compile_workflow(order(**changes))
    return msgspec.structs.replace(spec, version=Version(major=version[0], revision=version[1]))


def recompile(previous: WorkflowSpec, **changes: Any) -> WorkflowSpec:
    spec = compile_workflow(order(**changes), previous=previous)
    assert loads(dumps(spec)) == spec
    return spec


# --- first and unchanged ----------------------------------------------------------------------------------


def test_first_version_is_1_0() -> None:
    spec = compile_workflow(order())
    assert spec.version == Version(major=1, revision=0)
    assert compile_workflow(order(), previous=None).version == Version(major=1, revision=0)


@pytest.mark.parametrize("version", [(1, 0), (1, 7), (4, 2)])
def test_unchanged_keeps_the_version_and_the_hash(version: tuple[int, int]) -> None:
    previous = at(version)
    spec = recompile(previous)
    assert spec.version == previous.version
    assert spec.hash == previous.hash
    assert spec == previous
    assert dumps(spec) == dumps(previous)


def test_unchanged_from_a_loaded_spec() -> None:
    previous = loads(dumps(at((2, 5))))
    assert dumps(recompile(previous)) == dumps(previous)


# --- major bumps ---------------------------------------------------------------------------------------------

MAJOR = {
    "new-required-input": {"extra_required": True},
    "changed-variable-type": {"amount_type": "int"},
    "removed-variable": {"drop_note": True},
    "changed-output-type": {"output": "json"},
    "output-removed": {"output": "none"},
    "optional-became-required": {"customer_required": True},
}


@pytest.mark.parametrize("changes", list(MAJOR.values()), ids=list(MAJOR))
def test_breaking_the_interface_bumps_the_major_version(changes: dict[str, Any]) -> None:
    previous = at((3, 4))
    spec = recompile(previous, **changes)
    assert spec.version == Version(major=4, revision=0)
    assert diff_specs(previous, spec).bump == "major"


def test_major_bump_from_1_0() -> None:
    assert recompile(at((1, 0)), extra_required=True).version == Version(major=2, revision=0)


def test_major_bump_with_other_changes_too() -> None:
    spec = recompile(at((3, 4)), extra_required=True, retries=5, extra_step=True)
    assert spec.version == Version(major=4, revision=0)


# --- revision bumps ----------------------------------------------------------------------------------------

REVISION = {
    "retries-3-to-5": {"retries": 5},
    "new-step": {"extra_step": True},
    "new-optional-input": {"extra_optional": True},
    "changed-default": {"note_default": "n/a"},
    "now-masked": {"note_masked": True},
    "changed-condition": {"threshold": 500},
    "new-handler-thread": {"handler": True},
    "changed-child-thread": {"child_task": "ship-parcel"},
}


@pytest.mark.parametrize("changes", list(REVISION.values()), ids=list(REVISION))
def test_any_other_change_bumps_the_revision(changes: dict[str, Any]) -> None:
    previous = at((3, 4))
    spec = recompile(previous, **changes)
    assert spec.version == Version(major=3, revision=5)
    assert spec.hash != previous.hash
    assert diff_specs(previous, spec).bump == "revision"


def test_required_becoming_optional_is_compatible() -> None:
    previous = at((2, 0), customer_required=True)
    assert recompile(previous).version == Version(major=2, revision=1)


# --- the hash and the version are independent ----------------------------------------------------------------


def test_hash_is_the_same_whatever_the_previous_version() -> None:
    hashes = {recompile(at(version), retries=5).hash for version in [(1, 0), (2, 3), (9, 9)]}
    assert hashes == {compile_workflow(order(retries=5)).hash}


def test_hash_is_of_the_body_without_version() -> None:
    spec = recompile(at((5, 1)), extra_required=True)
    assert spec.version == Version(major=6, revision=0)
    assert spec.hash == body_hash(spec)
    assert spec.hash.startswith("sha256:")


def test_a_history_of_releases() -> None:
    v1 = compile_workflow(order())
    v1_1 = recompile(v1, retries=5)
    v2 = recompile(v1_1, retries=5, extra_required=True)
    v2_again = recompile(v2, retries=5, extra_required=True)
    v2_1 = recompile(v2_again, retries=5, extra_required=True, extra_step=True)
    assert [str(s.version) for s in (v1, v1_1, v2, v2_again, v2_1)] == ["1.0", "1.1", "2.0", "2.0", "2.1"]
    assert v2_again == v2


def test_going_back_to_an_older_body_is_still_a_new_revision() -> None:
    v1 = compile_workflow(order())
    v1_1 = recompile(v1, retries=5)
    back = recompile(v1_1)
    assert back.version == Version(major=1, revision=2)
    assert back.hash == v1.hash


def test_compile_uses_next_version() -> None:
    previous = at((3, 4))
    for changes in [{}, *MAJOR.values(), *REVISION.values()]:
        unversioned = compile_workflow(order(**changes))
        assert recompile(previous, **changes).version == next_version(previous, unversioned)


def test_previous_of_another_workflow_is_an_error() -> None:
    other = msgspec.structs.replace(at((1, 0)), name="refund")
    with pytest.raises(CompileError, match="the previous spec is of workflow 'refund', not 'order'"):
        compile_workflow(order(), previous=other)
