"""Leaving the process once a command is done.

A sync ``@task`` that overran its timeout keeps running in its worker thread:
Python cannot stop a thread, so the engine abandons it (the attempt failed
with ``TIMEOUT`` and was journaled). Such a thread is not a daemon, and the
interpreter would wait for it at exit, keeping ``wfc run`` alive long after
the run ended. Once the command has finished (the engine closed, every
transition committed), nothing of wfc's own is left to wait for: the output is
flushed and the process ends at once.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
from typing import NoReturn

from wfc.cli.output import silence_stdout

#: Seconds given to threads that are about to end by themselves (idle
#: workers told to stop) before the process leaves without them.
GRACE = 0.5


def leave(code: str | int | None) -> NoReturn:
    """Exit with ``code`` (as :class:`SystemExit` reads it); without waiting
    for threads that user code left running."""
    if not _abandoned_threads(GRACE):
        raise SystemExit(code)
    if isinstance(code, str):
        print(code, file=sys.stderr)
        code = 1
    _flush()
    os._exit(code or 0)


def _abandoned_threads(grace: float) -> list[threading.Thread]:
    """Non-daemon threads still alive after ``grace`` seconds."""
    deadline = time.monotonic() + grace
    waiting = [t for t in threading.enumerate() if t is not threading.current_thread() and not t.daemon]
    for thread in waiting:
        thread.join(max(0.0, deadline - time.monotonic()))
    return [t for t in waiting if t.is_alive()]


def _flush() -> None:
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        silence_stdout()
    except (OSError, ValueError):
        pass
    with contextlib.suppress(OSError, ValueError):
        sys.stderr.flush()
