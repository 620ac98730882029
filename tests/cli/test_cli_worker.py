"""``wfc worker``: a real worker process completes runs started with ``wfc run
--detach``, reports what it does, and stops cleanly on SIGINT/SIGTERM,
releasing what it could not finish. On SQLite always; on PostgreSQL too when
``WFC_TEST_POSTGRES_URL`` is set."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import anyio
import pytest
from typer.testing import Result

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "runtime"))
from rtdb import Db

from wfc.cli.errors import CliError
from wfc.runtime import Engine, RunInfo

Invoke = Callable[..., Result]

FLOW = """
from wfc.dsl import Workflow, WorkflowThread

def greet(wf: WorkflowThread) -> None:
    name = wf.declare_str("name").required()
    hello = wf.execute("hello", name)
    wf.execute("shout", hello)

greet_wf = Workflow("greet", greet)
"""

TASKS = """
import os, anyio
from wfc.runtime import task

@task("hello")
def hello(name: str) -> str:
    return f"hello {name}"

@task("shout")
async def shout(text: str) -> str:
    if text == "hello sloth":
        await anyio.sleep(60)
    return text.upper()
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "flow.py").write_text(FLOW)
    (tmp_path / "greet_tasks.py").write_text(TASKS)
    return tmp_path


@dataclass
class WorkerProcess:
    """A ``wfc worker`` process; its output goes to a file, so that the test
    can look at it while the worker runs."""

    process: subprocess.Popen[str]
    log: Path

    def output(self) -> str:
        """What the worker printed so far."""
        return self.log.read_text()

    def wait_for(self, text: str, timeout: float = 30) -> None:
        """Wait until the worker printed ``text``; it must keep running meanwhile."""
        deadline = time.monotonic() + timeout
        while text not in self.output():
            assert self.process.poll() is None, f"the worker exited:\n{self.output()}"
            assert time.monotonic() < deadline, f"no {text!r} within {timeout} s:\n{self.output()}"
            time.sleep(0.05)


def start_worker(folder: Path, url: str, *extra: str) -> WorkerProcess:
    command = [sys.executable, "-c", "from wfc.cli import main; main()", "worker", "--db", url]
    command += ["--tasks", "greet_tasks.py", "--poll", "0.1", "--stats-every", "0.2", *extra]
    log = folder / "worker.log"
    with log.open("w") as handle:
        process = subprocess.Popen(command, cwd=folder, stdout=handle, stderr=subprocess.STDOUT, text=True)
    return WorkerProcess(process, log)


def stop(worker: WorkerProcess, how: signal.Signals = signal.SIGTERM) -> tuple[int, str]:
    worker.process.send_signal(how)
    try:
        worker.process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        worker.process.kill()
        worker.process.wait()
    return worker.process.returncode, worker.output()


def run_info(url: str, run_id: str, timeout: float = 30) -> RunInfo:
    async def wait() -> RunInfo:
        async with Engine.open(url, serve=False, poll_interval=0.1) as client:
            return await client.wait(run_id, timeout=timeout)

    return anyio.run(wait)


def run_status(url: str, run_id: str) -> str:
    async def read() -> str:
        async with Engine.open(url, serve=False) as client:
            return (await client.get_run(run_id)).status.value

    return anyio.run(read)


