"""Consoles and the few message styles every command shares.

Consoles are made per call, not at import: a console decides colour and width
when it is created, and tests (and ``wfc`` run under a pager) swap the
standard streams after import.
"""

from __future__ import annotations

from rich.console import Console
from rich.text import Text

from wfc.runtime.urls import redact_url


def stdout() -> Console:
    """A console writing results to standard output."""
    return Console(highlight=False)


def stderr() -> Console:
    """A console writing diagnostics to standard error."""
    return Console(stderr=True, highlight=False)


def print_error(message: str) -> None:
    """Print ``error: message`` on stderr. The message is shown as is, never
    read as rich markup, and is left for the terminal to wrap so that paths
    in it stay whole. A database password in it is shown as ``***``."""
    stderr().print(Text.assemble(("error: ", "bold red"), redact_url(message)), soft_wrap=True)


def print_warning(message: str) -> None:
    """Print ``warning: message`` on stderr, in yellow."""
    stderr().print(Text.assemble(("warning: ", "bold yellow"), (message, "yellow")), soft_wrap=True)
