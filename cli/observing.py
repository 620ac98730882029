"""What ``--log-format`` and the metrics options set up when a command runs:
the log handler, and the observers the command's engine is opened with."""

from __future__ import annotations

import logging
import sys

from wfc.cli import visible
from wfc.cli.log_options import LogFormat
from wfc.runtime import Observer


def setup_logs(log_format: LogFormat) -> list[Observer]:
    """Install the log handler ``log_format`` asks for; the observers that
    log transitions (none for ``text``, which keeps Python's default: warnings
    and errors as plain lines on stderr, their control characters made
    visible as everything wfc prints for a terminal, :mod:`wfc.cli.visible`)."""
    if log_format is not LogFormat.JSON:
        logging.lastResort = visible.last_resort()
        return []
    from wfc.runtime.logs import JsonFormatter, TransitionLog

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    return [TransitionLog()]


def json_logs(log_format: LogFormat) -> bool:
    """True when the command's own messages go to the JSON log too."""
    return log_format is LogFormat.JSON
