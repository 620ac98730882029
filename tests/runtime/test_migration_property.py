"""The migration property (issue 13): for random (old spec, new spec, run
position) triples (:mod:`migration_gen`), a run moved by
``Engine.apply_migration`` completes on the new version with no task effect
lost or run twice, as a run of the new version started at the same position
would; a run that must not move now is left on the old version untouched.

Each example runs in a :func:`wfc.testing.workflow_env` (in-memory SQLite,
virtual clock; a few on PostgreSQL too). Every task blocks until the test
releases it, so a run is driven one resting point at a time: a wait (the
test sends its event), a user task (the test completes it; its row must name
the run's node and version) or a task attempt running (the test lets it
answer). One run of the old version is driven to each position; the runs
are planned and applied together (HALTED meanwhile, or moved on one node
between plan and apply, as the example says), resumed, and finished; the
reference run of the new version is driven to the node a run moved at, and
finished the same way. What is compared:

- every task effect (one stub call per idempotency key, first attempt only),
  and every key the journal dispatched has its effect;
- the effects after the move equal the reference's after its position
  (task, node, arguments, in order), the nodes entered after it too;
- the output and the variables equal the reference's (and the model's);
- one ``MIGRATED`` entry saying from, to, the thread's move, the new variables'
  values and whether it was automatic (``migrate_later``);
- an open user task's row names the node and version its run is at, moved or not;
- a run that does not move (``must_drain``, or ``safe_later`` without
  ``migrate_later``) stays on the old version and does exactly what a run of
  the old version driven the same way does.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import anyio.lowlevel
import pytest
from hypothesis import HealthCheck, event, example, given, settings
from migration_gen import (
    FORM_VALUES,
    NEW_VARIABLE,
    WORKFLOW,
    Expectation,
    Insert,
    Item,
    Scenario,
    expectation,
    expected_output,
    mapping,
    new_spec,
    old_spec,
    resting_nodes,
    scenarios,
    stub_result,
)
from rtdb import SKIP_REASON, make_db, postgres_base_url

from wfc.runtime import HistoryEntry, RunInfo, RunStatus, TaskContext
from wfc.runtime.migration_apply import MigrationReport
from wfc.specs import TaskNode, UserTaskNode, WaitForEventNode, WorkflowSpec
from wfc.testing import VirtualClock, WorkflowEnv, workflow_env
from wfc.testing.assertions import node_paths


@dataclass(frozen=True)
class Effect:
    """One call of a task: what a real task would have done once."""

    run_id: str
    task: str
    node: str
    key: str
    attempt: int
    args: tuple[Any, ...]


@dataclass
class Tasks:
    """Every task of both versions: records its call, then blocks until the
    test releases it (parked on the virtual clock, so the harness sees the
    engine settled), then returns :func:`stub_result`."""

    clock: VirtualClock
    effects: list[Effect] = field(default_factory=list)
    blocked: dict[str, tuple[str, anyio.Event]] = field(default_factory=dict)
    """The running attempt of each run: its task and what releases it."""

    def stub(self, env: WorkflowEnv, name: str) -> None:
        async def call(*args: Any, ctx: TaskContext) -> str:
            self.effects.append(Effect(ctx.run_id, name, ctx.node_id, ctx.idempotency_key, ctx.attempt, args))
            release = anyio.Event()
            assert ctx.run_id not in self.blocked, f"two attempts of run {ctx.run_id} at once"
            self.blocked[ctx.run_id] = (name, release)
            self.clock.parked += 1
            try:
                await release.wait()
            finally:
                self.clock.parked -= 1
            return stub_result(name, list(args))

        env.stub(name, effect=call)

    def release(self, run_id: str) -> None:
        _, event = self.blocked.pop(run_id)
        event.set()

    def of(self, run_id: str) -> list[Effect]:
        return [effect for effect in self.effects if effect.run_id == run_id]


# ---------------------------------------------------------------- driving a run


@dataclass
class Driver:
    env: WorkflowEnv
    tasks: Tasks
    specs: dict[str, WorkflowSpec]
    """By version."""

    async def rests_at(self, run_id: str) -> tuple[RunInfo, str | None]:
        """The run, and the node its entrypoint thread rests at (``None``: finished)."""
        await self.env.settle()
        info = await self.env.engine.get_run(run_id)
        if info.status.finished:
            return info, None
        thread = next(t for t in info.threads if t.number == 0)
        node = self.specs[str(info.version)].threads["main"].nodes[thread.node]
        if run_id in self.tasks.blocked:  # by the task node's name: a moved run's attempt ran at the old node id
            assert isinstance(node, TaskNode) and node.task == self.tasks.blocked[run_id][0], (info, thread)
        elif isinstance(node, UserTaskNode):  # its row names the node and version the run is at now
            task = await self.env.user_task(run_id)
            assert (task.node, task.version, task.thread) == (thread.node, str(info.version), 0), task
        else:
            assert isinstance(node, WaitForEventNode), f"run {run_id} stopped at {thread.node}: {info.waiting_on}"
        return info, thread.node

    async def next_move(self, run_id: str) -> Callable[[], Coroutine[Any, Any, object]]:
        """What lets the run leave the node it rests at (not done yet)."""
        info, node = await self.rests_at(run_id)
        assert node is not None, f"run {run_id} finished"
        spec_node = self.specs[str(info.version)].threads["main"].nodes[node]
        engine = self.env.engine
        if run_id in self.tasks.blocked:
            return functools.partial(self._release, run_id)
        if isinstance(spec_node, UserTaskNode):
            task = await self.env.user_task(run_id)
            return functools.partial(engine.complete_user_task, task.id, FORM_VALUES, user="ann")
        assert isinstance(spec_node, WaitForEventNode)
        return functools.partial(engine.send_event, spec_node.event, {"to": node}, run_id=run_id)

    async def _release(self, run_id: str) -> None:
        self.tasks.release(run_id)

    async def to(self, run_id: str, node: str) -> int:
        """Drive the run until it rests at ``node``; the seq of its last journal entry then."""
        for _ in range(100):
            _, here = await self.rests_at(run_id)
            assert here is not None, f"run {run_id} finished without resting at {node}"
            if here == node:
                history = await self.env.history(run_id)
                return history[-1].seq
            await (await self.next_move(run_id))()
        raise AssertionError(f"run {run_id} never reached {node}")

    async def finish(self, run_id: str) -> RunInfo:
        for _ in range(100):
            info, here = await self.rests_at(run_id)
            if here is None:
                return info
            await (await self.next_move(run_id))()
        raise AssertionError(f"run {run_id} does not finish")


# ---------------------------------------------------------------- what a run did


def _dispatched(history: Sequence[HistoryEntry]) -> dict[str, int]:
    """The seq of each idempotency key's dispatch."""
    return {str(e.detail["idempotency_key"]): e.seq for e in history if e.kind == "TASK_DISPATCHED"}


