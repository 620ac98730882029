"""Waiting for another process's write lock, in slices an interrupt can end.

SQLite waits for a lock inside the one call that needs it: its busy handler
sleeps until ``busy_timeout`` has passed, and nothing ends that wait early
(``Connection.interrupt()`` is not looked at while it sleeps, SQLite 3.40).
A ``wfc runs cancel`` stopped with Ctrl-C while another process held the
write lock took the whole ``busy_timeout`` (10 s) to stop.

So a connection that writes waits one :data:`SLICE` at a time (its
``busy_timeout``), and :meth:`LockWaits.begin` asks for the lock again,
slice after slice, until the store's whole ``busy_timeout`` has passed: a
write waits as long as before, and :meth:`LockWaits.interrupt` ends the
wait within a slice. Ctrl-C, SIGTERM and SIGHUP do that for every store of the
process (:func:`interrupt_lock_waits`, called by the command line), a
cancelled engine for its own (``Store.interrupt``). Every write of a
writer connection takes the lock with ``BEGIN IMMEDIATE``, never with its
first statement, so that is where it waits (and its one other statement
outside a transaction, the read of ``data_version``, waits the same way).
Readers keep the whole ``busy_timeout``: in WAL they wait only while
another process recovers the file, which is brief. Opening a file, which a
process that keeps the file to itself (``locking_mode=EXCLUSIVE``) makes
wait as long as it likes, waits in slices as writes do, for readers too
(``open_file``).
"""

from __future__ import annotations

import functools
import sqlite3
import threading
import time
import weakref
from collections.abc import Callable
from typing import Final, TypeVar

T = TypeVar("T")

#: Longest one statement of a writer connection waits for another
#: process's lock before wfc looks whether it was interrupted, seconds.
SLICE: Final = 0.05

_OPEN: weakref.WeakSet[LockWaits] = weakref.WeakSet()
"""The lock waits of every SQLite store of this process, open or opening."""


def interrupt_lock_waits() -> None:
    """End the waits for another process's write lock of every SQLite store
    of this process, now and from now on (see :meth:`LockWaits.interrupt`)."""
    for waits in list(_OPEN):
        waits.interrupt()


class LockWaits:
    """How long one store's writes wait for another process's write lock,
    and whether they were interrupted. Shared by the threads of its
    connections."""

    def __init__(self, busy_timeout: float) -> None:
        self.busy_timeout = busy_timeout
        """Seconds a write waits in all."""
        self.slice = min(SLICE, busy_timeout)
        """Seconds one statement waits: a writer connection's ``busy_timeout``."""
        self._interrupted = threading.Event()
        _OPEN.add(self)

    @property
    def interrupted(self) -> bool:
        return self._interrupted.is_set()

    def interrupt(self) -> None:
        """A wait for the lock ends at the end of its slice, with an
        ``SQLITE_INTERRUPT`` error (its transaction never began: nothing of
        it is written), and each later one waits a slice at most: what a
        closing engine still writes goes through if the lock is free."""
        self._interrupted.set()

    def begin(self, conn: sqlite3.Connection) -> None:
        """``BEGIN IMMEDIATE`` on ``conn``, a writer connection (its
        ``busy_timeout`` set to :attr:`slice`), waiting as :meth:`waiting` does."""
        self.waiting(functools.partial(conn.execute, "BEGIN IMMEDIATE"))

    def waiting(self, call: Callable[[], T]) -> T:
        """``call()``, one statement that takes a lock and nothing else
        (safe to make again), on a writer connection: made again slice
        after slice while another process holds the lock.

        Raises:
            sqlite3.OperationalError: ``SQLITE_BUSY`` once :attr:`busy_timeout`
                has passed, ``SQLITE_INTERRUPT`` once interrupted; any other
                error at once.
        """
        deadline = time.monotonic() + self.busy_timeout
        while True:
            began = time.monotonic()
            try:
                return call()
            except sqlite3.OperationalError as exc:
                if (getattr(exc, "sqlite_errorcode", 0) & 0xFF) != sqlite3.SQLITE_BUSY:
                    raise  # extended codes keep the primary one in the low byte
                if self.interrupted:
                    raise interrupted_error() from None
                now = time.monotonic()
                if now >= deadline:
                    raise
            # Back sooner than a slice: the connection waited less (its
            # busy_timeout not set, or an SQLite without usleep, which waits
            # whole seconds or not at all). Waited here instead, or this
            # would spin: an interrupt still ends it.
            rest = min(self.slice - (now - began), deadline - now)
            if rest > self.slice / 2:
                self._interrupted.wait(rest)


def interrupted_error() -> sqlite3.OperationalError:
    """The error of a wait for the lock that an interrupt ended: transient,
    as SQLite's own ``SQLITE_INTERRUPT`` is."""
    error = sqlite3.OperationalError(
        "interrupted while waiting for another process's write lock (Ctrl-C, SIGTERM, SIGHUP, or the engine's caller "
        "was cancelled); nothing of the transaction was written"
    )
    error.sqlite_errorcode = sqlite3.SQLITE_INTERRUPT
    error.sqlite_errorname = "SQLITE_INTERRUPT"
    return error
