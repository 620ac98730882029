"""The example workflows: their specs are snapshot-tested, the compiled files
in ``examples/specs/`` are current, the workflow modules stay free of the
runtime, and each task module implements exactly the tasks its spec names."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from wfc.compiler import compile_workflow
from wfc.dsl import Workflow
from wfc.specs import TaskNode, UserTaskNode, WorkflowSpec, dumps, loads
from wfc.testing import WorkflowSnapshot

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
SPECS = EXAMPLES / "specs"
WORKFLOW_MODULES = sorted(
    path
    for path in EXAMPLES.glob("*.py")
    if not path.stem.endswith("_tasks") and not path.stem.startswith("test_") and path.stem != "conftest"
)

COMPILE_COMMAND = "wfc compile " + " ".join(f"examples/{p.name}" for p in WORKFLOW_MODULES) + " -o examples/specs"


def import_example(path: Path) -> ModuleType:
    """Import an example file under a private name, with ``examples/`` importable."""
    if str(EXAMPLES) not in sys.path:
        sys.path.insert(0, str(EXAMPLES))
    spec = importlib.util.spec_from_file_location(f"wfc_example_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def workflow_of(path: Path) -> Workflow:
    """The one module-level :class:`Workflow` an example module defines."""
    found = [value for value in vars(import_example(path)).values() if isinstance(value, Workflow)]
    assert len(found) == 1, f"{path.name} should define exactly one Workflow, found {found}"
    return found[0]


def task_names(spec: WorkflowSpec) -> set[str]:
    """Every task a spec runs, compensations and user task reminders included."""
    names: set[str] = set()
    for thread in spec.threads.values():
        for node in thread.nodes.values():
            if isinstance(node, TaskNode):
                names.add(node.task)
                if node.compensation is not None:
                    names.add(node.compensation.task)
            if isinstance(node, UserTaskNode):
                names.update(timer.task for timer in node.timers if timer.task is not None)
    return names


by_file = pytest.mark.parametrize("path", WORKFLOW_MODULES, ids=[p.name for p in WORKFLOW_MODULES])


def test_there_are_six_examples() -> None:
    assert [p.name for p in WORKFLOW_MODULES] == [
        "card_update.py",
        "checkout.py",
        "currency_exchange.py",
        "expense_approval.py",
        "order_fulfilment.py",
        "payment.py",
    ]


@by_file
def test_compiled_spec(path: Path, wf_snapshot: WorkflowSnapshot) -> None:
    assert wf_snapshot(workflow_of(path))


@by_file
def test_specs_dir_is_up_to_date(path: Path) -> None:
    workflow = workflow_of(path)
    stored = SPECS / f"{workflow.name}.json"
    assert stored.exists(), f"{stored} is missing; run `{COMPILE_COMMAND}`"
    current = stored.read_bytes()
    recompiled = dumps(compile_workflow(workflow, previous=loads(current)))
    assert recompiled == current, f"{stored} is stale; run `{COMPILE_COMMAND}`"


def test_specs_dir_has_no_stray_files() -> None:
    names = {workflow_of(path).name for path in WORKFLOW_MODULES}
    assert sorted(p.name for p in SPECS.iterdir()) == sorted(f"{name}.json" for name in names)


def test_workflow_modules_do_not_import_the_runtime() -> None:
    code = (
        "import sys\n"
        f"sys.path.insert(0, {str(EXAMPLES)!r})\n"
        + "".join(f"import {path.stem}\n" for path in WORKFLOW_MODULES)
        + "print(sorted(m for m in sys.modules if m.startswith('wfc.runtime')))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


@by_file
def test_task_module_implements_exactly_the_spec_tasks(path: Path) -> None:
    from wfc.runtime import TaskFunction

    tasks_module = import_example(path.with_name(f"{path.stem}_tasks.py"))
    listed = tasks_module.TASKS
    assert all(isinstance(t, TaskFunction) for t in listed), f"TASKS of {path.stem}_tasks.py holds a non-task"
    defined = [value for value in vars(tasks_module).values() if isinstance(value, TaskFunction)]
    assert sorted(map(id, listed)) == sorted(map(id, defined)), "TASKS should list every @task of the module once"
    registered = [t.definition.name for t in listed]
    assert sorted(registered) == sorted(task_names(workflow_of(path).compile()))


def test_user_facing_example_test_passes() -> None:
    """``examples/test_examples_snapshot.py`` passes against its committed
    snapshots: run as a user would, without ``--snapshot-update``."""
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "examples/test_examples_snapshot.py"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "6 snapshots passed" in done.stdout


def test_user_facing_behaviour_tests_pass() -> None:
    """``examples/test_examples_behaviour.py`` (the ``wf_env`` fixture of
    wfc's pytest plugin, stubs and virtual time) passes run as a user would."""
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "examples/test_examples_behaviour.py"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert " passed" in done.stdout and "failed" not in done.stdout
