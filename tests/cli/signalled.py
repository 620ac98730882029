"""Real ``wfc`` processes stopped by a signal while they wait for a lock:
what tests/cli/test_postgres_ctrl_c.py and tests/cli/test_sqlite_ctrl_c.py
share. Each test holds a lock the command needs, with a lock wait of 30 s,
sends the signal and needs the process gone within :data:`PROMPT`."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
WFC = Path(sys.executable).with_name("wfc")
EXCHANGE = [str(EXAMPLES / "currency_exchange.py"), "--tasks", str(EXAMPLES / "currency_exchange_tasks.py")]
INPUTS = [
    "-i", "transfer-id=t-1", "-i", "source-account=acc-1", "-i", "target-account=acc-2", "-i", "amount=250",
    "-i", "source-currency=EUR", "-i", "target-currency=GBP",
]  # fmt: skip
#: Seconds from the signal to the exit that count as "at once" (the lock wait is 30 s).
PROMPT = 5.0
#: What each lock wait is set to, in the environment of the processes started.
LONG_WAITS = {"WFC_PG_LOCK_TIMEOUT": "30", "WFC_SQLITE_BUSY_TIMEOUT": "30"}


def environment() -> dict[str, str]:
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1", **LONG_WAITS}
    env.pop("WFC_DEBUG", None)
    env.pop("WFC_DB", None)
    return env


def wfc(*args: str) -> subprocess.CompletedProcess[str]:
    """``wfc ARGS...`` to its end (the setup of a test)."""
    return subprocess.run([str(WFC), *args], capture_output=True, text=True, timeout=120, env=environment())


def spawn(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [str(WFC), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=environment()
    )


def interrupted(
    process: subprocess.Popen[str], how: signal.Signals, within: float = PROMPT
) -> tuple[float, str, str]:
    """Send ``how``; how long the process took to exit, its stdout and stderr.
    A process still running after ``within`` seconds is killed and fails the test."""
    began = time.monotonic()
    process.send_signal(how)
    try:
        out, err = process.communicate(timeout=within)
    except subprocess.TimeoutExpired:
        process.kill()
        out, err = process.communicate()
        pytest.fail(f"{how.name} did not stop wfc within {within:g}s:\n{out}\n{err}")
    return time.monotonic() - began, out, err


def no_traceback(*texts: str) -> bool:
    return all("Traceback" not in text and "internal error" not in text for text in texts)
