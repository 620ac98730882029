"""``wfc migrate apply`` killed with SIGKILL half-way: every run is either
wholly on the old version or wholly migrated, and applying the plan again
finishes the rest.

Runs of ``ship`` 1.0 are parked on a SQLite file (nine in ten at
``wait-approved``, safe to move now; one in ten at ``wait-packed``, which
1.1 removed). ``wfc migrate apply`` runs as a real process; the test reads
the file (read-only) until some runs are on 1.1 but not all, kills the
process, and checks each run's row, state and journal straight from the
file. The test fails if the process finished before it could be killed
(after trying a bigger database once): it must really kill mid-way.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio

from wfc.dsl import Workflow, WorkflowThread
from wfc.runtime import Engine, RunStatus
from wfc.runtime import task as task_fn
from wfc.runtime.interpreter.state import decode_state
from wfc.runtime.store.rows import join_threads


def _v1(wf: WorkflowThread) -> Any:
    order = wf.declare_str("order-id").required()
    wf.wait_for_event("approved", correlation=order, timeout=3600)
    wf.wait_for_event("packed", correlation=order, timeout=3600)
    return wf.execute("finish", order)


def _v2(wf: WorkflowThread) -> Any:
    order = wf.declare_str("order-id").required()
    wf.declare_str("channel").default("web")
    wf.wait_for_event("approved", correlation=order, timeout=3600)
    wf.execute("notify", order)
    return wf.execute("finish", order)


V1 = Workflow("ship", _v1).compile()
V2 = Workflow("ship", _v2).compile(previous=V1)


@task_fn("notify")
def notify(order_id: str) -> str:
    return f"notified {order_id}"


@task_fn("finish")
def finish(order_id: str) -> str:
    return f"finished {order_id}"


#: Runs parked per try: the second try only if the first one's apply ended before it could be killed.
SIZES = (2000, 8000)
IN_FLIGHT = 2000


def run_id(index: int) -> str:
    return f"ship-{index:06d}"


def packed(index: int) -> bool:
    """One run in ten waits at ``wait-packed`` (removed in 1.1): not moved."""
    return index % 10 == 0


async def _park(url: str, count: int, plan_path: Path) -> dict[str, Any]:
    """``count`` runs of 1.0 parked, 1.1 deployed, and the plan written."""
    async with Engine.open(url, serve=False, check_tasks=False) as engine:
        await engine.deploy(V1)
        limit = anyio.Semaphore(IN_FLIGHT)

        async def start(index: int) -> None:
            async with limit:
                await engine.start("ship", {"order-id": run_id(index)}, run_id=run_id(index))
                if packed(index):
                    await engine.send_event("approved", {"by": "ann"}, correlation=run_id(index))

        async with anyio.create_task_group() as tg:
            for index in range(count):
                tg.start_soon(start, index)
        await engine.deploy(V2)
        plan = (await engine.plan_migration("ship", "1.0", "1.1")).document()
    plan_path.write_text(json.dumps(plan), encoding="utf-8")
    return dict(plan)


def apply_process(url: str, plan_path: Path) -> subprocess.Popen[str]:
    """``wfc migrate apply PLAN --json`` in a process of its own."""
    command = [sys.executable, "-c", "from wfc.cli import main; main()", "migrate", "apply", str(plan_path),
               "--db", url, "--json"]  # fmt: skip
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200"}
    env.pop("WFC_DB", None)
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def read_only(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)


def moved_count(path: Path) -> int:
    with closing(read_only(path)) as db:
        ((count,),) = db.execute("SELECT count(*) FROM runs WHERE workflow = 'ship' AND major = 1 AND revision = 1")
        return int(count)


def kill_mid_way(process: subprocess.Popen[str], path: Path, safe: int) -> int | None:
    """SIGKILL ``process`` once some but not all ``safe`` runs are on 1.1;
    the count seen just before. ``None``: it ended first."""
    while process.poll() is None:
        seen = moved_count(path)
        if 0 < seen < safe:
            os.kill(process.pid, signal.SIGKILL)
            process.communicate(timeout=60)
            return seen
    process.communicate(timeout=60)
    return None


@dataclass(frozen=True)
class Stored:
    """One run as the file holds it."""

    run_id: str
    version: str
    status: str
    nodes: tuple[str, ...]
    variables: dict[str, Any]
    migrated: tuple[dict[str, Any], ...]


def stored_runs(path: Path) -> Iterator[Stored]:
    with closing(read_only(path)) as db:
        entries: dict[str, list[dict[str, Any]]] = {}
        for rid, detail in db.execute("SELECT run_id, detail FROM journal WHERE kind = 'MIGRATED' ORDER BY feed"):
            entries.setdefault(rid, []).append(json.loads(detail))
        threads: dict[str, list[str]] = {}  # each thread's JSON, stored apart from the run (state format 2)
        for rid, number, state in db.execute("SELECT run_id, number, state FROM run_threads ORDER BY run_id, number"):
            threads.setdefault(rid, []).append(f'"{number}":{state}')
        for rid, major, revision, status, state in db.execute(
            "SELECT id, major, revision, status, state FROM runs ORDER BY id"
        ):
            whole = state.encode()
            if rid in threads:
                whole = join_threads(whole, ",".join(threads[rid]).encode())
            decoded = decode_state(whole)
            nodes = tuple(decoded.threads[n].node for n in sorted(decoded.threads))
            yield Stored(rid, f"{major}.{revision}", status, nodes, dict(decoded.variables),
                         tuple(entries.get(rid, [])))  # fmt: skip


def raw_rows(path: Path) -> dict[str, tuple[Any, ...]]:
    """Every run's row, thread rows and journal rows as stored, by run id."""
    with closing(read_only(path)) as db:
        found: dict[str, tuple[Any, ...]] = {}
        threads: dict[str, list[tuple[Any, ...]]] = {}
        journal: dict[str, list[tuple[Any, ...]]] = {}
        for row in db.execute("SELECT run_id, number, state FROM run_threads ORDER BY run_id, number"):
            threads.setdefault(row[0], []).append(tuple(row))
        for row in db.execute("SELECT run_id, seq, at, thread, node, kind, attempt, detail FROM journal ORDER BY feed"):
            journal.setdefault(row[0], []).append(tuple(row))
        for row in db.execute("SELECT id, major, revision, status, version, state, updated_at FROM runs"):
            found[row[0]] = (tuple(row), threads.get(row[0], []), journal.get(row[0], []))
        return found


