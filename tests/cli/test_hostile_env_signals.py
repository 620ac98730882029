"""SIGHUP (the terminal, or the SSH session, closed) to the real ``wfc``
process ends a command the way SIGTERM and Ctrl-C do. Python's default ended
the process on the spot: ``wfc run`` and ``wfc worker`` left their engine
registered on the database, as if they still served it."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # run_helpers, with --import-mode=importlib

from run_helpers import WFC, registered_engines, script_env, sqlite_url, wait_until, write_approval
from signalled import interrupted

RUN_ID = "order-1"


def _wfc(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(WFC), *args], cwd=cwd, env=script_env(), capture_output=True, text=True, timeout=60)


def _start(cwd: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [str(WFC), *args], cwd=cwd, env=script_env({"PYTHONUNBUFFERED": "1"}),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def _started(cwd: Path, ready: Callable[[subprocess.Popen[str]], object], *args: str) -> subprocess.Popen[str]:
    """``wfc ARGS...`` once ``ready(process)`` passed; killed if it did not."""
    process = _start(cwd, *args)
    try:
        ready(process)
    except BaseException:
        process.kill()
        process.wait()
        raise
    return process


@pytest.fixture
def waiting(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """``wfc run`` following a run that waits for an event; the database."""
    write_approval(tmp_path)
    url = sqlite_url(tmp_path / "runs.db")
    process = _start(tmp_path, "run", "approval.py", "-i", "order-id=o-1", "--db", url, "--run-id", RUN_ID)
    try:
        assert process.stdout is not None
        while "waiting for event" not in (line := process.stdout.readline()):
            assert line, f"wfc run ended early: {process.communicate()}"
        yield process, url
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_sighup_stops_following_a_run_as_sigterm_does(
    tmp_path: Path, waiting: tuple[subprocess.Popen[str], str]
) -> None:
    process, url = waiting
    assert len(registered_engines(tmp_path, url)) == 1
    _, _, stderr = interrupted(process, signal.SIGHUP, within=30)
    assert process.returncode == 130, stderr  # as SIGTERM and Ctrl-C
    assert "Traceback" not in stderr
    assert f"stopped following run {RUN_ID}" in stderr and "The run is durable" in stderr, stderr
    assert registered_engines(tmp_path, url) == []  # unregistered: no engine claims to serve the database
    shown = json.loads(_wfc(tmp_path, "runs", "show", RUN_ID, "--db", url, "--json").stdout)
    assert shown["status"] == "RUNNING" and shown["node"] == "wait-approval"  # still waiting, as stored


def test_sighup_stops_a_worker_cleanly(tmp_path: Path) -> None:
    write_approval(tmp_path)
    url = sqlite_url(tmp_path / "runs.db")
    started = _wfc(tmp_path, "run", "approval.py", "-i", "order-id=o-1", "--db", url, "--run-id", RUN_ID, "--detach")
    assert started.returncode == 0, started.stderr

    def registered(_: subprocess.Popen[str]) -> None:
        wait_until(lambda: len(registered_engines(tmp_path, url)) == 1)

    worker = _started(tmp_path, registered, "worker", "--tasks", "approval.py", "--db", url)
    _, stdout, stderr = interrupted(worker, signal.SIGHUP, within=30)
    assert worker.returncode == 0, stderr
    assert "SIGHUP: stopping" in stdout and "wfc worker stopped" in stdout, stdout
    assert "Traceback" not in stderr
    assert registered_engines(tmp_path, url) == []


def test_sighup_stops_a_server_cleanly(tmp_path: Path) -> None:
    write_approval(tmp_path)
    url = sqlite_url(tmp_path / "runs.db")

    def serving(server: subprocess.Popen[str]) -> None:
        assert server.stdout is not None
        assert "wfc server:" in server.stdout.readline()
        assert len(registered_engines(tmp_path, url)) == 1

    server = _started(tmp_path, serving, "server", "--tasks", "approval.py", "--db", url, "--port", "0")
    _, _, stderr = interrupted(server, signal.SIGHUP, within=30)
    assert server.returncode == 0, stderr
    assert "Traceback" not in stderr and "Shutting down" in stderr, stderr
    assert registered_engines(tmp_path, url) == []


@pytest.mark.parametrize("how", [signal.SIGHUP, signal.SIGTERM], ids=["SIGHUP", "SIGTERM"])
def test_a_server_still_starting_stops_at_a_signal(tmp_path: Path, how: signal.Signals) -> None:
    """Before uvicorn serves (here the server waits 30 s for the database's
    write lock to register its engine), a stop signal stops it as Ctrl-C
    stops any command; it used to be ignored until the server served."""
    write_approval(tmp_path)
    db = tmp_path / "runs.db"
    url = sqlite_url(db)
    started = _wfc(tmp_path, "run", "approval.py", "-i", "order-id=o-1", "--db", url, "--detach")
    assert started.returncode == 0, started.stderr
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        server = subprocess.Popen(
            [str(WFC), "server", "--tasks", "approval.py", "--db", url, "--port", "0"], cwd=tmp_path,
            env=script_env({"WFC_SQLITE_BUSY_TIMEOUT": "30"}), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        time.sleep(2.0)  # opened, waiting for the lock
        assert server.poll() is None, server.communicate()
        took, _, stderr = interrupted(server, how, within=10)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert server.returncode == 130, stderr
    assert took < 5 and "Traceback" not in stderr, stderr
    assert registered_engines(tmp_path, url) == []
