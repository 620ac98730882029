"""Counters a benchmark process installs on itself before it opens a database.

- :class:`SqliteCommits` wraps ``sqlite3.connect`` so that every connection
  is a :class:`CountingConnection`, which counts the transactions it commits:
  a ``COMMIT``/``END`` statement run through it, or a call of its
  ``commit()`` with a transaction open (SQLAlchemy's pysqlite dialect, which
  DBOS uses, commits that way). Both wfc and DBOS open their files with
  ``sqlite3.connect``, so both are counted the same way. It can also force
  ``synchronous=FULL`` on every connection (DBOS does not set it; wfc does),
  so both sides are durable against power loss. (An earlier version counted
  through SQLite's trace hook, which calls back into Python for every
  statement and every row of an ``executemany``, from the connection's
  thread: it cost wfc about a tenth of its CPU per step at 1,000 runs.)
- :class:`AsyncpgCalls` wraps asyncpg's connection methods and counts the
  calls that reach the server: each is one round trip (a statement, a
  ``BEGIN`` or a ``COMMIT``), the driver-level stand-in for
  ``pg_stat_statements``, which needs a server restart to load.
- :func:`written_bytes` is what this process has written to storage: on
  SQLite, the pages its commits write (WAL frames and checkpoints);
- :func:`cpu_seconds` is this process's CPU time, all threads included;
  :func:`backend_cpu_seconds` the CPU time of the PostgreSQL backends serving
  a database, when the server runs on this machine.
"""

from __future__ import annotations

import functools
import os
import resource
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any


def process_cpu_seconds(pid: int) -> float:
    """User plus system CPU time of another process on this machine (Linux
    ``/proc``); 0.0 if it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def backend_cpu_seconds(url: str) -> float | None:
    """CPU time of every PostgreSQL backend connected to the database of
    ``url`` (this benchmark's own fresh database, so all of them serve it),
    read from ``/proc``: the server is on this machine. ``None`` when it is
    not (no backend process visible)."""
    import asyncpg  # type: ignore[import-untyped]

    conn = await asyncpg.connect(url)
    try:
        pids = await conn.fetch(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
    finally:
        await conn.close()
    found = [pid["pid"] for pid in pids if Path(f"/proc/{pid['pid']}").exists()]
    return sum(process_cpu_seconds(pid) for pid in found) if found else None


def cpu_seconds() -> float:
    """User plus system CPU time of this process (every thread)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class SqliteCommits:
    """Counts the transactions committed on every SQLite connection opened
    after :meth:`install`."""

    def __init__(self) -> None:
        self.commits = 0
        self.sync_pragmas: set[str] = set()
        """The ``PRAGMA synchronous`` statements run on the connections."""

    def noted(self, sql: str) -> None:
        """A statement run through :meth:`CountingConnection.execute`."""
        head = sql.lstrip()[:20].upper()
        if head.startswith(("COMMIT", "END")):
            self.commits += 1
        elif head.startswith("PRAGMA SYNCHRONOUS") and "=" in sql:
            self.sync_pragmas.add(" ".join(sql.split()))

    def install(self, *, force_full_sync: bool = False) -> None:
        """Wrap ``sqlite3.connect`` (and its ``dbapi2`` alias SQLAlchemy uses)."""
        real = sqlite3.connect
        counter = self

        class Counting(CountingConnection):
            counts = counter

        @functools.wraps(real)
        def connect(*args: Any, **kwargs: Any) -> sqlite3.Connection:
            kwargs.setdefault("factory", Counting)
            conn: sqlite3.Connection = real(*args, **kwargs)
            if force_full_sync:
                conn.execute("PRAGMA synchronous = FULL")
            return conn

        sqlite3.connect = connect  # type: ignore[assignment]
        sqlite3.dbapi2.connect = connect  # type: ignore[assignment]

    def snapshot(self) -> int:
        """Commits so far."""
        return self.commits


class CountingConnection(sqlite3.Connection):
    """A connection that tells :attr:`counts` of each transaction it commits;
    a Python call per ``execute``, none per row or per cursor statement."""

    counts: SqliteCommits

    def execute(self, sql: str, *args: Any) -> sqlite3.Cursor:
        self.counts.noted(sql)
        return super().execute(sql, *args)

    def commit(self) -> None:
        if self.in_transaction:
            self.counts.commits += 1
        super().commit()


def written_bytes() -> int | None:
    """Bytes this process has had written to storage (``write_bytes`` of
    ``/proc/self/io``: pages it dirtied, sockets not included); ``None``
    where the kernel does not say."""
    try:
        with open("/proc/self/io") as io:
            for line in io:
                key, _, value = line.partition(":")
                if key == "write_bytes":
                    return int(value)
    except OSError:
        pass
    return None


def written_kb_per_step(before: int | None, steps: int) -> float | None:
    """KiB written to storage per step since ``before`` (:func:`written_bytes`)."""
    after = written_bytes()
    if before is None or after is None or not steps:
        return None
    return round((after - before) / 1024 / steps, 3)


def sqlite_synchronous(path: str) -> tuple[str, int]:
    """The journal mode of the file at ``path`` and the ``synchronous`` level
    a new connection gets by default (0 OFF, 1 NORMAL, 2 FULL, 3 EXTRA)."""
    conn = sqlite3.connect(path)
    try:
        mode = str(conn.execute("PRAGMA journal_mode").fetchone()[0])
        level = int(conn.execute("PRAGMA synchronous").fetchone()[0])
    finally:
        conn.close()
    return mode, level


class AsyncpgCalls:
    """Counts asyncpg calls that make a round trip to the server."""

    def __init__(self) -> None:
        self.round_trips = 0
        self.commits = 0
        """``COMMIT`` statements: transactions opened with ``BEGIN``."""
        self.verbs: dict[str, int] = {}
        """Round trips by the first word of their statement (SELECT, INSERT, ...)."""

    def _count(self, query: object) -> None:
        self.round_trips += 1
        text = query if isinstance(query, str) else str(getattr(query, "query", ""))
        verb = text.lstrip().split(None, 1)[0].rstrip(";").upper() if text.strip() else "?"
        self.verbs[verb] = self.verbs.get(verb, 0) + 1
        if verb == "COMMIT":
            self.commits += 1

    def install(self) -> None:
        """Wrap the asyncpg ``Connection`` methods every query goes through.

        ``execute`` without arguments is a simple query (``BEGIN``,
        ``COMMIT``, scripts); with arguments it goes through ``_execute``
        like ``fetch``/``fetchrow``/``fetchval``; ``executemany`` through
        ``_executemany``. Counting ``execute`` only without arguments counts
        each call once.
        """
        from asyncpg.connection import Connection  # type: ignore[import-untyped]

        counter = self

        def wrap(name: str, count_if: Callable[..., bool]) -> None:
            real = getattr(Connection, name)

            @functools.wraps(real)
            async def counted(conn: Any, *args: Any, **kwargs: Any) -> Any:
                if count_if(*args, **kwargs):
                    counter._count(args[0] if args else kwargs.get("query", ""))
                return await real(conn, *args, **kwargs)

            setattr(Connection, name, counted)

        wrap("execute", lambda query, *args, **kwargs: not args)
        wrap("_execute", lambda *args, **kwargs: True)
        wrap("_executemany", lambda *args, **kwargs: True)
