"""Migration plans (:mod:`wfc.runtime.migration_plan`): live runs of
``order`` 1.0 recorded by a real engine (rtversions: one parked at the
approval, one at a running ``ship`` attempt, three finished), sorted for a
later version compiled from the DSL, on SQLite and PostgreSQL: each class
with its reason, the mapping file's checks, and the plan document."""

from __future__ import annotations

from typing import Any

import pytest
from rtdb import Db
from rtversions import BRANCH, NEW_OPTIONAL, NEW_REQUIRED, NO_WAIT, RENAMED, V1, record

from wfc.runtime import Engine, UnknownWorkflowError, UsageError
from wfc.runtime._reader import open_reader
from wfc.runtime.interpreter.state import RunState, ThreadRun
from wfc.runtime.migration_plan import (
    PLAN_FORMAT,
    MappingError,
    MigrationMapping,
    MigrationPlan,
    classify,
    parse_mapping,
    plan_migration,
)
from wfc.specs import WorkflowSpec

pytestmark = pytest.mark.anyio


async def _plan(db: Db, spec: WorkflowSpec, mapping: dict[str, Any] | None = None) -> MigrationPlan:
    await record(db.url, [spec])
    async with open_reader(db.url) as reader:
        return await plan_migration(reader, "order", "1.0", str(spec.version), mapping)


def _classes(plan: MigrationPlan) -> dict[str, str]:
    return {run.run_id: run.run_class for run in plan.runs}


async def test_runs_at_unchanged_nodes_are_safe_now_and_finished_runs_are_left_out(db: Db) -> None:
    plan = await _plan(db, BRANCH)
    assert _classes(plan) == {"order-parked": "safe_now", "order-shipping": "safe_now"}
    assert plan.counts() == {"safe_now": 2, "safe_later": 0, "must_drain": 0}
    parked = next(run for run in plan.runs if run.run_id == "order-parked")
    assert parked.reasons == ("every thread is at a node the new version has",)
    assert [(t.number, t.name, t.node, t.maps_to) for t in parked.threads] == [(0, "main", "wait-approved",
                                                                                 "wait-approved")]  # fmt: skip
    stored = db.rows("SELECT version FROM runs WHERE id = 'order-parked'")[0][0]
    assert parked.run_version == stored and parked.status == "RUNNING"


async def test_a_removed_position_is_safe_once_the_thread_reaches_a_node_that_maps(db: Db) -> None:
    plan = await _plan(db, NO_WAIT)
    assert _classes(plan) == {"order-shipping": "safe_now", "order-parked": "safe_later"}
    parked = next(run for run in plan.runs if run.run_id == "order-parked")
    assert parked.reasons == (
        "thread 0 (main) at node wait-approved: its node was removed and the mapping does not map it; "
        "safe once it reaches review or ship",
    )
    assert parked.threads[0].maps_to is None and parked.threads[0].wait_until == ("review", "ship")


async def test_a_removed_position_with_nothing_left_before_the_exit_must_drain(db: Db) -> None:
    plan = await _plan(db, RENAMED)
    assert _classes(plan) == {"order-parked": "safe_now", "order-shipping": "must_drain"}
    shipping = next(run for run in plan.runs if run.run_id == "order-shipping")
    assert shipping.reasons == (
        "thread 0 (main) at node ship: its node was removed and the mapping does not map it, and no node "
        "before the thread's exit maps to version 1.1",
    )


async def test_a_mapping_to_a_node_waiting_for_another_task_does_not_move_a_running_attempt(db: Db) -> None:
    plan = await _plan(db, RENAMED, {"nodes": {"main": {"ship": "dispatch"}}})
    shipping = next(run for run in plan.runs if run.run_id == "order-shipping")
    assert shipping.run_class == "must_drain"
    assert "it waits for task ship, and node dispatch waits for task dispatch" in shipping.reasons[0]
    assert plan.mapping.nodes == {"main": {"ship": "dispatch"}}


async def test_a_new_required_variable_must_drain_unless_the_mapping_gives_a_value(db: Db) -> None:
    plan = await _plan(db, NEW_REQUIRED)
    assert set(_classes(plan).values()) == {"must_drain"}
    assert plan.runs[0].reasons == ("new required variable 'channel' has no default and the mapping gives no value",)
    async with open_reader(db.url) as reader:
        mapped = await plan_migration(reader, "order", "1.0", "2.0", {"variables": {"channel": "web"}})
    assert set(_classes(mapped).values()) == {"safe_now"}
    assert all(run.variables == {"channel": "web"} for run in mapped.runs)
    assert "new variables get channel='web'" in mapped.runs[0].reasons[0]


