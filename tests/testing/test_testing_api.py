"""The public names of ``wfc.testing`` and its helpers that need no pytest run."""

from __future__ import annotations

import pytest

import wfc.testing
from wfc.dsl import Field, UserTaskForm, VariableHandle, Workflow, WorkflowThread
from wfc.specs import (
    SCHEMA_ID,
    Edge,
    EntrypointNode,
    ExitNode,
    Node,
    ThreadSpec,
    WorkflowSpec,
    dumps,
    first_version,
)
from wfc.testing import (
    SnapshotMatch,
    WorkflowAssertionError,
    WorkflowEnv,
    WorkflowSpecExtension,
    spec_diff,
    spec_of,
    spec_text,
)


def tiny_spec(name: str = "tiny") -> WorkflowSpec:
    nodes: dict[str, Node] = {"entrypoint": EntrypointNode(edges=[Edge(to="exit")]), "exit": ExitNode(edges=[])}
    return WorkflowSpec(
        name=name,
        entrypoint="main",
        schema=SCHEMA_ID,
        version=first_version(),
        threads={"main": ThreadSpec(nodes=nodes)},
    )


def test_exported_names_are_pinned() -> None:
    assert sorted(wfc.testing.__all__) == [
        "Call",
        "SnapshotMatch",
        "SpecSnapshotMismatch",
        "Stub",
        "StuckRunError",
        "VirtualClock",
        "WorkflowAssertionError",
        "WorkflowEnv",
        "WorkflowSnapshot",
        "WorkflowSpecExtension",
        "spec_diff",
        "spec_of",
        "spec_text",
        "workflow_env",
    ]
    for name in wfc.testing.__all__:
        assert getattr(wfc.testing, name).__doc__, f"wfc.testing.{name} has no docstring"


def test_unknown_attribute_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        wfc.testing.nope  # noqa: B018


def test_spec_of_passes_specs_through_and_spec_text_is_canonical_json() -> None:
    spec = tiny_spec()
    assert spec_of(spec) is spec
    assert spec_text(spec) == dumps(spec).decode()


def test_spec_diff_is_a_unified_diff_and_empty_for_equal_texts() -> None:
    assert list(spec_diff("a\nb\n", "a\nb\n")) == []
    assert list(spec_diff("a\nb\n", "a\nc\n", context=1)) == [
        "--- snapshot",
        "+++ compiled",
        "@@ -1,2 +1,2 @@",
        " a",
        "-b",
        "+c",
    ]


def test_snapshot_match_is_always_true() -> None:
    assert SnapshotMatch(tiny_spec(), "x.json")


def test_extension_serializes_specs_text_and_bytes_identically() -> None:
    spec = tiny_spec()
    extension = WorkflowSpecExtension()
    assert extension.serialize(spec) == extension.serialize(dumps(spec).decode()) == dumps(spec)
    with pytest.raises(TypeError, match="stores workflow specs, got dict"):
        extension.serialize({"name": "tiny"})


# ---------------------------------------------------------------- user tasks and failures in wf_env

ANSWER = UserTaskForm("answer", text=Field(str))


def _ask(wf: WorkflowThread) -> VariableHandle:
    answer = wf.declare_str("answer").default("")
    asked = wf.assign_user_task(ANSWER, group="support")
    answer.assign(asked["text"])
    return answer


ASK = Workflow("ask", _ask)


@pytest.mark.anyio
async def test_a_group_task_is_claimed_then_completed_by_the_claimer(wf_env: WorkflowEnv) -> None:
    run_id = await wf_env.start(ASK)

    claimed = await wf_env.claim_user_task(run_id, "sam")
    assert (claimed.status.value, claimed.user, claimed.group) == ("ASSIGNED", "sam", "support")
    await wf_env.complete_user_task(run_id, {"text": "done"}, user="sam")

    await wf_env.assert_output(run_id, "done")
    await wf_env.assert_journal(run_id, ["USER_TASK_CLAIMED user-task-answer", "USER_TASK_COMPLETED user-task-answer"])


@pytest.mark.anyio
async def test_a_cancelled_user_task_fails_its_node_and_assert_failure_says_so(wf_env: WorkflowEnv) -> None:
    run_id = await wf_env.start(ASK)

    cancelled = await wf_env.cancel_user_task(run_id, reason="nobody will answer", by="ops")
    assert cancelled.status.value == "CANCELLED"
    run = await wf_env.result(run_id)

    await wf_env.assert_failure(run, "USER_TASK_CANCELLED")
    await wf_env.assert_failure(run, "USER_TASK_CANCELLED", node="user-task-answer")
    with pytest.raises(WorkflowAssertionError) as caught:
        await wf_env.assert_failure(run, "TIMEOUT", node="user-task-answer")
    message = str(caught.value)
    assert f"run {run_id!r} did not fail as expected" in message
    assert '-  "failure": "TIMEOUT",' in message and '+  "failure": "USER_TASK_CANCELLED",' in message
    assert '+  "message": ' in message  # the actual failure's message, to read


@pytest.mark.anyio
async def test_assert_failure_on_a_completed_run_shows_its_status(wf_env: WorkflowEnv) -> None:
    run_id = await wf_env.start(ASK)
    await wf_env.complete_user_task(run_id, {"text": "done"})

    with pytest.raises(WorkflowAssertionError) as caught:
        await wf_env.assert_failure(run_id, "USER_TASK_CANCELLED")
    assert '-  "status": "COMPENSATED or FAILED"' in str(caught.value)
    assert '+  "status": "COMPLETED"' in str(caught.value)
    assert '+  "failure": null' in str(caught.value)


@pytest.mark.anyio
async def test_claiming_or_cancelling_needs_an_open_user_task(wf_env: WorkflowEnv) -> None:
    run_id = await wf_env.start(ASK)
    await wf_env.complete_user_task(run_id, {"text": "done"})

    with pytest.raises(WorkflowAssertionError, match="has 0 open user task"):
        await wf_env.claim_user_task(run_id, "sam")
    with pytest.raises(WorkflowAssertionError, match="has 0 open user task"):
        await wf_env.cancel_user_task(run_id)
