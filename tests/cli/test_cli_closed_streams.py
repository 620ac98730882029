"""A standard stream the caller closed (``wfc runs list >&-``, ``wfc run ...
--input-json - <&-``) is the null device: commands still end with their own
exit code and a clear message, never an internal error or a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

_WFC = "from wfc.cli import main; main()"
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _wfc_with_closed(fd: int, args: Sequence[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run ``wfc args`` in ``cwd`` with file descriptor ``fd`` closed (the
    others captured)."""
    return subprocess.run(
        [sys.executable, "-c", _WFC, *args],
        preexec_fn=lambda: os.close(fd),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_a_closed_stdout_takes_the_report_and_the_command_does_its_work(tmp_path: Path) -> None:
    done = _wfc_with_closed(1, ["compile", str(EXAMPLES / "payment.py"), "-o", "specs"], tmp_path)
    assert done.returncode == 0, done.stderr
    assert "internal error" not in done.stderr and "Traceback" not in done.stderr
    assert (tmp_path / "specs" / "payment.json").is_file()


def test_a_closed_stderr_still_ends_a_bad_command_with_its_exit_code(tmp_path: Path) -> None:
    done = _wfc_with_closed(2, ["runs", "show", "nothere", "--db", str(tmp_path / "runs.db")], tmp_path)
    assert done.returncode == 1
    assert "Traceback" not in done.stdout


def test_reading_a_closed_stdin_is_a_clear_error(tmp_path: Path) -> None:
    done = _wfc_with_closed(
        0, ["event", "send", "approved", "-", "--run", "r-1", "--db", str(tmp_path / "r.db")], tmp_path
    )
    assert done.returncode == 2, done.stderr
    assert "not JSON" in done.stderr
    assert "internal error" not in done.stderr and "Traceback" not in done.stderr
