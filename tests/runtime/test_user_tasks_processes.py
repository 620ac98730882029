"""User tasks across OS processes, on every store: two processes completing
the same task at once (exactly one wins, the other gets a conflict), and an
engine SIGKILLed while a deadline timer of a task is due (the next engine
fires it exactly once, and the stored task and journal show it)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import anyio
import pytest
from rtclock import START, ManualClock, manual_engine
from rtdb import Db
from rtspec import exit_, field, form, out, spec, ut_timer
from rtspec import user_task as user_task_node

from wfc.runtime import Engine, RunStatus
from wfc.specs import dumps

pytestmark = pytest.mark.anyio

APPROVAL = form("approval", field("approved", "bool"), field("by", "str"))

#: Opens a client engine, says it is ready, waits for the go, then completes
#: every task named on the command line as soon as it can, writing what
#: became of each completion.
COMPLETER = textwrap.dedent(
    """
    import sys, time, anyio
    from pathlib import Path
    from wfc.runtime import Engine, UserTaskStateError

    work, url, name, *task_ids = sys.argv[1:]
    work = Path(work)

    async def main() -> None:
        async with Engine.open(url, serve=False) as engine:
            (work / f"ready-{name}").touch()
            while not (work / "go").exists():
                time.sleep(0.001)  # spin: both start within a millisecond
            lines = []
            for task_id in task_ids:
                try:
                    await engine.complete_user_task(task_id, {"approved": True, "by": name})
                    lines.append(f"{task_id} won")
                except UserTaskStateError as exc:
                    lines.append(f"{task_id} conflict {exc.status}")
            (work / f"result-{name}").write_text("\\n".join(lines))

    anyio.run(main)
    """
)

#: Starts a run whose task has deadline timers on a clock that never moves
#: (so they never fire here), says so, and waits to be killed.
TIMED = textwrap.dedent(
    """
    import sys, anyio
    from pathlib import Path
    from wfc.runtime import Engine
    from wfc.specs import loads

    work, url, start = Path(sys.argv[1]), sys.argv[2], float(sys.argv[3])

    async def main() -> None:
        async with Engine.open(url, clock=lambda: start, poll_interval=0.05) as engine:
            await engine.deploy(loads((work / "spec.json").read_bytes()))
            await engine.start("timed", run_id="timed-1")
            (work / "started").touch()
            await anyio.sleep_forever()

    anyio.run(main)
    """
)


async def _wait_for(path: Path, processes: list[subprocess.Popen[bytes]], timeout: float = 60) -> None:
    with anyio.fail_after(timeout):
        while not path.exists():
            for process in processes:
                if process.poll() is not None:
                    raise AssertionError(f"a process exited early: {process.communicate()}")
            await anyio.sleep(0.02)


async def test_two_processes_completing_one_task_at_once_exactly_one_wins(tmp_path: Path, db: Db) -> None:
    tasks = spec("race", [("ask", user_task_node("approval", group="support")), ("end", exit_(out("ask")))],
                 forms=[APPROVAL])  # fmt: skip
    async with Engine.open(db.url) as engine:
        await engine.deploy(tasks)
        runs = [await engine.start("race", run_id=f"race-{n}") for n in range(6)]
        ids = [(await engine.list_user_tasks(run_id=run_id))[0].id for run_id in runs]
    (tmp_path / "completer.py").write_text(COMPLETER)
    command = [sys.executable, str(tmp_path / "completer.py"), str(tmp_path), db.url]
    children = [
        subprocess.Popen([*command, name, *ids], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for name in ("one", "two")
    ]
    try:
        for name in ("one", "two"):
            await _wait_for(tmp_path / f"ready-{name}", children)
        (tmp_path / "go").touch()
        # Each waited for alone: the other may be done, its result written, and gone.
        for name, child in zip(("one", "two"), children, strict=True):
            await _wait_for(tmp_path / f"result-{name}", [child])
    finally:
        for child in children:
            child.kill()
            child.wait()
    outcomes = {name: dict(line.split(" ", 1) for line in (tmp_path / f"result-{name}").read_text().splitlines())
                for name in ("one", "two")}  # fmt: skip
    async with Engine.open(db.url, serve=False) as engine:
        for task_id, run_id in zip(ids, runs, strict=True):
            pair = sorted((outcomes["one"][task_id], outcomes["two"][task_id]))
            assert pair == ["conflict DONE", "won"], (task_id, outcomes)
            winner = "one" if outcomes["one"][task_id] == "won" else "two"
            task = await engine.get_user_task(task_id)
            assert task.values == {"approved": True, "by": winner}
            assert [h.kind for h in task.audit].count("USER_TASK_COMPLETED") == 1
            run = await engine.get_run(run_id)
            assert run.status is RunStatus.COMPLETED and run.output == {"approved": True, "by": winner}
    assert db.rows("SELECT DISTINCT status FROM user_tasks") == [("DONE",)]


async def test_a_deadline_timer_due_while_no_engine_ran_fires_exactly_once_after_a_sigkill(
    tmp_path: Path, db: Db
) -> None:
    timed = spec(
        "timed",
        [
            ("ask", user_task_node("approval", user="ann", group="support",
                                   timers=[ut_timer(60, "reassign", group="escalations"), ut_timer(120, "cancel")])),
            ("end", exit_(out("ask"))),
        ],
        forms=[APPROVAL],
    )  # fmt: skip
    (tmp_path / "spec.json").write_bytes(dumps(timed))
    (tmp_path / "timed.py").write_text(TIMED)
    child = subprocess.Popen([sys.executable, str(tmp_path / "timed.py"), str(tmp_path), db.url, str(START)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
    try:
        await _wait_for(tmp_path / "started", [child])
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
    assert child.returncode == -signal.SIGKILL
    assert db.rows("SELECT status, user_id, user_group FROM user_tasks") == [("ASSIGNED", "ann", "support")]
    assert db.rows("SELECT due_at - " + str(START) + " FROM timers ORDER BY due_at") == [(60.0,), (120.0,)]

    # Another engine, 90 s later: the reassignment came due while none ran.
    clock = ManualClock(START + 90)
    async with manual_engine(db.url, clock, poll_interval=0.05) as engine:
        with anyio.fail_after(20):
            while db.rows("SELECT status FROM user_tasks") != [("UNASSIGNED",)]:
                await anyio.sleep(0.02)
        [task] = await engine.list_user_tasks(run_id="timed-1")
        assert (task.user, task.group) == (None, "escalations")
    # And another: nothing fires twice.
    async with manual_engine(db.url, clock, poll_interval=0.05) as engine:
        await anyio.sleep(0.3)
        audit = (await engine.get_user_task(task.id)).audit
        assert [(h.kind, h.detail.get("timer")) for h in audit] == [
            ("USER_TASK_ASSIGNED", None),
            ("USER_TASK_REASSIGNED", True),
        ]
        assert db.rows("SELECT due_at - " + str(START) + " FROM timers") == [(120.0,)]
        clock.advance(60)  # the cancel deadline
        run = await engine.wait("timed-1", timeout=20)
        assert run.status is RunStatus.FAILED and run.failure is not None
        assert run.failure.name == "USER_TASK_CANCELLED"
        kinds = [h.kind for h in (await engine.get_user_task(task.id)).audit]
        assert kinds == ["USER_TASK_ASSIGNED", "USER_TASK_REASSIGNED", "USER_TASK_CANCELLED"]
    assert db.rows("SELECT status, user_id, user_group FROM user_tasks") == [("CANCELLED", None, "escalations")]
    assert db.rows("SELECT count(*) FROM timers") == [(0,)]
