"""The installed ``wfc`` console script, run as a real process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

WFC = Path(sys.executable).with_name("wfc")

pytestmark = pytest.mark.skipif(not WFC.exists(), reason="the wfc console script is not installed")

MODULE = """\
from wfc.dsl import Workflow, WorkflowThread


def checkout(wf: WorkflowThread) -> None:
    order_id = wf.declare_str("order-id").required()
    wf.execute("charge-card", order_id, retries=3)


checkout_wf = Workflow("checkout", checkout)
"""


def wfc(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1"}
    env.pop("WFC_DEBUG", None)
    return subprocess.run([str(WFC), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=60)


def test_version(tmp_path: Path) -> None:
    result = wfc(tmp_path, "--version")
    assert result.returncode == 0
    assert result.stdout.startswith("wfc ")


def test_compile_check_validate_graph(tmp_path: Path) -> None:
    (tmp_path / "checkout.py").write_text(MODULE)
    assert wfc(tmp_path, "compile", "checkout.py", "-o", "specs", "--check").returncode == 1
    compiled = wfc(tmp_path, "compile", "checkout.py", "-o", "specs")
    assert compiled.returncode == 0, compiled.stderr
    assert wfc(tmp_path, "compile", "checkout.py", "-o", "specs", "--check").returncode == 0
    validated = wfc(tmp_path, "validate", "specs/checkout.json")
    assert validated.returncode == 0
    assert validated.stdout == "ok specs/checkout.json: checkout 1.0, 3 nodes\n"
    graph = wfc(tmp_path, "graph", "specs/checkout.json")
    assert graph.returncode == 0
    assert graph.stdout.startswith("flowchart TD")


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["validate", "missing.json"], 1, "missing.json: no such file"),
        (["graph", "."], 1, "is a directory"),
        (["diff", "bad.json", "bad.json"], 1, "bad.json: invalid workflow spec at $: not valid JSON"),
        (["compile", "broken.py", "-o", "out"], 1, "syntax error at broken.py:1"),
        (["compile", "raises.py", "-o", "out"], 1, "importing raises.py failed at raises.py:1: ZeroDivisionError"),
        (["frobnicate"], 2, "No such command"),
    ],
)
def test_errors_exit_without_traceback(tmp_path: Path, args: list[str], code: int, message: str) -> None:
    (tmp_path / "bad.json").write_text("{")
    (tmp_path / "broken.py").write_text("def (:\n")
    (tmp_path / "raises.py").write_text("1 / 0\n")
    result = wfc(tmp_path, *args)
    assert result.returncode == code
    assert message in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    (tmp_path / "raises.py").write_text("1 / 0\n")
    result = wfc(tmp_path, "--debug", "compile", "raises.py", "-o", "out")
    assert result.returncode == 1
    assert "Traceback" in result.stderr
    assert "ZeroDivisionError" in result.stderr
