"""``wfc runs list|show|history``: find runs, see where one is, read its
journal. The commands that change a run are in :mod:`wfc.cli.control_cmd`.

Each command reads ``--db`` the way an engine reads it, without starting
one (:func:`~wfc.cli.engine_access.reader`): it runs no tasks and writes
nothing, so it can be used beside the engine that does, and on a read-only
database. ``--json`` prints one JSON document for scripts (see
:mod:`wfc.cli.json_docs`).
"""

import datetime as dt
import enum
import math
import re
from typing import TYPE_CHECKING, Annotated

import typer

from wfc.cli import output
from wfc.cli.engine_access import DEFAULT_DB, DbOption, database_url, reader, run_reading

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


def parse_duration(text: str, option: str, *, positive: bool = False) -> float:
    """A duration in seconds: ``300`` (seconds), ``90s``, ``5m``, ``2h``,
    ``7d``; more than zero when ``positive``. The one reading of durations
    of the CLI (``--stuck``, ``--retention``) and of the API.

    Raises:
        typer.BadParameter: not one (a usage error, exit code 2).
    """
    text = text.strip()
    seconds = float(text) if _SECONDS.match(text) else _before_now(text)
    if seconds is None or (positive and seconds <= 0):
        least = "a positive number" if positive else "seconds (300) or a number"
        raise typer.BadParameter(
            f"{text!r} is not a duration: give {least} with a unit, s, m, h or d (90s, 5m, 12h, 30d)",
            param_hint=option,
        )
    if not math.isfinite(seconds):  # hundreds of digits: float() gives inf, not an error
        raise typer.BadParameter(
            f"{text!r} is too long a duration: give one such as 90s, 5m, 12h or 30d", param_hint=option
        )
    return seconds


def _before_now(text: str) -> float | None:
    """Seconds of ``30s``, ``30m``, ``2h``, ``7d`` (a unit is needed: a bare
    number is no moment); ``None`` when ``text`` is not one."""
    relative = _RELATIVE.match(text.strip())
    return None if relative is None else float(relative.group(1)) * _UNITS[relative.group(2)]


#: The moments :func:`parse_moment` accepts, in UTC: what the engine stores
#: (years 1 to 9999, :data:`~wfc.specs.limits.MIN_EPOCH_SECONDS` ..
#: :data:`~wfc.specs.limits.MAX_EPOCH_SECONDS`), such as 9999-12-31 for "no
#: upper bound". (Shown in a time zone past either end, a moment is shown in
#: UTC: see :func:`~wfc.cli.run_views.local_time`.)
_EARLIEST = dt.datetime(1, 1, 1, tzinfo=dt.UTC)
_LATEST = dt.datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=dt.UTC)
_RANGE = f"from {_EARLIEST.date().isoformat()} to {_LATEST.date().isoformat()} (UTC)"


def parse_moment(text: str, option: str, *, zone: dt.tzinfo | None = None) -> dt.datetime:
    """An ISO 8601 date/time, or a duration before now: ``30m``, ``2h``,
    ``7d``; from 0001-01-01 to 9999-12-31 (UTC), both days included. A
    date/time without an offset is in ``zone``; ``None``: the local time.

    Raises:
        typer.BadParameter: neither, or out of that range (a usage error,
            exit code 2).
    """
    seconds = _before_now(text)
    if seconds is not None:
        return _ago(seconds, text, option)
    try:
        given = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise typer.BadParameter(
            f"{text!r} is neither an ISO date/time (2026-05-01 or 2026-05-01T14:00:00+02:00) nor a duration "
            f"before now (30m, 2h, 7d)",
            param_hint=option,
        ) from None
    moment = _aware(given, zone)
    if not _in_range(moment):
        local = " (read as local time, having no offset)" if given.tzinfo is None and zone is None else ""
        raise typer.BadParameter(f"{text!r} is out of range{local}: give a date/time {_RANGE}", param_hint=option)
    return moment


def _aware(moment: dt.datetime, zone: dt.tzinfo | None) -> dt.datetime:
    """``moment`` with an offset: its own, else ``zone``'s, else the local time's."""
    if moment.tzinfo is not None:
        return moment
    if zone is not None:
        return moment.replace(tzinfo=zone)
    try:
        return moment.astimezone()
    except (OverflowError, ValueError):
        # astimezone() looks at the day before and after a naive moment,
        # past the datetime range on 0001-01-01 and 9999-12-31; a zone's
        # offset a couple of days inward is the one it has on those days.
        inward = moment + dt.timedelta(days=2) if moment.year == 1 else moment - dt.timedelta(days=2)
        return moment.replace(tzinfo=inward.astimezone().tzinfo)


