"""``wfc runs watch|purge|export``: tail every run's journal live, delete
finished runs, and write them out for archiving first.

``watch`` reads the journal feed of all runs (``Engine.subscribe``): from
now, or, with ``--consumer NAME``, from the position saved under that name,
which it saves as it goes (so a restarted ``watch --consumer`` goes on where
the last one stopped). ``purge`` deletes in small transactions beside a
serving engine; ``export`` writes one JSON line per run with its journal.
"""

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import typer

from wfc.cli import output
from wfc.cli.engine_access import DEFAULT_DB, DbOption, client, database_url, reading_engine, run_async
from wfc.cli.files import display, replacing
from wfc.cli.runs_cmd import StatusChoice, parse_moment

if TYPE_CHECKING:
    from wfc.runtime import FeedEntry

#: The exit code after Ctrl-C (128 + SIGINT), as ``wfc run`` uses.
INTERRUPTED = 130

Statuses = Annotated[
    list[StatusChoice] | None,
    typer.Option(
        "--status",
        "-s",
        case_sensitive=False,
        help="Only finished runs with this status (COMPLETED, FAILED, COMPENSATED, CANCELLED); repeat for several.",
    ),
]


def _statuses(status: list[StatusChoice] | None) -> list[str] | None:
    return None if status is None else list(dict.fromkeys(choice.value for choice in status))  # each once


# ---------------------------------------------------------------- watch


def watch_command(
    kind: Annotated[
        list[str] | None,
        typer.Option("--kind", "-k", metavar="KIND", help="Only entries of this kind (RUN_FAILED, ...); repeat."),
    ] = None,
    consumer: Annotated[
        str | None,
        typer.Option(
            "--consumer",
            metavar="NAME",
            help="Go on from the position saved under NAME, and save it as entries are printed.",
        ),
    ] = None,
    from_start: Annotated[
        bool,
        typer.Option("--from-start", help="With no saved position: begin with every entry stored, not from now."),
    ] = False,
    count: Annotated[int | None, typer.Option("--count", "-n", min=1, help="Stop after this many entries.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON document per entry, one per line.")] = False,
    db: DbOption = DEFAULT_DB,
) -> None:
    """Tail every run's transitions live, as they are committed (Ctrl-C stops)."""
    url = database_url(db)
    kinds = [k.strip().upper() for k in kind or []]
    if any(not k for k in kinds):
        raise typer.BadParameter("a kind is empty; give one such as RUN_FAILED", param_hint="--kind")
    if consumer is not None and not consumer.strip():
        raise typer.BadParameter("the consumer name is empty", param_hint="--consumer")

    async def tail() -> None:
        start: Literal["earliest", "latest"] = "earliest" if from_start else "latest"
        async with client(url) if consumer is not None else reading_engine(url) as engine:
            subscription = engine.subscribe(consumer, kinds=kinds, start=start)
            async with subscription as feed:
                printed = 0
                async for entry in feed:
                    _print_entry(entry, as_json)
                    printed += 1
                    if count is not None and printed >= count:
                        await feed.handled()
                        return

    try:
        run_async(tail)
    except KeyboardInterrupt:
        raise typer.Exit(INTERRUPTED) from None


def _print_entry(entry: "FeedEntry", as_json: bool) -> None:
    import json

    from wfc.cli.json_docs import iso

    if as_json:
        document = {
            "run_id": entry.run_id,
            "workflow": entry.workflow,
            "seq": entry.seq,
            "timestamp": iso(entry.timestamp),
            "thread": entry.thread,
            "node": entry.node,
            "kind": entry.kind,
            "attempt": entry.attempt,
            "detail": entry.detail,
        }
        output.echo(
            json.dumps(document, ensure_ascii=False, separators=(",", ":"), default=str), gone_fails=True, json=True
        )
        return
    from rich.text import Text

    from wfc.cli.run_views import local_time

    parts = [local_time(entry.timestamp, millis=True), entry.run_id, entry.workflow, f"#{entry.seq}", entry.kind]
    if entry.node is not None:
        parts.append(entry.node)
    if entry.attempt is not None:
        parts.append(f"attempt {entry.attempt}")
    if entry.detail:
        parts.append(json.dumps(entry.detail, ensure_ascii=False, default=str))
    output.stdout(gone_fails=True).print(Text("  ".join(parts)), soft_wrap=True)


# ---------------------------------------------------------------- purge


def purge_command(
    finished_before: Annotated[
        str,
        typer.Option(
            "--finished-before",
            metavar="WHEN",
            help="Runs that finished before: a duration before now (30d, 12h) or an ISO date/time.",
        ),
    ],
    status: Statuses = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only count the runs it would delete.")] = False,
    batch: Annotated[int, typer.Option("--batch", min=1, max=500, help="Runs deleted per transaction.")] = 100,
    db: DbOption = DEFAULT_DB,
) -> None:
    """Delete finished runs and everything stored for them (journal, outbox, timers, events), in small batches."""
    from wfc.cli.run_views import local_time

    moment = parse_moment(finished_before, "--finished-before")
    statuses = _statuses(status)
    url = database_url(db)

    async def act() -> int:
        async with reading_engine(url) if dry_run else client(url) as engine:
            return await engine.purge_runs(moment, statuses, batch=batch, dry_run=dry_run)

    done = run_async(act)
    which = ", ".join(statuses) if statuses else "finished"
    verb = "would delete" if dry_run else "deleted"
    output.stdout().print(
        f"{verb} {done} {which} run{'' if done == 1 else 's'} that finished before {local_time(moment)}",
        soft_wrap=True,
    )


# ---------------------------------------------------------------- export


def export_command(
    status: Statuses = None,
    finished_before: Annotated[
        str | None,
        typer.Option(
            "--finished-before",
            metavar="WHEN",
            help="Only runs that finished before: a duration before now (30d) or an ISO date/time.",
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option("--output", "-o", metavar="FILE", help="Write to FILE (replaced once complete), not stdout."),
    ] = None,
    db: DbOption = DEFAULT_DB,
) -> None:
    """Write finished runs as JSON lines, one run with its journal per line (masked values stay masked)."""
    moment = parse_moment(finished_before, "--finished-before") if finished_before is not None else None
    statuses = _statuses(status)
    url = database_url(db)

    async def lines(write: Any) -> int:
        from wfc.cli.json_docs import export_lines

        exported = 0
        async with reading_engine(url) as engine:
            async for line in export_lines(engine, moment, statuses):
                write(line)
                exported += 1
        return exported

    if out is None:
        run_async(lambda: lines(lambda line: output.echo(line, nl=False, gone_fails=True, json=True)))
        return
    with replacing(out) as handle:
        exported = run_async(lambda: lines(lambda line: handle.write(line.encode())))
    output.stderr().print(f"exported {exported} run{'' if exported == 1 else 's'} to {display(out)}", soft_wrap=True)


def register(runs: typer.Typer) -> None:
    """Add the commands to the ``wfc runs`` group."""
    runs.command("watch")(watch_command)
    runs.command("purge")(purge_command)
    runs.command("export")(export_command)
