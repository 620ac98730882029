"""``wfc workers``: a real worker process is listed alive with the tasks it
runs and the attempt it holds, and, once SIGKILLed, as gone. On SQLite
always; on PostgreSQL too when ``WFC_TEST_POSTGRES_URL`` is set."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from typer.testing import Result

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "runtime"))
from rtdb import Db

Invoke = Callable[..., Result]

FLOW = """
from wfc.dsl import Workflow, WorkflowThread

def slow(wf: WorkflowThread) -> None:
    wf.execute("nap", wf.declare_str("name").required())

slow_wf = Workflow("slow", slow)
"""

TASKS = """
import anyio
from wfc.runtime import task

@task("nap")
async def nap(name: str) -> str:
    await anyio.sleep(120)
    return name

@task("unused")
def unused() -> None:
    return None
"""


def workers(invoke: Invoke, url: str) -> list[dict[str, Any]]:
    result = invoke("workers", "--db", url, "--json")
    assert result.exit_code == 0, result.output
    listed: list[dict[str, Any]] = json.loads(result.stdout)["workers"]
    return listed


def until(check: Callable[[], Any], timeout: float = 30) -> Any:
    deadline = time.monotonic() + timeout
    while not (found := check()):
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)
    return found


def test_a_worker_is_listed_with_its_tasks_and_lease_then_as_gone_once_killed(
    invoke: Invoke, tmp_path: Path, db: Db
) -> None:
    (tmp_path / "flow.py").write_text(FLOW)
    (tmp_path / "nap_tasks.py").write_text(TASKS)
    started = invoke("run", str(tmp_path / "flow.py"), "--db", db.url, "--input", "name=ann", "--detach")
    assert started.exit_code == 0, started.output
    command = [sys.executable, "-c", "from wfc.cli import main; main()", "worker", "--db", db.url,
               "--tasks", "nap_tasks.py", "--poll", "0.1"]
    worker = subprocess.Popen(command, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        listed = until(lambda: [w for w in workers(invoke, db.url) if w["pid"] == worker.pid and w["leases"] == 1])
        assert listed[0]["alive"] is True
        assert listed[0]["tasks"] == ["nap", "unused"]
        assert listed[0]["oldest_lease"] is not None
        table = invoke("workers", "--db", db.url)
        assert table.exit_code == 0 and str(worker.pid) in table.stdout and "nap, unused" in table.stdout
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait()
    gone = [w for w in workers(invoke, db.url) if w["pid"] == worker.pid]
    assert gone and gone[0]["alive"] is False  # its process is gone from this machine


def test_an_empty_database_has_no_workers(invoke: Invoke, tmp_path: Path) -> None:
    (tmp_path / "flow.py").write_text(FLOW)
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    created = invoke("compile", str(tmp_path / "flow.py"), "-o", str(tmp_path / "specs"))
    assert created.exit_code == 0, created.output
    assert invoke("run", str(tmp_path / "flow.py"), "--db", url, "--input", "name=x", "--detach").exit_code == 0
    result = invoke("workers", "--db", url)
    assert result.exit_code == 0
    assert "no engine is registered" in result.stdout
