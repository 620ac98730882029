"""Task stubs: what a task of the workflow under test does instead of its
real code, and a record of every call (each attempt, with its arguments)."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import anyio.to_thread

from wfc.runtime import TaskContext, TaskException
from wfc.runtime._tasks import TaskDefinition
from wfc.testing import arguments

_UNSET: Any = object()


@dataclass(frozen=True)
class Call:
    """One attempt of a task, as the stub (or the real task) saw it."""

    args: list[Any]
    """The positional arguments the spec gave the task."""
    attempt: int
    """1 for the first attempt, 2 for the first retry, ..."""
    run_id: str
    thread: int
    node: str
    """Id of the task node in the spec."""
    at: float
    """When the attempt started, by the virtual clock."""


@dataclass
class Stub:
    """What ``env.stub(name, ...)`` returns: change its behaviour any time
    (``stub.returns = ...``), and read what it was called with."""

    name: str
    returns: Any = None
    raises: BaseException | str | None = None
    effect: Callable[..., Any] | None = None
    takes: float = 0.0
    hangs: bool = False
    calls: list[Call] = field(default_factory=list)

    def __setattr__(self, name: str, value: Any) -> None:
        # Checked on every set, at construction and after, so a bad value is
        # refused where the test wrote it, not as a failed attempt later.
        check = _CHECKS.get(name)
        super().__setattr__(name, value if check is None else check(value))

    @property
    def args(self) -> list[list[Any]]:
        """The arguments of every attempt, in order."""
        return [call.args for call in self.calls]

    @property
    def call_count(self) -> int:
        """How many attempts ran."""
        return len(self.calls)


def _raises(value: object) -> BaseException | str | None:
    example = 'env.stub("charge", raises="card-declined") or raises=ConnectionError("down")'
    if isinstance(value, type) and issubclass(value, BaseException):
        raise TypeError(f"raises takes an exception instance, not the class {value.__name__}: "
                        f"raises={value.__name__}('down')")
    if value is None or isinstance(value, BaseException):
        return value
    if not isinstance(value, str):
        raise TypeError(f"raises is a failure name (str) or an exception instance, got {value!r}: {example}")
    return arguments.text(value, "raises (a failure name)", example)


def _effect(value: object) -> Callable[..., Any] | None:
    if value is not None and not callable(value):
        raise TypeError(f"effect is a function of the task's arguments, got {value!r}: "
                        'env.stub("charge", effect=lambda amount: {"id": "c-1"})')
    return value


_CHECKS: dict[str, Callable[[Any], Any]] = {
    "name": lambda value: arguments.text(value, "the task name of a stub", 'env.stub("charge-card", returns=...)'),
    "raises": _raises,
    "effect": _effect,
    "takes": lambda value: arguments.duration(value, "takes", 'env.stub("charge", takes=30)'),
    "hangs": lambda value: arguments.flag(value, "hangs"),
}


def failure(raises: BaseException | str) -> BaseException:
    """The exception a stub raises: a name is a business failure
    (:class:`TaskException`, handled by ``handle_exception(name)``), an
    exception instance is raised as it is (a technical error unless it is a
    ``TaskException``)."""
    if isinstance(raises, str):
        return TaskException(raises, f"raised by the stub of this task ({raises})")
    return raises


class Router:
    """The task definitions the test engine runs: one per task name, each
    calling the stub of that name if there is one, else the real task given
    to the environment, else failing the attempt with a message that says
    which stub is missing (and recording it, so the test fails too)."""

    def __init__(self, now: Callable[[], float], clock_sleep: Callable[[float], Any], hang: Callable[[], Any]) -> None:
        self.stubs: dict[str, Stub] = {}
        self.real: dict[str, TaskDefinition] = {}
        self.calls: dict[str, list[Call]] = {}
        self.missing: list[str] = []
        self._now = now
        self._sleep = clock_sleep
        self._hang = hang

    def definitions(self, names: Iterable[str]) -> list[TaskDefinition]:
        """A definition for each name, with the real task's retry defaults when given."""
        result = []
        for name in sorted(set(names)):
            real = self.real.get(name)
            result.append(
                TaskDefinition(
                    name=name,
                    fn=self._runner(name),
                    retries=real.retries if real else None,
                    timeout=real.timeout if real else None,
                    backoff=real.backoff if real else None,
                )
            )
        return result

    def _runner(self, name: str) -> Callable[..., Any]:
        async def run(*args: Any, ctx: TaskContext) -> Any:
            call = Call(list(args), ctx.attempt, ctx.run_id, ctx.thread, ctx.node_id, self._now())
            self.calls.setdefault(name, []).append(call)
            stub = self.stubs.get(name)
            if stub is not None:
                stub.calls.append(call)
                return await self._stubbed(stub, args, ctx)
            real = self.real.get(name)
            if real is not None:
                return await _call(real.fn, args, ctx, real.context_parameter)
            if name not in self.missing:
                self.missing.append(name)
            raise LookupError(f"task {name!r} has no stub: add env.stub({name!r}, returns=...) or pass the task")

        run.__annotations__["ctx"] = TaskContext
        return run

    async def _stubbed(self, stub: Stub, args: tuple[Any, ...], ctx: TaskContext) -> Any:
        if stub.hangs:
            await self._hang()
        if stub.takes > 0:
            await self._sleep(stub.takes)
        if stub.effect is not None:
            return await _call(stub.effect, args, ctx, _context_parameter(stub.effect))
        if stub.raises is not None:
            raise failure(stub.raises)
        return stub.returns


def _context_parameter(fn: Callable[..., Any]) -> str | None:
    """The parameter of a side effect annotated :class:`TaskContext`, if any."""
    return TaskDefinition("effect", fn).context_parameter


async def _call(fn: Callable[..., Any], args: tuple[Any, ...], ctx: TaskContext, context: str | None) -> Any:
    kwargs = {} if context is None else {context: ctx}
    if inspect.iscoroutinefunction(fn):
        return await fn(*args, **kwargs)
    result = await anyio.to_thread.run_sync(lambda: fn(*args, **kwargs))
    if inspect.isawaitable(result):
        return await result
    return result