def _effects_after(effects: list[Effect], history: Sequence[HistoryEntry], seq: int) -> list[tuple[Any, ...]]:
    dispatched = _dispatched(history)
    return [(e.task, e.node, e.args) for e in effects if dispatched[e.key] > seq]


def _entered_after(history: Sequence[HistoryEntry], seq: int) -> list[str]:
    """The nodes thread 0 was at after ``seq``, once per stay (see :func:`wfc.testing.assertions.node_paths`)."""
    return node_paths([e for e in history if e.seq > seq]).get(0, [])


def _check_effects(run_id: str, effects: list[Effect], history: Sequence[HistoryEntry]) -> None:
    """Each dispatched key ran exactly once, first attempt."""
    keys = [e.key for e in effects]
    assert len(keys) == len(set(keys)), f"run {run_id} ran a task effect twice: {keys}"
    assert all(e.attempt == 1 for e in effects), effects
    assert set(keys) == set(_dispatched(history)), f"run {run_id}: effects {keys} vs dispatched {_dispatched(history)}"


# ---------------------------------------------------------------- the property


async def _check(scenario: Scenario, url: str | None = None) -> None:
    """One run of the old version rests at each of its resting nodes; one
    plan and one apply for them all; then each is finished and checked.
    ``url``: the store (default: SQLite in memory)."""
    old, new = old_spec(scenario), new_spec(scenario)
    places = resting_nodes(scenario.items, scenario.flag)
    planned_at = {f"run-{i}": expectation(scenario, i) for i in range(len(places))}
    # A stale plan: each run moves on one resting node between plan and apply
    # (the one at the last finishes); apply judges it where it is then.
    moved_on = {f"run-{i}": expectation(scenario, i + 1) if i + 1 < len(places) else None for i in range(len(places))}
    async with workflow_env() as env:
        env.url = url or env.url
        tasks = Tasks(env.clock)
        for name in _task_names(old, new):
            tasks.stub(env, name)
        await env.deploy(old)
        await env.deploy(new)
        await env.open()
        drive = Driver(env, tasks, {str(old.version): old, str(new.version): new})
        for run_id, wanted in planned_at.items():
            await env.engine.start(WORKFLOW, scenario.inputs, run_id=run_id, version=old.version)
            await drive.to(run_id, wanted.position)
        if scenario.stale == "no":
            await _halt(drive, scenario, list(planned_at))

        plan = await env.engine.plan_migration(
            WORKFLOW, str(old.version), str(new.version), mapping(scenario), migrate_later=scenario.migrate_later
        )
        assert sorted(run.run_id for run in plan.runs) == sorted(planned_at)
        for planned in plan.runs:
            wanted = planned_at[planned.run_id]
            assert planned.run_class == wanted.run_class, (planned.reasons, wanted)
            [thread] = planned.threads
            assert (thread.node, thread.maps_to) == (wanted.position, wanted.moves_to if wanted.run_class ==
                                                     "safe_now" else None)  # fmt: skip
            assert set(thread.wait_until) == wanted.wait_until, (planned, wanted)

        applied_at: dict[str, Expectation | None] = dict(planned_at)
        if scenario.stale == "before":
            for run_id in planned_at:
                await (await drive.next_move(run_id))()
            await env.settle()
            applied_at.update(moved_on)
            await _halt(drive, scenario, [run_id for run_id, applied in applied_at.items() if applied is not None])
            report = await env.engine.apply_migration(plan.document())
        elif scenario.stale == "racing":
            report, applied_at = await _race(drive, scenario, plan.document(), planned_at, moved_on)
        else:
            report = await env.engine.apply_migration(plan.document())
        outcomes = {run.run_id: run.outcome for run in report.runs}
        assert outcomes == {run_id: _outcome(applied, scenario) for run_id, applied in applied_at.items()}, report
        unmoved = ("not_now", "pending")
        now_not = [r for r, o in outcomes.items() if o in unmoved and planned_at[r].run_class == "safe_now"]
        assert report.complete is (not now_not), report
        if scenario.stale != "racing":  # (a racing run may have become safe since: a second apply would move it)
            again = await env.engine.apply_migration(plan.document())  # applying twice moves nothing twice
            assert [run.outcome for run in again.runs] == [
                "already_migrated" if run.outcome == "migrated" else run.outcome for run in report.runs
            ], again

        for run_id, applied in applied_at.items():
            event(f"{applied.run_class if applied else 'finished'}, moves: {bool(applied and applied.moves_at)}, "
                  f"halt: {scenario.halt}, stale: {scenario.stale}")  # fmt: skip
            if scenario.halt != "no" and applied is not None:
                await env.engine.resume(run_id)
        for run_id, applied in applied_at.items():
            await _check_run(drive, scenario, run_id, applied, report.plan_id)
        last = await env.engine.apply_migration(plan.document())
        assert {run.outcome for run in last.runs} <= {"gone", "already_migrated"}, last


