"""How many files the process may still open (``ulimit -n``), and the message
for when that is too few.

A command that runs out of file descriptors fails wherever it happens to
open the next one: SQLite then says only that it cannot open the database,
an import names a module file, and ``wfc run`` could report a failure after
its run completed. So a command that opens the database first checks that
it has the few it needs (:func:`require_free_files`), and says so plainly
when not; an ``EMFILE`` that still happens later is named as such
(:func:`wfc.runtime.open_files.out_of_files_message`, used by
:func:`wfc.cli.errors.describe_os_error`).
"""

from __future__ import annotations

from typing import Final

from wfc.cli.errors import CliError

#: File descriptors a command that opens the database needs free: the
#: database with its ``-wal`` and ``-shm`` files (or PostgreSQL connections),
#: the event loop's own, and the modules still to be imported, with room
#: to spare (``wfc run`` of the payment example uses 11 beyond the three
#: standard streams).
NEEDED: Final = 16
#: Those a command that only reads needs free: no engine, no ``-wal`` to create.
READING_NEEDED: Final = 8


def require_free_files(needed: int = NEEDED) -> None:
    """Raise a :class:`CliError` unless ``needed`` more files may be opened."""
    # Here, not at the top: `wfc --help` and the other commands that open no
    # database import nothing of the runtime.
    from wfc.runtime.open_files import free_descriptors, out_of_files_message

    free = free_descriptors()
    if free is not None and free < needed:
        raise CliError(out_of_files_message(f"only {free} more files may be opened, and this command needs {needed}"))
