"""Task functions: the ``@task`` decorator, their context, and running them.

A task is an ``async def`` or a plain function (run in a daemon thread of
its own so it cannot block the engine, nor keep the process alive when it
hangs past its timeout). Its positional arguments come from the spec's task
node; a parameter annotated :class:`TaskContext` is injected. Raising
:class:`TaskException` is a business failure (not retried); any other
exception is a technical error (retried per policy). The return value must be
JSON data the stores can hold (see :func:`storable`); it is stored as the
node's output.

Nothing a task does can take the engine down: :func:`run_task` turns every
exception (``SystemExit`` and ``KeyboardInterrupt`` included), every value
that cannot be stored and every timeout into the failure of that attempt.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import inspect
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, ParamSpec, Protocol, TypeVar, overload, runtime_checkable

import anyio
import anyio.from_thread
import anyio.lowlevel
import anyio.to_thread
import msgspec

from wfc.runtime.errors import TaskDefinitionError
from wfc.runtime.interpreter import TaskPolicy
from wfc.specs import Backoff, duration_problem, json_problems
from wfc.specs.errors import _rebuild

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

    def __reduce__(self) -> tuple[object, ...]:
        # Like every wfc error: rebuilt from the message, attributes restored
        # (the default would call __init__ with the message as the name).
        return (_rebuild, (type(self), self.args), self.__dict__ or None)


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
    def _call_problems(self) -> dict[int, str | None]:
        return {}

    def call_problem(self, count: int) -> str | None:
        """Why the function cannot be called with ``count`` positional
        arguments (and its context), or ``None``. Binding depends on the
        count only, so it is worked out once per count, not per attempt."""
        known = self._call_problems
        if count not in known:
            kwargs = {} if self.context_parameter is None else {self.context_parameter: None}
            try:
                self.signature.bind(*([None] * count), **kwargs)
                known[count] = None
            except TypeError as exc:
                known[count] = str(exc)
        return known[count]

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
            spec's task node leaves ``retries`` unset (``null``); a spec's ``0`` means no retries.
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
        if timeout is not None and (not isinstance(timeout, int | float) or isinstance(timeout, bool) or timeout <= 0):
            raise TaskDefinitionError(task_name, f"timeout must be seconds > 0, got {timeout!r}")
        too_long = duration_problem(timeout) if timeout is not None else None
        if too_long is not None:
            raise TaskDefinitionError(task_name, f"timeout={timeout!r}: {too_long}")
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


# ---------------------------------------------------------------------- what a task may hand back

OUTPUT_LIMIT = 1024 * 1024
"""Most bytes a task output, or the ``content`` of a :class:`TaskException`,
may take encoded as JSON (1 MiB). Larger values belong in a blob store; pass
their key through the workflow instead."""

MESSAGE_LIMIT = 4000
"""Most characters of a failure message kept in the journal; the rest is cut."""

_ENCODER = msgspec.json.Encoder()


class NotStorable(ValueError):
    """A value a task handed back cannot be stored as a run's data."""


def storable(value: Any) -> Any:
    """``value`` as plain JSON data that every store holds unchanged.

    Dataclasses, Structs, datetimes and the like are converted the way
    ``msgspec`` encodes them, tuples to arrays, and subclasses of ``str``,
    ``int`` and ``float`` to their base values. Refused: what JSON has no form for (objects of
    other types, NaN and ±Infinity, text with lone surrogates), integers past
    64 bits, nesting too deep to encode, and values over :data:`OUTPUT_LIMIT`
    bytes encoded.

    Raises:
        NotStorable: why ``value`` cannot be stored, naming the ``$.`` path of
            the offending part when there is one.
    """
    try:
        plain = msgspec.to_builtins(value, str_keys=True, enc_hook=_base_value)
        encoded = _ENCODER.encode(plain)
    except RecursionError:
        raise NotStorable("it is nested too deeply to encode as JSON") from None
    except UnicodeEncodeError:
        found = json_problems(plain)
        raise NotStorable(str(found[0]) if found else "it holds text with a lone surrogate") from None
    except (TypeError, ValueError, msgspec.EncodeError) as exc:
        raise NotStorable(f"it is not JSON: {exc}; use JSON data, a dataclass or a msgspec Struct") from None
    if len(encoded) > OUTPUT_LIMIT:
        raise NotStorable(
            f"it is {len(encoded):,} bytes as JSON, over the limit of {OUTPUT_LIMIT:,} bytes (1 MiB); "
            f"keep large data elsewhere and return a reference to it"
        )
    problems = json_problems(plain, sequences=(list, tuple))  # to_builtins keeps tuples; JSON has them as arrays
    if problems:
        raise NotStorable(str(problems[0]))
    return msgspec.json.decode(encoded)


