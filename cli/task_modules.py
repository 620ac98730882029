"""The ``@task`` functions of the modules a command imports (``wfc run
--tasks``, ``wfc worker --tasks``), each task once: the same file imported
under two module names (given with ``--tasks`` and imported by the workflow's
module too, or given twice by two paths) holds one task, not two."""

from __future__ import annotations

from collections.abc import Sequence
from types import ModuleType
from typing import Any

from wfc.cli.errors import CliError
from wfc.cli.files import display
from wfc.runtime import TaskFunction

AnyTask = TaskFunction[Any, Any]


def tasks_in(module: ModuleType) -> list[AnyTask]:
    """The ``@task`` functions among ``module``'s globals (defined or imported there)."""
    return [value for value in vars(module).values() if isinstance(value, TaskFunction)]


def collect_tasks(modules: Sequence[tuple[ModuleType, str]]) -> tuple[AnyTask, ...]:
    """Every ``@task`` function in the modules' globals, once per name.

    Raises:
        CliError: two functions of different source share a task name.
    """
    tasks: dict[str, tuple[AnyTask, str]] = {}
    for module, label in modules:
        for value in tasks_in(module):
            name = value.definition.name
            if name not in tasks:
                tasks[name] = (value, label)
            elif _source_of(tasks[name][0]) != _source_of(value):
                first = _source_of(tasks[name][0]) or tasks[name][1]
                raise CliError(
                    f"two different @task functions are named {name!r}: {first} and "
                    f"{_source_of(value) or label}; a task name must have one implementation"
                )
    return tuple(task for task, _ in tasks.values())


def _source_of(task: AnyTask) -> str:
    """``file:line`` of a task's function: the same function imported under
    two module names is one task."""
    code = getattr(task.definition.fn, "__code__", None)
    return "" if code is None else f"{display(code.co_filename)}:{code.co_firstlineno}"
