"""The command line starts fast because it is lazy: building it and printing
any help imports typer and rich, but not the runtime, the compiler, the DSL
(lark), asyncpg, anyio or the spec codec. Each command imports what it needs
when it runs. Pinned on what is imported, not on a timing (speed lives in
``bench/``)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from wfc.cli.runs_cmd import StatusChoice
from wfc.runtime import RunStatus

#: Packages (and their submodules) that ``wfc --help`` must not import.
HEAVY = (
    "lark", "asyncpg", "anyio", "msgspec", "wfc.runtime", "wfc.compiler", "wfc.dsl", "wfc.specs.codec",
    "starlette", "uvicorn", "wfc.server",
)

_PROBE = """
import json, sys
from wfc.cli import main
sys.argv = ["wfc", *json.loads(sys.argv[1])]
try:
    main()
except SystemExit:
    pass
sys.stderr.write("\\nMODULES " + json.dumps(sorted(sys.modules)) + "\\n")
"""


def modules_after(*args: str) -> list[str]:
    """Every module imported by ``wfc ARGS`` in a fresh interpreter."""
    done = subprocess.run([sys.executable, "-c", _PROBE, json.dumps(args)], capture_output=True, text=True, timeout=60)
    marker = done.stderr.rindex("\nMODULES ")
    return list(json.loads(done.stderr[marker + len("\nMODULES "):]))


def heavy(modules: list[str]) -> list[str]:
    return [name for name in modules if any(name == top or name.startswith(top + ".") for top in HEAVY)]


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["--version"],
        ["run", "--help"],
        ["runs", "list", "--help"],
        ["event", "send", "--help"],
        ["worker", "--help"],
        ["server", "--help"],
    ],
    ids=" ".join,
)
def test_help_imports_nothing_heavy(args: list[str]) -> None:
    modules = modules_after(*args)
    assert "wfc.cli.app" in modules  # the probe did build the command line
    assert heavy(modules) == []


def test_a_command_still_imports_what_it_needs() -> None:
    """The probe can see a heavy import: running ``wfc validate`` decodes a spec."""
    assert "wfc.specs.codec" in modules_after("validate", "no-such-spec.json")


def test_the_status_choices_are_the_run_statuses() -> None:
    assert [choice.value for choice in StatusChoice] == [status.value for status in RunStatus]
