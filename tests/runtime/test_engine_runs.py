"""The engine end to end on a real SQLite file: deploy, start, wait, read."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import anyio
import msgspec
import pytest
from rtdb import Db
from rtspec import exit_, out, spec, task, var, variable, wait

from wfc.runtime import (
    DeployConflictError,
    Engine,
    InputError,
    MissingTasksError,
    RunIdConflictError,
    RunInfo,
    RunInputsConflictError,
    RunStateError,
    RunStatus,
    TaskContext,
    UnknownRunError,
    UnknownWorkflowError,
    UsageError,
    WaitTimeoutError,
)
from wfc.runtime import task as wfc_task

pytestmark = pytest.mark.anyio

calls: list[tuple[str, Any]] = []


@wfc_task("double")
async def double(x: int, ctx: TaskContext) -> int:
    calls.append((ctx.idempotency_key, x))
    return x * 2


@wfc_task("tag")
def tag(value: Any, label: str) -> dict[str, Any]:
    return {"label": label, "value": value}


def doubling(version: tuple[int, int] = (1, 0), label: str = "v1") -> Any:
    return spec(
        "doubling",
        [("d", task("double", var("x"))), ("t", task("tag", out("d"), label)), ("end", exit_(out("t")))],
        variables={"x": variable("int", required=True), "secret": variable("str", masked=True)},
        version=version,
    )


def open_engine(url: str, **options: Any) -> Any:
    options.setdefault("poll_interval", 0.05)
    return Engine.open(url, tasks=[double, tag], **options)


async def test_a_run_completes_and_its_journal_is_stored(db_url: str, db: Db) -> None:
    async with open_engine(db_url) as engine:
        assert await engine.deploy(doubling()) is True
        run_id = await engine.start("doubling", {"x": 21, "secret": "hunter2"}, run_id="order-1")
        assert run_id == "order-1"
        run = await engine.wait(run_id, timeout=10)
        assert run.status is RunStatus.COMPLETED
        assert run.output == {"label": "v1", "value": 42}
        # A finished run that cannot be retried keeps no secret: the masked value is erased.
        assert run.variables == {"x": 21, "secret": "***"}
        assert run.display_variables() == {"x": 21, "secret": "***"}
        assert str(run.version) == "1.0" and run.workflow == "doubling"
        assert run.created_at <= run.updated_at
        history = await engine.history(run_id)
    kinds = [h.kind for h in history]
    assert kinds[0] == "RUN_STARTED" and kinds[-1] == "RUN_COMPLETED"
    assert [h.seq for h in history] == list(range(1, len(history) + 1))
    assert history[0].detail["inputs"] == {"x": 21, "secret": "***"}
    dispatched = [h for h in history if h.kind == "TASK_DISPATCHED"]
    assert [(h.node, h.attempt) for h in dispatched] == [("d", 1), ("t", 1)]
    # Stored state, not just what the API says:
    assert db.rows("SELECT status, version > 1 FROM runs") == [("COMPLETED", 1)]
    assert db.rows("SELECT count(*) FROM journal") == [(len(history),)]
    assert db.rows("SELECT count(*) FROM tasks") == [(0,)]  # the outbox is empty when done
    assert "hunter2" not in "".join(str(r) for r in db.rows("SELECT detail FROM journal"))


async def test_start_is_idempotent_by_run_id(db_url: str) -> None:
    calls.clear()
    async with open_engine(db_url) as engine:
        await engine.deploy(doubling())
        first = await engine.start("doubling", {"x": 1}, run_id="same")
        await engine.wait(first, timeout=10)
        again = await engine.start("doubling", {"x": 1}, run_id="same")
        assert again == first
        # Other inputs are a conflict, not a silent no-op (tests/runtime/test_start_idempotency.py).
        with pytest.raises(RunInputsConflictError):
            await engine.start("doubling", {"x": 999}, run_id="same")
        assert [x for _, x in calls] == [1]  # nothing started twice
        assert len(await engine.list_runs()) == 1
        other = spec("other", [("end", exit_())])
        await engine.deploy(other)
        with pytest.raises(RunIdConflictError, match="already used by a run of workflow 'doubling'"):
            await engine.start("other", run_id="same")


async def test_deploy_versions_and_runs_stay_on_their_version(db_url: str) -> None:
    async with open_engine(db_url) as engine:
        assert await engine.deploy(doubling()) is True
        assert await engine.deploy(doubling()) is False  # identical: a no-op
        with pytest.raises(DeployConflictError, match=r"1.0 of workflow 'doubling' is already deployed"):
            await engine.deploy(doubling(label="changed"))
        await engine.deploy(doubling((1, 1), label="v1.1"))
        await engine.deploy(doubling((2, 0), label="v2"))
        latest = await engine.wait(await engine.start("doubling", {"x": 1}), timeout=10)
        pinned = await engine.wait(await engine.start("doubling", {"x": 1}, version="1.0"), timeout=10)
        major = await engine.wait(await engine.start("doubling", {"x": 1}, version=1), timeout=10)
        assert (latest.output["label"], str(latest.version)) == ("v2", "2.0")
        assert (pinned.output["label"], str(pinned.version)) == ("v1", "1.0")
        assert major.output["label"] == "v1.1"
        with pytest.raises(UnknownWorkflowError, match=r"version 3 of workflow 'doubling'.*1.0, 1.1, 2.0"):
            await engine.start("doubling", {"x": 1}, version=3)
        assert [str(s.version) for s in await engine.list_specs("doubling")] == ["1.0", "1.1", "2.0"]


async def test_start_reports_bad_inputs_unknown_workflows_and_missing_tasks(db_url: str) -> None:
    async with open_engine(db_url) as engine:
        await engine.deploy(doubling())
        with pytest.raises(InputError) as info:
            await engine.start("doubling", {"x": "one", "extra": 1})
        assert {name for name, _ in info.value.problems} == {"x", "extra"}
        with pytest.raises(InputError, match="'x': required int input is missing"):
            await engine.start("doubling", {})
        with pytest.raises(UnknownWorkflowError, match="workflow 'nope' is not deployed") as unknown:
            await engine.start("nope")
        assert unknown.value.workflow == "nope"
        needs = spec("needs", [("a", task("charge-card")), ("b", task("ship")), ("end", exit_())])
        with pytest.raises(MissingTasksError, match="charge-card, ship") as missing:
            await engine.deploy(needs)
        assert missing.value.missing == ("charge-card", "ship")
        assert await engine.list_runs() == []  # nothing was stored for refused starts


async def test_get_run_says_where_a_run_is_waiting(db_url: str) -> None:
    s = spec("approval", [("ask", wait("approved", timeout=3600)), ("end", exit_(out("ask")))])
    async with open_engine(db_url) as engine:
        await engine.deploy(s)
        run_id = await engine.start("approval", run_id="a-1")
        run = await engine.get_run(run_id)
        assert run.status is RunStatus.RUNNING and run.node == "ask"
        assert len(run.waiting_on) == 1 and run.waiting_on[0].startswith("main@ask: event 'approved' until ")
        with pytest.raises(WaitTimeoutError) as timeout:
            await engine.wait(run_id, timeout=0.1)
        assert timeout.value.run_id == run_id
        with pytest.raises(UnknownRunError, match="no run with id 'missing'"):
            await engine.get_run("missing")


async def test_list_runs_filters_by_status_workflow_and_time(db_url: str) -> None:
    clock = [1_000_000.0]
    s = spec("approval", [("ask", wait("approved")), ("end", exit_())])
    async with open_engine(db_url, clock=lambda: clock[0]) as engine:
        await engine.deploy(s)
        await engine.deploy(doubling())
        waiting = await engine.start("approval", run_id="waiting")
        clock[0] += 100
        done = await engine.start("doubling", {"x": 1}, run_id="done")
        await engine.wait(done, timeout=10)
        assert [r.id for r in await engine.list_runs()] == ["done", "waiting"]
        assert [r.id for r in await engine.list_runs(status=RunStatus.RUNNING)] == [waiting]
        assert [r.id for r in await engine.list_runs(status=["completed", "FAILED"])] == [done]
        assert [r.id for r in await engine.list_runs(workflow="approval")] == [waiting]
        cut = dt.datetime.fromtimestamp(1_000_050.0, tz=dt.UTC)
        assert [r.id for r in await engine.list_runs(started_after=cut)] == [done]
        assert [r.id for r in await engine.list_runs(started_before=1_000_050.0)] == [waiting]
        assert len(await engine.list_runs(limit=1)) == 1
        with pytest.raises(UsageError, match="unknown run status 'done'; use one of RUNNING"):
            await engine.list_runs(status="done")


async def test_cancel_stops_a_run_and_refuses_finished_ones(db_url: str, db: Db) -> None:
    s = spec("approval", [("ask", wait("approved", timeout=3600)), ("end", exit_())])
    async with open_engine(db_url) as engine:
        await engine.deploy(s)
        run_id = await engine.start("approval")
        assert db.rows("SELECT count(*) FROM timers") == [(1,)]
        run = await engine.cancel(run_id, reason="customer left")
        assert run.status is RunStatus.CANCELLED
        assert (await engine.wait(run_id, timeout=1)).status is RunStatus.CANCELLED
        assert db.rows("SELECT count(*) FROM timers") == [(0,)]
        with pytest.raises(RunStateError, match=r"cannot cancel: run .* is CANCELLED"):
            await engine.cancel(run_id)
        history = await engine.history(run_id)
        assert history[-1].kind == "RUN_CANCELLED" and history[-1].detail == {"reason": "customer left"}


async def test_watch_yields_entries_until_the_run_finishes(db_url: str) -> None:
    async with open_engine(db_url) as engine:
        await engine.deploy(doubling())
        run_id = await engine.start("doubling", {"x": 2})
        seen = [entry.kind async for entry in engine.watch(run_id)]
        assert seen[0] == "RUN_STARTED" and seen[-1] == "RUN_COMPLETED"
        tail = await engine.history(run_id, after=len(seen) - 1)
        assert [h.kind for h in tail] == ["RUN_COMPLETED"]


async def test_the_engine_refuses_calls_after_it_closed(db_url: str) -> None:
    async with open_engine(db_url) as engine:
        pass
    with pytest.raises(UsageError, match="the engine is closed"):
        await engine.start("doubling", {"x": 1})


async def test_in_memory_engine_runs_workflows() -> None:
    async with open_engine("sqlite:///:memory:") as engine:
        await engine.deploy(doubling())
        run = await engine.wait(await engine.start("doubling", {"x": 4}), timeout=10)
        assert run.output == {"label": "v1", "value": 8}


async def test_specs_are_stored_as_canonical_json(db_url: str, db: Db) -> None:
    async with open_engine(db_url) as engine:
        await engine.deploy(doubling())
    [(body, digest)] = db.rows("SELECT body, hash FROM specs")
    assert msgspec.json.decode(body)["name"] == "doubling" and digest.startswith("sha256:")


async def test_opening_something_that_is_not_a_wfc_database_fails_clearly(tmp_path: Path) -> None:
    from wfc.runtime import NotAWfcDatabaseError, UnsupportedUrlError

    notes = tmp_path / "notes.txt"
    notes.write_text("not a database")
    with pytest.raises(NotAWfcDatabaseError, match="not a SQLite database"):
        async with open_engine(f"sqlite:///{notes}"):
            pass
    assert notes.read_text() == "not a database"
    with pytest.raises(UnsupportedUrlError, match="use one of sqlite:///"):
        async with open_engine("mysql://localhost/wfc"):
            pass


async def test_history_of_an_unknown_run_is_an_error(db_url: str) -> None:
    async with open_engine(db_url) as engine:
        with pytest.raises(UnknownRunError):
            await engine.history("nope")


async def test_a_run_waiting_for_an_event_continues_after_a_restart(db_url: str) -> None:
    s = spec("approval", [("ask", wait("approved")), ("t", task("tag", out("ask"), "ok")), ("end", exit_(out("t")))])
    async with open_engine(db_url) as engine:
        await engine.deploy(s)
        run_id = await engine.start("approval")
    async with open_engine(db_url) as engine:
        await engine.send_event("approved", "yes", run_id=run_id)
        run = await engine.wait(run_id, timeout=10)
    assert run.output == {"label": "ok", "value": "yes"}


@wfc_task("scribble")
def scribble(items: list[int]) -> int:
    items.append(99)  # task code changing its argument must not change the run
    return len(items)


async def test_tasks_get_copies_of_their_arguments(db_url: str) -> None:
    s = spec(
        "copies",
        [("a", task("scribble", var("items"))), ("b", task("scribble", var("items"))), ("end", exit_(var("items")))],
        variables={"items": variable("json", default=[1])},
    )
    async with Engine.open(db_url, tasks=[scribble], poll_interval=0.05) as engine:
        await engine.deploy(s)
        run = await engine.wait(await engine.start("copies"), timeout=10)
    assert run.output == [1]


async def test_wait_takes_the_finished_run_from_the_commit_loop_not_from_a_read_per_step(db_url: str) -> None:
    # The waiter reads the run (its status) once when it starts waiting; the
    # steps this engine commits do not make it read again, and the finishing
    # commit hands it the run as stored.
    import time

    from wfc.runtime.store import open_store

    store = await open_store(db_url, time.time())
    reads: list[str] = []
    real_get_run = store.get_run

    async def counting_get_run(run_id: str) -> Any:
        reads.append(run_id)
        return await real_get_run(run_id)

    real_statuses = store.run_statuses

    async def counting_statuses(run_ids: Any) -> Any:
        reads.extend(run_ids)
        return await real_statuses(run_ids)

    store.get_run = counting_get_run  # type: ignore[method-assign]
    store.run_statuses = counting_statuses  # type: ignore[method-assign]
    gated = spec(
        "gated",
        [
            ("go", wait("go")),
            ("d", task("double", var("x"))),
            ("t", task("tag", out("d"), "v1")),
            ("end", exit_(out("t"))),
        ],
        variables={"x": variable("int", required=True)},
    )
    async with open_engine(db_url, poll_interval=3600, store=store) as engine:
        await engine.deploy(gated)
        run_id = await engine.start("gated", {"x": 21}, run_id="w1")
        reads.clear()
        async with anyio.create_task_group() as tg:
            done: list[RunInfo] = []

            async def waiter() -> None:
                done.append(await engine.wait(run_id))

            tg.start_soon(waiter)
            with anyio.fail_after(10):
                while not reads:  # the waiter read the run (waiting on the event) and sleeps
                    await anyio.sleep(0.01)
            await engine.send_event("go", run_id=run_id)  # three steps follow, committed by this engine
        assert reads == ["w1"]
        assert done == [await engine.get_run(run_id)]
    assert done[0].status is RunStatus.COMPLETED and done[0].output == {"label": "v1", "value": 42}
