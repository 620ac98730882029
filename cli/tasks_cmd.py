"""``wfc tasks list|show``: the user tasks of a database, as an inbox, and
one task with its form and audit trail. The commands that act on a task
(claim, release, reassign, complete, cancel) are in
:mod:`wfc.cli.task_change_cmd`.

Like ``wfc runs list``, these read ``--db`` through the engine's
:class:`~wfc.runtime._reader.Reader` without starting an engine: they write
nothing and import none of the engine's modules.
"""

import enum
from typing import TYPE_CHECKING, Annotated

import typer

from wfc.cli import output
from wfc.cli.engine_access import DEFAULT_DB, DbOption, database_url, reader, run_reading

if TYPE_CHECKING:
    from wfc.runtime import UserTask

tasks_app = typer.Typer(
    help=(
        "User tasks, work for people inside runs: list an inbox, show a task's form and audit trail; "
        "claim, release, reassign, complete or cancel one."
    ),
    no_args_is_help=True,
)

TaskId = Annotated[str, typer.Argument(metavar="TASK_ID", help="The user task's id, as `wfc tasks list` shows it.")]
JsonFlag = Annotated[bool, typer.Option("--json", help="Print one JSON document instead of tables.")]


class TaskStatusChoice(enum.StrEnum):
    """What ``--status`` accepts: the values of
    :class:`wfc.runtime.UserTaskStatus`, in its order. Restated here so that
    building the command line does not import the runtime; a test pins that
    the two agree."""

    UNASSIGNED = "UNASSIGNED"
    ASSIGNED = "ASSIGNED"
    DONE = "DONE"
    CANCELLED = "CANCELLED"


def check_name(value: str | None, option: str) -> str | None:
    """A user or group name as given, refused when empty (a usage error):
    ``--user ""`` from an unset shell variable must not mean "nobody"."""
    if value is not None and not value.strip():
        raise typer.BadParameter("is empty; give a user or group name", param_hint=option)
    return value


@tasks_app.command("list")
def list_command(
    user: Annotated[
        str | None, typer.Option("--user", "-u", metavar="USER", help="Only tasks assigned to USER.")
    ] = None,
    group: Annotated[str | None, typer.Option("--group", "-g", metavar="GROUP", help="Only tasks of GROUP.")] = None,
    status: Annotated[
        list[TaskStatusChoice] | None,
        typer.Option(
            "--status", "-s", case_sensitive=False,
            help="Only tasks with this status; repeat for several. Default: every status.",
        ),
    ] = None,
    open_only: Annotated[
        bool, typer.Option("--open", help="Only open tasks: UNASSIGNED or ASSIGNED (the inbox).")
    ] = False,
    run_id: Annotated[str | None, typer.Option("--run", metavar="RUN_ID", help="Only the tasks of this run.")] = None,
    limit: Annotated[
        int, typer.Option("--limit", "-n", min=1, max=1000, help="At most this many tasks (1 to 1000), oldest first.")
    ] = 100,
    after: Annotated[
        str | None,
        typer.Option("--after", metavar="TASK_ID", help="The next page: tasks after this one (the last id listed)."),
    ] = None,
    as_json: JsonFlag = False,
    db: DbOption = DEFAULT_DB,
) -> None:
    """List user tasks, oldest first: who each is for, its form, its run and how long ago it was created."""
    check_name(user, "--user")
    check_name(group, "--group")
    if open_only and status:
        raise typer.BadParameter("give --open or --status, not both (--open is --status UNASSIGNED --status ASSIGNED)",
                                 param_hint="--open")
    wanted = ["UNASSIGNED", "ASSIGNED"] if open_only else [choice.value for choice in status or []]
    url = database_url(db)

    async def read() -> None:
        async with reader(url) as found:
            tasks = await found.list_user_tasks(
                user=user, group=group, status=wanted or None, run_id=run_id, limit=limit, after=after
            )
        _print_list(tasks, as_json)

    run_reading(read)


def _print_list(tasks: "list[UserTask]", as_json: bool) -> None:
    if as_json:
        from wfc.cli.json_docs import print_json, user_task_document

        print_json([user_task_document(task) for task in tasks])
        return
    if not tasks:
        output.stdout().print("no user tasks match", style="dim")
        return
    from wfc.cli.task_views import tasks_table

    output.stdout().print(tasks_table(tasks))


@tasks_app.command("show")
def show_command(task_id: TaskId, as_json: JsonFlag = False, db: DbOption = DEFAULT_DB) -> None:
    """A user task: who it is for, its run, notes, form (and values once done) and audit trail."""
    url = database_url(db)

    async def read() -> None:
        from wfc.cli.json_docs import history_document, print_json, user_task_document
        from wfc.cli.run_views import thread_names

        async with reader(url) as found:
            task = await found.get_user_task(task_id)
            names = thread_names(await found.get_run(task.run_id))
        if as_json:
            print_json({**user_task_document(task), "audit": history_document(task.audit, names)})
            return
        from wfc.cli.task_views import task_details

        output.stdout().print(task_details(task, task.audit, names))

    run_reading(read)
