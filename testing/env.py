"""``WorkflowEnv``: a real engine on a throwaway SQLite store, a virtual
clock, task stubs, and assertions on what runs did. The ``wf_env`` fixture
of the wfc pytest plugin gives one per test."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from typing import TYPE_CHECKING, Any

import anyio

from wfc.runtime import Commit, Engine, HistoryEntry, RunInfo, SentEvent, UserTask, WaitTimeoutError
from wfc.runtime._engine import TaskLike
from wfc.runtime._spec_cache import derive
from wfc.runtime._tasks import task_definitions
from wfc.specs import WorkflowSpec
from wfc.testing import arguments
from wfc.testing.assertions import (
    WorkflowAssertionError,
    check_compensations,
    check_failure,
    check_journal,
    check_output,
    check_path,
    compensations,
    node_paths,
)
from wfc.testing.clock import VirtualClock
from wfc.testing.compare import spec_of
from wfc.testing.stubs import Call, Router, Stub

if TYPE_CHECKING:
    from wfc.dsl import Workflow

#: How long (real seconds) waiting for a run gives up: a safety net for a test that hangs.
REAL_TIMEOUT = 60.0
#: How often (real seconds) the harness looks whether the engine settled,
#: when no commit woke it first.
_LOOK = 0.001
#: The same while the engine is busy (a command queued or being committed,
#: a fired timer not committed yet): what ends that is a commit, which wakes
#: the harness at once; only a turn that fails commits nothing. Looking
#: every _LOOK meanwhile cost a wake-up per millisecond of every commit.
_BUSY_LOOK = 0.02


class StuckRunError(AssertionError):
    """A run waits for something only the test can give (an event, a user
    task's completion), and no timer is left to move virtual time to."""


StuckRunError.__module__ = "wfc.testing"


class WorkflowEnv:
    """An engine for tests, with virtual time.

    Stub tasks by name, start runs, send events, complete user tasks, then
    wait for a run's end (virtual time skips ahead whenever nothing else can
    happen) and assert on what it did::

        async def test_a_declined_card(wf_env):
            wf_env.stub("authorize-payment", returns={"status": "declined"})
            run = await wf_env.run(payment_wf, {"payment-id": "p1", ...})
            await wf_env.assert_path(run, ["authorize-payment", "fraud-check", ...])
    """

    def __init__(
        self,
        directory: str | os.PathLike[str] | None,
        *,
        clock: VirtualClock | None = None,
        tasks: Iterable[TaskLike] = (),
    ) -> None:
        """Open nothing yet: the engine opens at the first :meth:`start` (or
        :meth:`open`), with a task for every name the workflows use. Its
        store is SQLite in ``directory``, or in memory when ``None`` (the
        fastest, and gone with the engine)."""
        folder = arguments.directory(directory)
        if clock is not None and not isinstance(clock, VirtualClock):
            raise TypeError(f"clock is a wfc.testing.VirtualClock (or None for a new one), got {clock!r}")
        self.clock = clock or VirtualClock()
        self.url = "sqlite:///:memory:" if folder is None else f"sqlite:///{folder / 'wfc-test.db'}"
        self._router = Router(self.clock, self.clock.sleep, self.clock.hang)
        self._router.real.update(task_definitions(tasks))
        self._specs: dict[tuple[str, str], WorkflowSpec] = {}
        self._engine: Engine | None = None
        self._names: frozenset[str] = frozenset()
        """The task names the open engine has a definition for."""
        self._stack: AsyncExitStack | None = None
        self._committed = anyio.Event()
        self._woken = False
        """The clock moved and the engine's timer loop was woken, not yet settled."""
        self.clock.attach(self._step_to)

    # ------------------------------------------------------------------ set-up

    def stub(
        self,
        name: str,
        returns: Any = None,
        *,
        raises: BaseException | str | None = None,
        effect: Any = None,
        takes: float | dt.timedelta = 0.0,
        hangs: bool = False,
    ) -> Stub:
        """Make task ``name`` do this instead of its code, from now on.

        Args:
            name: The task's name in the spec.
            returns: What each attempt returns (JSON data).
            raises: A business failure by name (``"card-declined"``: a
                :class:`~wfc.runtime.TaskException`, handled by
                ``handle_exception``) or an exception to raise
                (``ConnectionError("down")``: a technical error, retried).
            effect: A function (sync or ``async``) called with the task's
                arguments (and its ``TaskContext`` if it takes a parameter
                annotated so); its return or exception is the attempt's.
            takes: Virtual seconds (or a timedelta) each attempt takes, so
                its timeout can cut it; up to 100 years.
            hangs: Each attempt never answers: only its timeout ends it.

        Returns:
            The :class:`Stub`: its ``calls`` record each attempt; change its
            fields to change what the next attempts do.

        Raises:
            TypeError: an argument of the wrong kind (``raises=404``, ``effect=5``).
            ValueError: an empty name, or ``takes`` that is not a duration
                the store can hold (negative, infinite, over 100 years).
        """
        seconds = takes.total_seconds() if isinstance(takes, dt.timedelta) else takes
        stub = Stub(name, returns, raises, effect, seconds, hangs)
        self._router.stubs[name] = stub
        return stub

    def add_tasks(self, *tasks: TaskLike) -> None:
        """Run these real ``@task`` functions for the names no stub covers."""
        self._router.real.update(task_definitions(tasks))

    def calls(self, name: str) -> list[Call]:
        """Every attempt of task ``name`` so far (stubbed or real)."""
        return list(self._router.calls.get(name, []))

    @property
    def engine(self) -> Engine:
        """The engine (open once a workflow was deployed)."""
        if self._engine is None:
            raise RuntimeError("the test engine opens at the first env.start(...) (or await env.open())")
        return self._engine

    async def deploy(self, workflow: Workflow | WorkflowSpec) -> WorkflowSpec:
        """Compile (if needed) and deploy a workflow.

        The engine opens at the first :meth:`start` (or :meth:`open`) with a
        task for every name of the workflows deployed so far: deploy every
        workflow a test uses before its first start (starting one deploys
        it too)."""
        spec = spec_of(workflow)
        self._specs[(spec.name, str(spec.version))] = spec
        if self._engine is not None:
            missing = derive(spec).info.tasks - self._names
            if missing:
                raise RuntimeError(
                    f"workflow {spec.name!r} uses tasks {sorted(missing)} the test engine was opened without: "
                    f"deploy it (env.deploy(...)) before the first env.start(...)"
                )
            await self._engine.deploy(spec)
        return spec

    async def open(self) -> Engine:
        """Open the engine now (the first :meth:`start` does), deploying the
        workflows given so far; the engine."""
        if self._engine is None:
            names: frozenset[str] = frozenset()
            for spec in self._specs.values():
                names |= derive(spec).info.tasks
            self._names = names
            self._stack = AsyncExitStack()
            self._engine = await self._stack.enter_async_context(
                Engine.open(
                    self.url,
                    self._router.definitions(names),
                    clock=self.clock,
                    poll_interval=0.05,
                    max_children_per_run=100_000,
                    # One process owns the store: a run woken by its timers
                    # again and again is not read back at each skip.
                    cache_waiting_runs=True,
                )
            )
            self._engine.observe(_Committed(self))
            for spec in self._specs.values():
                await self._engine.deploy(spec)
        return self._engine

    async def close(self) -> None:
        """Close the engine (the fixture does at the end of the test)."""
        stack, self._stack, self._engine = self._stack, None, None
        if stack is not None:
            await stack.aclose()

    # ------------------------------------------------------------------ runs

    async def start(
        self, workflow: Workflow | WorkflowSpec, inputs: Mapping[str, Any] | None = None, *, run_id: str | None = None
    ) -> str:
        """Deploy ``workflow`` and start a run of it; its id."""
        spec = await self.deploy(workflow)
        engine = await self.open()
        return await engine.start(spec.name, inputs, run_id=run_id, version=spec.version)

    async def run(
        self, workflow: Workflow | WorkflowSpec, inputs: Mapping[str, Any] | None = None, *, run_id: str | None = None
    ) -> RunInfo:
        """Start a run and wait for its end, skipping virtual time (:meth:`result`)."""
        return await self.result(await self.start(workflow, inputs, run_id=run_id))

    async def result(self, run: str | RunInfo, *, timeout: float = REAL_TIMEOUT) -> RunInfo:
        """Wait for the run to finish: whenever nothing can happen but the
        passing of time, the clock jumps to the next timer, timeout or stub
        delay. Raises :class:`StuckRunError` when the run waits for what
        only the test can give (an event, a user task)."""
        __tracebackhide__ = True
        run_id = arguments.run_id(run)
        timeout = arguments.positive(timeout, "timeout (real seconds)")
        with anyio.fail_after(timeout):
            while True:
                upcoming = await self._settle()
                try:
                    # The status alone (the whole run is read once it
                    # finished): a run of many threads is slow to read.
                    info = await self.engine.wait(run_id, timeout=0)
                except WaitTimeoutError:
                    pass
                else:
                    self._check_missing()
                    return info
                if upcoming is None:
                    info = await self.engine.get_run(run_id)
                    self._check_missing()
                    raise StuckRunError(
                        f"run {run_id!r} is {info.status.value} and waits for {_waits(info)}; no timer is left to "
                        "move virtual time to: send the event or complete the user task it waits for"
                    )
                self._move(upcoming)

    async def settle(self) -> None:
        """Let the engine do everything it can at the current virtual time
        (``start`` returns once the run's first step committed; this waits
        for the tasks it set off too)."""
        await self._settle()

    async def _step_to(self, target: float) -> None:
        """What :meth:`VirtualClock.advance` does: fire what comes due up to
        ``target``, each at its own moment, settling in between."""
        with anyio.fail_after(REAL_TIMEOUT):
            while True:
                upcoming = await self._settle() if self._engine is not None else self.clock.next_wait()
                if upcoming is None or upcoming > target:
                    break
                self._move(upcoming)
            self._move(target)
            if self._engine is not None:
                await self._settle()

    def _move(self, moment: float) -> None:
        self.clock.move_to(moment)
        if self._engine is not None:
            self._engine.wake_timers()
            self._woken = True

    async def _settle(self) -> float | None:
        """Wait until the engine cannot go on without time passing; when
        the next thing is due then (``None``: nothing is)."""
        engine = self.engine
        # Just woken, the timer loop looks for the timers due now: asking
        # the database when the next is due before it took them would be a
        # trip for nothing (the answer: now).
        woken, self._woken = self._woken, False
        while True:
            if woken:
                woken = False
            elif self._quiet(engine):
                due = await engine.next_timer_due()
                if self._quiet(engine):
                    if due is not None and due <= self.clock.now:
                        engine.wake_timers()  # due now: the timer loop fires it
                    else:
                        waits = [
                            w for w in (due, self.clock.next_wait() if self.clock.parked else None) if w is not None
                        ]
                        return min(waits) if waits else None
            # Woken by the engine's next commit (what usually ends its work),
            # looking again after _LOOK (_BUSY_LOOK) at the latest anyway.
            self._committed = anyio.Event()
            with anyio.move_on_after(_BUSY_LOOK if engine.busy else _LOOK):
                await self._committed.wait()

    def _quiet(self, engine: Engine) -> bool:
        return not engine.busy and engine.running_attempts <= self.clock.parked

    def _check_missing(self) -> None:
        __tracebackhide__ = True
        if self._router.missing:
            names = ", ".join(repr(name) for name in self._router.missing)
            raise WorkflowAssertionError(
                f"the workflow called tasks with no stub and no real task: {names}; "
                f"add env.stub(name, returns=...) for each"
            )

    # ------------------------------------------------------------------ inputs from outside

    async def send_event(
        self, name: str, payload: Any = None, *, run: str | RunInfo | None = None, correlation: str | None = None
    ) -> SentEvent:
        """Send an event (to a run, or by correlation key) and let the engine take it in."""
        sent = await self.engine.send_event(
            name, payload, run_id=None if run is None else arguments.run_id(run), correlation=correlation
        )
        await self._settle()
        return sent

    async def user_task(self, run: str | RunInfo, node: str | None = None) -> UserTask:
        """The open user task of a run (at ``node``, if several are open)."""
        run_id = arguments.run_id(run)
        await self._settle()
        open_tasks = await self.engine.list_user_tasks(run_id=run_id, status=["UNASSIGNED", "ASSIGNED"])
        found = [t for t in open_tasks if node is None or t.node == node]
        if len(found) != 1:
            described = ", ".join(f"{t.node} ({t.status.value})" for t in open_tasks) or "none"
            raise WorkflowAssertionError(
                f"run {run_id!r} has {len(found)} open user task(s) at {node or 'any node'}; open: {described}"
            )
        return found[0]

    async def complete_user_task(
        self, run: str | RunInfo, values: Mapping[str, Any], *, node: str | None = None, user: str | None = None
    ) -> UserTask:
        """Complete the run's open user task (at ``node``) with ``values``."""
        open_task = await self.user_task(run, node)
        done = await self.engine.complete_user_task(open_task.id, values, user=user)
        await self._settle()
        return done

    async def claim_user_task(self, run: str | RunInfo, user: str, *, node: str | None = None) -> UserTask:
        """``user`` claims the run's open user task (at ``node``): a task
        offered to a group becomes ASSIGNED to them."""
        open_task = await self.user_task(run, node)
        claimed = await self.engine.claim_user_task(open_task.id, user)
        await self._settle()
        return claimed

    async def cancel_user_task(
        self, run: str | RunInfo, *, reason: str = "", node: str | None = None, by: str | None = None
    ) -> UserTask:
        """Cancel the run's open user task (at ``node``), as an operator's
        ``wfc tasks cancel`` does: its node fails with ``USER_TASK_CANCELLED``."""
        open_task = await self.user_task(run, node)
        cancelled = await self.engine.cancel_user_task(open_task.id, reason=reason, by=by)
        await self._settle()
        return cancelled

    # ------------------------------------------------------------------ what a run did

    async def history(self, run: str | RunInfo) -> list[HistoryEntry]:
        """The run's whole journal."""
        return await self.engine.history(arguments.run_id(run), limit=None)

    async def path(self, run: str | RunInfo) -> dict[int, list[str]]:
        """The nodes each thread of the run entered, in order."""
        return node_paths(await self.history(run))

    async def compensations(self, run: str | RunInfo) -> list[str]:
        """The compensation tasks the run completed, in order."""
        return compensations(await self.history(run))

    async def assert_path(self, run: str | RunInfo, expected: Sequence[str] | Mapping[int, Sequence[str]]) -> None:
        """The run entered exactly these nodes (a list: the entrypoint
        thread; a mapping: thread number to its nodes)."""
        __tracebackhide__ = True
        want = arguments.path(expected)
        check_path(arguments.run_id(run), await self.history(run), want)

    async def assert_compensations(self, run: str | RunInfo, expected: Sequence[str]) -> None:
        """The run's compensations ran exactly in this order."""
        __tracebackhide__ = True
        want = arguments.names(expected, "assert_compensations", 'env.assert_compensations(run, ["refund-card"])')
        check_compensations(arguments.run_id(run), await self.history(run), want)

    async def assert_output(self, run: str | RunInfo, expected: Any) -> None:
        """The run finished with this output."""
        __tracebackhide__ = True
        info = await self.engine.get_run(arguments.run_id(run))
        check_output(info.id, info.output, expected)

    async def assert_failure(self, run: str | RunInfo, name: str, *, node: str | None = None) -> None:
        """A failure ended the run (FAILED, or COMPENSATED when it undid its
        steps first): ``name``, an error code such as ``TIMEOUT`` or a
        business exception's name, at ``node`` if given."""
        __tracebackhide__ = True
        info = await self.engine.get_run(arguments.run_id(run))
        check_failure(info, name, node)

    async def assert_journal(self, run: str | RunInfo, expected: Sequence[str]) -> None:
        """The journal holds these entries (``"TASK_FAILED authorize-payment"``,
        ``"TIMER_FIRED"``, ...) in this order, others between them allowed."""
        __tracebackhide__ = True
        want = arguments.names(expected, "assert_journal", 'env.assert_journal(run, ["TASK_FAILED charge"])')
        check_journal(arguments.run_id(run), await self.history(run), want)


class _Committed:
    """Observes the env's engine: each commit wakes :meth:`WorkflowEnv._settle`."""

    def __init__(self, env: WorkflowEnv) -> None:
        self._env = env

    def committed(self, commit: Commit) -> None:
        self._env._committed.set()


def _waits(info: RunInfo) -> str:
    return "; ".join(info.waiting_on) or "nothing it says"


@asynccontextmanager
async def workflow_env(
    directory: str | os.PathLike[str] | None = None,
    *,
    tasks: Iterable[TaskLike] = (),
    clock: VirtualClock | None = None,
) -> AsyncIterator[WorkflowEnv]:
    """A :class:`WorkflowEnv` storing in the existing folder ``directory``
    (a str or a Path; in memory if ``None``), closed after the block: the
    ``wf_env`` fixture without pytest."""
    env = WorkflowEnv(directory, clock=clock, tasks=tasks)
    try:
        yield env
    finally:
        await env.close()