def _base_value(value: object) -> object:
    """A subclass of ``str``, ``int`` or ``float`` (a name type, a unit type)
    as its base value, as JSON holds it; anything else msgspec does not know
    stays refused."""
    for base in (str, int, float):
        if isinstance(value, base):
            return base(value)
    raise TypeError(f"a Python {type(value).__name__} has no JSON form")


def storable_text(text: str, limit: int = MESSAGE_LIMIT) -> str:
    """``text`` made safe to store: lone surrogates escaped, NUL characters
    (which PostgreSQL text refuses) shown as ``\\x00``, cut to ``limit``
    characters."""
    safe = text.encode("utf-8", "backslashreplace").decode("utf-8").replace("\x00", "\\x00")
    if len(safe) > limit:
        safe = f"{safe[:limit]}… ({len(safe) - limit:,} more characters cut)"
    return safe


# ---------------------------------------------------------------------- running an attempt

#: Makes the cancel scope that ends an attempt after its timeout (seconds).
Deadline = Callable[[float], anyio.CancelScope]


@runtime_checkable
class TimeoutClock(Protocol):
    """A clock given to ``Engine.open(clock=...)`` that also measures task
    attempt timeouts (:class:`wfc.testing.VirtualClock`): without it an
    attempt's timeout passes in real time, whatever the clock says."""

    def __call__(self) -> float:
        """Now, in epoch seconds."""

    def move_on_after(self, seconds: float) -> anyio.CancelScope:
        """A cancel scope cancelled once ``seconds`` passed by this clock."""


def deadline_of(clock: Callable[[], float]) -> Deadline:
    """How attempts run on ``clock`` time out: by the clock itself when it
    can (a :class:`TimeoutClock`), else in real time."""
    return clock.move_on_after if isinstance(clock, TimeoutClock) else anyio.move_on_after


async def run_task(
    definition: TaskDefinition,
    args: list[Any],
    context: TaskContext,
    timeout: float | None,
    deadline: Deadline = anyio.move_on_after,
) -> TaskOutcome:
    """Run one attempt of a task and describe how it went.

    This is the one place where task code runs, so it is the one guard
    around it: whatever the task does (raise anything, ``SystemExit`` and
    ``KeyboardInterrupt`` included, exceptions that cannot even be printed,
    values that cannot be stored, hanging past its timeout) becomes the
    outcome of this attempt. Only the cancellation of the caller (the engine
    closing, or the attempt abandoned) propagates.
    """
    try:
        return await _attempt(definition, args, context, timeout, deadline)
    except BaseException as exc:
        # Raises again if this attempt is being cancelled (the engine closes,
        # the run no longer wants the attempt); anything else came from the task.
        if isinstance(exc, asyncio.CancelledError) and _being_cancelled():
            raise
        await anyio.lowlevel.checkpoint_if_cancelled()
        return _raised(definition, exc)


def _being_cancelled() -> bool:
    """True when the current task was cancelled directly (``Task.cancel``)."""
    current = asyncio.current_task()
    return current is not None and current.cancelling() > 0


async def _attempt(
    definition: TaskDefinition, args: list[Any], context: TaskContext, timeout: float | None, deadline: Deadline
) -> TaskOutcome:
    kwargs: Mapping[str, Any] = {}
    if definition.context_parameter is not None:
        kwargs = {definition.context_parameter: context}
    problem = definition.call_problem(len(args))
    if problem is not None:
        return TaskOutcome(
            ok=False,
            name="TASK_ERROR",
            message=f"task {definition.name!r} cannot be called with the spec's {len(args)} argument(s): {problem}",
        )
    limit = timeout if timeout is not None else definition.timeout
    try:
        if limit is None:  # no cancel scope for an attempt that has no deadline
            return _output(definition, await _call(definition, args, kwargs))
        with deadline(limit) as scope:
            result = await _call(definition, args, kwargs)
    except TaskException as exc:
        return _business(definition, exc)
    if scope.cancelled_caught:
        return TaskOutcome(ok=False, name="TIMEOUT", message=f"attempt took longer than {limit:g} s")
    return _output(definition, result)


