"""Leaving the process once a command is done.

Threads that task code leaves behind (a sync ``@task`` stuck past its
timeout) are daemon threads (see :mod:`wfc.runtime._tasks`), so the
interpreter does not wait for them at exit. What is left to do here is the
last flush: when the reader of standard output is gone (``wfc run ... |
head``), the command still ends with its own exit code and no broken-pipe
noise.
"""

from __future__ import annotations

import contextlib
import signal
import sys
from typing import NoReturn

from wfc.cli.output import silence_stdout

#: Exit code of a conflict (:class:`wfc.runtime.ConflictError`): what was
#: asked conflicts with what is stored (a run id started with other inputs,
#: a user task already done); nothing was changed, the command must change.
CONFLICT = 3


def leave(code: str | int | None) -> NoReturn:
    """Exit with ``code`` (as :class:`SystemExit` reads it), after flushing
    standard output even if its reader has gone."""
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        silence_stdout()
    except (OSError, ValueError):
        pass
    with contextlib.suppress(OSError, ValueError):
        sys.stderr.flush()
    raise SystemExit(code)


def stop_signals() -> tuple[signal.Signals, ...]:
    """The signals that stop a command as Ctrl-C does: SIGINT, SIGTERM
    (``kill``, systemd, ``docker stop``) and SIGHUP (the terminal or the SSH
    session closed), unless the command was started to ignore hangups
    (``nohup``). SIGHUP's default would end the process on the spot, and a
    ``wfc run`` or a worker would leave its engine registered, and its
    leases held, as if it still served the database."""
    hangup = getattr(signal, "SIGHUP", None)  # not on Windows
    if hangup is None or signal.getsignal(hangup) is signal.SIG_IGN:
        return (signal.SIGINT, signal.SIGTERM)
    return (signal.SIGINT, signal.SIGTERM, hangup)
