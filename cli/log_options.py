"""``--log-format`` and the ``wfc worker`` metrics options, shared by the
commands that run an engine (``run``, ``worker``, ``server``). Light to
import: what they set up is imported by :mod:`wfc.cli.observing` when a
command runs."""

import enum
from typing import Annotated

import typer


class LogFormat(enum.StrEnum):
    """How log records are written to stderr."""

    TEXT = "text"
    """As today: warnings and errors as plain lines."""
    JSON = "json"
    """One JSON object per line, for every log record and every transition."""


LogFormatOption = Annotated[
    LogFormat,
    typer.Option(
        "--log-format",
        case_sensitive=False,
        help="json: every log record and every transition of a run as one JSON line on stderr.",
    ),
]