async def test_new_variables_with_defaults_take_them(db: Db) -> None:
    plan = await _plan(db, NEW_OPTIONAL)
    assert set(_classes(plan).values()) == {"safe_now"}
    assert all(run.variables == {"priority": "normal"} for run in plan.runs)


async def test_the_plan_document_holds_what_apply_needs(db: Db) -> None:
    plan = await _plan(db, NO_WAIT)
    doc = plan.document()
    assert doc["format"] == PLAN_FORMAT and doc["workflow"] == "order"
    assert doc["from"] == {"version": "1.0", "hash": V1.hash}
    assert doc["to"] == {"version": "1.1", "hash": NO_WAIT.hash}
    assert doc["summary"] == {"safe_now": 1, "safe_later": 1, "must_drain": 0}
    assert doc["mapping"] == {"nodes": {}, "variables": {}}
    assert [(r["run_id"], r["class"]) for r in doc["runs"]] == [("order-shipping", "safe_now"),
                                                                 ("order-parked", "safe_later")]  # fmt: skip
    later = doc["runs"][1]
    assert later["threads"] == [{"number": 0, "name": "main", "node": "wait-approved", "maps_to": None,
                                 "wait_until": ["review", "ship"]}]  # fmt: skip
    assert set(later) == {"run_id", "status", "run_version", "class", "reasons", "threads", "variables"}


async def test_the_engine_plans_as_the_reader_does(db: Db) -> None:
    await record(db.url, [NO_WAIT])
    async with Engine.open(db.url, serve=False) as engine:
        plan = await engine.plan_migration("order", "1.0", "1.1")
    assert _classes(plan) == {"order-shipping": "safe_now", "order-parked": "safe_later"}


async def test_unknown_versions_and_the_same_version_twice_are_refused(db: Db) -> None:
    await record(db.url, [BRANCH])
    async with open_reader(db.url) as reader:
        with pytest.raises(UnknownWorkflowError):
            await plan_migration(reader, "order", "1.0", "1.7")
        with pytest.raises(UnknownWorkflowError):
            await plan_migration(reader, "nope", "1.0", "1.1")
        with pytest.raises(UsageError, match=r"both version 1\.0"):
            await plan_migration(reader, "order", "1.0", "1.0")


@pytest.mark.parametrize(
    ("mapping", "message"),
    [
        ({"nodes": {}, "guess": True}, "`nodes` and `variables` only, not 'guess'"),
        ({"nodes": {"side": {}}}, "nodes.side: version 1.0 has no thread 'side'"),
        ({"nodes": {"main": {"nope": "dispatch"}}}, "nodes.main.nope: version 1.0 has no node 'nope'"),
        ({"nodes": {"main": {"ship": "nope"}}}, "nodes.main.ship: version 1.1 has no node 'nope'"),
        ({"nodes": {"main": ["ship"]}}, "nodes.main: a table of old node id = new node id"),
        ({"variables": {"channel": "web"}}, "variables.channel: version 1.1 has no variable 'channel'"),
        ([], "a mapping is a table"),
    ],
)
def test_mapping_errors_name_the_entry(mapping: Any, message: str) -> None:
    with pytest.raises(MappingError) as raised:
        parse_mapping(mapping, V1, RENAMED)
    assert message in str(raised.value)


def test_a_mapping_value_must_have_the_variable_s_type() -> None:
    with pytest.raises(MappingError, match=r"variables\.channel: expected str, got int 7"):
        parse_mapping({"variables": {"channel": 7}}, V1, NEW_REQUIRED)
    assert parse_mapping({"variables": {"channel": "web"}}, V1, NEW_REQUIRED).variables == {"channel": "web"}


def test_a_run_whose_thread_was_removed_must_drain() -> None:
    state = RunState(id="r", workflow="order", version=V1.version,
                     threads={0: ThreadRun(number=0, name="gone", kind="entrypoint", node="charge")})  # fmt: skip
    plan = classify("r", "RUNNING", 3, state, V1, BRANCH, MigrationMapping())
    assert plan.run_class == "must_drain"
    assert plan.reasons == ("thread 0 (gone) at node charge: thread 'gone' was removed in version 1.1",)


def test_a_compensating_run_must_drain() -> None:
    from wfc.runtime.interpreter.state import Saga

    thread = ThreadRun(number=0, name="main", kind="entrypoint", node="wait-approved")
    state = RunState(id="r", workflow="order", version=V1.version, threads={0: thread}, saga=Saga(cause="cancel"))
    plan = classify("r", "RUNNING", 3, state, V1, BRANCH, MigrationMapping())
    assert plan.run_class == "must_drain"
    assert plan.reasons == ("it is compensating: its compensations are the steps of the old version",)