@pytest.mark.parametrize("how", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_detached_run_is_completed_by_a_worker_that_stops_cleanly(
    invoke: Invoke, project: Path, db: Db, how: signal.Signals
) -> None:
    started = invoke("run", "flow.py", "--db", db.url, "--input", "name=ann", "--detach")
    assert started.exit_code == 0, started.output
    run_id = started.stdout.strip().splitlines()[-1]
    worker = start_worker(project, db.url, "--concurrency", "4")
    try:
        info = run_info(db.url, run_id)
        worker.wait_for("wfc worker: claimed")  # the periodic plain line (no TTY)
    finally:
        code, out = stop(worker, how)
    assert info.status.value == "COMPLETED"
    assert code == 0, out
    assert "serving hello, shout on" in out and "up to 4 at once" in out
    assert "wfc worker: claimed" in out and "completed" in out  # the periodic plain line (no TTY)
    assert f"{how.name}: stopping" in out
    assert "wfc worker stopped after" in out and "completed 2, failed 0" in out


def test_on_a_signal_running_attempts_get_the_grace_period_then_are_released(
    invoke: Invoke, project: Path, db: Db
) -> None:
    started = invoke("run", "flow.py", "--db", db.url, "--input", "name=sloth", "--detach")
    run_id = started.stdout.strip().splitlines()[-1]
    worker = start_worker(project, db.url, "--grace", "0.5")
    try:
        deadline = time.monotonic() + 30
        while not db.rows("SELECT node FROM tasks WHERE node = 'shout' AND lease_owner IS NOT NULL"):
            assert time.monotonic() < deadline and worker.process.poll() is None, worker.output()
            time.sleep(0.05)
    finally:
        code, out = stop(worker)
    assert code == 0, out
    assert "1 running attempt(s) get up to 0.5s to finish" in out
    assert "released 1 unfinished attempt(s) to other workers" in out
    # The attempt is back in the outbox for the next worker; the run goes on.
    assert db.rows("SELECT node, lease_owner FROM tasks") == [("shout", None)]
    assert run_status(db.url, run_id) == "RUNNING"


def test_worker_errors_are_clear(invoke: Invoke, project: Path, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'wfc.db'}"
    result = invoke("worker", "--db", url, "--tasks", "nope.py")
    assert result.exit_code == 1 and "nope.py: no such file" in result.output
    (project / "empty.py").write_text("x = 1\n")
    result = invoke("worker", "--db", url, "--tasks", "empty.py")
    assert result.exit_code == 1 and "empty.py defines no @task function" in result.output
    result = invoke("worker", "--db", url)
    assert result.exit_code == 2 and "--tasks" in result.output
    result = invoke("worker", "--db", "mysql://x/y", "--tasks", "greet_tasks.py")
    assert result.exit_code == 1 and "unsupported database URL" in result.output


def test_a_tasks_file_reached_twice_is_one_set_of_tasks(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # What `wfc run --detach` suggests: the workflow's module (which imports the tasks) and the tasks' file, or
    # one file by two paths. Imported under two module names, its functions are other objects, but one task each.
    from wfc.cli.worker_serve import load_tasks

    monkeypatch.chdir(project)
    (project / "flow_importing.py").write_text("from greet_tasks import *  # noqa: F403\n")
    for targets in (["flow_importing.py", "greet_tasks.py"], ["greet_tasks.py", "./greet_tasks.py"]):
        names = [found.definition.name for found in load_tasks(targets)]
        assert len(names) == len(set(names)) > 0, (targets, names)
    (project / "other_tasks.py").write_text((project / "greet_tasks.py").read_text().replace("return", "return 1 or"))
    with pytest.raises(CliError, match="two different @task functions are named"):
        load_tasks(["greet_tasks.py", "other_tasks.py"])


def test_a_worker_with_retention_purges_finished_runs_in_the_background(
    invoke: Invoke, project: Path, db: Db
) -> None:
    started = invoke("run", "flow.py", "--db", db.url, "--input", "name=ann", "--detach")
    run_id = started.stdout.strip().splitlines()[-1]
    first = start_worker(project, db.url)
    try:
        finished = run_info(db.url, run_id)
    finally:
        stop(first)
    kept = invoke("run", "flow.py", "--db", db.url, "--input", "name=bob", "--detach")
    kept_id = kept.stdout.strip().splitlines()[-1]
    while time.time() < finished.updated_at.timestamp() + 1.5:  # let it be finished for longer than --retention
        time.sleep(0.05)
    worker = start_worker(project, db.url, "--retention", "1s")
    try:
        deadline = time.monotonic() + 30
        while db.rows(f"SELECT count(*) FROM runs WHERE id = '{run_id}'") != [(0,)]:
            assert time.monotonic() < deadline and worker.process.poll() is None, worker.output()
            time.sleep(0.05)
        assert run_info(db.url, kept_id).status.value == "COMPLETED"  # a run it finishes is kept for now
    finally:
        code, out = stop(worker)
    assert code == 0, out
    assert db.rows(f"SELECT count(*) FROM journal WHERE run_id = '{run_id}'") == [(0,)]
    assert db.rows(f"SELECT count(*) FROM runs WHERE id = '{kept_id}'") == [(1,)]


@pytest.mark.parametrize("value", ["30x", "0s", "2026-01-01", ""])
def test_bad_retention_values_are_usage_errors(invoke: Invoke, project: Path, tmp_path: Path, value: str) -> None:
    url = f"sqlite:///{tmp_path / 'wfc.db'}"
    for command in (["worker", "--tasks", "greet_tasks.py"], ["server", "--tasks", "greet_tasks.py"]):
        result = invoke(*command, "--db", url, "--retention", value)
        assert result.exit_code == 2, result.output
        assert "--retention" in result.output and "not a duration" in result.output
        assert "Traceback" not in result.output
    assert not (tmp_path / "wfc.db").exists()  # refused before anything is opened
