"""Work items the engine's commit loop drains, and their replies."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from wfc.runtime._spec_cache import CachedSpec
from wfc.runtime.interpreter import Input
from wfc.specs import WorkflowSpec

if TYPE_CHECKING:
    from wfc.runtime.migration_apply import MigrationOrder


class Reply:
    """A one-shot result slot an API call awaits until the loop commits."""

    def __init__(self) -> None:
        self._done = asyncio.Event()  # the engine runs on asyncio; cheaper than anyio's wrapper
        self._value: Any = None
        self._error: BaseException | None = None

    def set(self, value: Any) -> None:
        """Deliver a result (first one wins)."""
        if not self._done.is_set():
            self._value = value
            self._done.set()

    def fail(self, error: BaseException) -> None:
        """Deliver an error (first one wins)."""
        if not self._done.is_set():
            self._error = error
            self._done.set()

    @property
    def done(self) -> bool:
        """True once a result or error was delivered."""
        return self._done.is_set()

    async def get(self) -> Any:
        """Wait for the result; raise the error if one was delivered."""
        await self._done.wait()
        if self._error is not None:
            raise self._error
        return self._value


@dataclass
class RunInput:
    """An interpreter input for one run (task result, timer, cancel ...)."""

    run_id: str
    input: Input
    reply: Reply | None = None


@dataclass
class StartRun:
    """Create a run (idempotent by id)."""

    spec: CachedSpec
    run_id: str
    inputs: dict[str, Any]
    """As the caller gave them (the run's journal shows these)."""
    variables: dict[str, Any]
    """``inputs`` checked against ``spec``, defaults added."""
    reply: Reply = field(default_factory=Reply)
    new_id: bool = False
    """``run_id`` was just made up (a random UUID): no run can have it, so
    the turn does not look for one."""
    trace: str | None = None
    """The run's trace context, stored with it (see :mod:`wfc.runtime._trace_context`)."""


@dataclass
class SendEvent:
    """Deliver or store an external event."""

    name: str
    payload: Any
    run_id: str | None
    correlation: str | None
    event_id: str
    reply: Reply = field(default_factory=Reply)


@dataclass
class Deploy:
    """Store a spec version."""

    spec: WorkflowSpec
    body: bytes
    hash: str
    reply: Reply = field(default_factory=Reply)


@dataclass
class Barrier:
    """Replied once every item queued before it was committed."""

    reply: Reply = field(default_factory=Reply)


@dataclass
class Migrate:
    """Move a run to another version of its workflow, as a plan orders (see
    :mod:`wfc.runtime.migration_apply`); replied with a ``RunOutcome``."""

    run_id: str
    order: MigrationOrder
    reply: Reply = field(default_factory=Reply)


Command = RunInput | StartRun | SendEvent | Deploy | Migrate | Barrier
