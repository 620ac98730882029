"""Many processes on one PostgreSQL database, for real: ``wfc worker``
processes share hundreds of runs and run every step exactly once; a worker
SIGKILLed in the middle of a task loses its runs to the others; a run started
while no worker runs completes when one starts.

Every task appends ``<idempotency key> <pid> <what>`` to one shared file
(appends of short lines are atomic), so the test counts the side effects.
Everything is bounded in time: workers are killed when a test ends.
"""

from __future__ import annotations

import os
import signal
import textwrap
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from rtdb import SKIP_REASON, Db, make_db, postgres_base_url
from rtspec import exit_, out, spec, task
from rtworkers import WorkerPool

from wfc.runtime import Engine, RunStatus

pytestmark = pytest.mark.anyio

TASKS = textwrap.dedent(
    """
    import os, time
    from wfc.runtime import TaskContext, task

    LOG = os.environ["WFC_TEST_EFFECTS"]

    def note(ctx, what):
        with open(LOG, "a") as handle:
            handle.write(f"{ctx.idempotency_key} {os.getpid()} {what}\\n")

    @task("first")
    def first(run: int, ctx: TaskContext) -> int:
        note(ctx, "done")
        return run

    @task("slow")
    async def slow(value: int, ctx: TaskContext) -> int:
        import anyio
        note(ctx, "begin")
        await anyio.sleep(float(os.environ.get("WFC_TEST_SLOW", "0")))
        note(ctx, "done")
        return value + 1

    @task("last")
    def last(value: int, ctx: TaskContext) -> int:
        note(ctx, "done")
        return value * 10
    """
)

THREE_STEPS = spec(
    "three-steps",
    [
        ("a", task("first", 0)),
        ("b", task("slow", out("a"))),
        ("c", task("last", out("b"))),
        ("end", exit_(out("c"))),
    ],
)


@pytest.fixture
def pg(tmp_path: Path) -> Iterator[Db]:
    if postgres_base_url() is None:
        pytest.skip(SKIP_REASON)
    database = make_db("postgres", tmp_path)
    try:
        yield database
    finally:
        database.drop()


class Workers(WorkerPool):
    """``wfc worker`` processes on one database that record their task effects."""

    def __init__(self, url: str, folder: Path, slow: float = 0.0) -> None:
        (folder / "wtasks.py").write_text(TASKS)
        self.effects = folder / "effects.log"
        self.effects.touch()
        super().__init__(url, folder, {**os.environ, "WFC_TEST_EFFECTS": str(self.effects), "WFC_TEST_SLOW": str(slow)})

    def start(self, count: int = 1, concurrency: int = 20, tasks: str = "wtasks.py") -> None:
        options = ["--concurrency", str(concurrency), "--lease", "5", "--poll", "0.2", "--stats-every", "1"]
        self.launch(count, tasks, [*options, "--grace", "5"])

    async def serving(self, db: Db, timeout: float = 60) -> None:
        """Wait until every worker's engine is registered in the database (it
        serves from then on), so that work started next is there for all of
        them, not only for the one that happened to start first."""
        pids = {process.pid for process in self.processes}
        with anyio.fail_after(timeout):
            while not pids <= {pid for (pid,) in db.rows("SELECT pid FROM engines")}:
                exited = [process.args for process in self.processes if process.poll() is not None]
                assert not exited, f"a worker exited early: {exited}\n{self.logs()}"
                await anyio.sleep(0.05)

    def lines(self) -> list[tuple[str, int, str]]:
        found = []
        for line in self.effects.read_text().splitlines():
            key, pid, what = line.split(" ")
            found.append((key, int(pid), what))
        return found


@pytest.fixture
def workers(pg: Db, tmp_path: Path) -> Iterator[Workers]:
    group = Workers(pg.url, tmp_path)
    try:
        yield group
    finally:
        group.kill_all()


async def _run_all(client: Engine, count: int, timeout: float) -> list[Any]:
    run_ids: list[str] = []
    async with anyio.create_task_group() as tg:
        for index in range(count):

            async def start(index: int = index) -> None:
                run_ids.append(await client.start("three-steps", run_id=f"run-{index}"))

            tg.start_soon(start)
    with anyio.fail_after(timeout):
        return [await client.wait(run_id, timeout=timeout) for run_id in sorted(run_ids)]


