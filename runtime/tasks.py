"""Task functions: the ``@task`` decorator, their context, and running them.

A task is an ``async def`` or a plain function (run in a worker thread so it
cannot block the engine). Its positional arguments come from the spec's task
node; a parameter annotated :class:`TaskContext` is injected. Raising
:class:`TaskException` is a business failure (not retried); any other
exception is a technical error (retried per policy). The return value must be
JSON-encodable; it is stored as the node's output.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, ParamSpec, TypeVar, overload

import anyio
import msgspec

from wfc.runtime.errors import TaskDefinitionError
from wfc.runtime.interpreter import TaskPolicy
from wfc.specs import Backoff

P = ParamSpec("P")
R = TypeVar("R")


class TaskException(Exception):
    """A business failure raised by a task: not retried, handled by
    ``handle_exception`` (or ``handle_any_failure``) on the task's node.

    Args:
        name: The exception name handlers match on, e.g. ``"card-declined"``.
        message: Human-readable explanation.
        content: JSON data for the handler (its ``failure.content``).
    """

    def __init__(self, name: str, message: str = "", content: Any = None) -> None:
        if not isinstance(name, str) or not name:
            raise TypeError(
                f"TaskException needs a non-empty name, got {name!r}: TaskException('card-declined', '...')"
            )
        self.name = name
        self.message = message
        self.content = content
        super().__init__(f"{name}: {message}" if message else name)


@dataclass(frozen=True)
class TaskContext:
    """What a task attempt knows about where it runs."""

    run_id: str
    workflow: str
    task: str
    node_id: str
    """Id of the task node in the spec."""
    thread: int
    """Number of the thread run executing the node (0: the entrypoint thread)."""
    attempt: int
    """1 for the first attempt, 2 for the first retry, ..."""
    idempotency_key: str
    """The same for every attempt and every redelivery (after a crash) of this
    node run: ``run_id/thread/node_id/visit``. Use it to make side effects
    happen effectively once."""


@dataclass(frozen=True)
class TaskDefinition:
    """A registered task: its function and its own retry defaults."""

    name: str
    fn: Callable[..., Any]
    retries: int | None = None
    timeout: float | None = None
    backoff: Backoff | None = None

    @functools.cached_property
    def signature(self) -> inspect.Signature:
        """The function's signature."""
        return inspect.signature(self.fn)

    @functools.cached_property
    def context_parameter(self) -> str | None:
        """Name of the parameter annotated :class:`TaskContext`, if any."""
        try:
            hints = inspect.signature(self.fn, eval_str=True).parameters
        except (NameError, TypeError, SyntaxError):
            hints = self.signature.parameters
        for name, parameter in hints.items():
            annotation = parameter.annotation
            if annotation is TaskContext or (
                isinstance(annotation, str) and annotation.rsplit(".", 1)[-1] == "TaskContext"
            ):
                return name
        return None

    @functools.cached_property
    def is_async(self) -> bool:
        """True for ``async def`` functions."""
        return inspect.iscoroutinefunction(self.fn)

    @property
    def policy(self) -> TaskPolicy:
        """The defaults the interpreter uses when the spec leaves them unset."""
        return TaskPolicy(retries=self.retries, backoff=self.backoff, timeout=self.timeout)


class TaskFunction(Generic[P, R]):
    """What ``@task`` returns: the function, still callable directly (handy in
    unit tests), with its :attr:`definition` for ``Engine.open(tasks=...)``."""

    def __init__(self, definition: TaskDefinition, fn: Callable[P, R]) -> None:
        self.definition = definition
        self._fn = fn
        functools.update_wrapper(self, fn)

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        return self._fn(*args, **kwargs)

    def __repr__(self) -> str:
        return f"<task {self.definition.name!r} {self._fn.__qualname__}>"


def _backoff(value: Backoff | float | None, name: str) -> Backoff | None:
    if value is None or isinstance(value, Backoff):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        return Backoff(initial=float(value))
    raise TaskDefinitionError(name, f"backoff must be a wfc.specs.Backoff or seconds > 0, got {value!r}")


@overload
def task(name: Callable[P, R], /) -> TaskFunction[P, R]: ...


@overload
def task(
    name: str | None = None,
    /,
    *,
    retries: int | None = None,
    timeout: float | None = None,
    backoff: Backoff | float | None = None,
) -> Callable[[Callable[P, R]], TaskFunction[P, R]]: ...