def _in_range(moment: dt.datetime) -> bool:
    try:
        return _EARLIEST <= moment.astimezone(dt.UTC) <= _LATEST
    except (OverflowError, ValueError):  # an offset that takes it past year 1 or 9999
        return False


def _ago(seconds: float, text: str, option: str) -> dt.datetime:
    """The moment ``seconds`` before now, unless that is before :data:`_EARLIEST`."""
    moment: dt.datetime | None
    try:
        moment = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=seconds)
    except OverflowError:  # more days than a timedelta holds, or before year 1
        moment = None
    if moment is None or moment < _EARLIEST:
        raise typer.BadParameter(
            f"{text!r} reaches back before {_EARLIEST.date().isoformat()}: give a shorter duration, or a date/time "
            f"{_RANGE}",
            param_hint=option,
        )
    return moment


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
    where: Annotated[
        list[str] | None,
        typer.Option(
            "--where",
            metavar="NAME=VALUE",
            help="Only runs whose searchable variable NAME has this value (e.g. order-id=o-1); repeat: all hold.",
        ),
    ] = None,
    as_json: JsonFlag = False,
    db: DbOption = DEFAULT_DB,
) -> None:
    """List runs, newest first, with where each one is now."""
    from rich.cells import cell_len
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
        from wfc.runtime._search import parse_where

        async with reader(url) as found:
            values = parse_where(where, "=", await found.searchable_variables(workflow)) if where else None
            page = await found.list_runs_page(
                status=statuses,
                workflow=workflow,
                started_after=after,
                started_before=until,
                limit=limit,
                needs_attention=True if needs_attention else None,
                stuck_for=stuck_for,
                where=values,
            )
            runs = page.runs
            served = await found.serving_engines() > 0
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
        # Whole, however narrow the terminal: the other columns give way (an
        # 80-column terminal cut a generated id, 60 showed only "…").
        table.columns[0].min_width = max(cell_len(info.id) for info in runs)
        for info in runs:
            # Text, not str: a str cell is parsed for markup and emoji codes
            # (":" in a time loads rich's table of emoji names).
            table.add_row(
                Text(info.id),
                Text(info.workflow),
                Text(str(info.version)),
                shown_status(info, served),
                Text(short_time(info.created_at)),
                Text(short_time(info.updated_at)),
                Text(_stuck_cell(info) if stuck_for is not None else _where_cell(info, served)),
            )
        output.stdout().print(table)

    run_reading(read)


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

    if waits_for_engine(info, served) and info.unreadable is None:
        return f"{engine_wait(info, short=True)}; then {where_brief(info)}"
    return where_brief(info)


@runs_app.command("show")
def show_command(run_id: RunId, as_json: JsonFlag = False, db: DbOption = DEFAULT_DB) -> None:
    """Where a run is: status, variables, output or failure, each thread and what it waits for."""
    from wfc.cli.json_docs import print_json, run_document
    from wfc.cli.run_views import run_details

    url = database_url(db)

    async def read() -> None:
        async with reader(url) as found:
            info = await found.get_run(run_id)
            served = await found.serving_engines() > 0
        if as_json:
            print_json(run_document(info))
        else:
            output.stdout().print(run_details(info, served))

    run_reading(read)


@runs_app.command("history")
def history_command(run_id: RunId, as_json: JsonFlag = False, db: DbOption = DEFAULT_DB) -> None:
    """A run's journal: every transition, with time, thread, node and attempt."""
    from wfc.cli.json_docs import history_document, print_json
    from wfc.cli.run_views import journal_table, local_time, thread_names

    url = database_url(db)

    async def read() -> None:
        async with reader(url) as found:
            entries = await found.history(run_id)
            info = await found.get_run(run_id)
        names = thread_names(info)
        if as_json:
            print_json(history_document(entries, names))
            return
        day = local_time(info.created_at)[:10]
        title = f"journal of run {run_id} ({info.workflow} {info.version}), local times on {day}"
        output.stdout().print(journal_table(entries, names, title))

    run_reading(read)
