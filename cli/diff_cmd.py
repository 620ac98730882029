"""``wfc diff``: what changed between two specs, and the version it needs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.text import Text

from wfc.cli import output
from wfc.cli.files import read_spec
from wfc.compiler import SpecDiff, diff_specs, next_version
from wfc.specs import Version, WorkflowSpec

_REASONS = {"major": "major: interface break", "revision": "revision: compatible change"}
_MARKS = {"added": ("+", "green"), "removed": ("-", "red"), "changed": ("~", "yellow")}


def diff_command(
    old_file: Annotated[Path, typer.Argument(metavar="OLD.json", help="The earlier spec.")],
    new_file: Annotated[Path, typer.Argument(metavar="NEW.json", help="The later spec.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the diff as JSON.")] = False,
) -> None:
    """Show what changed between two specs and the version the change requires."""
    old, new = read_spec(old_file), read_spec(new_file)
    diff = diff_specs(old, new)
    required = next_version(old, new)
    if as_json:
        typer.echo(json.dumps(diff_as_json(diff, old, new, required), indent=2, ensure_ascii=False))
    else:
        print_diff(output.stdout(), diff, old, new, required)


def diff_as_json(diff: SpecDiff, old: WorkflowSpec, new: WorkflowSpec, required: Version) -> dict[str, Any]:
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


def print_diff(console: Console, diff: SpecDiff, old: WorkflowSpec, new: WorkflowSpec, required: Version) -> None:
    """Print the diff for people, section by section."""
    console.print(Text.assemble((f"{old.name} {old.version}", "bold"), " → ", (f"{new.name} {new.version}", "bold")))
    if diff.interface:
        console.print(Text("interface", style="bold"))
        for change in diff.interface:
            mark = ("  ✗ breaking: ", "red") if change.breaking else ("  · ", "")
            console.print(Text.assemble(mark, change.description), soft_wrap=True)
    _print_threads(console, diff)
    if diff.other:
        console.print(Text("other", style="bold"))
        for line in diff.other:
            console.print(Text(f"  · {line}"), soft_wrap=True)
    _print_verdict(console, diff, old, new, required)


def _print_threads(console: Console, diff: SpecDiff) -> None:
    for name in diff.threads_added:
        console.print(Text.assemble(("+ ", "green"), f"thread {name} added"))
    for name in diff.threads_removed:
        console.print(Text.assemble(("- ", "red"), f"thread {name} removed"))
    for thread in dict.fromkeys(change.thread for change in diff.nodes):
        console.print(Text(f"nodes of thread {thread}", style="bold"))
        for change in diff.nodes:
            if change.thread == thread:
                mark, style = _MARKS[change.change]
                line = Text.assemble((f"  {mark} {change.node}", style), f" ({change.detail})")
                console.print(line, soft_wrap=True)


def _print_verdict(console: Console, diff: SpecDiff, old: WorkflowSpec, new: WorkflowSpec, required: Version) -> None:
    if diff.bump == "none":
        console.print(Text(f"no changes; the version stays {old.version}", style="green"))
        return
    style = "bold red" if diff.bump == "major" else "bold"
    console.print(Text(f"this change requires version {required} ({_REASONS[diff.bump]})", style=style))
    if new.version != required:
        console.print(Text(f"note: the new spec says version {new.version}", style="yellow"))
