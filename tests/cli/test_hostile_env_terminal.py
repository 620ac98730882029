"""The real ``wfc`` process under sizes no terminal has: ``COLUMNS`` and
typer's ``TERMINAL_WIDTH`` of 0, 1, absurdly wide or not a number. Help and
usage errors are drawn by typer's own consoles, which read these variables
directly: each still prints readable help of a sane size, and never fails."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # run_helpers, with --import-mode=importlib

from run_helpers import WFC, script_env

#: The most a line of help may take when a size is dropped or raised: the
#: width typer draws a pipe's help at (80), or the narrowest wfc draws (40).
WIDEST_HELP_LINE = 80


def _wfc(tmp_path: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    environment = script_env(env)
    for name in ("COLUMNS", "TERMINAL_WIDTH", "LINES"):
        if name not in env:
            environment.pop(name, None)
    return subprocess.run([str(WFC), *args], cwd=tmp_path, env=environment, capture_output=True, text=True, timeout=60)


SIZES = [
    {"COLUMNS": "0"},
    {"COLUMNS": "1"},
    {"COLUMNS": "100000"},
    {"COLUMNS": "99999999999999999999"},
    {"TERMINAL_WIDTH": "abc"},
    {"TERMINAL_WIDTH": "0"},
    {"TERMINAL_WIDTH": "1"},
]


@pytest.mark.parametrize("env", SIZES, ids=lambda env: ",".join(f"{k}={v}" for k, v in env.items()))
def test_help_is_readable_at_any_size(tmp_path: Path, env: dict[str, str]) -> None:
    done = _wfc(tmp_path, env, "--help")
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr and "internal error" not in done.stderr
    assert "Usage: wfc [OPTIONS] COMMAND [ARGS]..." in done.stdout  # on one line, not a letter a line
    assert "compile" in done.stdout and "runs" in done.stdout
    assert max(len(line) for line in done.stdout.splitlines()) <= WIDEST_HELP_LINE


@pytest.mark.parametrize("env", SIZES, ids=lambda env: ",".join(f"{k}={v}" for k, v in env.items()))
def test_a_usage_error_is_readable_at_any_size(tmp_path: Path, env: dict[str, str]) -> None:
    done = _wfc(tmp_path, env, "runs", "show", "--no-such-option")
    assert done.returncode == 2
    assert "Traceback" not in done.stderr and "internal error" not in done.stderr
    assert "No such option: --no-such-option" in " ".join(done.stderr.replace("│", " ").split())
    assert max(len(line) for line in done.stderr.splitlines()) <= WIDEST_HELP_LINE
