"""wfc validate."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from typer.testing import Result

from wfc.specs import WorkflowSpec

Invoke = Callable[..., Result]
WriteSpec = Callable[[WorkflowSpec, str], Path]


def test_valid_files(invoke: Invoke, spec: WorkflowSpec, write_spec: WriteSpec) -> None:
    write_spec(spec, "a.json")
    write_spec(spec, "b.json")
    result = invoke("validate", "a.json", "b.json")
    assert result.exit_code == 0
    assert result.stdout.splitlines() == ["ok a.json: checkout 1.2, 16 nodes", "ok b.json: checkout 1.2, 16 nodes"]


def test_invalid_spec_names_the_file_and_path(invoke: Invoke, spec: WorkflowSpec, write_spec: WriteSpec) -> None:
    good = write_spec(spec, "good.json")
    bad = good.read_text().replace('"to": "poll-loop"', '"to": "nowhere"', 1)
    Path("bad.json").write_text(bad)
    result = invoke("validate", "good.json", "bad.json")
    assert result.exit_code == 1
    assert "ok good.json" in result.stdout
    assert "error: bad.json: invalid workflow spec at $.threads.main.nodes." in result.stderr
    assert "'nowhere'" in result.stderr
    assert "Traceback" not in result.output


def test_wrong_field_type(invoke: Invoke, spec: WorkflowSpec, write_spec: WriteSpec) -> None:
    text = write_spec(spec, "x.json").read_text().replace('"retries": 3', '"retries": "three"', 1)
    Path("x.json").write_text(text)
    result = invoke("validate", "x.json")
    assert result.exit_code == 1
    assert "x.json: invalid workflow spec at $.threads." in result.stderr
    assert ".retries" in result.stderr


def test_invalid_json(invoke: Invoke) -> None:
    Path("broken.json").write_text("{not json")
    result = invoke("validate", "broken.json")
    assert result.exit_code == 1
    assert "error: broken.json: invalid workflow spec at $: not valid JSON" in result.stderr
    assert "Traceback" not in result.output


def test_missing_file(invoke: Invoke) -> None:
    result = invoke("validate", "missing.json")
    assert result.exit_code == 1
    assert result.stderr == ("error: spec file missing.json: no such file or directory; check the path\n")


def test_directory_instead_of_file(invoke: Invoke) -> None:
    Path("specs").mkdir()
    result = invoke("validate", "specs")
    assert result.exit_code == 1
    assert "error: spec file specs is a directory; give the path of a file" in result.stderr


def test_every_file_is_reported(invoke: Invoke, spec: WorkflowSpec, write_spec: WriteSpec) -> None:
    write_spec(spec, "good.json")
    result = invoke("validate", "missing.json", "good.json", "other.json")
    assert result.exit_code == 1
    assert "ok good.json" in result.stdout
    assert result.stderr.count("error:") == 2


def test_hand_edited_file_gets_a_warning(invoke: Invoke, spec: WorkflowSpec, write_spec: WriteSpec) -> None:
    text = write_spec(spec, "x.json").read_text().replace('"retries": 3', '"retries": 4', 1)
    Path("x.json").write_text(text)
    result = invoke("validate", "x.json")
    assert result.exit_code == 0
    assert "ok x.json" in result.stdout
    assert "warning: x.json: the hash does not match the body" in result.stderr
