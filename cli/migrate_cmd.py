"""``wfc migrate plan``: which live runs of a workflow version can move to
another version now, which once they reach a node, which must drain (see
:mod:`wfc.runtime.migration_plan`). It reads the database through a
:class:`~wfc.runtime._reader.Reader` and writes nothing; ``--json`` prints
the plan document that ``wfc migrate apply PLAN`` consumes.
"""

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from wfc.cli import output
from wfc.cli.engine_access import DEFAULT_DB, DbOption, database_url, reader, run_reading
from wfc.cli.errors import CliError

if TYPE_CHECKING:
    from wfc.runtime.migration_plan import MigrationPlan

migrate_app = typer.Typer(
    help="Plan moving the live runs of one workflow version to another.",
    no_args_is_help=True,
)


@migrate_app.command("plan")
def plan_command(
    workflow: Annotated[str, typer.Argument(metavar="WORKFLOW", help="The workflow's name.")],
    source: Annotated[str, typer.Option("--from", metavar="VERSION", help="The version the runs are on, e.g. 1.3.")],
    target: Annotated[str, typer.Option("--to", metavar="VERSION", help="The version to move them to, e.g. 1.4.")],
    mapping_file: Annotated[
        Path | None,
        typer.Option(
            "--mapping",
            metavar="FILE",
            help=(
                "JSON or TOML: \\[nodes.THREAD] old-node = new-node, and \\[variables] values for new variables."
            ),  # rich markup: \\[ is a literal [
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the plan document instead of tables.")] = False,
    db: DbOption = DEFAULT_DB,
) -> None:
    """Sort every live run of WORKFLOW --from into safe now, safe once it reaches a node, or must drain, with why."""
    mapping = read_mapping(mapping_file) if mapping_file is not None else None
    url = database_url(db)

    async def plan() -> "MigrationPlan":
        from wfc.runtime.migration_plan import MappingError, plan_migration

        async with reader(url) as found:
            try:
                return await plan_migration(found, workflow, source, target, mapping)
            except MappingError as exc:
                raise CliError(f"{mapping_file}: {exc}") from None

    result = run_reading(plan)
    if as_json:
        from wfc.cli.json_docs import print_json

        print_json(result.document())
    else:
        _print(result)


def read_mapping(path: Path) -> Any:
    """The mapping file's content: JSON, or TOML (by its ``.toml`` suffix)."""
    from wfc.cli.files import display, read_bytes

    data = read_bytes(path, "mapping file")
    try:
        if path.suffix.lower() == ".toml":
            import tomllib

            return tomllib.loads(data.decode("utf-8"))
        import json

        return json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:  # JSONDecodeError and TOMLDecodeError are ValueErrors
        kind = "TOML" if path.suffix.lower() == ".toml" else "JSON"
        raise CliError(f"{display(path)} is not valid {kind}: {exc}") from None


_TITLES = {"safe_now": "safe now", "safe_later": "safe later", "must_drain": "must drain"}


def _print(plan: "MigrationPlan") -> None:
    from rich.text import Text

    from wfc.cli.run_views import compact_table

    console = output.stdout()
    counts = plan.counts()
    console.print(Text(f"migration plan: {plan.workflow} {plan.source} → {plan.target}, {len(plan.runs)} live runs"))
    summary = compact_table("class", "runs")
    for name, count in counts.items():
        summary.add_row(Text(_TITLES[name]), Text(str(count)))
    console.print(summary)
    if not plan.runs:
        return
    table = compact_table("run", "status", "class", "reason")
    for run in plan.runs:
        table.add_row(Text(run.run_id), Text(run.status), Text(_TITLES[run.run_class]), Text("\n".join(run.reasons)))
    console.print(table)
