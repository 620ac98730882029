"""Migrations where what a run remembers of the old version matters: a
compensation recorded at a node the new version renamed, children spawned
by a renamed node, a user task whose timers changed, a new optional
variable, a mapping that would merge two nodes' records, an interrupt the
new version no longer handles, and a run marked to move later that ends
first. Each was a way a moved run could break; each is checked on what the
engine stores and does."""

from __future__ import annotations

import json
from typing import Any

import anyio
import pytest
from rtspec import exit_, spawn, spec, wait, wait_threads

from wfc.dsl import Field, UserTaskForm, Workflow, WorkflowThread
from wfc.runtime import Engine, RunStatus, TaskException
from wfc.runtime import task as task_fn
from wfc.runtime.interpreter.state import EventWait, Interrupt, RunState, ThreadRun
from wfc.runtime.migration_apply import MigrationReport
from wfc.runtime.migration_plan import MappingError, MigrationMapping, classify
from wfc.specs import WorkflowSpec

pytestmark = pytest.mark.anyio

CALLS: list[str] = []


@task_fn("reserve")
def reserve(order: str) -> int:
    CALLS.append("reserve")
    return 1


@task_fn("reserve2")
def reserve2(order: str) -> int:
    CALLS.append("reserve2")
    return 1


@task_fn("unreserve")
def unreserve(order: str) -> int:
    CALLS.append("unreserve")
    return 1


@task_fn("boom")
def boom(order: str) -> int:
    raise TaskException("nope")


@task_fn("echo")
def echo(value: Any) -> Any:
    CALLS.append(f"echo {value!r}")
    return value


TASKS = [reserve, reserve2, unreserve, boom, echo]


async def _until_waiting(engine: Engine, run_id: str) -> None:
    with anyio.fail_after(30):
        while not (await engine.get_run(run_id)).waiting_on:
            await anyio.sleep(0.02)


async def _moved(url: str, old: WorkflowSpec, new: WorkflowSpec, inputs: dict[str, Any],
                 mapping: dict[str, Any] | None = None, later: bool = False) -> MigrationReport:  # fmt: skip
    """A run of ``old`` parked at its first wait, then the plan to ``new`` applied."""
    CALLS.clear()
    async with Engine.open(url, tasks=TASKS, poll_interval=0.02) as engine:
        await engine.deploy(old)
        await engine.start(old.name, inputs, run_id="r1")
        await _until_waiting(engine, "r1")
        await engine.deploy(new)
        plan = await engine.plan_migration(old.name, str(old.version), str(new.version), mapping, migrate_later=later)
        return await engine.apply_migration(json.loads(json.dumps(plan.document())))


def _reserving(step: str) -> Any:
    def flow(wf: WorkflowThread) -> None:
        order = wf.declare_str("order").required()
        wf.execute(step, order).compensate_with("unreserve", order)
        wf.wait_for_event("go")
        wf.execute("boom", order)

    return flow


async def test_a_step_recorded_at_a_node_the_new_version_renamed_is_still_compensated(tmp_path: Any) -> None:
    url = f"sqlite:///{tmp_path}/c.db"
    old = Workflow("comp", _reserving("reserve")).compile()
    new = Workflow("comp", _reserving("reserve2")).compile(previous=old)
    report = await _moved(url, old, new, {"order": "a"})
    assert [r.outcome for r in report.runs] == ["migrated"]
    async with Engine.open(url, tasks=TASKS, poll_interval=0.02) as engine:
        await engine.send_event("go", {}, run_id="r1", event_id="go-1")
        run = await engine.wait("r1", timeout=30)
        dispatched = [h.detail for h in await engine.history("r1") if h.kind == "COMPENSATION_DISPATCHED"]
    assert run.status is RunStatus.COMPENSATED and CALLS == ["reserve", "unreserve"]
    assert [d.get("args") for d in dispatched] == [["***"]]  # its node is gone: the arguments are not shown


async def test_children_spawned_by_a_node_renamed_without_a_mapping_keep_the_run_on_its_version(tmp_path: Any) -> None:
    child = [("cw", wait("c")), ("cend", exit_())]
    old = spec("sp", [("sp", spawn("child")), ("w", wait("go")), ("wt", wait_threads("sp")), ("end", exit_())],
               threads={"child": child}, version=(1, 0))  # fmt: skip
    new = spec("sp", [("sp2", spawn("child")), ("w", wait("go")), ("wt", wait_threads("sp2")), ("end", exit_())],
               threads={"child": child}, version=(1, 1))  # fmt: skip
    report = await _moved(f"sqlite:///{tmp_path}/s.db", old, new, {})
    (run,) = report.runs
    assert run.outcome == "not_now" and "reads the children of node sp2, which this thread never ran" in run.detail
    mapped = await _moved(f"sqlite:///{tmp_path}/s2.db", old, new, {}, {"nodes": {"main": {"sp": "sp2"}}})
    assert [r.outcome for r in mapped.runs] == ["migrated"]


