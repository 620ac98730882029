"""The real ``wfc`` process with few file descriptors (``ulimit -n``). A
command that opens the database says, before it starts anything, that the
limit is too low and how to raise it, where it used to fail wherever the
next file was opened (SQLite: "unable to open database file"; ``wfc run``:
an import's file, after its run had completed). ``wfc server`` starts, warns
of the few connections it can hold, and says in one line, not a traceback a
second, that it cannot accept more for now."""

from __future__ import annotations

import json
import re
import resource
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # run_helpers, with --import-mode=importlib

from run_helpers import PAYMENT, WFC, paid_database, script_env, wait_until


def _limit(files: int) -> Callable[[], None]:
    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (files, files))

    return apply


def _wfc(cwd: Path, *args: str, files: int | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(WFC), *args], cwd=cwd, env=script_env(), capture_output=True, text=True, timeout=60,
        preexec_fn=None if files is None else _limit(files),
    )  # fmt: skip


@pytest.fixture
def database(tmp_path: Path) -> str:
    return paid_database(tmp_path)


def _says_the_limit(done: subprocess.CompletedProcess[str], limit: int) -> None:
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Traceback" not in done.stderr and "internal error" not in done.stderr, done.stderr
    assert f"`ulimit -n` is {limit}" in done.stderr and "raise the limit" in done.stderr, done.stderr


def test_run_with_too_few_files_starts_nothing_and_says_why(tmp_path: Path, database: str) -> None:
    for files in (10, 12):  # SQLite could not open the file; the run completed, then an import failed
        done = _wfc(tmp_path, "run", *PAYMENT, "-i", "payment-id=p-2", "--db", database, "--run-id", "pay-2",
                    files=files)  # fmt: skip
        _says_the_limit(done, files)
        listed = json.loads(_wfc(tmp_path, "runs", "list", "--db", database, "--json").stdout)
        assert [run["id"] for run in listed] == ["pay-1"]  # nothing started, nothing lost
    # Twenty are enough, for the run and for reading it.
    ran = _wfc(tmp_path, "run", *PAYMENT, "-i", "payment-id=p-2", "--db", database, "--run-id", "pay-2", files=20)
    assert ran.returncode == 0, ran.stderr
    listed = _wfc(tmp_path, "runs", "list", "--db", database, files=20)
    assert listed.returncode == 0 and "pay-2" in listed.stdout, listed.stderr


@pytest.mark.parametrize("args", [["runs", "list"], ["runs", "show", "pay-1"], ["workers"]])
def test_reading_with_too_few_files_says_why(tmp_path: Path, database: str, args: list[str]) -> None:
    _says_the_limit(_wfc(tmp_path, *args, "--db", database, files=10), 10)


# ---------------------------------------------------------------- wfc server


@pytest.fixture
def server(tmp_path: Path, database: str) -> Iterator[tuple[subprocess.Popen[str], int]]:
    """``wfc server`` on a free port, allowed 24 open files; its port."""
    process = subprocess.Popen(
        [str(WFC), "server", "--db", database, "--port", "0"], cwd=tmp_path, env=script_env({"PYTHONUNBUFFERED": "1"}),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=_limit(24),
    )  # fmt: skip
    try:
        assert process.stdout is not None
        banner = process.stdout.readline()
        found = re.search(r"http://127\.0\.0\.1:(\d+)/", banner)
        assert found, banner
        yield process, int(found.group(1))
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _status(port: int) -> int:
    import urllib.request

    with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/runs", timeout=10) as response:
        return int(response.status)


def test_a_server_with_few_files_warns_and_waits_instead_of_tracebacks(
    server: tuple[subprocess.Popen[str], int],
) -> None:
    process, port = server
    assert _status(port) == 200
    # More connections than the process may open files: the last wait to be accepted.
    held = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(40)]
    time.sleep(2.5)  # asyncio retries the accept every second
    for connection in held:
        connection.close()
    assert wait_until(lambda: _status(port) == 200)  # it serves again once they are closed
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 0, stderr
    assert "Traceback" not in stderr, stderr
    assert "wfc server may open only" in stderr and "`ulimit -n` is 24" in stderr, stderr
    assert stderr.count("cannot accept a connection now") == 1, stderr
