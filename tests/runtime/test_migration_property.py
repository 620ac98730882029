"""The migration property (issue 13): for random (old spec, new spec, run
position) triples (:mod:`migration_gen`), a run moved by
``Engine.apply_migration`` completes on the new version with no task effect
lost or run twice, as a run of the new version started at the same position
would; a run that must not move now is left on the old version untouched.

Each example runs in a :func:`wfc.testing.workflow_env` (in-memory SQLite,
virtual clock). Every task blocks until the test releases it, so a run is
driven one resting point at a time: a wait (the test sends its event) or a
task attempt running (the test lets it answer). The run of the old version
is driven to the example's position, planned, applied, then finished; the
reference run of the new version is driven to the node the run moved to,
and finished the same way. What is compared:

- every task effect (one stub call per idempotency key, first attempt only),
  and every key the journal dispatched has its effect;
- the effects after the move equal the reference's after its position
  (task, node, arguments, in order), the nodes entered after it too;
- the output and the variables equal the reference's (and the model's);
- one ``MIGRATED`` entry saying from, to, the thread's move, the new variables
  and whether it was automatic (``migrate_later``);
- a run that does not move (``must_drain``, or ``safe_later`` without
  ``migrate_later``) stays on the old version and does exactly what a run of
  the old version driven the same way does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import anyio
from hypothesis import HealthCheck, event, example, given, settings
from migration_gen import (
    NEW_DEFAULT,
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
    scenarios,
    stub_result,
)

from wfc.runtime import HistoryEntry, RunInfo, RunStatus, TaskContext
from wfc.specs import TaskNode, WaitForEventNode, WorkflowSpec
from wfc.testing import VirtualClock, WorkflowEnv, workflow_env

MIGRATED, OLD_RUN, REFERENCE = "moved", "old", "reference"


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
        else:
            assert isinstance(node, WaitForEventNode), f"run {run_id} stopped at {thread.node}: {info.waiting_on}"
        return info, thread.node

    async def move(self, run_id: str, info: RunInfo, node: str) -> None:
        """Let the run leave the node it rests at."""
        if run_id in self.tasks.blocked:
            self.tasks.release(run_id)
            return
        wait = self.specs[str(info.version)].threads["main"].nodes[node]
        assert isinstance(wait, WaitForEventNode)
        await self.env.send_event(wait.event, {"to": node}, run=run_id)

    async def to(self, run_id: str, node: str) -> int:
        """Drive the run until it rests at ``node``; the seq of its last journal entry then."""
        for _ in range(100):
            info, here = await self.rests_at(run_id)
            assert here is not None, f"run {run_id} finished without resting at {node}"
            if here == node:
                history = await self.env.history(run_id)
                return history[-1].seq
            await self.move(run_id, info, here)
        raise AssertionError(f"run {run_id} never reached {node}")

    async def finish(self, run_id: str) -> RunInfo:
        for _ in range(100):
            info, here = await self.rests_at(run_id)
            if here is None:
                return info
            await self.move(run_id, info, here)
        raise AssertionError(f"run {run_id} does not finish")


# ---------------------------------------------------------------- what a run did


def _dispatched(history: Sequence[HistoryEntry]) -> dict[str, int]:
    """The seq of each idempotency key's dispatch."""
    return {str(e.detail["idempotency_key"]): e.seq for e in history if e.kind == "TASK_DISPATCHED"}


def _effects_after(effects: list[Effect], history: Sequence[HistoryEntry], seq: int) -> list[tuple[Any, ...]]:
    dispatched = _dispatched(history)
    return [(e.task, e.node, e.args) for e in effects if dispatched[e.key] > seq]


def _entered_after(history: Sequence[HistoryEntry], seq: int) -> list[str]:
    return [str(e.node) for e in history if e.kind == "NODE_ENTERED" and e.thread == 0 and e.seq > seq]


def _check_effects(run_id: str, effects: list[Effect], history: Sequence[HistoryEntry]) -> None:
    """Each dispatched key ran exactly once, first attempt."""
    keys = [e.key for e in effects]
    assert len(keys) == len(set(keys)), f"run {run_id} ran a task effect twice: {keys}"
    assert all(e.attempt == 1 for e in effects), effects
    assert set(keys) == set(_dispatched(history)), f"run {run_id}: effects {keys} vs dispatched {_dispatched(history)}"


# ---------------------------------------------------------------- the property


