"""Helpers of engine-level tests: the example workflows compiled from
``examples/``, task functions that log their calls, and polling a run until
a condition holds. Tests that wait on durable timers use
:mod:`rtclock` (a clock that moves only when the test says so)."""

from __future__ import annotations

import functools
import importlib.util
import inspect
import sys
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from types import ModuleType
from typing import Any

import anyio

from wfc.runtime import Engine, RunInfo, TaskDefinition, TaskFunction
from wfc.specs import WorkflowSpec

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def import_example(stem: str) -> ModuleType:
    """Import ``examples/<stem>.py`` under a private name, ``examples/`` importable."""
    if str(EXAMPLES) not in sys.path:
        sys.path.insert(0, str(EXAMPLES))
    spec = importlib.util.spec_from_file_location(f"wfc_rt_example_{stem}", EXAMPLES / f"{stem}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@functools.cache
def example(stem: str) -> tuple[WorkflowSpec, tuple[TaskDefinition, ...]]:
    """The compiled spec of an example workflow and its task definitions."""
    from wfc.compiler import compile_workflow
    from wfc.dsl import Workflow

    workflow = next(v for v in vars(import_example(stem)).values() if isinstance(v, Workflow))
    tasks = import_example(f"{stem}_tasks").TASKS
    return compile_workflow(workflow), tuple(t.definition for t in tasks)


def recorded(
    tasks: Iterable[TaskFunction[Any, Any] | TaskDefinition],
    calls: list[tuple[str, list[Any]]],
    replace: dict[str, Callable[..., Any]] | None = None,
) -> list[TaskDefinition]:
    """The tasks, each appending ``(name, args)`` to ``calls`` when it runs
    (context argument left out); ``replace`` swaps in other functions by name."""
    found = []
    for item in tasks:
        definition = item.definition if isinstance(item, TaskFunction) else item
        fn = (replace or {}).get(definition.name, definition.fn)
        found.append(TaskDefinition(definition.name, _logging(definition.name, fn, calls), definition.retries,
                                    definition.timeout, definition.backoff))  # fmt: skip
    return found


def _logging(name: str, fn: Callable[..., Any], calls: list[tuple[str, list[Any]]]) -> Callable[..., Any]:
    if inspect.iscoroutinefunction(fn):

        @functools.wraps(fn)
        async def logged_async(*args: Any, **kwargs: Any) -> Any:
            calls.append((name, list(args)))
            return await fn(*args, **kwargs)

        return logged_async

    @functools.wraps(fn)
    def logged(*args: Any, **kwargs: Any) -> Any:
        calls.append((name, list(args)))
        return fn(*args, **kwargs)

    return logged


async def until(engine: Engine, run_id: str, check: Callable[[RunInfo], bool], timeout: float = 10) -> RunInfo:
    """Poll the run until ``check`` holds."""
    with anyio.fail_after(timeout):
        while True:
            info = await engine.get_run(run_id)
            if check(info):
                return info
            await anyio.sleep(0.01)


async def kinds(engine: Engine, run_id: str) -> list[str]:
    """The kinds of the run's journal entries, in order."""
    return [h.kind for h in await engine.history(run_id)]


async def start_through_a_failed_commit(engine: Engine, workflow: str, count: int) -> list[str]:
    """Start runs ``r0`` … at once; a start whose commit failed is called
    again, as its error says. The run ids, in the order their starts returned."""
    from wfc.runtime import StoreError

    run_ids: list[str] = []

    async def start(index: int) -> None:
        try:
            run_id = await engine.start(workflow, run_id=f"r{index}")
        except StoreError:  # its start was in the failed commit: "call again"
            run_id = await engine.start(workflow, run_id=f"r{index}")
        run_ids.append(run_id)

    async with anyio.create_task_group() as tg:
        for index in range(count):
            tg.start_soon(start, index)
    return run_ids


async def assert_each_step_ran_once(
    engine: Engine, run_ids: list[str], calls: Counter[tuple[str, str]], timeout: float
) -> None:
    """Every run of the two-step workflow (nodes ``a`` and ``b``, output 3)
    completed, each of its tasks ran once and each step was journaled once:
    nothing acted on a commit that failed."""
    from wfc.runtime import RunStatus

    with anyio.fail_after(timeout):
        runs = [await engine.wait(run_id) for run_id in run_ids]
    assert all(run.status is RunStatus.COMPLETED and run.output == 3 for run in runs)
    assert calls == Counter({(run_id, node): 1 for run_id in run_ids for node in ("a", "b")})
    for run_id in run_ids:
        history = await engine.history(run_id)
        assert [h.seq for h in history] == list(range(1, len(history) + 1))
        assert Counter(h.kind for h in history)["TASK_COMPLETED"] == 2