async def _race(
    drive: Driver, scenario: Scenario, plan: dict[str, Any], planned_at: dict[str, Expectation],
    moved_on: dict[str, Expectation | None],
) -> tuple[MigrationReport, dict[str, Expectation | None]]:  # fmt: skip
    """Apply the plan while each run is let move on one node, all at once;
    the report, and for each run where apply found it (before its move or
    after), as its journal says."""
    env = drive.env
    marks: dict[str, int] = {}
    moves: list[Callable[[], Coroutine[Any, Any, object]]] = []
    for run_id in planned_at:
        marks[run_id] = (await env.history(run_id))[-1].seq
        moves.append(await drive.next_move(run_id))
    reports: list[MigrationReport] = []

    async def apply() -> None:
        reports.append(await env.engine.apply_migration(plan))

    async def later(move: Callable[[], Coroutine[Any, Any, object]], turns: int) -> None:
        for _ in range(turns):  # so that apply reaches some runs before they move, and others after
            await anyio.lowlevel.checkpoint()
        await move()

    async with anyio.create_task_group() as group:
        group.start_soon(apply)
        for index, move in enumerate(moves):
            group.start_soon(later, move, scenario.race_turns * index)
    [report] = reports
    found: dict[str, Expectation | None] = {}
    for outcome in report.runs:
        run_id = outcome.run_id
        await env.settle()
        history = [e for e in await env.history(run_id) if e.seq > marks[run_id]]
        here = planned_at[run_id]  # the node it rested at, by its old id and (once moved there) its new one
        at = {here.position, here.moves_to if here.run_class == "safe_now" else here.position}
        left = next(e.seq for e in history if e.node is not None and e.node not in at)
        applied = [e.seq for e in history if e.kind == "MIGRATION_PENDING" or
                   (e.kind == "MIGRATED" and not e.detail["automatic"])]  # fmt: skip
        if applied:
            found[run_id] = here if applied[0] < left else moved_on[run_id]
            event(f"racing: applied {'before' if applied[0] < left else 'after'} the run moved on")
        else:  # not moved: its outcome says where it was (the same checks follow when both say not_now)
            after = moved_on[run_id]
            found[run_id] = after if _outcome(after, scenario) == outcome.outcome else planned_at[run_id]
    return report, found


