"""Helpers of the tests of ``wfc run``, ``wfc runs`` and ``wfc event``: an
in-process runner, the real console script, a small workflow that waits for
an event, and reading the database back through the engine."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import pytest
from typer.testing import CliRunner, Result

from wfc.cli import app
from wfc.runtime import Engine, HistoryEntry, RunInfo

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
WFC = Path(sys.executable).with_name("wfc")

Invoke = Callable[..., Result]

PAYMENT = [
    str(EXAMPLES / "payment.py"),
    "--tasks",
    str(EXAMPLES / "payment_tasks.py"),
    "--input",
    "customer-email=ana@example.com",
    "--input",
    "amount=42.5",
    "--input",
    "card-token=tok_visa_4242",
]

#: A workflow that waits for the event ``approval`` (correlated by order id),
#: then runs a task defined in the same file; variables of every type, one masked.
APPROVAL = """\
from typing import Any

from wfc.dsl import Workflow, WorkflowThread
from wfc.runtime import task


@task("record-approval")
def record_approval(order_id: str, answer: Any, count: int, rush: bool) -> dict[str, Any]:
    return {"order": order_id, "approved": answer["ok"], "count": count, "rush": rush}


def approval(wf: WorkflowThread) -> Any:
    order_id = wf.declare_str("order-id").required()
    wf.declare_str("secret").default("s3cret").masked()
    count = wf.declare_int("count").default(1)
    rush = wf.declare_bool("rush").default(False)
    wf.declare_json("meta")
    wf.declare_float("ratio")
    answer = wf.wait_for_event("approval", correlation=order_id, timeout=600)
    return wf.execute("record-approval", order_id, answer, count, rush)


approval_wf = Workflow("approval", approval)
"""


def make_invoke(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Invoke:
    """``wfc ARGS...`` in-process from ``tmp_path``, exceptions not caught,
    wide output without colour, no ``$WFC_DB``."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    runner = CliRunner(env={"COLUMNS": "200", "NO_COLOR": "1", "WFC_DEBUG": None, "WFC_DB": None})

    def invoke(*args: str, input: str | None = None) -> Result:
        return runner.invoke(app, list(args), input=input, catch_exceptions=False)

    return invoke


def wfc_process(cwd: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run the installed ``wfc`` console script."""
    return subprocess.run([str(WFC), *args], cwd=cwd, env=script_env(env), capture_output=True, text=True, timeout=60)


def registered_engines(cwd: Path, url: str) -> list[object]:
    """The engines ``wfc workers`` lists as serving the database at ``url``."""
    import json

    done = wfc_process(cwd, "workers", "--db", url, "--json")
    assert done.returncode == 0, done.stderr
    workers = json.loads(done.stdout)["workers"]
    assert isinstance(workers, list)
    return workers


def paid_database(folder: Path) -> str:
    """The URL of ``folder/runs.db``, holding the payment run ``pay-1``, completed."""
    url = sqlite_url(folder / "runs.db")
    done = wfc_process(folder, "run", *PAYMENT, "-i", "payment-id=p-1", "--db", url, "--run-id", "pay-1")
    assert done.returncode == 0, done.stderr
    return url


def script_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment for the console script: wide, no colour, no debug."""
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1", **(extra or {})}
    env.pop("WFC_DEBUG", None)
    if extra is None or "WFC_DB" not in extra:
        env.pop("WFC_DB", None)
    return env


def write_approval(folder: Path) -> Path:
    """Write the approval workflow module to ``folder/approval.py``."""
    path = folder / "approval.py"
    path.write_text(textwrap.dedent(APPROVAL))
    return path


def sqlite_url(path: Path) -> str:
    """The URL of the SQLite file ``path``."""
    return f"sqlite:///{path}"


def read_run(url: str, run_id: str) -> RunInfo:
    """The run as stored, read by a client engine."""

    async def read() -> RunInfo:
        async with Engine.open(url, serve=False) as engine:
            return await engine.get_run(run_id)

    return anyio.run(read)


def read_runs(url: str) -> list[RunInfo]:
    """Every run in the database, newest first."""

    async def read() -> list[RunInfo]:
        async with Engine.open(url, serve=False) as engine:
            return await engine.list_runs(limit=None)

    return anyio.run(read)


def read_history(url: str, run_id: str) -> list[HistoryEntry]:
    """The run's journal."""

    async def read() -> list[HistoryEntry]:
        async with Engine.open(url, serve=False) as engine:
            return await engine.history(run_id)

    return anyio.run(read)


def no_traceback(result: Result | subprocess.CompletedProcess[str]) -> bool:
    """Whether neither output stream shows a traceback."""
    text = result.stdout + (result.stderr or "")
    return "Traceback" not in text


def wait_until(check: Callable[[], Any], timeout: float = 20.0) -> Any:
    """Poll ``check`` until it returns something true; fail after ``timeout``."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"condition not met within {timeout} s")
