"""The ``wfc`` command line (typer + rich).

``main`` is the console entry point; ``app`` is the typer application, for
tests (``typer.testing.CliRunner().invoke(app, [...])``) and for embedding.
"""

from __future__ import annotations

from wfc.cli.app import app
from wfc.cli.errors import CliError, exit_on_internal_error
from wfc.cli.exiting import leave
from wfc.specs.errors import WfcError


def main() -> None:
    """Run the ``wfc`` command line with the process's arguments."""
    try:
        try:
            app(prog_name="wfc")
        except Exception as exc:  # raised outside any command, e.g. while parsing
            exit_on_internal_error(exc)
    except SystemExit as done:
        leave(done.code)


__all__ = ["CliError", "WfcError", "app", "main"]
