"""``wfc compile``: turn workflow modules into spec files, one per workflow.

Each workflow is compiled against the spec already in the output folder, so
its version bumps only when it changed. Nothing is written unless every
workflow compiles; ``--check`` writes nothing and fails when a file would
change, for CI.
"""

import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NamedTuple

import typer

from wfc.cli import output
from wfc.cli.errors import CliError, describe_os_error
from wfc.cli.files import display, parse_spec, read_bytes, write_atomic
from wfc.specs.errors import WfcError

if TYPE_CHECKING:
    from wfc.cli.loading import FoundWorkflow
    from wfc.specs import WorkflowSpec


class Outcome(NamedTuple):
    """One compiled workflow and what writing it would do."""

    spec: "WorkflowSpec"
    path: Path
    data: bytes
    change: str
    """``new``, ``unchanged``, or a summary of what changed."""
    warnings: tuple[str, ...]

    @property
    def writes(self) -> bool:
        """Whether the file would be created or changed."""
        return self.change != "unchanged"


def compile_command(
    targets: Annotated[
        list[str], typer.Argument(metavar="FILE_OR_MODULE", help="Python files or dotted module names.")
    ],
    output_dir: Annotated[
        # A str, not a Path: Path("") is Path("."), and -o '' would write into the current folder unasked.
        str, typer.Option("--output", "-o", metavar="DIR", help="Folder of the spec files, <name>.json.")
    ],
    check: Annotated[
        bool, typer.Option("--check", help="Write nothing; exit 1 if any spec file would change.")
    ] = False,
) -> None:
    """Compile every workflow defined in the given modules to DIR/<name>.json."""
    from wfc.cli.loading import load_workflows  # imports the DSL and lark: only when compiling

    out_dir = _output_dir(output_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise CliError(f"{display(out_dir)} is a file; -o takes the folder the spec files go in")
    if not out_dir.exists() and out_dir.suffix.lower() == ".json":
        # wfc compile -o payment.json would make a folder of that name.
        raise CliError(
            f"-o {display(out_dir)} looks like a file name, but -o takes the folder the spec files go in "
            "(each workflow to <folder>/<name>.json); give a folder, e.g. -o specs"
        )
    found = load_workflows(targets)
    outcomes, failures = [], []
    for item in found:
        try:
            outcomes.append(compile_one(item, out_dir))
        except WfcError as exc:
            failures.append(str(exc))
    if failures:
        raise CliError("\n".join(failures))
    _print_table(outcomes)
    for outcome in outcomes:
        for message in outcome.warnings:
            output.print_warning(f"{outcome.spec.name}: {message}")
    if check:
        _check(outcomes)
    else:
        _write(outcomes, out_dir)


def _output_dir(text: str) -> Path:
    """The ``--output`` folder; an empty one (``-o ''``, ``-o "$UNSET"``) is
    refused rather than read as the current folder."""
    if not text.strip():
        raise typer.BadParameter(
            "is empty; give the folder the spec files go in, e.g. -o specs", param_hint="'--output'"
        )
    return Path(text)


def compile_one(item: "FoundWorkflow", out_dir: Path) -> Outcome:
    """Compile one workflow against the spec file already in ``out_dir``."""
    from wfc.compiler import CompileWarning, compile_workflow
    from wfc.specs import dumps

    path = out_dir / _file_name(item)
    existing = read_bytes(path, "existing spec") if path.exists() else None
    try:
        previous = None if existing is None else parse_spec(existing, path)
    except CliError as exc:
        raise CliError(f"{exc}; fix the file or delete it to start again at version 1.0") from None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", CompileWarning)
        try:
            spec = compile_workflow(item.workflow, previous=previous)
        except WfcError:
            raise
        except Exception as exc:
            raise _user_code_failure(item, exc) from exc
    data = dumps(spec)
    return Outcome(spec, path, data, _change(previous, existing, spec, data), tuple(str(w.message) for w in caught))


def _file_name(item: "FoundWorkflow") -> str:
    name = str(item.workflow.name)
    if not name or name in (".", "..") or Path(name).name != name:
        raise CliError(f"workflow name {name!r} ({item.origin}) cannot be a file name; use letters, digits, '-'")
    return f"{name}.json"


def _user_code_failure(item: "FoundWorkflow", exc: Exception) -> Exception:
    """An exception raised by the user's workflow function becomes a message
    naming their line; one raised inside wfc stays an internal error."""
    from wfc.cli.locate import raised_in_user_code, user_frame, where

    frame = user_frame(exc)
    if not raised_in_user_code(exc) or frame is None:
        return exc
    return CliError(f"{where(frame)}: compiling {item.origin} failed: {type(exc).__name__}: {exc}")


def _change(previous: "WorkflowSpec | None", existing: bytes | None, spec: "WorkflowSpec", data: bytes) -> str:
    from wfc.compiler import diff_specs

    if previous is None:
        return "new"
    if existing == data:
        return "unchanged"
    summary = diff_specs(previous, spec).summary()
    return "reformatted" if summary == "no changes" else summary


def _print_table(outcomes: list[Outcome]) -> None:
    from rich.table import Table

    table = Table("workflow", "version", "nodes", "change")
    for outcome in outcomes:
        nodes = sum(len(thread.nodes) for thread in outcome.spec.threads.values())
        style = "dim" if outcome.change == "unchanged" else None
        table.add_row(outcome.spec.name, str(outcome.spec.version), str(nodes), outcome.change, style=style)
    output.stdout().print(table)


def _check(outcomes: list[Outcome]) -> None:
    stale = [outcome for outcome in outcomes if outcome.writes]
    for outcome in stale:
        if outcome.change == "new":
            output.print_error(f"{display(outcome.path)} would be created")
        else:
            output.print_error(f"{display(outcome.path)} would be updated: {outcome.change}")
    if stale:
        output.stderr().print("run `wfc compile` without --check to write them", soft_wrap=True)
        raise typer.Exit(1)
    output.stdout().print(f"{len(outcomes)} spec file(s) up to date")


def _write(outcomes: list[Outcome], out_dir: Path) -> None:
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CliError(f"cannot create the output folder {display(out_dir)}: {exc.strerror or exc}") from None
    written = 0
    for outcome in outcomes:
        if outcome.writes:
            try:
                write_atomic(outcome.path, outcome.data)
            except OSError as exc:
                # Each file is whole or as it was: say which are new already.
                before = [display(o.path) for o in outcomes if o.writes][:written]
                done = f" ({', '.join(before)} written before it)" if before else ""
                raise CliError(f"{describe_os_error(exc)}{done}") from None
            written += 1
    output.stdout().print(f"wrote {written} of {len(outcomes)} spec file(s) to {display(out_dir)}", soft_wrap=True)
