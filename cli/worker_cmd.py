"""``wfc worker``: run task attempts for a database shared by many processes.

A worker imports the ``--tasks`` modules, registers every ``@task`` function
found in their globals, and serves the database: it claims the attempts of
those tasks (only those), at most ``--concurrency`` at once, advances their
runs, fires due timers and takes over the work of workers that died. Any
number of workers on any number of machines can serve one PostgreSQL
database; clients start runs (``wfc run --detach``).

It shows what it does: on a terminal a status line (claimed, completed and
failed attempts per second), elsewhere a plain line every ``--stats-every``
seconds. SIGINT, SIGTERM or SIGHUP stops it cleanly: it takes no new work, lets the
running attempts finish for up to ``--grace`` seconds, releases the rest to
the other workers, and exits 0. A second signal releases at once.
"""

from typing import Annotated

import typer

from wfc.cli.engine_access import DEFAULT_DB, DbOption, database_url, refuse_private_database
from wfc.cli.log_options import LogFormat, LogFormatOption
from wfc.cli.otel_option import OtelOption, tracing_for


def _seconds(param: typer.CallbackParam, value: float) -> float:
    """Refuse a number of seconds no timer can wait: ``inf`` (or ``1e400``,
    which reads as it), NaN, or more than a hundred years. The ``min=`` of
    each option only bounds it below, and infinity passes that."""
    from wfc.specs.limits import duration_problem

    problem = duration_problem(value)  # NaN too; typer's min= check refuses it first
    if problem is not None:
        default = param.default if isinstance(param.default, float) else 10.0
        raise typer.BadParameter(f"{problem}, e.g. {param.opts[0]} {default:g}")
    return value


def worker_command(
    task_targets: Annotated[
        list[str],
        typer.Option(
            "--tasks", "-t", metavar="MODULE_OR_FILE", help="A module or .py file with @task functions; repeat."
        ),
    ],
    db: DbOption = DEFAULT_DB,
    concurrency: Annotated[
        int, typer.Option("--concurrency", "-c", min=1, metavar="N", help="Most task attempts running at once.")
    ] = 100,
    grace: Annotated[
        float,
        typer.Option("--grace", callback=_seconds, min=0, metavar="SECONDS",
                     help="On SIGINT/SIGTERM/SIGHUP, time to finish running attempts."),
    ] = 10.0,
    lease: Annotated[
        float,
        typer.Option("--lease", callback=_seconds, min=1, metavar="SECONDS",
                     help="How soon others take over if this worker vanishes."),
    ] = 30.0,
    poll: Annotated[
        float,
        typer.Option("--poll", callback=_seconds, min=0.01, metavar="SECONDS",
                     help="Look for work at least this often."),
    ] = 1.0,
    stats_every: Annotated[
        float,
        typer.Option("--stats-every", callback=_seconds, min=0.1, metavar="SECONDS",
                     help="Interval of the plain stats lines (no TTY)."),
    ] = 10.0,
    otel: OtelOption = False,
    log_format: LogFormatOption = LogFormat.TEXT,
    metrics_port: Annotated[
        int | None,
        typer.Option(
            "--metrics-port", min=0, max=65535, metavar="PORT",
            help="Serve Prometheus metrics at http://HOST:PORT/metrics (0: any free port, shown at start).",
        ),
    ] = None,
    metrics_host: Annotated[
        str,
        typer.Option("--metrics-host", metavar="HOST", help="Address of --metrics-port; other than loopback needs "
                     "--metrics-token."),
    ] = "127.0.0.1",
    metrics_token: Annotated[
        str | None,
        typer.Option(
            "--metrics-token", envvar="WFC_METRICS_TOKEN", metavar="SECRET", show_envvar=True,
            help="Bearer token every scrape of --metrics-port must send (prefer the environment variable).",
        ),
    ] = None,
    retention: Annotated[
        str | None,
        typer.Option(
            "--retention", metavar="DURATION",
            help="Delete runs finished longer ago than this (30d, 12h), in small background batches.",
        ),
    ] = None,
) -> None:
    """Run task attempts for every run on the database until SIGINT, SIGTERM or SIGHUP."""
    from wfc.cli.runs_cmd import parse_duration
    from wfc.cli.worker_serve import MetricsOptions, serve  # the runtime, anyio and rich.live: only when serving

    if metrics_port is None and metrics_host != "127.0.0.1":
        from wfc.cli.errors import CliError

        raise CliError("--metrics-host needs --metrics-port: give the port to serve the metrics on")
    exposed = None if metrics_port is None else MetricsOptions(metrics_port, metrics_host, metrics_token)
    keep = None if retention is None else parse_duration(retention, "--retention", positive=True)
    url = database_url(db)
    refuse_private_database(url, "wfc worker")
    serve(url, task_targets, concurrency=concurrency, grace=grace, lease=lease, poll=poll, stats_every=stats_every,
          log_format=log_format, metrics_options=exposed, tracing=tracing_for(otel), retention=keep)
    raise typer.Exit(0)
