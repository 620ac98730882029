"""``wfc migrate plan``: which live runs of a workflow version can move to
another version now, which once they reach a node, which must drain (see
:mod:`wfc.runtime.migration_plan`). It reads the database through a
:class:`~wfc.runtime._reader.Reader` and writes nothing; ``--json`` prints
the plan document that ``wfc migrate apply PLAN`` consumes.

``wfc migrate apply PLAN``: move the runs a reviewed plan file lists, through
a client engine (:meth:`~wfc.runtime.Engine.apply_migration`), which looks at
each run again as it is now. Each run moves wholly or not at all, so applying
again after a crash finishes the rest and changes nothing already moved.
Exit codes: 0 every run the plan called safe now moved (or had moved), 3 some
of them could not move now (they took a step since the plan: make a new
one), 1 a bad plan file or database, or one that another process keeps
locked past the wait (the same message as every command's: the runs not
moved are unchanged, and applying the plan again once the lock is gone
moves only what is left).
"""

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from wfc.cli import output
from wfc.cli.engine_access import (
    DEFAULT_DB,
    DbOption,
    client,
    database_url,
    db_flag,
    reader,
    run_async,
    run_reading,
)
from wfc.cli.errors import CliError

if TYPE_CHECKING:
    from collections.abc import Callable

    from rich.progress import Progress, TaskID

    from wfc.runtime.migration_apply import MigrationReport
    from wfc.runtime.migration_plan import MigrationPlan

