"""How many files this process may still open (``ulimit -n``), and what to
say when that is too few: one message for the store, the command line and
the server.

A process that runs out of file descriptors fails wherever it happens to
open the next one: SQLite then says only that it cannot open the database,
an import names a module file, a server cannot accept a connection. Each
place that can tell names the cause with :func:`out_of_files_message`.
"""

from __future__ import annotations

import errno
import os


def open_files_limit() -> int | None:
    """The most files this process may have open at once (the soft
    ``RLIMIT_NOFILE``), or ``None`` where unlimited or unknown."""
    try:
        import resource
    except ImportError:  # Windows
        return None
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    return None if soft == resource.RLIM_INFINITY else soft


def open_files() -> int | None:
    """How many files this process has open now (those inherited from its
    parent count), or ``None`` where that cannot be known."""
    for listing in ("/proc/self/fd", "/dev/fd"):  # Linux; macOS and the BSDs
        try:
            names = os.listdir(listing)
        except OSError as exc:
            if exc.errno in (errno.EMFILE, errno.ENFILE):
                return open_files_limit()  # not even the listing could be opened: none left
            continue
        return sum(1 for name in names if name.isdigit()) - 1  # the listing's own
    return None


def free_descriptors() -> int | None:
    """How many more files the process may open now, or ``None`` where that
    cannot be known."""
    limit, used = open_files_limit(), open_files()
    return None if limit is None or used is None else max(0, limit - used)


def out_of_files_message(what: str, *, system: bool = False) -> str:
    """``what`` failed for want of files: ``EMFILE``, this process's limit,
    or (``system``) ``ENFILE``, the whole system's; and what to do."""
    if system:
        return f"{what}: the system has too many files open; close programs or raise fs.file-max, then try again"
    limit, used = open_files_limit(), open_files()
    if limit is None:
        return f"{what}: this process has too many files open; raise its limit (`ulimit -n`), then try again"
    inherited = f", {used} of them open already" if used is not None and used > 16 else ""
    return (
        f"{what}: this process may have only {limit} files open at once (`ulimit -n` is {limit}{inherited}); "
        f"raise the limit (e.g. `ulimit -n {max(1024, 2 * limit)}`), or start it with fewer files open, "
        f"then try again"
    )
