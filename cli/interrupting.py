"""Ctrl-C and SIGTERM while a command waits for the database.

On the first Ctrl-C asyncio's runner cancels the command's coroutine, and
the engine it opened closes: it lets its commit loop end what it was doing
first. On PostgreSQL that may be a statement waiting for a lock another
session holds, for up to the lock wait (``lock_timeout``, 10 s by default),
and a cancellation does not reach that loop, which is not the command's
task. So, before the command is cancelled, the statements the process's
stores are waiting for are cancelled on the server
(:func:`wfc.runtime.store.postgres.interrupt_statements`): their
transactions fail, rolled back with nothing written, and the command stops
at once with its usual message and exit code 130. On SQLite the wait is
for another process's write lock (``busy_timeout``, 10 s by default), and it
ends the same way, within a twentieth of a second
(:func:`wfc.runtime.store.sqlite_locks.interrupt_lock_waits`). SIGTERM is handled like
Ctrl-C (see :func:`wfc.cli._terminate_as_interrupt`), so it does the same.

A database error the command ends with after such an interrupt is what the
interrupt did (a transaction it cancelled, which the engine's close may
still meet): the command reports the interrupt, as it would have without
it (:meth:`Interrupt.caused`). Nothing of a cancelled transaction was
written.
"""

from __future__ import annotations

import asyncio
import functools
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from types import FrameType


class Interrupt:
    """Whether Ctrl-C (or SIGTERM) cut short the database waits of a command
    (see :func:`cutting_database_waits`)."""

    def __init__(self) -> None:
        self.signalled = False

    def caused(self, error: BaseException) -> bool:
        """True when ``error``, which ended the command, is what the
        interrupt did to it: a database error after the interrupt (the
        statement it cancelled, or the close of the engine meeting that
        transaction's failure)."""
        from wfc.runtime.errors import StoreError

        return self.signalled and (isinstance(error, StoreError) or getattr(error, "sqlstate", None) == _CANCELLED)


#: SQLSTATE of a statement the server cancelled (``query_canceled``).
_CANCELLED = "57014"


@contextmanager
def cutting_database_waits(interrupt: Interrupt | None = None) -> Iterator[None]:
    """In the block (run by the command's coroutine, under asyncio's
    runner): a Ctrl-C first cuts short the statements the process's stores
    are waiting for, then cancels the command as before (``interrupt`` is
    told). Where the command takes the signals itself (``wfc worker`` and
    ``wfc server`` while they serve replace the handler), or SIGINT is not
    asyncio's runner's (not on the main thread, or ignored), nothing
    changes."""
    previous = signal.getsignal(signal.SIGINT) if threading.current_thread() is threading.main_thread() else None
    if not _runner_handler(previous):
        yield
        return
    assert callable(previous)
    loop = asyncio.get_running_loop()
    runner_handler = previous

    def interrupted(signum: int, frame: FrameType | None) -> None:
        if interrupt is not None:
            interrupt.signalled = True
        with suppress(RuntimeError):  # the loop closed meanwhile: nothing waits any more
            loop.call_soon_threadsafe(_interrupt_stores)
        runner_handler(signum, frame)

    signal.signal(signal.SIGINT, interrupted)
    try:
        yield
    finally:
        if signal.getsignal(signal.SIGINT) is interrupted:
            signal.signal(signal.SIGINT, runner_handler)


def _runner_handler(handler: object) -> bool:
    """True for the SIGINT handler asyncio's runner installs while it runs
    the command's coroutine (it cancels that coroutine)."""
    if not isinstance(handler, functools.partial):
        return False
    return isinstance(getattr(handler.func, "__self__", None), asyncio.Runner)


def _interrupt_stores() -> None:
    """Cut short the waits of every store open (or opening) in this process:
    PostgreSQL's statements, SQLite's waits for another process's write
    lock (none if that store was never imported)."""
    postgres = sys.modules.get("wfc.runtime.store.postgres")
    if postgres is not None:
        postgres.interrupt_statements()
    sqlite_locks = sys.modules.get("wfc.runtime.store.sqlite_locks")
    if sqlite_locks is not None:
        sqlite_locks.interrupt_lock_waits()