migrate_app = typer.Typer(
    help="Plan moving the live runs of one workflow version to another, and apply the plan.",
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
    migrate_later: Annotated[
        bool,
        typer.Option(
            "--migrate-later",
            help="Applying the plan also moves each run that is safe later, by itself, once it reaches a node that "
            "maps.",
        ),
    ] = False,
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
                return await plan_migration(found, workflow, source, target, mapping, migrate_later=migrate_later)
            except MappingError as exc:
                raise CliError(f"{mapping_file}: {exc}") from None

    result = run_reading(plan)
    if as_json:
        from wfc.cli.json_docs import print_json

        print_json(result.document())
    else:
        _print(result)


def read_mapping(path: Path) -> dict[str, Any]:
    """The mapping file's content: JSON, or TOML (by its ``.toml`` suffix).

    Raises:
        CliError: the file cannot be read, is not valid JSON or TOML, or
            (JSON) holds something other than an object.
    """
    from wfc.cli.files import display, read_bytes
    from wfc.specs.limits import json_kind

    data = read_bytes(path, "mapping file")
    try:
        if path.suffix.lower() == ".toml":
            import tomllib

            return tomllib.loads(data.decode("utf-8"))  # a TOML document is always a table
        from wfc.cli.inputs import load_json

        document = load_json(data)
    except (ValueError, UnicodeDecodeError) as exc:  # load_json's errors and TOMLDecodeError are ValueErrors
        kind = "TOML" if path.suffix.lower() == ".toml" else "JSON"
        raise CliError(f"{display(path)} is not valid {kind}: {exc}") from None
    if not isinstance(document, dict):  # null too: an empty mapping would hide a mistaken file
        raise CliError(
            f"{display(path)}: the mapping file must hold a JSON object with `nodes` and/or `variables`, not "
            f"{json_kind(document)}; see the README's 'Planning a migration'"
        )
    return document


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
    if plan.migrate_later:
        console.print(Text("--migrate-later: applying it also moves each safe later run once it reaches a node "
                           "that maps", style="dim"), soft_wrap=True)  # fmt: skip
    if not plan.runs:
        return
    table = compact_table("run", "status", "class", "reason")
    for run in plan.runs:
        table.add_row(Text(run.run_id), Text(run.status), Text(_TITLES[run.run_class]), Text("\n".join(run.reasons)))
    console.print(table)


# ---------------------------------------------------------------- wfc migrate apply


@migrate_app.command("apply")
def apply_command(
    plan_file: Annotated[
        Path, typer.Argument(metavar="PLAN", help="The plan file: what `wfc migrate plan ... --json` printed.")
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Print the report document instead of tables.")] = False,
    db: DbOption = DEFAULT_DB,
) -> None:
    """Move the runs PLAN lists that are safe to move now; each run is looked at again as it is now."""
    from wfc.cli.exiting import CONFLICT

    document = read_plan(plan_file)
    url = database_url(db)

    async def apply() -> "MigrationReport":
        from wfc.runtime.errors import UnknownWorkflowError
        from wfc.runtime.migration_apply import PlanError
        from wfc.runtime.migration_plan import MappingError

        listed = document.get("runs")
        with _Progress(len(listed) if isinstance(listed, list) else None) as progress:
            async with client(url) as engine:
                try:
                    return await engine.apply_migration(document, progress=progress)
                except (PlanError, MappingError) as exc:
                    raise CliError(f"{_shown(plan_file)}: {exc}") from None
                except UnknownWorkflowError as exc:
                    what = f"{exc.workflow} {exc.version}" if exc.version else f"workflow {exc.workflow!r}"
                    raise CliError(f"{_shown(plan_file)}: the plan is for {what}, which is not deployed on {url}. "
                                   f"Is --db the database the plan was made on? If so, make the plan again on it "
                                   f"with `wfc migrate plan ... --json{db_flag(url)}`") from None  # fmt: skip

    report = run_async(apply)
    if as_json:
        from wfc.cli.json_docs import print_json

        print_json(report.document())
    else:
        _print_report(report)
    if not report.complete:
        stuck = len(report.stuck)
        output.print_error(
            f"{stuck} run(s) that the plan called safe now could not move now: they changed since the plan "
            f"was made, or their commit failed (see why above). The others are done; make a new plan with "
            f"`wfc migrate plan "
            f"{report.workflow} --from {report.source} --to {report.target} --json{db_flag(url)}` and apply it"
        )
        raise typer.Exit(CONFLICT)


def read_plan(path: Path) -> dict[str, Any]:
    """The plan document in ``path``: a JSON object (the engine checks the rest)."""
    from wfc.cli.files import read_bytes
    from wfc.cli.inputs import load_json

    data = read_bytes(path, "plan file")
    try:
        document = load_json(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise CliError(f"{_shown(path)} is not valid JSON: {exc}; give the file `wfc migrate plan ... --json` "
                       f"printed") from None  # fmt: skip
    if not isinstance(document, dict):
        raise CliError(f"{_shown(path)} is not a migration plan (a JSON object with \"format\": "
                       f"\"wfc/migration-plan/1\"); give the file `wfc migrate plan ... --json` printed")  # fmt: skip
    return document


def _shown(path: Path) -> str:
    from wfc.cli.files import display

    return display(path)


class _Progress:
    """A rich progress bar on a terminal's stderr; nothing elsewhere."""

    def __init__(self, total: int | None) -> None:
        self._total = total
        self._bar: Progress | None = None
        self._task: TaskID | None = None

    def __call__(self, done: int, total: int) -> None:
        if self._bar is not None and self._task is not None:
            self._bar.update(self._task, completed=done, total=total)

    def __enter__(self) -> "Callable[[int, int], None] | None":
        console = output.stderr()
        if not console.is_terminal:
            return None
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self._bar = Progress(TextColumn("migrating runs"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                             console=console, transient=True)  # fmt: skip
        self._task = self._bar.add_task("migrate", total=self._total)
        self._bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()


_OUTCOMES = {
    "migrated": "migrated",
    "already_migrated": "already migrated",
    "pending": "pending (moves later)",
    "not_now": "not moved now",
    "gone": "gone",
}


def _print_report(report: "MigrationReport") -> None:
    from rich.text import Text

    from wfc.cli.run_views import compact_table

    console = output.stdout()
    console.print(Text(f"migration {report.workflow} {report.source} → {report.target} (plan {report.plan_id}): "
                       f"{len(report.runs)} runs in the plan"))  # fmt: skip
    summary = compact_table("outcome", "runs")
    for name, count in report.counts().items():
        summary.add_row(Text(_OUTCOMES.get(name, name)), Text(str(count)))
    console.print(summary)
    left = [run for run in report.runs if run.outcome not in ("migrated", "already_migrated")]
    if not left:
        return
    table = compact_table("run", "outcome", "reason", title="runs not moved")
    for run in left:
        table.add_row(Text(run.run_id), Text(_OUTCOMES.get(run.outcome, run.outcome)), Text(run.detail))
    console.print(table)
