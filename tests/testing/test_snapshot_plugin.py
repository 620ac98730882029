"""The ``wf_snapshot`` fixture, driven the way a user drives it: write a
snapshot with ``--snapshot-update``, change the workflow, read the diff,
accept the change."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

from wfc.specs import dumps

pytest_plugins = ["pytester"]

# A user test module; the spec is built by hand so these tests exercise the
# plugin alone. ``{retries}`` is what the "workflow change" edits.
USER_TEST = """
from wfc.specs import SCHEMA_ID, Edge, EntrypointNode, ExitNode, TaskNode, ThreadSpec, WorkflowSpec
from wfc.specs import first_version, with_hash


def greet_spec(retries):
    nodes = {{
        "entrypoint": EntrypointNode(edges=[Edge(to="say-hello")]),
        "say-hello": TaskNode(task="say-hello", retries=retries, edges=[Edge(to="exit")]),
        "exit": ExitNode(edges=[]),
    }}
    return with_hash(WorkflowSpec(
        name="greet", entrypoint="main", schema=SCHEMA_ID, version=first_version(),
        threads={{"main": ThreadSpec(nodes=nodes)}},
    ))


def test_greet_spec(wf_snapshot):
    assert wf_snapshot(greet_spec({retries}))
"""

SNAPSHOT = Path("__snapshots__", "test_greet", "test_greet_spec[greet].json")


def glob_escape(text: str) -> str:
    """Escape ``[`` and ``]`` for pytest's ``fnmatch_lines`` patterns."""
    return re.sub(r"([\[\]])", r"[\1]", text)


def write_user_test(pytester: pytest.Pytester, retries: int) -> None:
    pytester.makepyfile(test_greet=USER_TEST.format(retries=retries))


def expected_bytes(retries: int) -> bytes:
    namespace: dict[str, object] = {}
    exec(USER_TEST.format(retries=retries), namespace)
    return dumps(namespace["greet_spec"](retries))  # type: ignore[operator]


def test_update_writes_the_canonical_spec_json(pytester: pytest.Pytester) -> None:
    write_user_test(pytester, retries=3)

    result = pytester.runpytest("--snapshot-update")

    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*1 snapshot generated*"])
    assert (pytester.path / SNAPSHOT).read_bytes() == expected_bytes(3)


def test_unchanged_workflow_passes(pytester: pytest.Pytester) -> None:
    write_user_test(pytester, retries=3)
    pytester.runpytest("--snapshot-update").assert_outcomes(passed=1)

    result = pytester.runpytest()

    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*1 snapshot passed*"])


def test_changed_workflow_fails_with_a_unified_diff_then_passes_after_update(
    pytester: pytest.Pytester,
) -> None:
    write_user_test(pytester, retries=3)
    pytester.runpytest("--snapshot-update").assert_outcomes(passed=1)
    write_user_test(pytester, retries=12)  # a different length keeps pyc caches honest

    failed = pytester.runpytest()

    failed.assert_outcomes(failed=1)
    failed.stdout.fnmatch_lines(
        [
            "E * workflow 'greet' differs from its snapshot; run `pytest --snapshot-update`*",
            f"E *--- snapshot {glob_escape(str(SNAPSHOT))}",
            "E *+++ compiled workflow 'greet'",
            'E *-          "retries": 3,',
            'E *+          "retries": 12,',
        ]
    )
    assert "SnapshotAssertion" not in failed.stdout.str()

    pytester.runpytest("--snapshot-update").assert_outcomes(passed=1)
    assert (pytester.path / SNAPSHOT).read_bytes() == expected_bytes(12)
    pytester.runpytest().assert_outcomes(passed=1)


def test_missing_snapshot_fails_and_says_how_to_write_it(pytester: pytest.Pytester) -> None:
    write_user_test(pytester, retries=3)

    result = pytester.runpytest()

    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["E * workflow 'greet' has no snapshot yet (*test_greet_spec[[]greet[]].json); run `pytest --snapshot-update`*"]
    )
    assert not (pytester.path / SNAPSHOT).exists()


def test_each_workflow_of_a_test_gets_its_own_file(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_two=textwrap.dedent(
            """
            import msgspec
            from test_greet import greet_spec

            def test_both(wf_snapshot):
                first = wf_snapshot(greet_spec(1))
                second = wf_snapshot(msgspec.structs.replace(greet_spec(2), name="greet-again"))
                assert first and second
                assert first.created and second.created
                assert first.spec.name == "greet"
            """
        )
    )
    write_user_test(pytester, retries=3)

    pytester.runpytest("test_two.py", "--snapshot-update").assert_outcomes(passed=1)

    stored = sorted(p.name for p in (pytester.path / "__snapshots__" / "test_two").iterdir())
    assert stored == ["test_both[greet-again].json", "test_both[greet].json"]


def test_rejects_what_is_not_a_workflow_with_a_clear_message(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_wrong=textwrap.dedent(
            """
            def checkout(wf):
                pass

            def test_wrong(wf_snapshot):
                assert wf_snapshot(checkout)
            """
        )
    )

    result = pytester.runpytest()

    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["E * TypeError: expected a wfc.dsl.Workflow or a wfc.specs.WorkflowSpec, got function 'checkout'*"]
    )


DSL_TEST = """
from wfc.dsl import Workflow


def greet(wf):
    name = wf.declare_str("name").required()
    wf.execute("say-hello", name, retries={retries})


greet_wf = Workflow("greet", greet)


def test_greet_spec(wf_snapshot):
    assert wf_snapshot(greet_wf)
"""


def test_a_dsl_workflow_change_shows_in_the_diff(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_greet=DSL_TEST.format(retries=1))
    pytester.runpytest("--snapshot-update").assert_outcomes(passed=1)
    pytester.makepyfile(test_greet=DSL_TEST.format(retries=10))

    failed = pytester.runpytest()

    failed.assert_outcomes(failed=1)
    failed.stdout.fnmatch_lines(
        [
            "E * wfc.testing.SpecSnapshotMismatch: workflow 'greet' differs from its snapshot*",
            'E *-          "retries": 1,',
            'E *+          "retries": 10,',
        ]
    )
    pytester.runpytest("--snapshot-update").assert_outcomes(passed=1)
    pytester.runpytest().assert_outcomes(passed=1)


def test_the_extension_works_with_syrupys_own_fixture(pytester: pytest.Pytester) -> None:
    write_user_test(pytester, retries=3)
    pytester.makepyfile(
        test_direct=textwrap.dedent(
            """
            from test_greet import greet_spec
            from wfc.testing import WorkflowSpecExtension

            def test_direct(snapshot):
                assert snapshot.use_extension(WorkflowSpecExtension) == greet_spec(RETRIES)
            """
        ).replace("RETRIES", "3")
    )
    pytester.runpytest("test_direct.py", "--snapshot-update").assert_outcomes(passed=1)
    stored = pytester.path / "__snapshots__" / "test_direct" / "test_direct.json"
    assert stored.read_bytes() == expected_bytes(3)

    (pytester.path / "test_direct.py").write_text(
        (pytester.path / "test_direct.py").read_text().replace("greet_spec(3)", "greet_spec(12)")
    )
    failed = pytester.runpytest("test_direct.py", "-vv")  # pytest truncates assertrepr diffs otherwise

    failed.assert_outcomes(failed=1)
    failed.stdout.fnmatch_lines(["E *--- snapshot", 'E *-          "retries": 3,', 'E *+          "retries": 12,'])
