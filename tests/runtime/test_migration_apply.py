"""Applying migration plans (:mod:`wfc.runtime.migration_apply`): runs of
``order`` 1.0 recorded by a real engine (rtversions: one parked at the
approval, one with a ``ship`` attempt running), moved to a later version on
SQLite and PostgreSQL, then finished there. What is checked is what the
database holds: the run row's version, the state's threads, the journal."""

from __future__ import annotations

import json
from typing import Any

import anyio
import msgspec
import pytest
from rtdb import Db
from rtversions import BRANCH, NEW_REQUIRED, NO_WAIT, RENAMED, TASKS, V1, record, ship

from wfc.dsl import Field, UserTaskForm, Workflow, WorkflowThread
from wfc.runtime import Engine, RunStatus, UnknownWorkflowError
from wfc.runtime import task as task_fn
from wfc.runtime._reader import open_reader
from wfc.runtime.interpreter.state import decode_state
from wfc.runtime.migration_apply import MigrationReport, PlanError
from wfc.runtime.replay import replay_stored
from wfc.specs import WorkflowSpec

pytestmark = pytest.mark.anyio


async def _apply(db: Db, target: WorkflowSpec, mapping: dict[str, Any] | None = None, *,
                 later: bool = False, again: bool = False) -> tuple[dict[str, Any], MigrationReport]:  # fmt: skip
    """Record the runs, plan 1.0 -> ``target`` and apply the plan (the
    document as JSON, as the CLI reads it)."""
    await record(db.url, [target])
    async with Engine.open(db.url, serve=False) as engine:
        plan = await engine.plan_migration("order", "1.0", str(target.version), mapping, migrate_later=later)
        document = json.loads(json.dumps(plan.document()))
        report = await engine.apply_migration(document)
        if again:
            report = await engine.apply_migration(document)
    return document, report


def _outcomes(report: MigrationReport) -> dict[str, str]:
    return {run.run_id: run.outcome for run in report.runs}


def _row(db: Db, run_id: str) -> tuple[int, int, int]:
    """The run row's major, revision and version counter."""
    major, revision, version = db.rows(f"SELECT major, revision, version FROM runs WHERE id = '{run_id}'")[0]
    return int(major), int(revision), int(version)


def _journal(db: Db, run_id: str, kind: str) -> list[dict[str, Any]]:
    rows = db.rows(f"SELECT detail FROM journal WHERE run_id = '{run_id}' AND kind = '{kind}' ORDER BY seq")
    return [json.loads(bytes(r[0]) if isinstance(r[0], bytes | memoryview) else r[0]) for r in rows]


@task_fn("ship")
def ship_now(order_id: str) -> str:
    return f"shipped {order_id}"


#: The recorded runs' tasks, but ``ship`` ends for every order now.
FINISHING = [ship_now if t is ship else t for t in TASKS]


async def _finish(db: Db, run_id: str, *, approve: bool) -> Any:
    async with Engine.open(db.url, tasks=FINISHING, poll_interval=0.02, lease_seconds=0.5) as engine:
        if approve:
            await engine.send_event("approved", {"by": "bo"}, run_id=run_id, event_id=f"late-{run_id}")
        return await engine.wait(run_id, timeout=30)


async def test_safe_runs_move_with_their_waits_and_finish_on_the_new_version(db: Db) -> None:
    document, report = await _apply(db, BRANCH)
    assert _outcomes(report) == {"order-parked": "migrated", "order-shipping": "migrated"}
    assert report.complete and report.counts()["migrated"] == 2 and report.plan_id == document["id"]
    for run_id in ("order-parked", "order-shipping"):
        assert _row(db, run_id)[:2] == (1, 1)
        (entry,) = _journal(db, run_id, "MIGRATED")
        assert entry == {"from": "1.0", "to": "1.1", "plan": document["id"], "automatic": False, "threads": [],
                         "variables": {}}  # fmt: skip
    # 70 > 50: version 1.1 reviews the order, which 1.0 would not have
    parked = await _finish(db, "order-parked", approve=True)
    assert parked.status is RunStatus.COMPLETED and str(parked.version) == "1.1"
    assert db.rows("SELECT count(*) FROM journal WHERE run_id = 'order-parked' AND kind = 'TASK_COMPLETED' "
                   "AND node LIKE '%review%'")[0][0] == 1  # fmt: skip
    # the ship attempt running when the run moved is the one whose result it takes: ship ran once
    shipping = await _finish(db, "order-shipping", approve=False)
    assert shipping.status is RunStatus.COMPLETED
    done = db.rows("SELECT node FROM journal WHERE run_id = 'order-shipping' AND kind = 'TASK_COMPLETED' ORDER BY seq")
    assert [node for (node,) in done] == ["charge", "ship"]  # each once


