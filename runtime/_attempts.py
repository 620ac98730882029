"""The task attempts an engine runs: started after the commit that
dispatched them, cancelled when their run abandons them or the engine
closes, and their outcomes queued for the commit loop."""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import anyio
import msgspec

from wfc.runtime._commands import Command, RunInput
from wfc.runtime._dispatches import task_context
from wfc.runtime._tasks import Deadline, TaskDefinition, run_task
from wfc.runtime.interpreter import DispatchTask, TaskCompleted, TaskFailed

log = logging.getLogger("wfc.runtime")


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
    """The attempts running in this engine, at most ``limit`` at once.

    Each attempt is a plain asyncio task, cancelled directly (its run
    abandoned it, or the engine closes): no task group entry, cancel scope
    or capacity limiter per attempt, which cost more than the commit of the
    step that dispatched it."""

    def __init__(
        self,
        definitions: Mapping[str, TaskDefinition],
        limit: int,
        submit: Callable[[Command], None],
        deadline: Deadline = anyio.move_on_after,
    ) -> None:
        self._definitions = definitions
        self._deadline = deadline
        self._submit = submit
        self._slots = asyncio.Semaphore(limit)
        self._running: dict[str, asyncio.Task[None]] = {}
        self._open = False
        self.counters = TaskCounters()

    def open(self) -> None:
        """Start attempts from now on."""
        self._open = True

    def close(self) -> None:
        """Start no more attempts, and cancel those running: they are
        claimed again by the next engine, with the same idempotency key."""
        self._open = False
        for running in list(self._running.values()):
            running.cancel()

    async def closed(self) -> None:
        """Wait (a few seconds at most) for the cancelled attempts to end."""
        left = list(self._running.values())
        if left:
            with anyio.move_on_after(5):
                await asyncio.wait(left)

    def __len__(self) -> int:
        return len(self._running)

    def __contains__(self, dispatch_id: str) -> bool:
        return dispatch_id in self._running

    def start(self, effect: DispatchTask) -> None:
        """Run the attempt (unless it runs already, or the engine closed)."""
        if effect.dispatch_id not in self._running and self._open:
            self.counters.started += 1
            running = asyncio.get_running_loop().create_task(self._execute(effect))
            self._running[effect.dispatch_id] = running
            running.add_done_callback(functools.partial(self._ended, effect.dispatch_id))

    def _ended(self, dispatch_id: str, running: asyncio.Task[None]) -> None:
        # An attempt abandoned before its task first ran (a turn that started
        # it and the next that abandoned it acted on in one go) never enters
        # _execute, whose `finally` would forget it.
        if self._running.get(dispatch_id) is running:
            del self._running[dispatch_id]
        _log_failure(running)

    def abandon(self, dispatch_id: str) -> None:
        """Cancel the attempt if it runs here: its run no longer waits for it."""
        running = self._running.get(dispatch_id)
        if running is not None:
            running.cancel()

    async def _execute(self, effect: DispatchTask) -> None:
        definition = self._definitions[effect.task]
        try:
            await self._slots.acquire()
            try:
                # A copy: task code may change its arguments, and the
                # originals are shared with the run state in memory.
                args = msgspec.json.decode(msgspec.json.encode(effect.args))
                began = time.perf_counter()
                outcome = await run_task(definition, args, task_context(effect), effect.timeout, self._deadline)
                duration = time.perf_counter() - began
            finally:
                self._slots.release()
        except asyncio.CancelledError:
            return  # abandoned, or the engine closes: nobody wants the outcome
        finally:
            self._running.pop(effect.dispatch_id, None)
        if outcome.ok:
            self.counters.completed += 1
            event: TaskCompleted | TaskFailed = TaskCompleted(
                dispatch_id=effect.dispatch_id, output=outcome.output, duration=duration
            )
        else:
            self.counters.failed += 1
            event = TaskFailed(
                dispatch_id=effect.dispatch_id,
                name=outcome.name,
                message=outcome.message,
                content=outcome.content,
                business=outcome.business,
                duration=duration,
            )
        self._submit(RunInput(effect.run_id, event))


def _log_failure(running: asyncio.Task[None]) -> None:
    """An attempt's task ended with an error: a bug in wfc (task code's
    errors are the attempt's outcome). Its outbox row stays for the next
    engine."""
    if not running.cancelled() and running.exception() is not None:
        log.error("a task attempt failed in the engine", exc_info=running.exception())
