"""wfc diff."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import msgspec
from typer.testing import Result

from wfc.specs import TaskNode, ThreadSpec, VariableDef, WorkflowSpec, with_hash

Invoke = Callable[..., Result]
WriteSpec = Callable[[WorkflowSpec, str], Path]


def _with_retries(spec: WorkflowSpec, retries: int) -> WorkflowSpec:
    main = spec.threads["main"]
    node = main.nodes["charge-card"]
    assert isinstance(node, TaskNode)
    nodes = {**main.nodes, "charge-card": msgspec.structs.replace(node, retries=retries)}
    threads = {**spec.threads, "main": ThreadSpec(nodes=nodes)}
    return with_hash(msgspec.structs.replace(spec, threads=threads))


def _with_required(spec: WorkflowSpec, name: str) -> WorkflowSpec:
    variables = {**spec.variables, name: VariableDef(type="str", required=True)}
    return with_hash(msgspec.structs.replace(spec, variables=variables))


def test_no_changes(invoke: Invoke, spec: WorkflowSpec, write_spec: WriteSpec) -> None:
    write_spec(spec, "old.json")
    write_spec(spec, "new.json")
    result = invoke("diff", "old.json", "new.json")
    assert result.exit_code == 0
    assert "no changes; the version stays 1.2" in result.stdout


def test_revision(invoke: Invoke, spec: WorkflowSpec, write_spec: WriteSpec) -> None:
    write_spec(spec, "old.json")
    write_spec(_with_retries(spec, 5), "new.json")
    result = invoke("diff", "old.json", "new.json")
    assert result.exit_code == 0
    assert "nodes of thread main" in result.stdout
    assert "~ charge-card (retries 3 → 5)" in result.stdout
    assert "this change requires version 1.3 (revision: compatible change)" in result.stdout
    assert "note: the new spec says version 1.2" in result.stdout


def test_major(invoke: Invoke, spec: WorkflowSpec, write_spec: WriteSpec) -> None:
    write_spec(spec, "old.json")
    write_spec(_with_required(spec, "coupon"), "new.json")
    result = invoke("diff", "old.json", "new.json")
    assert result.exit_code == 0
    assert "interface" in result.stdout
    assert "✗ breaking: new required variable 'coupon' (str)" in result.stdout
    assert "this change requires version 2.0 (major: interface break)" in result.stdout


def test_threads_and_other(invoke: Invoke, spec: WorkflowSpec, write_spec: WriteSpec) -> None:
    threads = {name: thread for name, thread in spec.threads.items() if name != "refund"}
    main = spec.threads["main"]
    node = main.nodes["charge-card"]
    nodes = {**main.nodes, "charge-card": msgspec.structs.replace(node, handlers=[])}
    smaller = msgspec.structs.replace(spec, threads={**threads, "main": ThreadSpec(nodes=nodes)}, name="checkout-2")
    write_spec(spec, "old.json")
    write_spec(with_hash(smaller), "new.json")
    result = invoke("diff", "old.json", "new.json")
    assert "- thread refund removed" in result.stdout
    assert "· name checkout → checkout-2" in result.stdout


def test_json(invoke: Invoke, spec: WorkflowSpec, write_spec: WriteSpec) -> None:
    write_spec(spec, "old.json")
    write_spec(_with_required(_with_retries(spec, 0), "coupon"), "new.json")
    result = invoke("diff", "old.json", "new.json", "--json")
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert data["bump"] == "major"
    assert data["required_version"] == "2.0"
    assert data["old"] == {"name": "checkout", "version": "1.2"}
    assert data["interface"] == [{"description": "new required variable 'coupon' (str)", "breaking": True}]
    change = {"thread": "main", "node": "charge-card", "change": "changed", "detail": "retries 3 → unset"}
    assert data["nodes"] == [change]
    assert data["summary"] == "1 node changed; new required variable 'coupon' (str)"


def test_missing_and_invalid_files(invoke: Invoke, spec: WorkflowSpec, write_spec: WriteSpec) -> None:
    write_spec(spec, "old.json")
    missing = invoke("diff", "old.json", "new.json")
    assert missing.exit_code == 1
    assert "spec file new.json: no such file or directory" in missing.stderr
    Path("new.json").write_text('{"name": 1}')
    invalid = invoke("diff", "old.json", "new.json")
    assert invalid.exit_code == 1
    assert "new.json: invalid workflow spec at $" in invalid.stderr
    assert "Traceback" not in missing.output + invalid.output


def test_a_linked_file_is_named_as_given(invoke: Invoke, spec: WorkflowSpec, write_spec: WriteSpec) -> None:
    write_spec(spec, "old.json")
    Path("store").mkdir()
    Path("store/broken.json").write_text("garbage")
    Path("new.json").symlink_to("store/broken.json")
    result = invoke("diff", "old.json", "new.json")
    assert result.exit_code == 1
    assert "new.json: invalid workflow spec" in result.output
    assert "store/broken.json" not in result.output  # the user gave new.json
    Path("gone.json").symlink_to("store/missing.json")
    result = invoke("diff", "old.json", "gone.json")
    assert result.exit_code == 1
    assert "gone.json is a symbolic link to store/missing.json, which does not exist; check the link" in result.output
