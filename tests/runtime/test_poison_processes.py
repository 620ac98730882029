"""Poison tasks against real ``wfc worker`` processes, on both stores.

Poison runs (a task raising ``SystemExit``, one raising ``KeyboardInterrupt``,
one raising an exception that cannot print itself, one returning 2 MiB, one
hanging past its timeout in a thread, and one whose output the database
refuses) share the workers with 50 healthy runs. Every healthy run
completes, each poisoned one is FAILED with its named error in the journal,
every worker is still alive afterwards and stops cleanly on SIGTERM (the
hanging thread does not keep it alive). One worker on SQLite (one process
per SQLite database), two on PostgreSQL (skipped without
``WFC_TEST_POSTGRES_URL``).
"""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import anyio
import pytest
from rtdb import Db
from rtrefuse import MARKER, refuse_marker_in_runs
from rtspec import exit_, lit, out, spec, task
from rtworkers import WorkerPool

from wfc.runtime import Engine, RunStatus

pytestmark = pytest.mark.anyio

TASKS = textwrap.dedent(
    f"""
    import time
    from wfc.runtime import task

    class Unprintable(Exception):
        def __str__(self):
            raise RuntimeError("no")

    @task("healthy")
    def healthy(value: int) -> int:
        return value * 2

    @task("exits")
    def exits() -> None:
        raise SystemExit(1)

    @task("interrupts")
    async def interrupts() -> None:
        raise KeyboardInterrupt

    @task("unprintable")
    def unprintable() -> None:
        raise Unprintable()

    @task("huge")
    def huge() -> str:
        return "x" * (2 * 1024 * 1024)

    @task("hangs", timeout=0.3)
    def hangs() -> None:
        time.sleep(120)

    @task("marks")
    def marks() -> str:
        return {MARKER!r}
    """
)

#: Poison task -> the failure name its run ends with, and a part of its message.
POISONS = {
    "exits": ("TASK_ERROR", "raised SystemExit(1); a task cannot stop the engine"),
    "interrupts": ("TASK_ERROR", "raised KeyboardInterrupt(); a task cannot stop the engine"),
    "unprintable": ("TASK_ERROR", "Unprintable"),
    "huge": ("TASK_ERROR", "over the limit of 1,048,576 bytes (1 MiB)"),
    "hangs": ("TIMEOUT", ""),
    "marks": ("RUN_SET_ASIDE", "the test database refuses this value"),
}

HEALTHY = spec("healthy", [("t", task("healthy", lit(21))), ("end", exit_(out("t")))])


def poison_flow(name: str) -> object:
    return spec(f"poison-{name}", [("t", task(name)), ("end", exit_(out("t")))])


async def test_poison_tasks_fail_alone_and_fifty_healthy_runs_complete(db: Db, tmp_path: Path) -> None:
    (tmp_path / "ptasks.py").write_text(TASKS)
    workers = WorkerPool(db.url, tmp_path)
    try:
        async with Engine.open(db.url, serve=False, poll_interval=0.1) as client:
            await client.deploy(HEALTHY)
            for name in POISONS:
                await client.deploy(poison_flow(name))
            refuse_marker_in_runs(db)
            options = ["--concurrency", "20", "--poll", "0.1", "--lease", "5", "--stats-every", "1", "--grace", "1"]
            workers.launch(1 if db.kind == "sqlite" else 2, "ptasks.py", options)
            poisoned = {name: await client.start(f"poison-{name}", run_id=f"poison-{name}") for name in POISONS}
            healthy = [await client.start("healthy", run_id=f"healthy-{i}") for i in range(50)]
            with anyio.fail_after(60):
                runs = [await client.wait(run_id, timeout=60) for run_id in healthy]
                ended = {name: await client.wait(run_id, timeout=60) for name, run_id in poisoned.items()}
            journals = {name: await client.history(run_id) for name, run_id in poisoned.items()}
        assert {(run.status, run.output) for run in runs} == {(RunStatus.COMPLETED, 42)}, workers.logs()
        for name, (error, message) in POISONS.items():
            run = ended[name]
            assert run.status is RunStatus.FAILED and run.failure is not None, (name, run)
            assert (run.failure.name, message in run.failure.message) == (error, True), (name, run.failure)
            last = journals[name][-1]
            assert (last.kind, last.detail["error"]) == ("RUN_FAILED", error), name
        # No poison took a worker down, and none keeps one from stopping.
        assert [process.poll() for process in workers.processes] == [None] * len(workers.processes), workers.logs()
        started = time.monotonic()
        assert workers.stop() == [0] * len(workers.processes), workers.logs()
        assert time.monotonic() - started < 15  # the thread sleeping in `hangs` did not hold the exit
        assert db.rows("SELECT count(*) FROM tasks") == [(0,)]
    finally:
        workers.kill_all()


STUCK_FLOW = """
from wfc.dsl import Workflow, WorkflowThread

def stuck(wf: WorkflowThread) -> None:
    wf.execute(TASK)

stuck_wf = Workflow("stuck", stuck)
"""


@pytest.mark.parametrize(("poison", "shown"), [("hangs", "TIMEOUT"), ("exits", "SystemExit(1)")])
def test_wfc_run_reports_a_poison_task_and_exits_at_once(tmp_path: Path, poison: str, shown: str) -> None:
    # `wfc run` on SQLite: the run fails with the attempt's error, and the
    # process ends with the run, however long the abandoned thread sleeps.
    (tmp_path / "ptasks.py").write_text(TASKS)
    (tmp_path / "flow.py").write_text(STUCK_FLOW.replace("TASK", repr(poison)))
    command = [sys.executable, "-c", "from wfc.cli import main; main()", "run", "flow.py", "--tasks", "ptasks.py"]
    command += ["--db", f"sqlite:///{tmp_path / 'wfc.db'}"]
    started = time.monotonic()
    result = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert time.monotonic() - started < 20, "the process waited for the thread still sleeping in the task"
    assert result.returncode not in (0, -signal.SIGKILL), result
    assert "FAILED" in result.stdout + result.stderr and shown in result.stdout + result.stderr, result
    assert "Traceback" not in result.stdout + result.stderr
