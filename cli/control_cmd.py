"""``wfc runs halt|resume|cancel|retry``: change what a run does.

Each opens a client engine (``serve=False``) on ``--db`` and asks it for one
durable, journaled change. The work that follows (a resumed run's tasks, a
retried node) is done by an engine that serves the database: a ``wfc run``
following the run, a ``wfc worker``, or the next engine opened on it.
A change that makes no sense (resuming a completed run, retrying a
compensated one) is refused with the reason, exit code 1.
"""

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Annotated

import typer

from wfc.cli import output
from wfc.cli.engine_access import DEFAULT_DB, DbOption, client, database_url, run_async, wfc_command
from wfc.cli.runs_cmd import RunId

if TYPE_CHECKING:
    from wfc.runtime import Engine, RunInfo

Reason = Annotated[str, typer.Option("--reason", "-r", metavar="TEXT", help="Why; kept in the journal.")]


def _change(url: str, run_id: str, verb: str, act: "Callable[[Engine], Awaitable[RunInfo]]") -> None:
    """Apply one change to a run and say where it is now."""
    from rich.text import Text

    from wfc.cli.run_views import status_text, where_now


    async def change() -> None:
        async with client(url) as engine:
            before = await engine.get_run(run_id)
            served = await engine.serving_engines() > 0
            info = await act(engine)
        console = output.stdout()
        console.print(
            Text.assemble(
                f"{verb} run {run_id} ({info.workflow} {info.version}): now ",
                status_text(info.status),
                f"; it was {where_now(before, served)}",
            ),
            soft_wrap=True,  # a long line is wrapped by the terminal, never cut
        )
        if not info.status.finished and info.status != "HALTED":
            console.print(
                Text("it goes on in an engine serving this database (a `wfc run` following it, or `wfc worker`)",
                     style="dim"),
                soft_wrap=True,
            )
        console.print(Text(f"see `{wfc_command('runs', 'show', run_id, url=url)}`", style="dim"), soft_wrap=True)

    run_async(change)


def halt_command(run_id: RunId, reason: Reason = "", db: DbOption = DEFAULT_DB) -> None:
    """Pause a run: nothing new is dispatched; running tasks finish and their results are kept."""
    _change(database_url(db), run_id, "halted", lambda engine: engine.halt(run_id, reason))


def resume_command(run_id: RunId, db: DbOption = DEFAULT_DB) -> None:
    """Let a HALTED run go on from where it was."""
    _change(database_url(db), run_id, "resumed", lambda engine: engine.resume(run_id))


def cancel_command(
    run_id: RunId,
    reason: Reason = "",
    compensate: Annotated[
        bool,
        typer.Option("--compensate", help="Undo the completed steps first (their compensations, in reverse order)."),
    ] = False,
    db: DbOption = DEFAULT_DB,
) -> None:
    """Cancel a running or halted run: its threads stop and late task results are ignored."""
    _change(database_url(db), run_id, "cancelled", lambda engine: engine.cancel(run_id, reason, compensate))


def retry_command(run_id: RunId, db: DbOption = DEFAULT_DB) -> None:
    """Re-run the node a FAILED run failed at, with the same inputs, and go on."""
    _change(database_url(db), run_id, "retried", lambda engine: engine.retry(run_id))


def register(runs: typer.Typer) -> None:
    """Add the commands to the ``wfc runs`` group."""
    runs.command("halt")(halt_command)
    runs.command("resume")(resume_command)
    runs.command("cancel")(cancel_command)
    runs.command("retry")(retry_command)