async def _halt(drive: Driver, scenario: Scenario, runs: list[str]) -> None:
    """Halt the runs if the scenario says so (and let their running attempts answer)."""
    if scenario.halt == "no":
        return
    for run_id in runs:
        await drive.env.engine.halt(run_id, "to move it")
        if scenario.halt == "release" and run_id in drive.tasks.blocked:
            drive.tasks.release(run_id)
    await drive.env.settle()


async def _check_run(
    drive: Driver, scenario: Scenario, run_id: str, expected: Expectation | None, plan_id: str
) -> None:
    """Finish the run; compare it with a run of the version it ends on,
    driven to the node it moved at (or from the start, if it did not move;
    ``expected`` ``None``: it finished before the apply)."""
    env, tasks = drive.env, drive.tasks
    old, new = (spec.version for spec in drive.specs.values())
    info = await drive.finish(run_id)
    assert info.status is RunStatus.COMPLETED, info.failure
    history = await env.history(run_id)
    _check_effects(run_id, tasks.of(run_id), history)
    moves = [e for e in history if e.kind == "MIGRATED"]
    if expected is None or expected.moves_at is None:
        assert moves == [] and info.version == old
        await _same_as_old_run(drive, scenario, run_id, info, history)
        return
    assert info.version == new
    [moved] = moves
    assert moved.thread == 0 and moved.node is None
    assert moved.detail["from"] == str(old) and moved.detail["to"] == str(new)
    assert moved.detail["plan"] == plan_id
    assert moved.detail["automatic"] is (expected.run_class == "safe_later")
    renamed = expected.moves_at != expected.moves_to  # the entry lists the threads whose node id changed
    assert moved.detail["threads"] == [{"thread": 0, "from": expected.moves_at, "to": expected.moves_to}] * renamed
    assert moved.detail["variables"] == ({NEW_VARIABLE: scenario.new_value} if scenario.new_value is not None else {})

    assert expected.moves_to is not None
    reference_id = f"reference-{run_id}"
    await env.engine.start(WORKFLOW, scenario.new_inputs, run_id=reference_id, version=new)
    position = await drive.to(reference_id, expected.moves_to)
    reference = await drive.finish(reference_id)
    assert reference.status is RunStatus.COMPLETED, reference.failure
    ref_history = await env.history(reference_id)
    _check_effects(reference_id, tasks.of(reference_id), ref_history)

    assert _effects_after(tasks.of(run_id), history, moved.seq) == _effects_after(
        tasks.of(reference_id), ref_history, position
    )
    assert _entered_after(history, moved.seq) == _entered_after(ref_history, position)
    assert info.output == reference.output == expected_output(scenario)
    assert info.variables == reference.variables
    if scenario.new_value is not None:
        assert info.variables[NEW_VARIABLE] == scenario.new_value


