"""The wfc app: --version, help, usage errors, internal errors and --debug."""

from __future__ import annotations

import importlib.metadata
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

import wfc.cli
import wfc.cli.validate_cmd
from wfc.cli import app
from wfc.specs import WorkflowSpec

Invoke = Callable[..., Result]


def test_exports() -> None:
    assert sorted(wfc.cli.__all__) == ["CliError", "WfcError", "app", "main"]


def test_version(invoke: Invoke) -> None:
    result = invoke("--version")
    assert result.exit_code == 0
    assert result.stdout == f"wfc {importlib.metadata.version('wfc')}\n"


def test_help_lists_the_commands(invoke: Invoke) -> None:
    result = invoke("--help")
    assert result.exit_code == 0
    for command in ("compile", "validate", "graph", "diff"):
        assert command in result.stdout


@pytest.mark.parametrize(
    "args",
    [
        ["no-such-command"],
        ["validate"],  # missing argument
        ["compile", "x.py"],  # missing -o
        ["graph", "x.json", "--format", "png"],
        ["diff", "--bogus", "a", "b"],
    ],
)
def test_usage_errors_exit_2(invoke: Invoke, args: list[str]) -> None:
    result = invoke(*args)
    assert result.exit_code == 2
    assert "Traceback" not in result.output


def _explode(path: Path) -> WorkflowSpec:
    raise RuntimeError("boom")


def test_unexpected_exception_is_a_short_internal_error(invoke: Invoke, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(wfc.cli.validate_cmd, "read_spec", _explode)
    result = invoke("validate", "x.json")
    assert result.exit_code == 1
    assert "internal error: RuntimeError: boom" in result.stderr
    assert "rerun with --debug" in result.stderr
    assert "Traceback" not in result.output


def test_debug_shows_the_traceback(invoke: Invoke, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(wfc.cli.validate_cmd, "read_spec", _explode)
    result = invoke("--debug", "validate", "x.json")
    assert result.exit_code == 1
    assert "Traceback" in result.stderr
    assert "_explode" in result.stderr
    assert "internal error: RuntimeError: boom" in result.stderr
    assert "rerun with --debug" not in result.stderr


def test_debug_from_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner(env={"WFC_DEBUG": "1"}).invoke(app, ["graph", "missing.json"])
    assert result.exit_code == 1
    assert "Traceback" in result.stderr
    assert "missing.json" in result.stderr


def test_debug_shows_the_traceback_of_expected_errors_too(invoke: Invoke) -> None:
    result = invoke("--debug", "graph", "missing.json")
    assert result.exit_code == 1
    assert "Traceback" in result.stderr
    assert "error: spec file missing.json: no such file or directory" in result.stderr