@pytest.mark.parametrize("count", [2, 4])
async def test_worker_processes_share_hundreds_of_runs_and_run_each_step_once(
    workers: Workers, pg: Db, count: int
) -> None:
    async with Engine.open(pg.url, serve=False, poll_interval=0.2) as client:
        await client.deploy(THREE_STEPS)
        workers.start(count)
        await workers.serving(pg)
        runs = await _run_all(client, 300, timeout=90)
    assert {run.status for run in runs} == {RunStatus.COMPLETED}, workers.logs()
    assert {run.output for run in runs} == {10}
    lines = workers.lines()
    done = Counter(key for key, _, what in lines if what == "done")
    expected = {f"run-{i}/0/{node}/1" for i in range(300) for node in ("a", "b", "c")}
    assert set(done) == expected
    assert [key for key, times in done.items() if times != 1] == []  # every step exactly once
    busy = Counter(pid for _, pid, what in lines if what == "done")
    assert len(busy) >= 2, f"one worker did everything: {busy}"
    assert workers.stop() == [0] * count
    assert pg.rows("SELECT count(*) FROM tasks") == [(0,)]
    assert pg.rows("SELECT count(*) FROM engines") == [(0,)]  # every worker left cleanly


async def test_a_worker_killed_mid_task_loses_its_runs_to_the_others(pg: Db, tmp_path: Path) -> None:
    group = Workers(pg.url, tmp_path, slow=0.3)
    try:
        async with Engine.open(pg.url, serve=False, poll_interval=0.2) as client:
            await client.deploy(THREE_STEPS)
            group.start(3, concurrency=5)
            run_ids = [await client.start("three-steps", run_id=f"run-{i}") for i in range(30)]
            with anyio.fail_after(30):  # wait until some worker is in the middle of a slow step
                while not [line for line in group.lines() if line[2] == "begin"]:
                    await anyio.sleep(0.02)
            victim = next(pid for _, pid, what in group.lines() if what == "begin")
            os.kill(victim, signal.SIGKILL)
            with anyio.fail_after(60):
                runs = [await client.wait(run_id, timeout=60) for run_id in run_ids]
            history = {run_id: [h.kind for h in await client.history(run_id)] for run_id in run_ids}
        assert {run.status for run in runs} == {RunStatus.COMPLETED}, group.logs()
        lines = group.lines()
        done = Counter(key for key, _, what in lines if what == "done")
        assert set(done) == {f"run-{i}/0/{node}/1" for i in range(30) for node in ("a", "b", "c")}
        begun_by_victim = {key for key, pid, what in lines if pid == victim and what == "begin"}
        finished_by_victim = {key for key, pid, what in lines if pid == victim and what == "done"}
        in_flight = begun_by_victim - finished_by_victim
        assert in_flight, "the victim was killed in the middle of a task"
        for key in in_flight:
            # Delivered again, with the same idempotency key, and completed by another worker.
            assert any(k == key and pid != victim and what == "done" for k, pid, what in lines)
        # Nothing ran twice, apart from attempts that were in flight in the
        # victim: started there, or finished there but not yet committed.
        twice = {key for key, times in done.items() if times != 1}
        assert twice <= begun_by_victim | finished_by_victim
        assert all(done[key] == 2 for key in twice)
        redelivered = [run_id for run_id, kinds in history.items() if "TASK_CLAIMED" in kinds]
        assert redelivered, "the killed worker's attempts were claimed again"
        codes = group.stop()
        assert codes.count(-signal.SIGKILL) == 1 and codes.count(0) == 2
    finally:
        group.kill_all()


async def test_a_run_started_while_no_worker_runs_completes_when_one_starts(workers: Workers, pg: Db) -> None:
    async with Engine.open(pg.url, serve=False, poll_interval=0.2) as client:
        await client.deploy(THREE_STEPS)
        run_id = await client.start("three-steps", run_id="lonely")
        # A client engine runs nothing: the first step waits, unclaimed.
        assert (await client.get_run(run_id)).status is RunStatus.RUNNING
        assert pg.rows("SELECT node, lease_owner FROM tasks") == [("a", None)]  # waiting in the outbox
        workers.start(1)
        run = await client.wait(run_id, timeout=30)
    assert run.status is RunStatus.COMPLETED and run.output == 10
    assert workers.stop() == [0]
    assert "completed" in workers.logs()


async def test_each_worker_runs_only_the_tasks_it_registers(workers: Workers, pg: Db, tmp_path: Path) -> None:
    (tmp_path / "only_first.py").write_text("from wtasks import first\n")
    (tmp_path / "the_rest.py").write_text("from wtasks import last, slow\n")
    async with Engine.open(pg.url, serve=False, poll_interval=0.2) as client:
        await client.deploy(THREE_STEPS)
        workers.start(1, tasks="only_first.py")
        workers.start(1, tasks="the_rest.py")
        runs = await _run_all(client, 50, timeout=60)
    assert {run.status for run in runs} == {RunStatus.COMPLETED}, workers.logs()
    first_pid, rest_pid = (process.pid for process in workers.processes)
    by_node = {(key.split("/")[2], pid) for key, pid, what in workers.lines() if what == "done"}
    assert by_node == {("a", first_pid), ("b", rest_pid), ("c", rest_pid)}
    assert workers.stop() == [0, 0]