def _task_names(*specs: WorkflowSpec) -> set[str]:
    return {node.task for spec in specs for node in spec.threads["main"].nodes.values() if isinstance(node, TaskNode)}


def _outcome(expected: Expectation | None, scenario: Scenario) -> str:
    if expected is None:
        return "gone"
    if expected.run_class == "safe_now":
        return "migrated"
    return "pending" if expected.run_class == "safe_later" and scenario.migrate_later else "not_now"


async def _same_as_old_run(
    drive: Driver, scenario: Scenario, run_id: str, info: RunInfo, history: Sequence[HistoryEntry]
) -> None:
    """The run that did not move did what a run of the old version does."""
    plain_id = f"old-{run_id}"
    await drive.env.engine.start(WORKFLOW, scenario.inputs, run_id=plain_id, version=info.version)
    plain = await drive.finish(plain_id)
    assert info.output == plain.output and info.variables == plain.variables
    ran = [(e.task, e.node, e.args) for e in drive.tasks.of(run_id)]
    assert ran == [(e.task, e.node, e.args) for e in drive.tasks.of(plain_id)]
    assert _entered_after(history, 0) == _entered_after(await drive.env.history(plain_id), 0)


def _run(scenario: Scenario) -> None:
    anyio.run(_check, scenario)


def _run_on_postgres(scenario: Scenario) -> None:
    database = make_db("postgres", Path("unused"))  # a fresh schema per example
    try:
        anyio.run(_check, scenario, database.url)
    finally:
        database.drop()


# ---------------------------------------------------------------- the tests


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
# Runs at a renamed task (its attempt running) and after it (the new version
# reads its output by the new id); a new variable; a new task.
@example(Scenario((Item("task", 1, "rename"), Item("wait", 2, "keep")), (Insert("task", 1, 2),), "default", False,
                  False))  # fmt: skip
# A removed wait: the run moves by itself at the next task that maps, in a taken branch,
# and its new required variable takes the mapping's value.
@example(Scenario((Item("wait", 1, "remove"), Item("branch", 2, "keep"), Item("task", 3, "keep")), (), "mapped",
                  True, True))  # fmt: skip
# Safe later without migrate_later (w1), safe now (t2), must drain (w3).
@example(Scenario((Item("wait", 1, "unmapped"), Item("task", 2, "keep"), Item("wait", 3, "remove")), (), "no",
                  False, False))  # fmt: skip
# A removed wait whose way forward that maps passes a branch's nops only, where no thread rests: must drain.
@example(Scenario((Item("wait", 1, "remove"), Item("branch", 2, "keep")), (), "no", False, True))
# A stale plan: a run planned safe now is at a removed wait when applied (not now: the report is not complete).
@example(Scenario((Item("task", 1, "keep"), Item("wait", 2, "remove"), Item("task", 3, "keep")), (), "no", False,
                  False, "no", "before"))  # fmt: skip
def test_a_migrated_run_does_what_a_run_of_the_new_version_does_from_the_same_place(scenario: Scenario) -> None:
    _run(scenario)


@pytest.mark.skipif(postgres_base_url() is None, reason=SKIP_REASON)
@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_on_postgresql_too(scenario: Scenario) -> None:
    """The same property on PostgreSQL (its own SQL moves the run row), fewer examples: each needs a schema."""
    _run_on_postgres(scenario)
