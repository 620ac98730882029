"""``wfc validate``: check spec files."""

from pathlib import Path
from typing import Annotated

import typer

from wfc.cli import output
from wfc.cli.errors import CliError
from wfc.cli.files import display, read_spec


def validate_command(
    files: Annotated[list[Path], typer.Argument(metavar="SPEC.json", help="Spec files to check.")],
) -> None:
    """Check that spec files are valid workflow specs.

    Prints one line per file; exits 1 when any file is invalid. A file whose
    hash does not match its body gets a warning: it was edited by hand.
    """
    from rich.text import Text

    from wfc.specs import body_hash

    console = output.stdout()
    failed = 0
    for path in files:
        try:
            spec = read_spec(path)
        except CliError as exc:
            output.print_error(str(exc))
            failed += 1
            continue
        count = sum(len(thread.nodes) for thread in spec.threads.values())
        line = Text.assemble(("ok ", "green"), f"{display(path)}: {spec.name} {spec.version}, {count} nodes")
        console.print(line, soft_wrap=True)
        if spec.hash and spec.hash != body_hash(spec):
            output.print_warning(f"{display(path)}: the hash does not match the body; was the file edited by hand?")
    if failed:
        raise typer.Exit(1)
