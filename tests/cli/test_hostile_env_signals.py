"""SIGHUP (the terminal, or the SSH session, closed) to the real ``wfc``
process ends a command the way SIGTERM and Ctrl-C do. Python's default ended
the process on the spot: ``wfc run`` and ``wfc worker`` left their engine
registered on the database, as if they still served it."""

from __future__ import annotations

import json
import signal
import socket
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


def _serving_on(tmp_path: Path) -> tuple[subprocess.Popen[str], int]:
    """``wfc server`` on a free port, once it serves; the port."""
    write_approval(tmp_path)
    url = sqlite_url(tmp_path / "runs.db")
    found: list[int] = []

    def serving(server: subprocess.Popen[str]) -> None:
        assert server.stdout is not None
        banner = server.stdout.readline()
        assert "wfc server:" in banner, banner
        found.append(int(banner.split("http://127.0.0.1:")[1].split("/")[0]))

    server = _started(tmp_path, serving, "server", "--tasks", "approval.py", "--db", url, "--port", "0")
    return server, found[0]


def _half_a_body(port: int) -> socket.socket:
    """A connection that sends a start whose body never comes whole."""
    client = socket.create_connection(("127.0.0.1", port))
    client.sendall(
        b"POST /api/v1/runs HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nContent-Type: application/json\r\n"
        b"Content-Length: 100\r\n\r\n{\"workflow\":" % port
    )
    return client


def test_a_server_stops_at_once_with_dashboard_streams_open_and_clients_gone_mid_body(tmp_path: Path) -> None:
    """An open dashboard page's stream never ends by itself (a keep-alive
    every 15 s): the shutdown waited for it until the process was killed.
    A client that hangs up in the middle of its body was logged as a bug."""
    server, port = _serving_on(tmp_path)
    with socket.create_connection(("127.0.0.1", port)) as stream:
        stream.sendall(b"GET /api/v1/live HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n" % port)
        assert b"200 OK" in stream.recv(4096)
        for _ in range(3):
            _half_a_body(port).close()
        time.sleep(0.5)
        took, _, stderr = interrupted(server, signal.SIGTERM, within=30)
        stream.settimeout(5)
        rest = b""
        while chunk := stream.recv(4096):
            rest += chunk
    assert server.returncode == 0, stderr
    assert took < 5, stderr
    assert rest.endswith(b"0\r\n\r\n")  # the stream's last chunk: it ended, it was not cut
    assert "Traceback" not in stderr and "internal error" not in stderr, stderr


def test_a_request_whose_body_never_ends_holds_a_shutdown_only_for_the_grace(tmp_path: Path) -> None:
    from wfc.server._serve import GRACE

    server, port = _serving_on(tmp_path)
    with _half_a_body(port):
        time.sleep(0.5)
        took, _, stderr = interrupted(server, signal.SIGTERM, within=GRACE + 20)
    assert server.returncode == 0, stderr
    assert GRACE - 1 < took < GRACE + 5, (took, stderr)