async def test_applying_twice_changes_nothing_the_second_time(db: Db) -> None:
    _, first = await _apply(db, BRANCH)
    versions = {run_id: _row(db, run_id) for run_id in ("order-parked", "order-shipping")}
    async with Engine.open(db.url, serve=False) as engine:
        plan = await engine.plan_migration("order", "1.0", "1.1")
        assert plan.runs == ()  # nothing left on 1.0
    _, second = await _apply_document_again(db, first)
    assert set(_outcomes(second).values()) == {"already_migrated"} and second.complete
    assert {run_id: _row(db, run_id) for run_id in versions} == versions
    assert all(len(_journal(db, run_id, "MIGRATED")) == 1 for run_id in versions)


async def _apply_document_again(db: Db, report: MigrationReport) -> tuple[None, MigrationReport]:
    document = {
        "format": "wfc/migration-plan/1", "id": report.plan_id, "workflow": "order",
        "from": {"version": "1.0", "hash": V1.hash}, "to": {"version": "1.1", "hash": BRANCH.hash},
        "mapping": {"nodes": {}, "variables": {}},
        "runs": [{"run_id": run.run_id, "class": "safe_now"} for run in report.runs],
    }  # fmt: skip
    async with Engine.open(db.url, serve=False) as engine:
        return None, await engine.apply_migration(document)


async def test_a_run_safe_later_waits_without_migrate_later(db: Db) -> None:
    _, report = await _apply(db, NO_WAIT)
    assert _outcomes(report) == {"order-shipping": "migrated", "order-parked": "not_now"}
    assert report.complete  # the plan did not call the parked run safe now
    parked = next(run for run in report.runs if run.run_id == "order-parked")
    assert "safe once it reaches if" in parked.detail
    assert _row(db, "order-parked")[:2] == (1, 0) and _journal(db, "order-parked", "MIGRATED") == []
    run = await _finish(db, "order-parked", approve=True)
    assert run.status is RunStatus.COMPLETED and str(run.version) == "1.0"


async def test_with_migrate_later_a_run_moves_in_the_step_that_reaches_a_node_that_maps(db: Db) -> None:
    document, report = await _apply(db, NO_WAIT, later=True)
    assert _outcomes(report)["order-parked"] == "pending" and document["migrate_later"] is True
    (pending,) = _journal(db, "order-parked", "MIGRATION_PENDING")
    assert pending == {"plan": document["id"], "to": "1.1",
                       "wait_until": [{"thread": 0, "node": "wait-approved", "wait_until": ["if"]}]}  # fmt: skip
    state = _state(db, "order-parked")
    assert state.migration is not None and state.migration.to.revision == 1
    run = await _finish(db, "order-parked", approve=True)
    assert run.status is RunStatus.COMPLETED and str(run.version) == "1.1"
    (moved,) = _journal(db, "order-parked", "MIGRATED")
    assert moved["automatic"] is True and moved["plan"] == document["id"]
    kinds = [r[0] for r in db.rows("SELECT kind FROM journal WHERE run_id = 'order-parked' ORDER BY seq")]
    assert kinds.index("EVENT_RECEIVED") < kinds.index("MIGRATED") < kinds.index("RUN_COMPLETED")
    assert _state(db, "order-parked").migration is None


def _state(db: Db, run_id: str) -> Any:
    (raw,) = db.rows(f"SELECT state FROM runs WHERE id = '{run_id}'")[0]
    data = json.loads(bytes(raw) if isinstance(raw, bytes | memoryview) else raw)
    threads = {str(n): json.loads(bytes(t) if isinstance(t, bytes | memoryview) else t)
               for n, t in db.rows(f"SELECT number, state FROM run_threads WHERE run_id = '{run_id}'")}  # fmt: skip
    data["threads"] = threads or data.get("threads", {})
    return decode_state(msgspec.json.encode(data))


async def test_a_renamed_node_moves_its_thread_and_a_different_wait_stays(db: Db) -> None:
    _, report = await _apply(db, RENAMED, {"nodes": {"main": {"ship": "dispatch"}}})
    assert _outcomes(report) == {"order-parked": "migrated", "order-shipping": "not_now"}
    assert "waits for task ship" in next(r.detail for r in report.runs if r.run_id == "order-shipping")
    run = await _finish(db, "order-parked", approve=True)
    assert run.status is RunStatus.COMPLETED and str(run.version) == "1.1"
    done = db.rows("SELECT node FROM journal WHERE run_id = 'order-parked' AND kind = 'TASK_COMPLETED' ORDER BY seq")
    assert [node for (node,) in done] == ["charge", "dispatch"]


async def test_new_variables_take_the_mapping_values(db: Db) -> None:
    _, report = await _apply(db, NEW_REQUIRED, {"variables": {"channel": "web"}})
    assert set(_outcomes(report).values()) == {"migrated"}
    assert _state(db, "order-parked").variables["channel"] == "web"
    (entry,) = _journal(db, "order-parked", "MIGRATED")
    assert entry["variables"] == {"channel": "web"} and entry["to"] == "2.0"


