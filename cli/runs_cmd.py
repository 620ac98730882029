"""``wfc runs list|show|history``: find runs, see where one is, read its
journal. The commands that change a run are in :mod:`wfc.cli.control_cmd`.

Each command opens a reading engine on ``--db``: it runs no tasks and writes
nothing, so it can be used beside the engine that does, and on a read-only
database. ``--json`` prints one JSON document for scripts (see
:mod:`wfc.cli.json_docs`).
"""

import datetime as dt
import enum
import re
from typing import TYPE_CHECKING, Annotated

import typer

from wfc.cli import output
from wfc.cli.engine_access import DEFAULT_DB, DbOption, database_url, reader, run_async

if TYPE_CHECKING:
    from wfc.runtime import RunInfo

runs_app = typer.Typer(
    help=(
        "List runs, show where a run is, read its journal; halt, resume, cancel or retry a run; "
        "watch every run live; purge and export finished runs."
    ),
    no_args_is_help=True,
)

RunId = Annotated[str, typer.Argument(metavar="RUN_ID", help="The run's id, as `wfc runs list` shows it.")]
JsonFlag = Annotated[bool, typer.Option("--json", help="Print one JSON document instead of tables.")]



class StatusChoice(enum.StrEnum):
    """What ``--status`` accepts: the values of :class:`wfc.runtime.RunStatus`,
    in its order. Restated here so that building the command line does not
    import the runtime; a test pins that the two agree."""

    RUNNING = "RUNNING"
    HALTED = "HALTED"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    COMPENSATED = "COMPENSATED"
    CANCELLED = "CANCELLED"


_RELATIVE = re.compile(r"^(\d+(?:\.\d+)?)\s*([smhd])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_SECONDS = re.compile(r"^\d+(?:\.\d+)?$")


def parse_duration(text: str, option: str) -> float:
    """A duration in seconds: ``300`` (seconds), ``90s``, ``5m``, ``2h``, ``7d``.

    Raises:
        typer.BadParameter: not one (a usage error, exit code 2).
    """
    seconds = _duration(text)
    if seconds is None:
        raise typer.BadParameter(
            f"{text!r} is not a duration: give seconds (300) or 90s, 5m, 2h, 7d", param_hint=option
        )
    return seconds


def _duration(text: str) -> float | None:
    text = text.strip()
    if _SECONDS.match(text):
        return float(text)
    relative = _RELATIVE.match(text)
    return None if relative is None else _relative_seconds(relative)


def _relative_seconds(relative: "re.Match[str]") -> float:
    return float(relative.group(1)) * _UNITS[relative.group(2)]


def parse_moment(text: str, option: str) -> dt.datetime:
    """An ISO 8601 date/time (local time when no offset is given), or a
    duration before now: ``30m``, ``2h``, ``7d``.

    Raises:
        typer.BadParameter: neither (a usage error, exit code 2).
    """
    relative = _RELATIVE.match(text.strip())
    if relative:
        return dt.datetime.now(dt.UTC) - dt.timedelta(seconds=_relative_seconds(relative))
    try:
        moment = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise typer.BadParameter(
            f"{text!r} is neither an ISO date/time (2026-05-01 or 2026-05-01T14:00:00+02:00) nor a duration "
            f"before now (30m, 2h, 7d)",
            param_hint=option,
        ) from None
    return moment if moment.tzinfo is not None else moment.astimezone()  # naive: the user's local time


@runs_app.command("list")
def list_command(
    status: Annotated[
        list[StatusChoice] | None,
        typer.Option("--status", "-s", case_sensitive=False, help="Only runs with this status; repeat for several."),
    ] = None,
    workflow: Annotated[
        str | None, typer.Option("--workflow", "-w", metavar="NAME", help="Only this workflow.")
    ] = None,
    since: Annotated[
        str | None,
        typer.Option(
            "--since", "--started-after", metavar="WHEN", help="Started at or after: ISO time or 30m, 2h, 7d."
        ),
    ] = None,
    before: Annotated[
        str | None,
        typer.Option("--before", "--started-before", metavar="WHEN", help="Started before: ISO time or 30m, 2h, 7d."),
    ] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, help="At most this many runs, newest first.")] = 50,
    needs_attention: Annotated[
        bool,
        typer.Option(
            "--needs-attention",
            help="Only runs whose compensation failed after its retries: side effects may not be undone.",
        ),
    ] = False,
    stuck: Annotated[
        str | None,
        typer.Option(
            "--stuck",
            metavar="DURATION",
            help=(
                "Only runs stuck for longer than this (300, 5m, 2h), with why: a task attempt no live worker "
                "holds, or a timer nobody fired. Waiting for an event or sleeping is not stuck."
            ),
        ),
    ] = None,
    as_json: JsonFlag = False,
    db: DbOption = DEFAULT_DB,
) -> None:
    """List runs, newest first, with where each one is now."""
    from rich.text import Text

    from wfc.cli.json_docs import print_json
    from wfc.cli.run_views import compact_table, short_time, shown_status
    from wfc.runtime import RunStatus

    statuses = None if status is None else [RunStatus(choice.value) for choice in status]
    after = parse_moment(since, "--since") if since is not None else None
    until = parse_moment(before, "--before") if before is not None else None
    stuck_for = parse_duration(stuck, "--stuck") if stuck is not None else None
    url = database_url(db)

    async def read() -> None:
        async with reader(url) as engine:
            runs = await engine.list_runs(
                status=statuses,
                workflow=workflow,
                started_after=after,
                started_before=until,
                limit=limit,
                needs_attention=True if needs_attention else None,
                stuck_for=stuck_for,
            )
            served = await engine.serving_engines() > 0
        if as_json:
            print_json([_listed_document(info, stuck_for is not None) for info in runs])
            return
        if not runs:
            output.stdout().print("no runs match", style="dim")
            return
        last = "stuck because" if stuck_for is not None else "where"
        table = compact_table("id", "workflow", "version", "status", "started", "updated", last)
        for column in table.columns[:-1]:
            column.no_wrap = True  # ids are copied from here; only "where" wraps on a narrow terminal
        for info in runs:
            table.add_row(
                Text(info.id),
                Text(info.workflow),
                str(info.version),
                shown_status(info, served),
                short_time(info.created_at),
                short_time(info.updated_at),
                Text(_stuck_cell(info) if stuck_for is not None else _where_cell(info, served)),
            )
        output.stdout().print(table)

    run_async(read)


