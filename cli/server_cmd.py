"""``wfc server``: serve the REST API (``/api/v1``) of a database.

With ``--tasks`` the server also runs an engine that serves the database (it
runs those tasks and fires timers, like ``wfc worker``); without, it is a
client of the database: it starts, steers and reads runs, and the work is
done by workers. Needs ``pip install 'wfc[server]'``; Starlette and uvicorn
are imported only by this command.
"""

import importlib.util
from typing import Annotated

import typer

from wfc.cli.engine_access import DEFAULT_DB, DbOption, database_url, refuse_private_database
from wfc.cli.errors import CliError
from wfc.cli.log_options import LogFormat, LogFormatOption
from wfc.cli.otel_option import OtelOption, tracing_for

#: The modules ``wfc[server]`` installs.
_EXTRA = ("starlette", "uvicorn", "prometheus_client")


def server_command(
    db: DbOption = DEFAULT_DB,
    task_targets: Annotated[
        list[str] | None,
        typer.Option(
            "--tasks", "-t", metavar="MODULE_OR_FILE",
            help="Also run these @task functions (a module or .py file; repeat); without, only serve the API.",
        ),
    ] = None,
    host: Annotated[
        str, typer.Option("--host", metavar="HOST", help="Listen on this address; other than loopback needs --token.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", "-p", min=0, max=65535, metavar="PORT", help="Listen on this port.")]
    = 8080,
    token: Annotated[
        str | None,
        typer.Option(
            "--token", envvar="WFC_SERVER_TOKEN", metavar="SECRET", show_envvar=True,
            help="Bearer token for every API request (prefer the environment variable: arguments show in ps).",
        ),
    ] = None,
    read_token: Annotated[
        str | None,
        typer.Option(
            "--read-token", envvar="WFC_SERVER_READ_TOKEN", metavar="SECRET", show_envvar=True,
            help="A second token that may only read (GET, and /metrics).",
        ),
    ] = None,
    otel: OtelOption = False,
    log_format: LogFormatOption = LogFormat.TEXT,
    retention: Annotated[
        str | None,
        typer.Option(
            "--retention", metavar="DURATION",
            help="Delete runs finished longer ago than this (30d, 12h), in small background batches; needs --tasks.",
        ),
    ] = None,
) -> None:
    """Serve the REST API of the database (/api/v1, OpenAPI at /api/v1/openapi.json) until SIGINT, SIGTERM or SIGHUP."""
    missing = [name for name in _EXTRA if importlib.util.find_spec(name) is None]
    if missing:
        raise CliError(
            f"`wfc server` needs {' and '.join(missing)}, which are not installed; install them with "
            f"pip install 'wfc[server]'"
        )
    from wfc.cli.runs_cmd import parse_duration
    from wfc.server import check_bind
    from wfc.server._serve import serve

    keep = None if retention is None else parse_duration(retention, "--retention", positive=True)
    if keep is not None and not task_targets:
        raise CliError(
            "--retention needs --tasks: only a server that also serves the database purges; or give "
            "--retention to a `wfc worker` of this database"
        )
    check_bind(host, token, read_token)
    url = database_url(db)
    refuse_private_database(url, "wfc server")
    serve(url, task_targets or [], host=host, port=port, token=token, read_token=read_token, log_format=log_format,
          tracing=tracing_for(otel), retention=keep)