async def _call(definition: TaskDefinition, args: list[Any], kwargs: Mapping[str, Any]) -> Any:
    if definition.is_async:
        return await definition.fn(*args, **kwargs)
    call = functools.partial(definition.fn, *args, **kwargs)
    return await _in_daemon_thread(call, definition.name)


async def _in_daemon_thread(call: Callable[[], Any], name: str) -> Any:
    """Run a sync task in a thread of its own, at most as many at once as
    anyio's default thread limiter allows.

    A daemon thread, unlike anyio's worker threads: an attempt abandoned
    after its timeout may hang for ever, and must not keep the process from
    exiting once the engine is done (its node is delivered again, with the
    same idempotency key, if its run still needs it).
    """
    token = anyio.lowlevel.current_token()
    send, receive = anyio.create_memory_object_stream[tuple[bool, Any]](1)
    context = contextvars.copy_context()

    def work() -> None:
        try:
            result: tuple[bool, Any] = (True, context.run(call))
        except BaseException as exc:  # handed to the event loop, where run_task describes it
            result = (False, exc)
        # Timed out, or the engine is gone: then nobody wants the result.
        with contextlib.suppress(Exception):
            anyio.from_thread.run_sync(send.send_nowait, result, token=token)

    async with anyio.to_thread.current_default_thread_limiter(), receive:
        threading.Thread(target=work, name=f"wfc task {name}", daemon=True).start()
        ok, value = await receive.receive()
    if not ok:
        raise value
    return value


def _output(definition: TaskDefinition, result: Any) -> TaskOutcome:
    try:
        return TaskOutcome(ok=True, output=storable(result))
    except NotStorable as problem:
        return _task_error(
            f"task {definition.name!r} returned a {type(result).__name__}, which is not JSON it can store: "
            f"{problem}; return dicts, lists, strings, finite numbers, bools or None"
        )


def _business(definition: TaskDefinition, exc: TaskException) -> TaskOutcome:
    """A :class:`TaskException`, or a ``TASK_ERROR`` when the task built one
    whose parts cannot be stored (a bug in the task, so it is technical)."""
    name, message = getattr(exc, "name", None), getattr(exc, "message", None)
    where = f"task {definition.name!r} raised a TaskException"
    if not isinstance(name, str) or not name:
        return _task_error(f"{where} whose name is a {type(name).__name__}, not a non-empty str")
    if not isinstance(message, str):
        return _task_error(f"{where} ({name!r}) whose message is a {type(message).__name__}, not a str")
    try:
        content = storable(getattr(exc, "content", None))
    except NotStorable as problem:
        return _task_error(f"{where} ({name!r}) whose content cannot be stored: {problem}")
    return TaskOutcome(
        ok=False, name=storable_text(name, 200), message=storable_text(message), content=content, business=True
    )


def _raised(definition: TaskDefinition, exc: BaseException) -> TaskOutcome:
    """A technical failure for anything else the task raised."""
    kind = type(exc).__name__
    if isinstance(exc, SystemExit | KeyboardInterrupt):
        return _task_error(
            f"task {definition.name!r} raised {kind}({_text_of(exc)}); a task cannot stop the engine: "
            f"raise an exception (or TaskException for a business failure) instead"
        )
    return _task_error(f"{kind}: {_text_of(exc)}")


def _task_error(message: str) -> TaskOutcome:
    return TaskOutcome(ok=False, name="TASK_ERROR", message=storable_text(message))


def _text_of(exc: BaseException) -> str:
    """``str(exc)``, or what can be said when the exception cannot print itself."""
    try:
        return str(exc)
    except BaseException as first:  # its __str__ is the task's code
        try:
            return f"{exc!r} (its __str__ raised {type(first).__name__})"
        except BaseException:  # and so is its __repr__
            return f"<unprintable {type(exc).__name__}: its __str__ and __repr__ raise>"
