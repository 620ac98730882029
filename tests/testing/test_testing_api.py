"""The public names of ``wfc.testing`` and its helpers that need no pytest run."""

from __future__ import annotations

import pytest

import wfc.testing
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
from wfc.testing import SnapshotMatch, WorkflowSpecExtension, spec_diff, spec_of, spec_text


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
