"""Opening a SQLite file: checks that leave foreign files untouched, and the
numbered, append-only migrations in ``migrations/sqlite``."""

from __future__ import annotations

import re
import sqlite3
from importlib import resources
from pathlib import Path
from typing import Final
from urllib.parse import quote

from wfc.runtime.errors import NewerDatabaseError, NotAWfcDatabaseError, StoreError

#: ``PRAGMA application_id`` of wfc databases ("wfc1").
APPLICATION_ID: Final = 0x77666331
_HEADER: Final = b"SQLite format 3\x00"
_BUSY_TIMEOUT_MS: Final = 10_000
_MIGRATION_FILE = re.compile(r"^(\d{4})_(\w+)\.sql$")


def migrations() -> list[tuple[int, str, str]]:
    """``(version, name, sql)`` of every SQLite migration, in order."""
    folder = resources.files("wfc.runtime.store").joinpath("migrations", "sqlite")
    found = []
    for entry in folder.iterdir():
        match = _MIGRATION_FILE.match(entry.name)
        if match:
            found.append((int(match.group(1)), match.group(2), entry.read_text(encoding="utf-8")))
    found.sort()
    for index, (version, name, _) in enumerate(found, start=1):
        if version != index:
            raise RuntimeError(f"SQLite migrations must be numbered 1, 2, 3, ...: found {version:04d}_{name}")
    return found


def latest_version() -> int:
    """The schema version this wfc writes."""
    return len(migrations())


def _statements(sql: str) -> list[str]:
    lines = [line for line in sql.splitlines() if not line.strip().startswith("--")]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]


# ---------------------------------------------------------------- opening


def _inspect(path: str) -> int:
    """Schema version of the wfc database at ``path`` (0: new or empty).

    Reads only; raises a :class:`StoreError` for files that are not ours.
    """
    file = Path(path)
    if not file.exists() or file.stat().st_size == 0:
        if not file.parent.exists():
            raise StoreError(path, f"directory {str(file.parent)!r} does not exist; create it first")
        return 0
    try:
        with file.open("rb") as handle:
            header = handle.read(len(_HEADER))
    except OSError as exc:
        raise StoreError(path, f"cannot read it ({exc.strerror})") from None
    if header != _HEADER:
        raise NotAWfcDatabaseError(path, "it is not a SQLite database; give a wfc database file or a new path")
    # Without a WAL file the main file is the whole database: open it as
    # immutable so SQLite creates no -wal/-shm side files next to a file that
    # may not be ours. With a WAL file present its content must be read too.
    mode = "mode=ro" if Path(f"{file}-wal").exists() else "mode=ro&immutable=1"
    try:
        conn = sqlite3.connect(f"file:{quote(str(file.resolve()))}?{mode}", uri=True)
    except sqlite3.Error as exc:
        raise StoreError(path, f"cannot open it read-only to check it ({exc})") from None
    try:
        app_id = conn.execute("PRAGMA application_id").fetchone()[0]
        tables = sorted(row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'"))
        if app_id == APPLICATION_ID:
            row = conn.execute("SELECT max(version) FROM wfc_migrations").fetchone()
            return int(row[0] or 0)
    except sqlite3.DatabaseError as exc:
        raise NotAWfcDatabaseError(path, f"it cannot be read as SQLite ({exc})") from None
    finally:
        conn.close()
    if app_id == 0 and not tables:
        return 0
    shown = ", ".join(tables[:5]) + (", ..." if len(tables) > 5 else "")
    raise NotAWfcDatabaseError(
        path,
        f"it is a SQLite database of another application (application_id {app_id}, tables: {shown or 'none'}); "
        f"wfc will not write to it. Use another path",
    )


def migrate(conn: sqlite3.Connection, location: str, now: float) -> None:
    """Apply the migrations the database lacks, all in one transaction.

    Raises:
        NewerDatabaseError: it records a migration this wfc does not know.
    """
    known = migrations()
    conn.execute("BEGIN IMMEDIATE")
    try:
        # Checked again inside the write lock: another process may have
        # migrated between the read-only inspection and now.
        app_id = conn.execute("PRAGMA application_id").fetchone()[0]
        current = 0
        if app_id == APPLICATION_ID:
            current = int(conn.execute("SELECT max(version) FROM wfc_migrations").fetchone()[0] or 0)
        if current > len(known):
            raise NewerDatabaseError(location, current, len(known))
        for version, name, sql in known[current:]:
            for statement in _statements(sql):
                conn.execute(statement)
            conn.execute(
                "INSERT INTO wfc_migrations (version, name, applied_at) VALUES (?, ?, ?)", (version, name, now)
            )
        if app_id != APPLICATION_ID:
            conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def connect(target: str, location: str, *, writer: bool) -> sqlite3.Connection:
    """A connection with wfc's settings; readers are ``query_only``."""
    try:
        conn = sqlite3.connect(target, isolation_level=None, check_same_thread=False)
    except sqlite3.Error as exc:
        raise StoreError(location, f"cannot open it ({exc})") from None
    conn.row_factory = sqlite3.Row
    conn.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("PRAGMA secure_delete = ON")  # secrets erased from a run must not linger in freed space
    if not writer:
        conn.execute("PRAGMA query_only = ON")
    return conn


def open_file(path: str, now: float) -> tuple[sqlite3.Connection, sqlite3.Connection]:
    """Check, migrate and open ``path``: ``(writer, reader)`` connections.

    Nothing is written before the file is known to be new or a wfc database
    this wfc can read.
    """
    found = _inspect(path)
    supported = latest_version()
    if found > supported:
        raise NewerDatabaseError(path, found, supported)
    writer = connect(path, path, writer=True)
    try:
        mode = writer.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise StoreError(path, f"cannot switch it to WAL mode (got {mode!r}); is it on a network file system?")
        writer.execute("PRAGMA synchronous = FULL")
        migrate(writer, path, now)
        reader = connect(path, path, writer=False)
    except BaseException:
        writer.close()
        raise
    return writer, reader