def task(
    name: str | Callable[P, R] | None = None,
    /,
    *,
    retries: int | None = None,
    timeout: float | None = None,
    backoff: Backoff | float | None = None,
) -> TaskFunction[P, R] | Callable[[Callable[P, R]], TaskFunction[P, R]]:
    """Declare a task implementation.

    ``@task("charge-card", retries=3, timeout=30)`` or bare ``@task`` (the name
    is then the function name with ``_`` turned into ``-``).

    Args:
        name: The task name specs refer to.
        retries: Attempts after the first for technical errors, used when the
            spec's task node leaves ``retries`` at 0.
        timeout: Seconds one attempt may take, when the spec sets none.
        backoff: Delay between attempts (a :class:`~wfc.specs.Backoff`, or the
            initial delay in seconds), when the spec sets none.
    """

    def decorate(fn: Callable[P, R]) -> TaskFunction[P, R]:
        task_name = name if isinstance(name, str) else fn.__name__.replace("_", "-")
        if not task_name:
            raise TaskDefinitionError(repr(task_name), "a task name is a non-empty string: @task('charge-card')")
        if not callable(fn):
            raise TaskDefinitionError(task_name, f"@task decorates a function, got {fn!r}")
        if retries is not None and (not isinstance(retries, int) or isinstance(retries, bool) or retries < 0):
            raise TaskDefinitionError(task_name, f"retries must be an int >= 0, got {retries!r}")
        if timeout is not None and (not isinstance(timeout, int | float) or timeout <= 0):
            raise TaskDefinitionError(task_name, f"timeout must be seconds > 0, got {timeout!r}")
        definition = TaskDefinition(
            name=task_name,
            fn=fn,
            retries=retries,
            timeout=float(timeout) if timeout is not None else None,
            backoff=_backoff(backoff, task_name),
        )
        return TaskFunction(definition, fn)

    if callable(name):
        return decorate(name)
    return decorate


def task_definitions(tasks: Iterable[TaskFunction[Any, Any] | TaskDefinition]) -> dict[str, TaskDefinition]:
    """Index task functions by name.

    Raises:
        TaskDefinitionError: an item is not a ``@task`` function, or two
            different functions share a name.
    """
    found: dict[str, TaskDefinition] = {}
    for item in tasks:
        if isinstance(item, TaskFunction):
            definition = item.definition
        elif isinstance(item, TaskDefinition):
            definition = item
        else:
            label = getattr(item, "__name__", repr(item))
            raise TaskDefinitionError(
                str(label), "is not a task; decorate it with @task('name') from wfc.runtime before registering it"
            )
        existing = found.get(definition.name)
        if existing is not None and existing.fn is not definition.fn:
            raise TaskDefinitionError(
                definition.name, f"registered twice, by {_where(existing.fn)} and {_where(definition.fn)}"
            )
        found[definition.name] = definition
    return found


def _where(fn: Callable[..., Any]) -> str:
    return f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', repr(fn))}"


@dataclass(frozen=True)
class TaskOutcome:
    """The result of one attempt: an output, or a failure."""

    ok: bool
    output: Any = None
    name: str = ""
    """Error code (``TASK_ERROR``/``TIMEOUT``) or business exception name."""
    message: str = ""
    content: Any = None
    business: bool = False


_ENCODER = msgspec.json.Encoder()


def _as_json(value: Any) -> Any:
    """``value`` as plain JSON data (dataclasses, Structs, datetimes converted)."""
    return msgspec.json.decode(_ENCODER.encode(value))


async def run_task(
    definition: TaskDefinition, args: list[Any], context: TaskContext, timeout: float | None
) -> TaskOutcome:
    """Run one attempt of a task and describe how it went. Never raises for
    the task's own errors; cancellation propagates."""
    kwargs: Mapping[str, Any] = {}
    if definition.context_parameter is not None:
        kwargs = {definition.context_parameter: context}
    try:
        definition.signature.bind(*args, **kwargs)
    except TypeError as exc:
        return TaskOutcome(
            ok=False,
            name="TASK_ERROR",
            message=f"task {definition.name!r} cannot be called with the spec's {len(args)} argument(s): {exc}",
        )
    limit = timeout if timeout is not None else definition.timeout
    try:
        with anyio.move_on_after(limit) as scope:
            if definition.is_async:
                result = await definition.fn(*args, **kwargs)
            else:
                call = functools.partial(definition.fn, *args, **kwargs)
                result = await anyio.to_thread.run_sync(call, abandon_on_cancel=True)
        if scope.cancelled_caught:
            return TaskOutcome(ok=False, name="TIMEOUT", message=f"attempt took longer than {limit:g} s")
    except TaskException as exc:
        return TaskOutcome(
            ok=False, name=exc.name, message=exc.message, content=_safe_content(exc.content), business=True
        )
    except Exception as exc:
        return TaskOutcome(ok=False, name="TASK_ERROR", message=f"{type(exc).__name__}: {exc}")
    try:
        output = _as_json(result)
    except (TypeError, ValueError, msgspec.EncodeError) as exc:
        return TaskOutcome(
            ok=False,
            name="TASK_ERROR",
            message=(
                f"task {definition.name!r} returned a {type(result).__name__}, which is not JSON ({exc}); "
                f"return dicts, lists, strings, numbers, bools or None"
            ),
        )
    return TaskOutcome(ok=True, output=output)


def _safe_content(content: Any) -> Any:
    try:
        return _as_json(content)
    except (TypeError, ValueError, msgspec.EncodeError):
        return repr(content)
