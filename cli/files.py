"""Reading specs and writing files, with errors that name the file."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import TYPE_CHECKING

from wfc.cli.errors import CliError, describe_os_error
from wfc.specs.errors import SpecError

if TYPE_CHECKING:
    from wfc.specs import WorkflowSpec


def display(path: Path | str) -> str:
    """``path`` as the user should see it: relative to the working directory
    when it is inside it."""
    path = Path(path)
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def read_bytes(path: Path, what: str = "file") -> bytes:
    """The content of ``path``; a missing file, a directory or an unreadable
    file is a :class:`CliError` naming it."""
    try:
        return path.read_bytes()
    except OSError as exc:
        exc.filename = display(path)
        raise CliError(describe_os_error(exc, what)) from None


def parse_spec(data: bytes, path: Path) -> WorkflowSpec:
    """Decode a spec read from ``path``; raises :class:`CliError` naming the
    file and the ``$.``-path of the problem."""
    from wfc.specs import loads

    try:
        return loads(data)
    except SpecError as exc:
        raise CliError(f"{display(path)}: {exc}") from None


def read_spec(path: Path) -> WorkflowSpec:
    """Read and validate the spec file at ``path``."""
    return parse_spec(read_bytes(path, "spec file"), path)


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the new
    one, never half of it: write a temporary file beside it, then rename."""
    import tempfile  # only a command that writes needs it (and its random, hashlib)

    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o666 & ~_umask())  # mkstemp makes the file private
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise


def _umask() -> int:
    current = os.umask(0o022)
    os.umask(current)
    return current
