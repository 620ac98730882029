"""A workflow with a user task for the tests of ``wfc tasks``: a review by a
person (a variable, maybe empty) of the group ``support``, whose values are
the run's output; and reading the database back through an engine."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import anyio

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "runtime"))

from rtspec import exit_, field, form, out, spec, user_task, var, variable

from wfc.runtime import Engine, RunInfo, UserTask
from wfc.specs import WorkflowSpec

REVIEW_FORM = form(
    "review",
    field("approved", "bool", display_name="Approve?", description="Whether the order may ship"),
    field("amount", "float", display_name="Amount (EUR)"),
    field("note", "str", required=False),
)


def review_spec(group: str | None = "support") -> WorkflowSpec:
    """``review`` (a user task for ``reviewer``, or group ``support``), then
    exit with its values as the run's output."""
    return spec(
        "review",
        [
            ("review", user_task("review", user=var("reviewer"), group=group, notes="Check order o-1")),
            ("done", exit_(out("review"))),
        ],
        variables={"reviewer": variable("str")},
        forms=[REVIEW_FORM],
    )


def start_reviews(url: str, runs: dict[str, str | None], spec_: WorkflowSpec | None = None) -> dict[str, str]:
    """Deploy the review workflow on ``url`` and start one run per id with
    its reviewer (``None``: the group's); the id of each run's user task."""

    async def main() -> dict[str, str]:
        async with Engine.open(url, serve=False) as engine:
            await engine.deploy(spec_ or review_spec())
            for run_id, reviewer in runs.items():
                await engine.start("review", {} if reviewer is None else {"reviewer": reviewer}, run_id=run_id)
            ids: dict[str, str] = {}
            for run_id in runs:
                tasks = await engine.list_user_tasks(run_id=run_id)
                assert len(tasks) == 1, tasks
                ids[run_id] = tasks[0].id
            return ids

    return anyio.run(main)


def stored(url: str, task_id: str) -> UserTask:
    """The user task as the database holds it, with its audit trail."""

    async def main() -> UserTask:
        async with Engine.open(url, serve=False) as engine:
            return await engine.get_user_task(task_id)

    return anyio.run(main)


def stored_run(url: str, run_id: str) -> RunInfo:
    """The run as the database holds it."""

    async def main() -> RunInfo:
        async with Engine.open(url, serve=False) as engine:
            return await engine.get_run(run_id)

    return anyio.run(main)


def audit_kinds(task: UserTask) -> list[tuple[str, Any]]:
    """``(kind, by)`` of each audit entry."""
    return [(entry.kind, entry.detail.get("by")) for entry in task.audit]
