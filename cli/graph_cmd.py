"""``wfc graph``: draw a spec as Mermaid, Graphviz dot, or a terminal tree."""

import enum
from pathlib import Path
from typing import Annotated

import typer

from wfc.cli import output
from wfc.cli.errors import CliError
from wfc.cli.files import display, read_spec


class GraphFormat(enum.StrEnum):
    """Output formats of ``wfc graph``."""

    MERMAID = "mermaid"
    DOT = "dot"
    TREE = "tree"


def graph_command(
    file: Annotated[Path, typer.Argument(metavar="SPEC.json", help="The spec file to draw.")],
    fmt: Annotated[
        GraphFormat, typer.Option("--format", "-f", help="mermaid or dot text, or a tree in the terminal.")
    ] = GraphFormat.MERMAID,
    thread: Annotated[str | None, typer.Option("--thread", "-t", metavar="NAME", help="Draw only this thread.")] = None,
) -> None:
    """Draw a spec's threads, nodes and edges."""
    from wfc.cli.render_graph import to_dot, to_mermaid
    from wfc.cli.render_tree import to_tree

    spec = read_spec(file)
    if thread is not None and thread not in spec.threads:
        known = ", ".join(sorted(spec.threads))
        raise CliError(f"{display(file)} has no thread {thread!r}; its threads are: {known}")
    threads = [thread] if thread is not None else [spec.entrypoint, *sorted(set(spec.threads) - {spec.entrypoint})]
    match fmt:
        case GraphFormat.MERMAID:
            output.echo(to_mermaid(spec, threads), nl=False)
        case GraphFormat.DOT:
            output.echo(to_dot(spec, threads), nl=False)
        case GraphFormat.TREE:
            output.stdout().print(to_tree(spec, thread))
