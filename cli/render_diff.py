"""The people's form of ``wfc diff``: what changed between two specs,
section by section, and the version the change needs."""

from __future__ import annotations

from rich.console import Console
from rich.text import Text

from wfc.compiler import SpecDiff
from wfc.specs import Version, WorkflowSpec

_REASONS = {"major": "major: interface break", "revision": "revision: compatible change"}
_MARKS = {"added": ("+", "green"), "removed": ("-", "red"), "changed": ("~", "yellow")}


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
