"""``wfc tasks claim|release|reassign|complete|cancel``: act on a user task.

Each opens a client engine (``serve=False``) on ``--db`` and makes one
durable, journaled change, as the person named by ``--user`` or ``--by``
(none: an operator). What follows in the run (the next node after a
completion, the failure handler after a cancel) is done by an engine that
serves the database. A change the task's status does not allow (completing
a task that is DONE, claiming one assigned to someone else) is a conflict:
nothing changes and the exit code is 3. Values that do not fit the form are
named field by field, exit code 1.
"""

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Annotated

import typer

from wfc.cli import output
from wfc.cli.engine_access import DEFAULT_DB, DbOption, client, database_url, run_async, wfc_command
from wfc.cli.tasks_cmd import JsonFlag, TaskId, check_name

if TYPE_CHECKING:
    from wfc.runtime import Engine, UserTask

By = Annotated[
    str | None, typer.Option("--by", metavar="USER", help="Who does it, kept in the audit trail (none: an operator).")
]


def _change(
    url: str, task_id: str, verb: str, act: "Callable[[Engine], Awaitable[UserTask]]", as_json: bool
) -> None:
    """Apply one change to a task and say where it is now; a conflict exits 3."""
    from rich.text import Text

    from wfc.cli.exiting import CONFLICT
    from wfc.runtime.errors import ConflictError

    async def change() -> None:
        async with client(url) as engine:
            task = await act(engine)
        if as_json:
            from wfc.cli.json_docs import print_json, user_task_document

            print_json(user_task_document(task))
            return
        from wfc.cli.task_views import change_line

        console = output.stdout()
        console.print(change_line(verb, task), soft_wrap=True)
        console.print(Text(f"see `{wfc_command('tasks', 'show', task.id, url=url)}`", style="dim"), soft_wrap=True)

    try:
        run_async(change)
    except ConflictError as exc:
        output.print_error(f"{exc}; see it with `{wfc_command('tasks', 'show', task_id, url=url)}`")
        raise typer.Exit(CONFLICT) from None


def claim_command(
    task_id: TaskId,
    user: Annotated[str, typer.Option("--user", "-u", metavar="USER", help="Who takes the task.")],
    as_json: JsonFlag = False,
    db: DbOption = DEFAULT_DB,
) -> None:
    """Take a task offered to a group: it becomes ASSIGNED to USER."""
    check_name(user, "--user")
    _change(database_url(db), task_id, "claimed", lambda engine: engine.claim_user_task(task_id, user), as_json)


def release_command(task_id: TaskId, by: By = None, as_json: JsonFlag = False, db: DbOption = DEFAULT_DB) -> None:
    """Give an ASSIGNED task back to its group: UNASSIGNED, for any member to claim."""
    check_name(by, "--by")
    _change(database_url(db), task_id, "released", lambda engine: engine.release_user_task(task_id, by=by), as_json)


def reassign_command(
    task_id: TaskId,
    user: Annotated[str | None, typer.Option("--user", "-u", metavar="USER", help="The new assignee.")] = None,
    group: Annotated[
        str | None,
        typer.Option("--group", "-g", metavar="GROUP", help="The new group; alone, it clears the user (UNASSIGNED)."),
    ] = None,
    by: By = None,
    as_json: JsonFlag = False,
    db: DbOption = DEFAULT_DB,
) -> None:
    """Give an open task to another user and/or group."""
    check_name(user, "--user")
    check_name(group, "--group")
    check_name(by, "--by")
    if user is None and group is None:
        raise typer.BadParameter("give --user USER, --group GROUP or both", param_hint="'--user' / '--group'")
    _change(
        database_url(db),
        task_id,
        "reassigned",
        lambda engine: engine.reassign_user_task(task_id, user=user, group=group, by=by),
        as_json,
    )


def complete_command(
    task_id: TaskId,
    fields: Annotated[
        list[str] | None,
        typer.Option(
            "--field", "-f", metavar="NAME=VALUE",
            help="A value of the form, read as its field's type (true/false for bool, JSON for json); repeat.",
        ),
    ] = None,
    values_json: Annotated[
        str | None,
        typer.Option("--values", metavar="JSON", help="Values as a JSON object ('-': stdin); --field goes on top."),
    ] = None,
    user: Annotated[
        str | None,
        typer.Option(
            "--user", "-u", metavar="USER", help="Who completes it (an ASSIGNED task: its user; none: an operator)."
        ),
    ] = None,
    as_json: JsonFlag = False,
    db: DbOption = DEFAULT_DB,
) -> None:
    """Complete an open task with values for its form; the run goes on with them."""
    check_name(user, "--user")
    pairs = fields or []

    async def complete(engine: "Engine") -> "UserTask":
        from wfc.cli.task_fields import parse_fields
        from wfc.runtime.errors import UserTaskStateError

        task = await engine.get_user_task(task_id)
        if not task.open:  # the conflict first: values for a closed task are beside the point
            raise UserTaskStateError(task.id, task.status.value, "complete", "only an open task can be completed")
        values = parse_fields(task.form, pairs, values_json)
        return await _completed(engine, task, values, user)

    _change(database_url(db), task_id, "completed", complete, as_json)


async def _completed(
    engine: "Engine", task: "UserTask", values: dict[str, object], user: str | None
) -> "UserTask":
    """Complete ``task``; values the engine refuses are named field by field."""
    from wfc.cli.errors import CliError
    from wfc.runtime.errors import UserTaskValuesError

    try:
        return await engine.complete_user_task(task.id, values, user=user)
    except UserTaskValuesError as exc:
        listed = "\n  ".join(f"field {field!r}: {message}" for field, message in exc.problems)
        raise CliError(f"cannot complete user task {task.id} (form {task.form.name!r}):\n  {listed}") from None


def cancel_command(
    task_id: TaskId,
    reason: Annotated[str, typer.Option("--reason", "-r", metavar="TEXT", help="Why; kept in the journal.")] = "",
    by: By = None,
    as_json: JsonFlag = False,
    db: DbOption = DEFAULT_DB,
) -> None:
    """Cancel an open task: its node fails with USER_TASK_CANCELLED (which the workflow may handle)."""
    check_name(by, "--by")
    _change(
        database_url(db),
        task_id,
        "cancelled",
        lambda engine: engine.cancel_user_task(task_id, reason=reason, by=by),
        as_json,
    )


def register(tasks: typer.Typer) -> None:
    """Add the commands to the ``wfc tasks`` group."""
    tasks.command("claim")(claim_command)
    tasks.command("release")(release_command)
    tasks.command("reassign")(reassign_command)
    tasks.command("complete")(complete_command)
    tasks.command("cancel")(cancel_command)
