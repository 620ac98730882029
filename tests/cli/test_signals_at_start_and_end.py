"""A stop signal (Ctrl-C, SIGTERM, SIGHUP) that reaches ``wfc`` while the
command line is still being imported, or once the command is over and the
interpreter shuts down, ends the process quietly: 130 at the start, the
command's own status at the end. The first printed the traceback of the
import it cut short (SIGTERM killed the process, 143); the second raised
``KeyboardInterrupt`` into the interpreter's shutdown, which printed one.

Each moment is reached on purpose, not by timing: an import hook sends the
signal when typer is imported, and a thread the command leaves behind holds
the shutdown while the test sends it."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import pytest

#: Signals the process itself when typer is imported, then runs ``wfc ARGS``.
_INTERRUPTED_IMPORT = """
import os, signal, sys
from importlib.abc import MetaPathFinder

class Interrupt(MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "typer":
            sys.meta_path.remove(self)
            os.kill(os.getpid(), signal.{name})
        return None

sys.meta_path.insert(0, Interrupt())
sys.argv = ["wfc", "--version"]
from wfc.cli import main
main()
"""

#: Runs ``wfc --version`` with a thread that keeps the interpreter's
#: shutdown waiting, and says when the command is over.
_HELD_SHUTDOWN = """
import sys, threading, time
threading.Thread(target=time.sleep, args=(30,)).start()
sys.argv = ["wfc", "--version"]
from wfc.cli import main
main()
"""

STOPS = [signal.SIGINT, signal.SIGTERM, signal.SIGHUP]


def _python(script: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


@pytest.mark.parametrize("how", STOPS, ids=[s.name for s in STOPS])
def test_a_signal_while_the_command_line_is_imported_exits_130_without_a_traceback(how: signal.Signals) -> None:
    process = _python(_INTERRUPTED_IMPORT.replace("{name}", how.name))
    out, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
    assert out == ""  # the command never ran


@pytest.mark.parametrize("how", STOPS, ids=[s.name for s in STOPS])
def test_a_signal_during_the_shutdown_after_a_command_ends_it_with_the_command_s_status(how: signal.Signals) -> None:
    process = _python(_HELD_SHUTDOWN)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()  # the version: the command is over, the shutdown waits for the thread
        assert line.startswith("wfc "), line
        time.sleep(0.3)
        process.send_signal(how)
        _, err = process.communicate(timeout=10)
    finally:
        process.kill()
    assert process.returncode == 0, err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