def check_whole(run: Stored, index: int) -> bool:
    """The run is wholly on 1.0 or wholly on 1.1; whether it moved."""
    if packed(index):
        assert (run.version, run.nodes, run.migrated) == ("1.0", ("wait-packed",), ()), run
        return False
    if run.version == "1.0":
        assert run.nodes == ("wait-approved",) and run.migrated == () and "channel" not in run.variables, run
        return False
    assert run.version == "1.1" and run.nodes == ("wait-approved",), run
    assert run.variables["channel"] == "web", run
    (entry,) = run.migrated  # exactly one
    assert entry["from"] == "1.0" and entry["to"] == "1.1" and entry["automatic"] is False, run
    assert entry["threads"] == [] and entry["variables"] == {"channel": "web"}, run  # the node id stays
    return True


def test_sigkill_mid_apply_leaves_every_run_whole_and_applying_again_finishes(tmp_path: Path) -> None:
    killed_at: int | None = None
    for count in SIZES:
        path = tmp_path / f"runs-{count}.db"
        url = f"sqlite:///{path}"
        plan_path = tmp_path / f"plan-{count}.json"
        plan = anyio.run(_park, url, count, plan_path)
        safe = sum(1 for index in range(count) if not packed(index))
        assert plan["summary"] == {"safe_now": safe, "safe_later": count - safe, "must_drain": 0}
        before = raw_rows(path)
        killed_at = kill_mid_way(apply_process(url, plan_path), path, safe)
        if killed_at is not None:
            break
    assert killed_at is not None, f"wfc migrate apply moved all {count} runs before it could be killed"

    runs = list(stored_runs(path))
    assert [run.run_id for run in runs] == [run_id(index) for index in range(count)]
    moved = sum(check_whole(run, index) for index, run in enumerate(runs))
    assert killed_at <= moved < safe  # killed mid-way: some moved, some not
    after = raw_rows(path)
    untouched = [run.run_id for run in runs if run.version == "1.0"]
    assert len(untouched) == count - moved
    assert all(after[rid] == before[rid] for rid in untouched)  # row, threads and journal exactly as before

    again = apply_process(url, plan_path)
    out, err = again.communicate(timeout=600)
    assert again.returncode == 0, err
    report = json.loads(out)
    assert report["summary"] == {"migrated": safe - moved, "already_migrated": moved, "pending": 0,
                                 "not_now": count - safe, "gone": 0}  # fmt: skip
    runs = list(stored_runs(path))
    assert all(check_whole(run, index) for index, run in enumerate(runs) if not packed(index))

    finished = anyio.run(_finish_all, url, count)
    assert finished == {run_id(i): ("1.0" if packed(i) else "1.1") for i in range(count)}


async def _finish_all(url: str, count: int) -> dict[str, str]:
    """Send every run its next event in a serving engine; each run's version once COMPLETED."""
    ended: dict[str, str] = {}
    async with Engine.open(url, tasks=[notify, finish], poll_interval=0.05) as engine:
        limit = anyio.Semaphore(IN_FLIGHT)

        async def finish_one(index: int) -> None:
            async with limit:
                rid = run_id(index)
                await engine.send_event("packed" if packed(index) else "approved", {"by": "bo"}, correlation=rid)
                info = await engine.wait(rid, timeout=300)
                assert info.status is RunStatus.COMPLETED, info
                history = await engine.history(rid)
                tasks = [e.node for e in history if e.kind == "TASK_COMPLETED"]
                assert tasks == (["finish"] if packed(index) else ["notify", "finish"]), (rid, tasks)
                ended[rid] = str(info.version)

        async with anyio.create_task_group() as tg:
            for index in range(count):
                tg.start_soon(finish_one, index)
    return ended
