"""How many files the process may still open (``ulimit -n``), and the message
for when that is too few.

A command that runs out of file descriptors fails wherever it happens to
open the next one: SQLite then says only that it cannot open the database,
an import names a module file, and ``wfc run`` could report a failure after
its run completed. So a command that opens the database first checks that
it has the few it needs (:func:`require_free_files`), and says so plainly
when not; an ``EMFILE`` that still happens later is named as such
(:func:`out_of_files_message`, used by :func:`wfc.cli.errors.describe_os_error`).
"""

from __future__ import annotations

import os
from typing import Final

from wfc.cli.errors import CliError

#: File descriptors a command that opens the database needs free: the
#: database with its ``-wal`` and ``-shm`` files (or PostgreSQL connections),
#: the event loop's own, and the modules still to be imported, with room
#: to spare (``wfc run`` of the payment example uses 11 beyond the three
#: standard streams).
NEEDED: Final = 16


def open_files_limit() -> int | None:
    """The most files this process may have open at once (the soft
    ``RLIMIT_NOFILE``), or ``None`` where unlimited or unknown."""
    try:
        import resource
    except ImportError:  # Windows
        return None
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    return None if soft == resource.RLIM_INFINITY else soft


def free_descriptors() -> int | None:
    """How many more files the process may open now, or ``None`` where that
    cannot be known. Descriptors inherited from the parent count as used."""
    limit = open_files_limit()
    if limit is None:
        return None
    try:
        names = os.listdir("/proc/self/fd")  # Linux; the listing's own descriptor is among them
    except OSError:
        return limit - 3  # the standard streams
    used = sum(1 for name in names if name.isdigit() and int(name) < limit) - 1
    return limit - used


def require_free_files(needed: int = NEEDED) -> None:
    """Raise a :class:`CliError` unless ``needed`` more files may be opened."""
    free = free_descriptors()
    if free is not None and free < needed:
        raise CliError(out_of_files_message(f"only {free} more files may be opened, and this command needs {needed}"))


def out_of_files_message(what: str, *, system: bool = False) -> str:
    """What to do when no more files may be opened: ``EMFILE``, this
    process's limit, or (``system``) ``ENFILE``, the whole system's."""
    if system:
        return f"{what}: the system has too many files open; close programs or raise fs.file-max, then run it again"
    limit = open_files_limit()
    shown = "unlimited" if limit is None else str(limit)
    return (
        f"{what}: this process may have only {shown} files open at once (`ulimit -n` is {shown}); "
        f"raise the limit (e.g. `ulimit -n 1024`) and run the command again"
    )
