"""The task attempts an engine runs: started after the commit that
dispatched them, cancelled when their run abandons them or the engine
closes, and their outcomes queued for the commit loop."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import anyio
import anyio.abc
import msgspec

from wfc.runtime._commands import Command, RunInput
from wfc.runtime._dispatches import task_context
from wfc.runtime._tasks import TaskDefinition, run_task
from wfc.runtime.interpreter import DispatchTask, TaskCompleted, TaskFailed


@dataclass
class TaskCounters:
    """What an engine did with task attempts since it opened (for ``wfc worker``)."""

    claimed: int = 0
    """Attempts taken from the shared outbox (left by another process, or by
    a process that died)."""
    started: int = 0
    """Attempts started here, claimed or dispatched by this engine itself."""
    completed: int = 0
    failed: int = 0
    """Attempts that raised or timed out (retried or not)."""


class Attempts:
    """The attempts running in this engine, at most ``limit`` at once."""

    def __init__(
        self, definitions: Mapping[str, TaskDefinition], limit: int, submit: Callable[[Command], None]
    ) -> None:
        self._definitions = definitions
        self._submit = submit
        self._limiter = anyio.CapacityLimiter(limit)
        self._running: dict[str, anyio.CancelScope] = {}
        self._tg: anyio.abc.TaskGroup | None = None
        self.counters = TaskCounters()

    def open(self, tg: anyio.abc.TaskGroup) -> None:
        """Start attempts in ``tg`` from now on."""
        self._tg = tg

    def close(self) -> None:
        """Start no more attempts, and cancel those running: they are
        claimed again by the next engine, with the same idempotency key."""
        self._tg = None
        for scope in list(self._running.values()):
            scope.cancel()

    def __len__(self) -> int:
        return len(self._running)

    def __contains__(self, dispatch_id: str) -> bool:
        return dispatch_id in self._running

    def start(self, effect: DispatchTask) -> None:
        """Run the attempt (unless it runs already, or the engine closed)."""
        if effect.dispatch_id not in self._running and self._tg is not None:
            scope = anyio.CancelScope()
            self._running[effect.dispatch_id] = scope
            self.counters.started += 1
            self._tg.start_soon(self._execute, effect, scope)

    def abandon(self, dispatch_id: str) -> None:
        """Cancel the attempt if it runs here: its run no longer waits for it."""
        scope = self._running.get(dispatch_id)
        if scope is not None:
            scope.cancel()

    async def _acquire(self) -> None:
        """Take a slot of the limiter: at once while there is room (no trip
        through the event loop per attempt), else wait for one."""
        try:
            self._limiter.acquire_nowait()
        except anyio.WouldBlock:
            await self._limiter.acquire()

    async def _execute(self, effect: DispatchTask, scope: anyio.CancelScope) -> None:
        definition = self._definitions[effect.task]
        try:
            with scope:
                await self._acquire()
                try:
                    # A copy: task code may change its arguments, and the
                    # originals are shared with the run state in memory.
                    args = msgspec.json.decode(msgspec.json.encode(effect.args))
                    outcome = await run_task(definition, args, task_context(effect), effect.timeout)
                finally:
                    self._limiter.release()
        finally:
            self._running.pop(effect.dispatch_id, None)
        if scope.cancelled_caught:
            return
        if outcome.ok:
            self.counters.completed += 1
            event: TaskCompleted | TaskFailed = TaskCompleted(dispatch_id=effect.dispatch_id, output=outcome.output)
        else:
            self.counters.failed += 1
            event = TaskFailed(
                dispatch_id=effect.dispatch_id,
                name=outcome.name,
                message=outcome.message,
                content=outcome.content,
                business=outcome.business,
            )
        self._submit(RunInput(effect.run_id, event))