REVIEW = UserTaskForm("review", ok=Field(bool, display_name="OK"))


def _reviewed(reassign: bool) -> Any:
    def flow(wf: WorkflowThread) -> None:
        wf.declare_str("who").required()
        review = wf.assign_user_task(REVIEW, user="ann", group="ops")
        if reassign:
            review.reassign_after(3600, user="bob")
        review.cancel_after(7200)

    return flow


async def test_a_user_task_whose_timers_changed_does_not_move_while_open(tmp_path: Any) -> None:
    old = Workflow("ut", _reviewed(True)).compile()
    new = Workflow("ut", _reviewed(False)).compile(previous=old)
    (run,) = (await _moved(f"sqlite:///{tmp_path}/u.db", old, new, {"who": "x"})).runs
    assert run.outcome == "not_now" and "its user task's timers differ" in run.detail


def _noted(new: bool) -> Any:
    def flow(wf: WorkflowThread) -> None:
        order = wf.declare_str("order").required()
        note = wf.declare_str("note") if new else None
        wf.wait_for_event("go")
        wf.execute("echo", note if note is not None else order)

    return flow


async def test_a_new_optional_variable_without_default_is_null_as_in_a_new_run(tmp_path: Any) -> None:
    url = f"sqlite:///{tmp_path}/v.db"
    old = Workflow("vw", _noted(False)).compile()
    new = Workflow("vw", _noted(True)).compile(previous=old)
    report = await _moved(url, old, new, {"order": "a"})
    assert [r.outcome for r in report.runs] == ["migrated"]
    async with Engine.open(url, tasks=TASKS, poll_interval=0.02) as engine:
        await engine.send_event("go", {}, run_id="r1", event_id="go-1")
        run = await engine.wait("r1", timeout=30)
    assert run.status is RunStatus.COMPLETED and run.variables["note"] is None and CALLS == ["echo None"]


async def test_a_mapping_that_would_merge_two_nodes_records_is_refused(tmp_path: Any) -> None:
    old = Workflow("comp", _reserving("reserve")).compile()
    new = Workflow("comp", _reserving("reserve2")).compile(previous=old)
    nodes = [node for node in old.threads["main"].nodes if node != "reserve"]
    with pytest.raises(MappingError, match="would both be node"):
        await _moved(f"sqlite:///{tmp_path}/m.db", old, new, {"order": "a"},
                     {"nodes": {"main": {"reserve": nodes[-1]}}})  # fmt: skip


async def test_a_run_marked_to_move_later_that_ends_first_says_so_and_keeps_nothing(tmp_path: Any) -> None:
    url = f"sqlite:///{tmp_path}/p.db"

    def flow(extra: bool) -> Any:
        def record(wf: WorkflowThread) -> None:
            order = wf.declare_str("order").required()
            if not extra:
                wf.wait_for_event("first")
            wf.execute("echo", order)

        return record

    old = Workflow("later", flow(False)).compile()
    new = Workflow("later", flow(True)).compile(previous=old)
    report = await _moved(url, old, new, {"order": "a"}, later=True)
    assert [r.outcome for r in report.runs] == ["pending"]
    async with Engine.open(url, tasks=TASKS, poll_interval=0.02) as engine:
        run = await engine.cancel("r1", "changed our mind")
        kinds = [h.kind for h in await engine.history("r1")]
    assert run.status is RunStatus.CANCELLED and str(run.version) == "1.0"
    assert kinds[-2:] == ["MIGRATION_DROPPED", "RUN_CANCELLED"] and "MIGRATED" not in kinds


def test_an_interrupt_the_new_version_does_not_handle_keeps_the_run_on_its_version() -> None:
    handler = [("h", wait("handled")), ("hend", exit_())]
    nodes = [("w", wait("go")), ("end", exit_())]
    old = spec("intr", nodes, interrupts=[{"event": "note", "thread": "handler"}], threads={"handler": handler},
               version=(1, 0))  # fmt: skip
    new = spec("intr", nodes, threads={"handler": handler}, version=(1, 1))
    queued = Interrupt(event="note", event_id="n1", thread="handler")
    main = ThreadRun(number=0, name="main", kind="entrypoint", node="w", wait=EventWait(event="go"),
                     interrupts=[queued])  # fmt: skip
    state = RunState(id="r1", workflow="intr", version=old.version, threads={0: main})
    planned = classify("r1", "RUNNING", 1, state, old, new, MigrationMapping())
    assert planned.run_class == "must_drain"
    assert planned.reasons == ("thread 0 (main) at node w: it holds interrupt 'note', which version 1.1 does not "
                               "handle in thread 'main'",)  # fmt: skip
    handled = classify("r1", "RUNNING", 1, state, old, old, MigrationMapping())
    assert handled.run_class == "safe_now"
