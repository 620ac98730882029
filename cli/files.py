"""Reading specs and writing files, with errors that name the file."""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from wfc.cli.errors import CliError, describe_os_error
from wfc.specs.errors import SpecError

if TYPE_CHECKING:
    from wfc.specs import WorkflowSpec


def display(path: Path | str) -> str:
    """``path`` as the user should see it: relative to the working directory
    when it is inside it. A symbolic link is named as given, not by what it
    points to: that is the name the user knows."""
    try:
        here = os.getcwd()
    except FileNotFoundError:  # the working directory was deleted: relative to nothing
        return str(path)
    absolute = Path(os.path.abspath(path))  # abspath, not resolve(): links stay as they are
    try:
        return str(absolute.relative_to(here))
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
    """Write ``data`` to ``path`` as :func:`replacing` does."""
    with replacing(path) as handle:
        handle.write(data)


@contextlib.contextmanager
def replacing(path: Path) -> Iterator[BinaryIO]:
    """A file to write the new content of ``path`` to, such that readers see
    the old file or the new one, never half of it: a temporary file beside
    it, flushed to disk and renamed over it once the block ends without an
    error (removed if it raises). The new file keeps the mode of the one it
    replaces. A symbolic link is followed: the file it points to is
    replaced, not the link. A path that exists and is not a regular file (a
    device such as ``/dev/null``, a named pipe) is written in place:
    renaming over it would replace the device with a file.

    Raises:
        OSError: it cannot be written; the error names ``path``.
    """
    import tempfile  # only a command that writes needs it (and its random, hashlib)

    target = Path(os.path.realpath(path))
    try:
        found: os.stat_result | None = target.stat()
    except FileNotFoundError:
        found = None
    except OSError as exc:
        raise _naming(exc, path) from None
    if found is not None and stat.S_ISDIR(found.st_mode):
        raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), display(path))
    if (found is not None and not stat.S_ISREG(found.st_mode)) or _special(path, target):
        # Appended to, not truncated: /dev/stdout of `wfc ... -o /dev/stdout >> log` is the log itself.
        try:
            handle = Path(path).open("ab")  # noqa: SIM115 - closed by the with below
        except OSError as exc:
            raise _naming(exc, path) from None
        with _named(path), handle:  # named outside: closing flushes, and a full disk fails that too
            yield handle
        return
    try:
        fd, temp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    except OSError as exc:
        raise _naming(exc, path) from None
    try:
        # mkstemp makes the file private: give it the mode of the one it replaces, or a new file's
        os.fchmod(fd, stat.S_IMODE(found.st_mode) if found is not None else 0o666 & ~_umask())
        with _named(path), os.fdopen(fd, "wb") as handle:  # named outside: closing flushes too
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise


def _special(path: Path, target: Path) -> bool:
    """Whether ``path`` names a file through the kernel's own folders
    (``/dev/stdout``, ``/dev/fd/3``, ``/proc/self/fd/1``): what it resolves to
    is another process's open file (a shell's redirection), which renaming
    over would replace and cut off from that process."""
    special = ("/dev/", "/proc/")
    return str(Path(path).absolute()).startswith(special) or str(target).startswith(special)


@contextlib.contextmanager
def _named(path: Path) -> Iterator[None]:
    """Name ``path`` in a write's error that names no file (a full disk)."""
    try:
        yield
    except OSError as exc:
        if exc.filename is None:
            exc.filename = display(path)
        raise


def _naming(exc: OSError, path: Path) -> OSError:
    """``exc`` about ``path`` as the user gave it (not a temporary file
    beside it, or the end of a symbolic link)."""
    exc.filename = display(path)
    return exc


def _umask() -> int:
    current = os.umask(0o022)
    os.umask(current)
    return current
