"""The ``wfc`` command line: the typer app, global options, and the list of
commands.

To add a command, write a module with a function (or a :class:`typer.Typer`
for a group of subcommands) and add one line to :func:`_register`. Failures in
any command are reported by :class:`~wfc.cli.errors.WfcGroup`.
"""

from typing import Annotated

import typer

from wfc.cli import (
    compile_cmd,
    control_cmd,
    diff_cmd,
    event_cmd,
    graph_cmd,
    migrate_cmd,
    ops_cmd,
    output,
    replay_cmd,
    run_cmd,
    runs_cmd,
    server_cmd,
    task_change_cmd,
    tasks_cmd,
    validate_cmd,
    worker_cmd,
    workers_cmd,
)
from wfc.cli.errors import DEBUG_KEY, WfcGroup
from wfc.cli.lean_typer import defer_unused_rich

defer_unused_rich()  # before typer formats any help or usage error

app = typer.Typer(
    name="wfc",
    cls=WfcGroup,
    help="Compile workflows to versioned JSON specs, inspect them, and run them durably.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def version() -> str:
    """The installed version of wfc."""
    import importlib.metadata  # slow to import, and only --version needs it

    try:
        return importlib.metadata.version("wfc")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def _show_version(value: bool) -> None:
    if value:
        output.echo(f"wfc {version()}")
        raise typer.Exit()


@app.callback()
def _root(
    ctx: typer.Context,
    debug: Annotated[bool, typer.Option("--debug", envvar="WFC_DEBUG", help="Show tracebacks of errors.")] = False,
    show_version: Annotated[
        bool,
        typer.Option("--version", callback=_show_version, is_eager=True, help="Print the version and exit."),
    ] = False,
) -> None:
    """Compile workflows to versioned JSON specs, inspect them, and run them durably."""
    ctx.meta[DEBUG_KEY] = debug


def _register(target: typer.Typer) -> None:
    target.command("compile")(compile_cmd.compile_command)
    target.command("validate")(validate_cmd.validate_command)
    target.command("graph")(graph_cmd.graph_command)
    target.command("diff")(diff_cmd.diff_command)
    target.command("replay")(replay_cmd.replay_command)
    target.add_typer(migrate_cmd.migrate_app, name="migrate")
    target.command("run")(run_cmd.run_command)
    control_cmd.register(runs_cmd.runs_app)
    ops_cmd.register(runs_cmd.runs_app)
    target.add_typer(runs_cmd.runs_app, name="runs")
    target.add_typer(event_cmd.event_app, name="event")
    task_change_cmd.register(tasks_cmd.tasks_app)
    target.add_typer(tasks_cmd.tasks_app, name="tasks")
    target.command("worker")(worker_cmd.worker_command)
    target.command("server")(server_cmd.server_command)
    target.command("workers")(workers_cmd.workers_command)


_register(app)