def _listed_document(info: "RunInfo", stuck: bool) -> dict[str, object]:
    from wfc.cli.json_docs import run_document, stuck_document

    document = run_document(info)
    if stuck:
        document["stuck"] = stuck_document(info)
    return document


def _stuck_cell(info: "RunInfo") -> str:
    return "\n".join(reason.message for reason in info.stuck)


def _where_cell(info: "RunInfo", served: bool) -> str:
    from wfc.cli.run_views import engine_wait, waits_for_engine, where_brief

    if waits_for_engine(info, served):
        return f"{engine_wait(info, short=True)}; then {where_brief(info)}"
    return where_brief(info)


@runs_app.command("show")
def show_command(run_id: RunId, as_json: JsonFlag = False, db: DbOption = DEFAULT_DB) -> None:
    """Where a run is: status, variables, output or failure, each thread and what it waits for."""
    from wfc.cli.json_docs import print_json, run_document
    from wfc.cli.run_views import run_details

    url = database_url(db)

    async def read() -> None:
        async with reader(url) as engine:
            info = await engine.get_run(run_id)
            served = await engine.serving_engines() > 0
        if as_json:
            print_json(run_document(info))
        else:
            output.stdout().print(run_details(info, served))

    run_async(read)


@runs_app.command("history")
def history_command(run_id: RunId, as_json: JsonFlag = False, db: DbOption = DEFAULT_DB) -> None:
    """A run's journal: every transition, with time, thread, node and attempt."""
    from wfc.cli.json_docs import history_document, print_json
    from wfc.cli.run_views import journal_table, local_time, thread_names

    url = database_url(db)

    async def read() -> None:
        async with reader(url) as engine:
            entries = await engine.history(run_id)
            info = await engine.get_run(run_id)
        names = thread_names(info)
        if as_json:
            print_json(history_document(entries, names))
            return
        day = local_time(info.created_at)[:10]
        title = f"journal of run {run_id} ({info.workflow} {info.version}), local times on {day}"
        output.stdout().print(journal_table(entries, names, title))

    run_async(read)
