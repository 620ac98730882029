"""What ``wfc run`` runs: a workflow module or a spec file, and the ``@task``
functions that implement its tasks.

A workflow module is imported (see :mod:`wfc.cli.loading`) and its workflow
compiled; the ``@task`` functions are collected from its globals and from
every ``--tasks`` module. A spec file is read as it is.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from wfc.cli import output
from wfc.cli.errors import CliError
from wfc.cli.files import display, read_spec
from wfc.cli.loading import import_target
from wfc.cli.locate import raised_in_user_code, user_frame, where
from wfc.cli.task_modules import AnyTask, collect_tasks, tasks_in
from wfc.compiler import CompileWarning, compile_workflow
from wfc.dsl import Workflow
from wfc.runtime import MissingTasksError
from wfc.specs import WfcError, WorkflowSpec


@dataclass(frozen=True)
class Source:
    """A workflow to run and the tasks found for it."""

    label: str
    """The file or module as the user named it, for messages."""
    spec: WorkflowSpec
    """The spec: read from the file, or compiled (as version 1.0)."""
    workflow: Workflow | None
    """The DSL workflow, when the source is a module."""
    tasks: tuple[AnyTask, ...]
    searched: tuple[str, ...]
    """The modules searched for ``@task`` functions."""
    task_modules: tuple[str, ...] = ()
    """Those of them that define one or more (what ``wfc worker --tasks`` takes)."""

    def versioned(self, previous: WorkflowSpec | None) -> WorkflowSpec:
        """The spec to deploy: a module's workflow compiled against the latest
        deployed version (so a changed workflow gets a new version instead of
        clashing with the stored one); a spec file as it is."""
        if self.workflow is None or previous is None:
            return self.spec
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", CompileWarning)  # shown by the first compile
            return compile_workflow(self.workflow, previous=previous)

    def missing_tasks(self, exc: MissingTasksError) -> CliError:
        """A :class:`MissingTasksError` reworded for the command line."""
        searched = ", ".join(self.searched) if self.searched else self.label
        hint = "pass the module or file that defines them with --tasks MODULE_OR_FILE"
        sibling = _tasks_sibling(self.label)
        if sibling is not None and sibling not in self.searched:
            hint += f", e.g. --tasks {sibling}"
        return CliError(
            f"workflow {exc.workflow!r} uses tasks that no @task function in {searched} implements: "
            f"{', '.join(exc.missing)}; {hint}"
        )


def load_source(target: str, workflow: str | None, task_targets: Sequence[str]) -> Source:
    """Load ``target`` (a ``.py`` file, a dotted module name or a ``.json``
    spec) and the ``--tasks`` modules.

    Raises:
        CliError: nothing to run, an ambiguous or unknown ``--workflow``, a
            module that does not import, two different tasks with one name.
    """
    modules: list[tuple[ModuleType, str]] = []
    if target.endswith(".json"):
        spec = read_spec(Path(target))
        label = display(target)
        if workflow is not None and workflow != spec.name:
            raise CliError(f"{label} holds workflow {spec.name!r}, not {workflow!r}; drop --workflow or fix the name")
        found: Workflow | None = None
    else:
        module, label = import_target(target)
        modules.append((module, label))
        found = _pick_workflow(module, label, workflow)
        spec = _compile(found, label)
    modules.extend(import_target(extra) for extra in task_targets)
    return Source(
        label=label,
        spec=spec,
        workflow=found,
        tasks=collect_tasks(modules),
        searched=tuple(name for _, name in modules),
        task_modules=tuple(dict.fromkeys(name for module, name in modules if tasks_in(module))),
    )


def _pick_workflow(module: ModuleType, label: str, wanted: str | None) -> Workflow:
    workflows: dict[str, Workflow] = {}
    for value in vars(module).values():
        if isinstance(value, Workflow):
            workflows.setdefault(value.name, value)
    if not workflows:
        raise CliError(
            f"no workflow found in {label}: no module-level Workflow object; define one, e.g. "
            f'`checkout_wf = Workflow("checkout", checkout)` with `from wfc.dsl import Workflow`'
        )
    names = ", ".join(sorted(workflows))
    if wanted is not None:
        if wanted not in workflows:
            raise CliError(f"{label} has no workflow named {wanted!r}; it defines {names}")
        return workflows[wanted]
    if len(workflows) > 1:
        raise CliError(f"{label} defines {len(workflows)} workflows ({names}); choose one with --workflow NAME")
    return next(iter(workflows.values()))


def _compile(workflow: Workflow, label: str) -> WorkflowSpec:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", CompileWarning)
        try:
            spec = compile_workflow(workflow)
        except WfcError:
            raise
        except Exception as exc:
            frame = user_frame(exc)
            if not raised_in_user_code(exc) or frame is None:
                raise
            raise CliError(
                f"{where(frame)}: compiling workflow {workflow.name!r} of {label} failed: {type(exc).__name__}: {exc}"
            ) from exc
    for warning in caught:
        output.print_warning(f"{workflow.name}: {warning.message}")
    return spec


def _tasks_sibling(label: str) -> str | None:
    """``x_tasks.py`` beside ``x.py``, when there is one, for hints."""
    path = Path(label)
    if path.suffix != ".py":
        return None
    sibling = path.with_name(f"{path.stem}_tasks.py")
    return str(sibling) if sibling.exists() else None
