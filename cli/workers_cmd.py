"""``wfc workers``: every engine registered on a database, the tasks it runs,
its heartbeat and the attempts it holds, as ``GET /api/v1/workers`` answers."""


import datetime as dt
from typing import TYPE_CHECKING, Annotated

import typer

from wfc.cli import output
from wfc.cli.engine_access import DEFAULT_DB, DbOption, database_url, reader, run_async

if TYPE_CHECKING:
    from wfc.runtime import WorkerInfo


def workers_command(
    as_json: Annotated[bool, typer.Option("--json", help="A JSON document instead of a table.")] = False,
    db: DbOption = DEFAULT_DB,
) -> None:
    """List the engines serving the database: host and pid, tasks, last heartbeat, leases held."""
    url = database_url(db)

    async def read() -> "list[WorkerInfo]":
        async with reader(url) as engine:
            return await engine.list_workers()

    workers = run_async(read)
    if as_json:
        _print_json(workers)
    else:
        _print_table(workers)


def _print_json(workers: "list[WorkerInfo]") -> None:
    import json

    from wfc.cli.json_docs import iso

    document = [
        {
            "id": w.id,
            "host": w.host,
            "pid": w.pid,
            "started_at": iso(w.started_at),
            "heartbeat_at": iso(w.heartbeat_at),
            "alive": w.alive,
            "tasks": list(w.tasks),
            "leases": w.leases,
            "oldest_lease": iso(w.oldest_lease) if w.oldest_lease else None,
        }
        for w in workers
    ]
    output.echo(json.dumps({"workers": document}, indent=2, ensure_ascii=False), json=True)


def _print_table(workers: "list[WorkerInfo]") -> None:
    from rich.table import Table

    from wfc.cli.run_views import local_time

    console = output.stdout()
    if not workers:
        console.print("no engine is registered on this database: nothing runs tasks now", soft_wrap=True)
        return
    now = dt.datetime.now(dt.UTC)
    table = Table(box=None, pad_edge=False)
    for column in ("engine", "host", "pid", "state", "heartbeat", "tasks", "leases", "oldest lease"):
        table.add_column(column)
    for w in workers:
        table.add_row(
            w.id[:12],
            w.host,
            str(w.pid),
            "alive" if w.alive else "gone",
            f"{(now - w.heartbeat_at).total_seconds():.0f}s ago",
            ", ".join(w.tasks) or "-",
            str(w.leases),
            local_time(w.oldest_lease) if w.oldest_lease else "-",
        )
    console.print(table)
    alive = sum(w.alive for w in workers)
    console.print(f"{alive} of {len(workers)} alive", soft_wrap=True)
