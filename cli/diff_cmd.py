"""``wfc diff``: what changed between two specs, and the version it needs."""

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from wfc.cli import output
from wfc.cli.files import read_spec

if TYPE_CHECKING:
    from wfc.compiler import SpecDiff
    from wfc.specs import Version, WorkflowSpec


def diff_command(
    old_file: Annotated[Path, typer.Argument(metavar="OLD.json", help="The earlier spec.")],
    new_file: Annotated[Path, typer.Argument(metavar="NEW.json", help="The later spec.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the diff as JSON.")] = False,
) -> None:
    """Show what changed between two specs and the version the change requires."""
    from wfc.cli.render_diff import print_diff
    from wfc.compiler import diff_specs, next_version

    old, new = read_spec(old_file), read_spec(new_file)
    diff = diff_specs(old, new)
    required = next_version(old, new)
    if as_json:
        import json  # only --json needs it

        output.echo(json.dumps(diff_as_json(diff, old, new, required), indent=2, ensure_ascii=False), json=True)
    else:
        print_diff(output.stdout(), diff, old, new, required)


def diff_as_json(diff: "SpecDiff", old: "WorkflowSpec", new: "WorkflowSpec", required: "Version") -> dict[str, Any]:
    """The diff as JSON-ready data."""
    return {
        "old": {"name": old.name, "version": str(old.version)},
        "new": {"name": new.name, "version": str(new.version)},
        "bump": diff.bump,
        "required_version": str(required),
        "summary": diff.summary(),
        "interface": [{"description": c.description, "breaking": c.breaking} for c in diff.interface],
        "nodes": [{"thread": c.thread, "node": c.node, "change": c.change, "detail": c.detail} for c in diff.nodes],
        "threads_added": list(diff.threads_added),
        "threads_removed": list(diff.threads_removed),
        "other": list(diff.other),
    }
