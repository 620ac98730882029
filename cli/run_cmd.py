"""``wfc run``: deploy a workflow, start a run, follow it to the end.

The engine runs in this process on the database of ``--db``: it runs the
``@task`` functions found in the workflow module and the ``--tasks`` modules,
and resumes, while it is open, every unfinished run of that database. The run
is durable: a timeout, Ctrl-C or a crash stops the following, not the run,
which continues the next time an engine serves the database.
"""

from typing import Annotated

import typer

from wfc.cli.engine_access import DEFAULT_DB, DbOption, database_url, refuse_private_database
from wfc.cli.log_options import LogFormat, LogFormatOption
from wfc.cli.otel_option import OtelOption, tracing_for


def run_command(
    target: Annotated[
        str, typer.Argument(metavar="FILE.py|SPEC.json", help="A workflow module (or dotted name), or a spec file.")
    ],
    workflow: Annotated[
        str | None, typer.Option("--workflow", "-w", metavar="NAME", help="The workflow, if FILE defines several.")
    ] = None,
    inputs: Annotated[
        list[str] | None,
        typer.Option("--input", "-i", metavar="NAME=VALUE", help="An input, parsed by the variable's type; repeat."),
    ] = None,
    input_json: Annotated[
        str | None,
        typer.Option("--input-json", metavar="FILE", help="A JSON object of inputs ('-': stdin); --input wins."),
    ] = None,
    task_targets: Annotated[
        list[str] | None,
        typer.Option("--tasks", "-t", metavar="MODULE_OR_FILE", help="A module with @task functions; repeat."),
    ] = None,
    db: DbOption = DEFAULT_DB,
    run_id: Annotated[
        str | None,
        typer.Option(
            "--run-id",
            metavar="ID",
            help=(
                "The run's id (default: WORKFLOW-random); an existing run is followed. Inputs given with the id of "
                "an existing run must be those it started with (else exit 3)."
            ),
        ),
    ] = None,
    detach: Annotated[
        bool, typer.Option("--detach", help="Start the run, print its id and exit; run no tasks here.")
    ] = False,
    timeout: Annotated[
        float | None, typer.Option("--timeout", min=0, metavar="SECONDS", help="Stop following after SECONDS.")
    ] = None,
    otel: OtelOption = False,
    log_format: LogFormatOption = LogFormat.TEXT,
) -> None:
    """Run a workflow on the database and show its progress; exit 0 if it COMPLETED."""
    from wfc.cli.observing import setup_logs
    from wfc.cli.run_follow import Request, run_workflow  # the runtime and the compiler: only when running

    url = database_url(db)
    if detach or timeout is not None:
        refuse_private_database(url, "--detach" if detach else "--timeout")  # the run would outlive its database
    request = Request(target, task_targets or [], url, run_id, detach, timeout)
    request.tracing = tracing_for(otel)
    request.observers = setup_logs(log_format)
    raise typer.Exit(run_workflow(request, workflow, inputs or [], input_json))
