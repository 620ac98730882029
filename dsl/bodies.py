"""The user's functions that build a graph (the workflow function and the
bodies of threads, branches, loops and handlers) must be plain functions.

Checked around the call rather than by wrapping it, so nesting bodies costs
no extra Python frame against the recursion limit.
"""

from __future__ import annotations

import inspect

from wfc.dsl.errors import DslError
from wfc.dsl.source import Source, caller_source


def refuse_async(fn: object, what: str, example: str, source: Source | None = None) -> None:
    """Refuse an ``async def`` before it is called: calling it would only
    make a coroutine (recording nothing) that Python warns was never awaited."""
    if inspect.iscoroutinefunction(fn) or inspect.isasyncgenfunction(fn):
        raise _async_error(what, example, source)


def refuse_awaitable(result: object, what: str, example: str, source: Source | None = None) -> None:
    """Refuse what a body returned if it is a coroutine: an object with an
    async ``__call__`` is only found out once called."""
    if inspect.iscoroutine(result):
        result.close()  # never started: no "coroutine was never awaited" warning follows
        raise _async_error(what, example, source)
    if inspect.isasyncgen(result):
        raise _async_error(what, example, source)


def _async_error(what: str, example: str, source: Source | None) -> DslError:
    return DslError(
        f"{what} must be a plain function, not async: it builds the graph when the workflow compiles, "
        f"it does not run it (tasks may be async, the functions that build the graph may not); write {example}",
        str(source or caller_source()),
    )
