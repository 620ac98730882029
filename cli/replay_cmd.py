"""``wfc replay``: would a new spec version have taken recorded runs down the
same path? Each run's journal is replayed offline against the spec (see
:mod:`wfc.runtime.replay`); nothing is written and no task runs, so a CI step
can check sampled production runs before deploying.

Exit codes: 0 every run is compatible; :data:`DIVERGED` some run diverges;
1 a bad input (no such run or database, an unreadable spec, a spec of
another workflow); 2 a usage error.
"""

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from wfc.cli import output
from wfc.cli.engine_access import DEFAULT_DB, DbOption, database_url, reader, run_reading
from wfc.cli.errors import CliError

if TYPE_CHECKING:
    from wfc.runtime.replay import ReplayReport

#: Exit code when at least one replayed run diverges from the new spec.
DIVERGED = 4


def replay_command(
    spec_file: Annotated[
        Path, typer.Option("--spec", metavar="NEW.json", help="The spec version to replay the runs against.")
    ],
    run_ids: Annotated[
        list[str] | None,
        typer.Argument(metavar="RUN_ID", help="Runs to replay, as `wfc runs list` shows them."),
    ] = None,
    sample: Annotated[
        int | None,
        typer.Option("--sample", metavar="N", min=1, help="Also replay the N newest runs of --workflow."),
    ] = None,
    workflow: Annotated[
        str | None, typer.Option("--workflow", "-w", metavar="NAME", help="The workflow --sample picks runs of.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON document instead of text.")] = False,
    db: DbOption = DEFAULT_DB,
) -> None:
    """Replay recorded runs against another spec version and report the first divergence of each, or compatible.

    Exit code 0 when every run is compatible, 4 when one diverges, 1 for a bad input.
    """
    from wfc.cli.exiting import leave
    from wfc.cli.files import read_spec

    wanted = list(run_ids or [])
    if sample is not None and workflow is None:
        raise typer.BadParameter(
            "--sample needs --workflow NAME: the workflow to sample runs of", param_hint="--sample"
        )
    if not wanted and sample is None:
        raise typer.BadParameter("give RUN_ID(s), or --sample N --workflow NAME", param_hint="RUN_ID")
    spec = read_spec(spec_file)
    if workflow is not None and workflow != spec.name:
        raise CliError(f"{spec_file} is a spec of workflow {spec.name!r}, not of {workflow!r}")
    url = database_url(db)

    async def check() -> list["ReplayReport"]:
        from wfc.runtime.errors import UsageError
        from wfc.runtime.replay import replay_stored

        async with reader(url) as found:
            if sample is not None:
                page = await found.list_runs_page(workflow=workflow, limit=sample)
                wanted.extend(run.id for run in page.runs if run.id not in wanted)
            reports = []
            for run_id in wanted:
                try:
                    reports.append(await replay_stored(found, run_id, spec))
                except UsageError as exc:
                    raise CliError(str(exc)) from None
            return reports

    reports = run_reading(check)
    if as_json:
        from wfc.cli.json_docs import print_json

        print_json(replay_document(reports, str(spec.version)))
    else:
        _print(reports, spec.name, str(spec.version))
    leave(DIVERGED if any(not r.compatible for r in reports) else 0)


def replay_document(reports: list["ReplayReport"], version: str) -> dict[str, Any]:
    """The replays as one JSON document."""
    return {
        "spec_version": version,
        "compatible": all(r.compatible for r in reports),
        "runs": [
            {
                "run_id": r.run_id,
                "workflow": r.workflow,
                "recorded_version": r.recorded_version,
                "status": r.status,
                "outcome": r.outcome,
                "entries": r.entries,
                "steps": r.steps,
                "divergence": None if r.divergence is None else {
                    "seq": r.divergence.seq, "step_seq": r.divergence.step_seq, "input": r.divergence.input,
                    "thread": r.divergence.thread, "node": r.divergence.node, "recorded": r.divergence.recorded,
                    "replayed": r.divergence.replayed, "reason": r.divergence.reason,
                },
            }
            for r in reports
        ],
    }  # fmt: skip


def _print(reports: list["ReplayReport"], workflow: str, version: str) -> None:
    from rich.text import Text

    console = output.stdout()
    if not reports:
        console.print(Text(f"no runs of {workflow} to replay"))
    for r in reports:
        head = f"run {r.run_id} ({workflow} {r.recorded_version}, {r.status}) against {version}: "
        if r.divergence is None:
            steps = f"{r.steps} step{'' if r.steps == 1 else 's'}"
            console.print(Text(head + f"compatible ({r.entries} journal entries, {steps} replayed)"), soft_wrap=True)
            continue
        d = r.divergence
        where = f"node {d.node}" if d.node else "the run"
        # One line each, never wrapped: a CI log is read with grep.
        console.print(Text(head + f"diverges at journal entry #{d.seq}, {where} (thread {d.thread})"), soft_wrap=True)
        console.print(Text(f"  input: {d.input} (the step from entry #{d.step_seq})"), soft_wrap=True)
        console.print(Text(f"  {d.reason}"), soft_wrap=True)
    diverged = sum(1 for r in reports if not r.compatible)
    if len(reports) > 1:
        verb = "diverges" if diverged == 1 else "diverge"
        console.print(Text(f"{len(reports) - diverged} of {len(reports)} runs compatible, {diverged} {verb}"))