async def _check(scenario: Scenario) -> None:
    old, new = old_spec(scenario), new_spec(scenario)
    expected = expectation(scenario)
    event(f"{expected.run_class}, moves: {expected.moves_at is not None}")
    async with workflow_env() as env:
        tasks = Tasks(env.clock)
        for name in _task_names(old, new):
            tasks.stub(env, name)
        await env.deploy(old)
        await env.deploy(new)
        await env.open()
        drive = Driver(env, tasks, {str(old.version): old, str(new.version): new})
        await env.engine.start(WORKFLOW, scenario.inputs, run_id=MIGRATED, version=old.version)
        await drive.to(MIGRATED, expected.position)

        plan = await env.engine.plan_migration(
            WORKFLOW, str(old.version), str(new.version), mapping(scenario), migrate_later=scenario.migrate_later
        )
        [planned] = plan.runs
        assert planned.run_class == expected.run_class, (planned.reasons, expected)
        [thread] = planned.threads
        assert (thread.node, thread.maps_to) == (expected.position, expected.moves_to if expected.run_class ==
                                                 "safe_now" else None)  # fmt: skip
        assert set(thread.wait_until) == expected.wait_until
        report = await env.engine.apply_migration(plan.document())
        [outcome] = report.runs
        assert outcome.outcome == _outcome(expected, scenario), (outcome, expected)
        assert report.complete
        if expected.run_class == "safe_now":  # applying twice changes nothing
            again = await env.engine.apply_migration(plan.document())
            assert [r.outcome for r in again.runs] == ["already_migrated"]

        info = await drive.finish(MIGRATED)
        assert info.status is RunStatus.COMPLETED, info.failure
        history = await env.history(MIGRATED)
        _check_effects(MIGRATED, tasks.of(MIGRATED), history)
        moves = [e for e in history if e.kind == "MIGRATED"]
        if expected.moves_at is None:
            assert moves == [] and info.version == old.version
            again = await env.engine.apply_migration(plan.document())
            assert [r.outcome for r in again.runs] == ["gone"]
            await _same_as_old_run(drive, scenario, info, history)
            return
        assert info.version == new.version
        [moved] = moves
        assert moved.thread == 0 and moved.node is None
        assert moved.detail["from"] == str(old.version) and moved.detail["to"] == str(new.version)
        assert moved.detail["plan"] == report.plan_id
        assert moved.detail["automatic"] is (expected.run_class == "safe_later")
        assert moved.detail["threads"] == [{"thread": 0, "from": expected.moves_at, "to": expected.moves_to}]
        assert moved.detail["variables"] == ([NEW_VARIABLE] if scenario.new_variable else [])

        assert expected.moves_to is not None
        await env.engine.start(WORKFLOW, scenario.inputs, run_id=REFERENCE, version=new.version)
        position = await drive.to(REFERENCE, expected.moves_to)
        reference = await drive.finish(REFERENCE)
        assert reference.status is RunStatus.COMPLETED, reference.failure
        ref_history = await env.history(REFERENCE)
        _check_effects(REFERENCE, tasks.of(REFERENCE), ref_history)

        assert _effects_after(tasks.of(MIGRATED), history, moved.seq) == _effects_after(
            tasks.of(REFERENCE), ref_history, position
        )
        assert _entered_after(history, moved.seq) == _entered_after(ref_history, position)
        assert info.output == reference.output == expected_output(scenario)

        assert info.variables == reference.variables
        if scenario.new_variable:
            assert info.variables[NEW_VARIABLE] == NEW_DEFAULT


def _task_names(*specs: WorkflowSpec) -> set[str]:
    return {node.task for spec in specs for node in spec.threads["main"].nodes.values() if isinstance(node, TaskNode)}


def _outcome(expected: Expectation, scenario: Scenario) -> str:
    if expected.run_class == "safe_now":
        return "migrated"
    return "pending" if expected.run_class == "safe_later" and scenario.migrate_later else "not_now"


async def _same_as_old_run(drive: Driver, scenario: Scenario, info: RunInfo, history: Sequence[HistoryEntry]) -> None:
    """The run that did not move did what a run of the old version does."""
    await drive.env.engine.start(WORKFLOW, scenario.inputs, run_id=OLD_RUN, version=info.version)
    plain = await drive.finish(OLD_RUN)
    assert info.output == plain.output and info.variables == plain.variables
    ran = [(e.task, e.node, e.args) for e in drive.tasks.of(MIGRATED)]
    assert ran == [(e.task, e.node, e.args) for e in drive.tasks.of(OLD_RUN)]
    assert _entered_after(history, 0) == _entered_after(await drive.env.history(OLD_RUN), 0)


def _run(scenario: Scenario) -> None:
    anyio.run(_check, scenario)


# ---------------------------------------------------------------- the tests


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
# A thread at a renamed node whose output the new version reads later.
@example(Scenario((Item("task", 1, "rename"), Item("wait", 2, "keep")), (), False, False, 1, False))
# A running task attempt moved to a renamed node, a new variable, a new task after it.
@example(Scenario((Item("task", 1, "rename"),), (Insert("task", 1, 1),), True, False, 0, False))
# Removed wait: moves automatically at the next task that maps, through a taken branch.
@example(Scenario((Item("wait", 1, "remove"), Item("branch", 2, "keep"), Item("task", 3, "keep")), (), True,
                  True, 0, True))  # fmt: skip
# Removed wait with nothing mapping before the exit: drains on the old version.
@example(Scenario((Item("task", 1, "keep"), Item("wait", 2, "remove")), (), False, False, 1, True))
# Safe later without migrate_later: left on the old version.
@example(Scenario((Item("wait", 1, "unmapped"), Item("task", 2, "keep")), (), False, False, 0, False))
def test_a_migrated_run_does_what_a_run_of_the_new_version_does_from_the_same_place(scenario: Scenario) -> None:
    _run(scenario)