async def test_a_run_that_ended_since_the_plan_is_left_alone(db: Db) -> None:
    await record(db.url, [BRANCH])
    async with Engine.open(db.url, serve=False) as engine:
        document = (await engine.plan_migration("order", "1.0", "1.1")).document()
    await _finish(db, "order-parked", approve=True)
    async with Engine.open(db.url, serve=False) as engine:
        report = await engine.apply_migration(document)
    assert _outcomes(report)["order-parked"] == "gone"
    assert "ended meanwhile (COMPLETED)" in next(r.detail for r in report.runs if r.run_id == "order-parked")
    assert _row(db, "order-parked")[:2] == (1, 0)


async def test_plans_that_do_not_fit_the_database_are_refused(db: Db) -> None:
    await record(db.url, [BRANCH])
    async with Engine.open(db.url, serve=False) as engine:
        document = (await engine.plan_migration("order", "1.0", "1.1")).document()
        with pytest.raises(PlanError, match="not a migration plan"):
            await engine.apply_migration({**document, "format": "wfc/other/1"})
        with pytest.raises(PlanError, match="is not the spec the plan was made for"):
            await engine.apply_migration({**document, "to": {"version": "1.1", "hash": "f" * 64}})
        with pytest.raises(UnknownWorkflowError):
            await engine.apply_migration({**document, "to": {"version": "3.0", "hash": BRANCH.hash}})
        with pytest.raises(PlanError, match="runs\\[0\\] of the plan has no run_id"):
            await engine.apply_migration({**document, "runs": [{"id": "x"}]})
    assert _row(db, "order-parked")[:2] == (1, 0)


async def test_a_migrated_run_replays_across_its_move(db: Db) -> None:
    await _apply(db, BRANCH)
    await _finish(db, "order-parked", approve=True)
    async with open_reader(db.url) as reader:
        on_new = await replay_stored(reader, "order-parked", BRANCH)
        on_old = await replay_stored(reader, "order-parked", V1)
    assert on_new.outcome == "compatible", on_new.divergence
    # 1.0 does not review an order of 70: the run diverges from it after the move, at the review
    assert on_old.outcome == "diverged" and on_old.divergence is not None
    assert "review" in on_old.divergence.reason


REVIEW = UserTaskForm("review", ok=Field(bool, display_name="OK"))


def _reviewed(extra: str) -> Any:
    def flow(wf: WorkflowThread) -> None:
        who = wf.declare_str("who").required()
        wf.assign_user_task(REVIEW, user="ann")
        wf.execute(extra, who)

    return flow


async def test_an_open_user_task_moves_with_its_run_and_is_completed_on_the_new_version(db: Db) -> None:
    old = Workflow("reviewed", _reviewed("ship")).compile()
    new = Workflow("reviewed", _reviewed("dispatch")).compile(previous=old)
    async with Engine.open(db.url, tasks=FINISHING, poll_interval=0.02) as engine:
        await engine.deploy(old)
        run_id = await engine.start("reviewed", {"who": "x"}, run_id="reviewed-1")
        (task,) = await engine.list_user_tasks(run_id=run_id)
        await engine.deploy(new)
        plan = await engine.plan_migration("reviewed", "1.0", "1.1")
        report = await engine.apply_migration(plan.document())
        assert _outcomes(report) == {"reviewed-1": "migrated"}
        ((major, revision, node),) = db.rows(f"SELECT major, revision, node FROM user_tasks WHERE id = '{task.id}'")
        assert (int(major), int(revision)) == (1, 1) and node == task.node
        await engine.complete_user_task(task.id, {"ok": True}, user="ann")
        run = await engine.wait(run_id, timeout=30)
    assert run.status is RunStatus.COMPLETED and str(run.version) == "1.1"
    done = db.rows("SELECT node FROM journal WHERE run_id = 'reviewed-1' AND kind = 'TASK_COMPLETED'")
    assert [node for (node,) in done] == ["dispatch"]


async def test_a_worker_holding_the_run_in_memory_goes_on_from_the_migrated_state(db: Db) -> None:
    """Another engine caches a run with a task in flight; the run moves
    under it; the attempt's result is applied to the moved run."""
    release = anyio.Event()
    calls: list[str] = []

    @task_fn("ship")
    async def held_ship(order_id: str) -> str:
        calls.append(order_id)
        await release.wait()
        return f"shipped {order_id}"

    tasks = [held_ship if t is ship else t for t in TASKS]
    async with Engine.open(db.url, tasks=tasks, poll_interval=0.02) as worker:
        await worker.deploy(V1)
        run_id = await worker.start("order", {"order-id": "held", "amount": 70.0}, run_id="order-held")
        await worker.send_event("approved", {"by": "ann"}, run_id=run_id, event_id="ok-held")
        with anyio.fail_after(30):
            while not calls:
                await anyio.sleep(0.02)
        await worker.deploy(BRANCH)
        async with Engine.open(db.url, serve=False) as operator:
            plan = await operator.plan_migration("order", "1.0", "1.1")
            report = await operator.apply_migration(plan.document())
        assert _outcomes(report) == {"order-held": "migrated"}
        release.set()
        run = await worker.wait(run_id, timeout=30)
    assert run.status is RunStatus.COMPLETED and str(run.version) == "1.1" and calls == ["held"]
    assert len(_journal(db, run_id, "MIGRATED")) == 1
