"""The terminal of the real ``wfc`` process closes (an SSH session drops, a
terminal window is closed): the kernel sends SIGHUP, and every later write
to the terminal fails with EIO. Nobody is there to read any more, as when
the reader of a pipe is gone: the command stops the way SIGTERM stops it.
The messages it then writes to the dead terminal once crashed it: ``wfc
worker`` cancelled its running attempts at once and exited 1, ``wfc run``
exited 1 instead of 130."""

from __future__ import annotations

import contextlib
import fcntl
import os
import select
import subprocess
import sys
import termios
import textwrap
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # run_helpers, with --import-mode=importlib

from run_helpers import WFC, read_run, registered_engines, script_env, sqlite_url, write_approval

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="needs a pty")

RUN_ID = "order-1"

#: A workflow whose one task takes a few seconds (well within the worker's
#: grace), and says when it has started.
SLOW = """\
import os
import time
from pathlib import Path

from wfc.dsl import Workflow, WorkflowThread
from wfc.runtime import task


@task("slow-step")
def slow_step(seconds: float) -> str:
    Path(os.environ["SLOW_STARTED"]).write_text("started")
    time.sleep(seconds)
    return "done"


def slow(wf: WorkflowThread) -> object:
    seconds = wf.declare_float("seconds").default(3.0)
    return wf.execute("slow-step", seconds)


slow_wf = Workflow("slow", slow)
"""


class Terminal:
    """A ``wfc`` process whose stdin, stdout and stderr are a fresh pty,
    its controlling terminal; the test holds the master side."""

    def __init__(self, cwd: Path, *args: str, env: dict[str, str] | None = None) -> None:
        self.master, slave = os.openpty()
        self.seen = b""

        def control() -> None:  # after setsid (start_new_session): a new session, this pty its terminal
            fcntl.ioctl(0, termios.TIOCSCTTY, 0)

        try:
            self.process = subprocess.Popen(
                [str(WFC), *args], cwd=cwd, env=script_env(env), stdin=slave, stdout=slave, stderr=slave,
                start_new_session=True, preexec_fn=control,
            )  # fmt: skip
        finally:
            os.close(slave)  # only the child holds it: closing the master hangs the terminal up

    def read_until(self, done: Callable[[], bool], timeout: float = 30.0) -> None:
        """Read what the process writes (so it never blocks on a full pty)
        until ``done()``; fail after ``timeout`` or if the process ended."""
        deadline = time.monotonic() + timeout
        while not done():
            assert time.monotonic() < deadline, f"condition not met; the terminal shows: {self.text()[-2000:]}"
            assert self.process.poll() is None, f"wfc ended early ({self.process.returncode}): {self.text()[-2000:]}"
            ready, _, _ = select.select([self.master], [], [], 0.1)
            if ready:
                with contextlib.suppress(OSError):  # EIO: the child closed its side
                    self.seen += os.read(self.master, 65536)

    def text(self) -> str:
        return self.seen.decode(errors="replace")

    def hang_up(self, timeout: float = 60.0) -> int:
        """Close the terminal (the master side) and wait for the process to end."""
        os.close(self.master)
        self.master = -1
        return self.process.wait(timeout=timeout)

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        if self.master >= 0:
            os.close(self.master)


@contextmanager
def _terminal(cwd: Path, *args: str, env: dict[str, str] | None = None) -> Iterator[Terminal]:
    terminal = Terminal(cwd, *args, env=env)
    try:
        yield terminal
    finally:
        terminal.close()


def _wfc(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(WFC), *args], cwd=cwd, env=script_env(), capture_output=True, text=True, timeout=60)


def test_a_worker_whose_terminal_closes_lets_its_running_attempt_finish_and_exits_0(tmp_path: Path) -> None:
    (tmp_path / "slow.py").write_text(textwrap.dedent(SLOW))
    url = sqlite_url(tmp_path / "runs.db")
    marker = tmp_path / "started"
    started = _wfc(tmp_path, "run", "slow.py", "--db", url, "--run-id", RUN_ID, "--detach")
    assert started.returncode == 0, started.stderr
    with _terminal(tmp_path, "worker", "--tasks", "slow.py", "--db", url, env={"SLOW_STARTED": str(marker)}) as term:
        term.read_until(lambda: b"serving slow-step" in term.seen and marker.exists())
        assert b"SIGHUP" in term.seen  # the banner says the terminal closing stops it too
        code = term.hang_up()
    assert code == 0, term.text()[-2000:]  # drained as on SIGTERM, not cancelled by a failed write
    info = read_run(url, RUN_ID)
    assert info.status.value == "COMPLETED" and info.output == "done", info  # the running attempt finished
    assert registered_engines(tmp_path, url) == []


def test_following_a_run_whose_terminal_closes_exits_130(tmp_path: Path) -> None:
    write_approval(tmp_path)
    url = sqlite_url(tmp_path / "runs.db")

    def waiting_for_the_event() -> bool:
        try:
            info = read_run(url, RUN_ID)
        except Exception:  # not started yet
            return False
        return any(thread.node == "wait-approval" for thread in info.threads)

    with _terminal(tmp_path, "run", "approval.py", "-i", "order-id=o-1", "--db", url, "--run-id", RUN_ID) as term:
        term.read_until(lambda: b"started run" in term.seen and waiting_for_the_event())
        term.read_until(lambda: b"wait-approval" in term.seen)  # the live panel is drawn
        code = term.hang_up()
    assert code == 130, term.text()[-2000:]  # as SIGTERM and Ctrl-C
    assert registered_engines(tmp_path, url) == []  # unregistered: no engine claims to serve the database
    info = read_run(url, RUN_ID)
    assert info.status.value == "RUNNING" and any(thread.node == "wait-approval" for thread in info.threads)
