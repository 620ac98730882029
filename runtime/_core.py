"""The engine's machinery: the commit loop and background work.

Every state change goes through one commit loop. Callers and task workers
queue commands; each loop turn drains the queue, applies all of it in one
store transaction (see :mod:`wfc.runtime._turn`), commits, and only then acts:
starts task attempts, wakes timers, answers callers.

Background work (in the engine's anyio task group): the commit loop; with
``serve=True`` also the timer loop (fires due durable timers, including those
that came due while no engine ran) and the poll loop (heartbeat, and claims
task attempts nobody holds a lease on: those of a crashed process, or
dispatched by a process that does not run that task).
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections import Counter, deque
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Any

import anyio
import anyio.abc
import msgspec

from wfc.runtime._commands import Barrier, Command, Deploy, RunInput, SendEvent, StartRun
from wfc.runtime._turn import Shared, Turn
from wfc.runtime.errors import (
    ConflictError,
    StoreError,
    UsageError,
)
from wfc.runtime.interpreter import (
    DispatchTask,
    Redeliver,
    TaskCompleted,
    TaskFailed,
    TimerFired,
)
from wfc.runtime.store import Store
from wfc.runtime.tasks import TaskContext, TaskDefinition, TaskFunction, run_task
from wfc.specs import WfcError

log = logging.getLogger("wfc.runtime")

TaskLike = TaskFunction[Any, Any] | TaskDefinition
Moment = dt.datetime | float


class EngineCore:
    """The commit loop and background work; :class:`~wfc.runtime.Engine` adds
    the public API on top."""

    def __init__(
        self,
        store: Store,
        url: str,
        tasks: Mapping[str, TaskDefinition],
        *,
        serve: bool,
        check_tasks: bool,
        lease_seconds: float,
        poll_interval: float,
        max_batch: int,
        max_concurrent_tasks: int,
        clock: Callable[[], float],
    ) -> None:
        self._store = store
        self._url = url
        self._definitions = dict(tasks)
        self._serve = serve
        self._check_tasks = check_tasks
        self._lease = lease_seconds
        self._poll = poll_interval
        self._max_batch = max_batch
        self._clock = clock
        self._id = uuid.uuid4().hex
        self._shared = Shared(
            engine_id=self._id,
            tasks=frozenset(self._definitions),
            policies={name: d.policy for name, d in self._definitions.items()},
            lease=lease_seconds,
            serve=serve,
        )
        self._queue: deque[Command] = deque()
        self._wake = anyio.Event()
        self._timer_wake = anyio.Event()
        self._timers_inflight: set[tuple[str, int]] = set()
        self._running: dict[str, anyio.CancelScope] = {}
        self._changed: dict[str, anyio.Event] = {}
        self._followers: Counter[str] = Counter()
        self._limiter = anyio.CapacityLimiter(max_concurrent_tasks)
        self._closed = False
        self._tg: anyio.abc.TaskGroup | None = None

    async def _shutdown(self) -> None:
        self._closed = True
        with anyio.CancelScope(shield=True):
            # Attempts still running are abandoned here and claimed again by
            # the next engine, with the same idempotency key.
            for scope in list(self._running.values()):
                scope.cancel()
            barrier = Barrier()
            self._submit(barrier)
            with anyio.move_on_after(10):
                await barrier.reply.get()
            try:
                await self._store.release_engine(self._id)
            except Exception:  # the store may be what failed; closing must go on
                log.exception("could not release task leases of engine %s", self._id)
        if self._tg is not None:
            self._tg.cancel_scope.cancel()

    @asynccontextmanager
    async def _following(self, run_id: str) -> AsyncIterator[Callable[[], anyio.Event]]:
        """While in the block, commits that touch ``run_id`` set the event the
        yielded function returns (a fresh one after each commit)."""
        self._followers[run_id] += 1

        def changed() -> anyio.Event:
            return self._changed.setdefault(run_id, anyio.Event())

        changed()  # exists before the caller's first read: no commit is missed
        try:
            yield changed
        finally:
            self._followers[run_id] -= 1
            if self._followers[run_id] <= 0:
                del self._followers[run_id]
                self._changed.pop(run_id, None)

    def _check_open(self) -> None:
        if self._closed:
            raise UsageError("the engine is closed; call it inside `async with Engine.open(url) as engine:`")

    def _submit(self, command: Command) -> None:
        self._queue.append(command)
        self._wake.set()

    async def _call(self, command: StartRun | SendEvent | Deploy | RunInput) -> Any:
        self._check_open()
        reply = command.reply
        if reply is None:  # only internal inputs go without a reply, and not through here
            raise UsageError("internal error: a call needs a reply slot")
        self._submit(command)
        return await reply.get()

    # ------------------------------------------------------------------ commit loop

    async def _commit_loop(self) -> None:
        while True:
            while not self._queue:
                await self._wake.wait()
                self._wake = anyio.Event()
            count = min(len(self._queue), self._max_batch)
            commands = [self._queue.popleft() for _ in range(count)]
            await self._commit(commands)

    async def _commit(self, commands: list[Command]) -> None:
        error = await self._try_commit(commands)
        if error is None:
            return
        if len(commands) > 1 and not isinstance(error, ConflictError):
            # One bad command must not hold back the others: apply them one
            # transaction each, so only the culprit fails.
            for command in commands:
                await self._commit([command])
            return
        failure = error if isinstance(error, WfcError) else StoreError(self._store.location, f"commit failed: {error}")
        transient = isinstance(error, ConflictError) or self._store.is_transient(error)
        for command in commands:
            if command.reply is not None:
                command.reply.fail(failure)
            elif isinstance(command, RunInput) and self._tg is not None and not self._closed:
                if isinstance(command.input, TimerFired):
                    # The timer row is still there: the timer loop fires it again.
                    self._timers_inflight.discard((command.run_id, command.input.timer))
                elif transient:
                    self._tg.start_soon(self._resubmit, command)
                else:
                    # The outbox row of the attempt is still there; the next
                    # engine to open the database delivers it again.
                    log.error("dropped %s for run %s: %s", type(command.input).__name__, command.run_id, error)

    async def _try_commit(self, commands: list[Command]) -> Exception | None:
        """Apply and commit; on a version conflict retry on fresh state."""
        error: Exception | None = None
        for _ in range(3):
            turn: Turn | None = None
            try:
                async with self._store.transaction() as tx:
                    turn = Turn(self._shared, tx, self._clock())
                    await turn.prefetch(commands)
                    for command in commands:
                        await turn.handle(command)
            except ConflictError as exc:  # another process changed a run
                self._shared.forget(turn.lives if turn else ())
                error = exc
                continue
            except Exception as exc:
                log.exception("commit of %d command(s) failed", len(commands))
                self._shared.forget(turn.lives if turn else ())
                return exc
            self._after_commit(turn)
            return None
        return error

    async def _resubmit(self, command: RunInput) -> None:
        # A task result must not be lost to a transient store error.
        await anyio.sleep(self._poll)
        self._submit(command)

    def _after_commit(self, turn: Turn) -> None:
        outcome = turn.committed()
        for dispatch_id in outcome.abandon:
            scope = self._running.get(dispatch_id)
            if scope is not None:
                scope.cancel()
        for dispatch_id, effect in outcome.start.items():
            if dispatch_id not in self._running and self._tg is not None and not self._closed:
                scope = anyio.CancelScope()
                self._running[dispatch_id] = scope
                self._tg.start_soon(self._execute, effect, scope)
        if outcome.fired or outcome.timers_changed:
            self._timers_inflight -= outcome.fired
            self._timer_wake.set()
        for reply, value in outcome.replies:
            reply.set(value)
        for run_id in outcome.touched:
            changed = self._changed.pop(run_id, None)
            if changed is not None:
                changed.set()

    # ------------------------------------------------------------------ background work

    async def _execute(self, effect: DispatchTask, scope: anyio.CancelScope) -> None:
        definition = self._definitions[effect.task]
        context = TaskContext(
            run_id=effect.run_id,
            workflow=effect.workflow,
            task=effect.task,
            node_id=effect.node,
            thread=effect.thread,
            attempt=effect.attempt,
            idempotency_key=effect.idempotency_key,
        )
        try:
            with scope:
                async with self._limiter:
                    # A copy: task code may change its arguments, and the
                    # originals are shared with the run state in memory.
                    args = msgspec.json.decode(msgspec.json.encode(effect.args))
                    outcome = await run_task(definition, args, context, effect.timeout)
        finally:
            self._running.pop(effect.dispatch_id, None)
        if scope.cancelled_caught:
            return
        if outcome.ok:
            event: TaskCompleted | TaskFailed = TaskCompleted(dispatch_id=effect.dispatch_id, output=outcome.output)
        else:
            event = TaskFailed(
                dispatch_id=effect.dispatch_id,
                name=outcome.name,
                message=outcome.message,
                content=outcome.content,
                business=outcome.business,
            )
        self._submit(RunInput(effect.run_id, event))

    async def _timer_loop(self) -> None:
        while True:
            self._timer_wake = anyio.Event()
            try:
                delay = await self._fire_due_timers()
            except Exception:  # a busy or failing database must not stop the engine
                log.exception("looking for due timers failed; trying again")
                delay = self._poll
            with anyio.move_on_after(delay):
                await self._timer_wake.wait()

    async def _fire_due_timers(self) -> float:
        """Queue the timers that are due; return how long to sleep."""
        now = self._clock()
        due = await self._store.due_timers(now, 1000)
        for timer in due:
            key = (timer.run_id, timer.timer)
            if key not in self._timers_inflight:
                self._timers_inflight.add(key)
                self._submit(RunInput(timer.run_id, TimerFired(timer=timer.timer)))
        if len(due) == 1000:
            return 0.0
        upcoming = await self._store.next_timer_due()
        if upcoming is not None and upcoming > now:
            return min(self._poll, upcoming - now)
        return self._poll

    async def _poll_loop(self) -> None:
        next_beat = 0.0
        while True:
            now = self._clock()
            try:
                if now >= next_beat:
                    await self._store.heartbeat(self._id, now, self._lease)
                    next_beat = now + self._lease / 3
                claimed = await self._store.claim_tasks(self._id, self._definitions.keys(), now, self._lease, 256)
            except Exception:  # a busy or failing database must not stop the engine
                log.exception("polling the database failed; trying again")
                claimed = []
            for record in claimed:
                if record.dispatch_id not in self._running:
                    self._submit(RunInput(record.run_id, Redeliver(dispatch_id=record.dispatch_id)))
            await anyio.sleep(self._poll)
