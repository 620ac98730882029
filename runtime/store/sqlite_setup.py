"""Opening a SQLite file: checks that leave foreign files untouched, the
numbered, append-only migrations in ``migrations/sqlite``, and the
translation of SQLite's failures into errors that say what to do.

A file is opened for writing (checked, switched to WAL, migrated) or, for
commands that only read, read-only: then nothing is written, not even the
journal mode, so a read-only file or a file in a read-only folder can be read.
How long to wait for another process's write lock is ``?busy_timeout=SECONDS``
in the URL, else ``$WFC_SQLITE_BUSY_TIMEOUT``, else 10 seconds.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import os
import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Final, NamedTuple, TypeVar
from urllib.parse import parse_qsl, quote

from wfc.runtime.errors import (
    CorruptDatabaseError,
    DatabaseLockedError,
    DatabaseUrlError,
    MissingTablesError,
    NewerDatabaseError,
    NotAWfcDatabaseError,
    ReadOnlyDatabaseError,
    StoreError,
)
from wfc.runtime.open_files import out_of_files_message
from wfc.runtime.store import schema
from wfc.runtime.store.dialect import wait_seconds
from wfc.runtime.store.sqlite_locks import LockWaits, interrupted_error

#: Page cache of the writing connection, KiB (SQLite's default is 2 MiB):
#: a step rewrites rows all over the runs, threads and journal tables, and
#: with 10,000 runs live (a 40 MB file) a 2 MiB cache read most pages back
#: from the OS at every commit. 64 MiB cut the CPU per step at 10,000 runs
#: by about a quarter (bench/, throughput 10000). The cache fills only as
#: pages are read; it is kept across transactions.
WRITER_CACHE_KIB: Final = 65_536
#: Prepared statements the writing connection keeps (Python's default:
#: 128). A commit's rows go in as statements of 1, 2, 4 ... 256 rows per
#: table (see :mod:`.sqlite_flush`): up to nine shapes of each, and a long
#: one prepared again costs more than it saves.
WRITER_STATEMENTS: Final = 512
#: Page cache of each reading connection, KiB.
READER_CACHE_KIB: Final = 16_384

_T = TypeVar("_T")

#: ``PRAGMA application_id`` of wfc databases ("wfc1").
APPLICATION_ID: Final = 0x77666331
_HEADER: Final = b"SQLite format 3\x00"
#: The first bytes of a rollback journal that still holds a transaction
#: (SQLite zeroes or truncates them once it is committed or rolled back).
_JOURNAL_HEADER: Final = bytes.fromhex("d9d505f920a163d7")
#: Seconds to wait for another process's write lock unless told otherwise.
DEFAULT_BUSY_TIMEOUT: Final = 10.0
#: Environment variable overriding :data:`DEFAULT_BUSY_TIMEOUT`.
BUSY_TIMEOUT_ENV: Final = "WFC_SQLITE_BUSY_TIMEOUT"


def latest_version() -> int:
    """The schema version this wfc writes on SQLite."""
    return schema.latest_version("sqlite")


def expected_tables(version: int) -> set[str]:
    """The tables a wfc database at schema ``version`` holds."""
    return schema.expected_tables("sqlite", version)


def _statements(sql: str) -> list[str]:
    lines = [line for line in sql.splitlines() if not line.strip().startswith("--")]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]


# ---------------------------------------------------------------- the URL


class SqliteTarget(NamedTuple):
    """Where a ``sqlite:///`` URL points and how to open it."""

    path: str
    """The file, or ``":memory:"``."""
    busy_timeout: float
    """Seconds to wait for another process's write lock."""


def parse_target(rest: str) -> SqliteTarget:
    """The target of the part of a ``sqlite:///`` URL after the prefix:
    ``path[?busy_timeout=SECONDS]``.

    Raises:
        DatabaseUrlError: an unknown parameter, or a wait that is not a
            number of seconds.
    """
    path, _, query = rest.partition("?")
    timeout = _busy_timeout_from_env(path)
    for key, value in parse_qsl(query, keep_blank_values=True):
        if key != "busy_timeout":
            raise DatabaseUrlError(
                path, f"unknown URL parameter {key!r}; a sqlite:/// URL takes only ?busy_timeout=SECONDS"
            )
        timeout = wait_seconds(path, value, "?busy_timeout=")
    return SqliteTarget(path=path, busy_timeout=timeout)


def _busy_timeout_from_env(path: str) -> float:
    value = os.environ.get(BUSY_TIMEOUT_ENV, "").strip()
    return wait_seconds(path, value, f"{BUSY_TIMEOUT_ENV}=") if value else DEFAULT_BUSY_TIMEOUT


# ---------------------------------------------------------------- explaining failures


#: Primary SQLite result codes of the environment's trouble, not the data's:
#: BUSY, LOCKED, NOMEM, READONLY, INTERRUPT, IOERR, FULL, CANTOPEN, PROTOCOL,
#: SCHEMA. Work that hit one is worth trying again (see :func:`transient`).
_TRANSIENT_CODES: Final = frozenset({5, 6, 7, 8, 9, 10, 13, 14, 15, 17})
#: What to do about the environment's failures, by primary result code: the
#: one source of advice, for errors met while opening and while committing.
_ADVICE: Final = {
    sqlite3.SQLITE_BUSY: "another process is writing to the database; wait for it to finish, or stop it",
    sqlite3.SQLITE_LOCKED: "another connection holds a lock on the database; wait for it to finish, or stop it",
    sqlite3.SQLITE_READONLY: "the database file or its folder is read-only; give this process write access to both",
    sqlite3.SQLITE_IOERR: "the disk reported an I/O error; check the disk and the file system that hold the file",
    sqlite3.SQLITE_FULL: "the disk is full; free space on the disk that holds the database file",
    sqlite3.SQLITE_CANTOPEN: (
        "the database file cannot be opened any more; check that it and its folder still exist"
    ),
}


def primary_code(error: BaseException) -> int | None:
    """SQLite's primary result code of ``error`` (extended codes keep it in
    the low byte); ``None`` when the error carries none."""
    code = getattr(error, "sqlite_errorcode", None)
    return code & 0xFF if isinstance(code, int) else None


def transient(error: BaseException) -> bool:
    """True when ``error`` is the environment's trouble (busy, locked, full,
    I/O), which may clear by itself; false for errors the same data hits
    again (constraint, size and type errors)."""
    if not isinstance(error, sqlite3.OperationalError):
        return False
    code = primary_code(error)
    return code is None or code in _TRANSIENT_CODES


#: Free bytes below which a disk counts as full when SQLite reports an I/O
#: error on it: growing its ``-shm`` file takes 32 KiB at once, a page 4 KiB.
FULL_BELOW_BYTES: Final = 64 * 1024


def disk_full(location: str) -> bool:
    """Whether the file system holding the database file ``location`` has
    no room left: less than :data:`FULL_BELOW_BYTES` free (for this user:
    root may use the blocks kept in reserve), or no free inode (for the
    ``-wal`` and ``-shm`` files). SQLite reports some of the writes a full
    disk refuses as I/O errors (``SQLITE_IOERR_SHMSIZE`` when the ``-shm``
    file cannot grow, ``SQLITE_IOERR_WRITE``), not as ``SQLITE_FULL``."""
    if location == ":memory:" or not location:
        return False
    try:
        found = os.statvfs(Path(os.path.abspath(location)).parent)
    except OSError:
        return False
    blocks = found.f_bfree if os.geteuid() == 0 else found.f_bavail
    no_inodes = found.f_files > 0 and (found.f_ffree if os.geteuid() == 0 else found.f_favail) == 0
    return blocks * found.f_frsize < FULL_BELOW_BYTES or no_inodes


def _code(error: BaseException, location: str | None) -> int | None:
    """The primary result code of ``error``, an I/O error on a full disk
    counted as ``SQLITE_FULL`` (see :func:`disk_full`)."""
    code = primary_code(error) if isinstance(error, sqlite3.Error) else None
    if code is not None and location is not None and _full_disk_error(code, location):
        return sqlite3.SQLITE_FULL
    return code


def _full_disk_error(code: int, location: str) -> bool:
    """Whether a failure with primary result ``code`` on ``location`` is a
    full disk's: an I/O error, or a ``-wal``/``-shm`` file that could not be
    created in a folder that may be written, where :func:`disk_full`."""
    if code == sqlite3.SQLITE_IOERR:
        return disk_full(location)
    if code == sqlite3.SQLITE_CANTOPEN and location != ":memory:":
        return _writable(Path(location).parent) and disk_full(location)
    return False


def advice(error: BaseException, location: str | None = None) -> str | None:
    """What to do about ``error``, if it is a failure of the environment
    SQLite names by its code. With the database file's ``location``, an I/O
    error on a full disk is told as the full disk it is."""
    code = _code(error, location)
    return _ADVICE.get(code) if code is not None else None


def describe(error: BaseException, location: str | None = None) -> str:
    """``error`` with the advice on it, for messages (without the location;
    given, it tells an I/O error on a full disk as such: see :func:`advice`)."""
    hint = advice(error, location)
    return f"{error} ({hint})" if hint else f"{type(error).__name__}: {error}"


def explain(location: str, exc: sqlite3.Error, busy_timeout: float = DEFAULT_BUSY_TIMEOUT) -> StoreError:
    """The :class:`StoreError` for a failure SQLite reported on ``location``
    while opening it: what is wrong with the file and what to do about it."""
    return environment_error(location, exc, busy_timeout) or StoreError(location, f"SQLite refused it ({exc})")


def environment_error(
    location: str, exc: sqlite3.Error, busy_timeout: float = DEFAULT_BUSY_TIMEOUT
) -> StoreError | None:
    """The :class:`StoreError` for a failure caused by the file or its
    surroundings (locked, read-only, damaged, tables dropped, disk full);
    ``None`` for any other failure, which may be a bug in wfc."""
    code = primary_code(exc) or 0
    text = str(exc)
    if _full_disk_error(code, location):
        # SQLite tells some writes a full disk refused as I/O errors (the
        # -shm file that cannot grow), or cannot create the -wal file.
        code = sqlite3.SQLITE_FULL
    if code in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED) or "database is locked" in text:
        return locked_error(location, busy_timeout)
    if code == sqlite3.SQLITE_READONLY or "readonly database" in text:
        return read_only_error(location)
    if code in (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB) or "malformed" in text:
        return corrupt_error(location, text)
    if text.startswith("no such table: "):
        return missing_tables_error(location, [text.removeprefix("no such table: ")])
    if code == sqlite3.SQLITE_CANTOPEN and location != ":memory:" and not _writable(Path(location).parent):
        if Path(f"{location}-wal").exists():
            return unreadable_wal_error(location)
        return read_only_error(location)
    if code in (sqlite3.SQLITE_FULL, sqlite3.SQLITE_IOERR):
        what, _, todo = _ADVICE[code].partition("; ")
        return StoreError(location, f"{what} ({text}); {todo}, then retry")
    if code == sqlite3.SQLITE_INTERRUPT:
        return StoreError(location, text)  # said in full (see sqlite_locks.interrupted_error)
    return None


def locked_error(location: str, waited: float) -> DatabaseLockedError:
    """Another process kept the write lock for longer than ``waited`` seconds."""
    return DatabaseLockedError(
        location,
        f"it is locked by another process, which held its write lock for more than {waited:g} s (another "
        f"`wfc run` or `wfc worker` in a long commit, or a sqlite3 shell or backup tool with an open "
        f"transaction). Let that process finish or stop it, then retry; to wait longer, add "
        f"?busy_timeout=SECONDS to the database URL or set {BUSY_TIMEOUT_ENV}",
        waited,
    )


def read_only_error(location: str) -> ReadOnlyDatabaseError:
    """This command writes, and the file or its folder may not be written."""
    file = Path(location)
    reading = "Commands that only read (wfc runs list, show, history) work on it"
    if file.exists() and not _writable(file):
        return ReadOnlyDatabaseError(
            location,
            f"the file is read-only and this command writes to it. {reading}; to start, steer or serve runs, "
            f"make it writable (chmod u+w {location}) or copy it to a writable place",
        )
    if not file.exists() and not _writable(file.parent):
        return ReadOnlyDatabaseError(
            location,
            f"there is no such file, and its folder {os.path.abspath(file.parent)!r} is read-only, so it cannot be "
            f"created; give a path in a folder this process may write to",
        )
    if not _writable(file.parent):
        return ReadOnlyDatabaseError(
            location,
            f"its folder {os.path.abspath(file.parent)!r} is read-only, and writing needs SQLite to create "
            f"{file.name}-wal and {file.name}-shm next to the file. {reading}; to start, steer or serve runs, "
            f"make the folder writable or move the database to a writable folder",
        )
    return ReadOnlyDatabaseError(
        location,
        f"SQLite may not write it (attempt to write a readonly database). {reading}; check the permissions of "
        f"the file, of {file.name}-wal and {file.name}-shm next to it, and of its folder",
    )


def unreadable_wal_error(location: str) -> ReadOnlyDatabaseError:
    """A -wal file with changes in a read-only folder, where SQLite cannot
    create the -shm file it needs to read them."""
    file = Path(location)
    return ReadOnlyDatabaseError(
        location,
        f"its folder {os.path.abspath(file.parent)!r} is read-only, and {file.name}-wal next to it holds changes "
        f"not yet in the file, which SQLite can only read by creating {file.name}-shm there. Run any wfc command "
        f"on it once where the folder is writable (that folds the changes into the file), or copy the file and "
        f"its -wal to a writable folder",
    )


def corrupt_error(location: str, detail: str) -> CorruptDatabaseError:
    """The file is damaged."""
    return CorruptDatabaseError(
        location,
        f"the file is damaged ({detail}). See what SQLite finds with sqlite3 {location} 'PRAGMA integrity_check'; "
        f"then restore the database from a backup (a copy made with the sqlite3 .backup command or VACUUM INTO), "
        f"or salvage what is readable with sqlite3 {location} .recover | sqlite3 recovered.db. Keep the damaged "
        f"file until you have",
    )


def missing_tables_error(location: str, missing: list[str]) -> MissingTablesError:
    """A wfc database whose tables are gone."""
    return MissingTablesError(
        location,
        f"it is a wfc database, but its tables {', '.join(sorted(missing))} are gone (dropped outside wfc). wfc "
        f"does not recreate them, as the runs they held would be lost without a word: restore the file from a "
        f"backup, or move it away and let `wfc run` create a new database",
        missing,
    )


def _writable(path: Path) -> bool:
    # os.access also reports an immutable file (chattr +i) as not writable to root.
    return os.access(path, os.W_OK)


# ---------------------------------------------------------------- inspecting


def _inspect(path: str, busy_timeout: float) -> int:
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
    except IsADirectoryError:
        raise StoreError(path, "it is a directory; give the path of a database file") from None
    except OSError as exc:
        raise StoreError(path, _os_refusal(exc, f"cannot read it ({exc.strerror}); check its permissions")) from None
    if header != _HEADER:
        raise NotAWfcDatabaseError(
            path,
            "it is not a SQLite database (it does not start with the SQLite header); give a wfc database "
            "file or a new path. If it was a wfc database, it is damaged beyond repair: restore it from a backup",
        )
    try:
        return _schema_version(path, _read_only_target(file, peek=True), busy_timeout)
    except (sqlite3.DatabaseError, NotAWfcDatabaseError, MissingTablesError):
        # An immutable look ignores locks, so at a file another process is
        # creating right now it can see a torn state: only a look through
        # SQLite's locks may conclude that the file cannot be used.
        try:
            look = functools.partial(_schema_version, path, busy_timeout=busy_timeout)
            return _read_even_if_full(path, _read_only_target(file), look)
        except sqlite3.Error as exc:
            raise explain(path, exc, busy_timeout) from None


def _read_only_target(file: Path, *, peek: bool = False) -> str:
    """A URI opening ``file`` read-only. ``immutable`` when nothing else can
    be done: without a ``-wal`` file, in a read-only folder, where SQLite
    could not create one. ``peek``: also to look at a file that may not be
    ours without leaving ``-wal``/``-shm`` files next to it."""
    mode = "mode=ro"
    if not Path(f"{file}-wal").exists() and (peek or not _writable(file.parent)):
        mode += "&immutable=1"
    # The path's bytes, as the file system has them: a name the locale could
    # not decode (LC_ALL=C without UTF-8 mode) holds surrogates, no UTF-8.
    return f"file:{quote(os.fsencode(file.resolve()))}?{mode}"


def _schema_version(path: str, uri: str, busy_timeout: float) -> int:
    conn = sqlite3.connect(uri, uri=True, timeout=busy_timeout)
    try:
        app_id = conn.execute("PRAGMA application_id").fetchone()[0]
        tables = _tables(conn)
        if app_id == APPLICATION_ID:
            if "wfc_migrations" not in tables:
                raise missing_tables_error(path, sorted(expected_tables(latest_version()) - set(tables)))
            version = int(conn.execute("SELECT max(version) FROM wfc_migrations").fetchone()[0] or 0)
            missing = expected_tables(min(version, latest_version())) - set(tables)
            if missing:
                raise missing_tables_error(path, sorted(missing))
            return version
    finally:
        conn.close()
    if app_id == 0 and not tables:
        return 0
    raise _foreign(path, app_id, tables)


def _tables(conn: sqlite3.Connection) -> list[str]:
    return sorted(row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'"))


def _foreign(path: str, app_id: int, tables: list[str]) -> NotAWfcDatabaseError:
    """A SQLite database of another application: wfc writes nothing to it."""
    shown = ", ".join(tables[:5]) + (", ..." if len(tables) > 5 else "")
    return NotAWfcDatabaseError(
        path,
        f"it is a SQLite database of another application (application_id {app_id}, tables: {shown or 'none'}); "
        f"wfc will not write to it. Use another path",
    )


# ---------------------------------------------------------------- migrating and opening


@contextlib.contextmanager
def write_transaction(conn: sqlite3.Connection, locks: LockWaits) -> Iterator[None]:
    """``BEGIN IMMEDIATE`` … ``COMMIT``, rolled back if the body or the
    ``COMMIT`` fails. SQLite rolls a transaction back itself on some
    errors (a full disk, an I/O error), and a second ``ROLLBACK`` would then
    fail and hide the error that counts. The lock is waited for as
    ``locks`` says (``conn`` a writer connection)."""
    locks.begin(conn)
    try:
        yield
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
        raise


def migrate(conn: sqlite3.Connection, location: str, now: float, locks: LockWaits) -> None:
    """Apply the migrations the database lacks, all in one transaction.

    Raises:
        NewerDatabaseError: it records a migration this wfc does not know.
    """
    known = schema.migrations("sqlite")
    with write_transaction(conn, locks):
        # Checked again inside the write lock: another process may have
        # migrated between the read-only inspection and now.
        app_id = conn.execute("PRAGMA application_id").fetchone()[0]
        current = 0
        if app_id == APPLICATION_ID:
            current = int(conn.execute("SELECT max(version) FROM wfc_migrations").fetchone()[0] or 0)
        else:
            # Looked at empty, but another process may have made it its own
            # since, while this one waited for the lock.
            tables = _tables(conn)
            if app_id != 0 or tables:
                raise _foreign(location, app_id, tables)
        if current > len(known):
            raise NewerDatabaseError(location, current, len(known))
        for migration in known[current:]:
            for statement in _statements(migration.sql):
                conn.execute(statement)
            conn.execute(
                "INSERT INTO wfc_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                (migration.version, migration.name, now),
            )
        if app_id != APPLICATION_ID:
            conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")


def connect(
    target: str, location: str, *, writer: bool, busy_timeout: float = DEFAULT_BUSY_TIMEOUT, uri: bool = False
) -> sqlite3.Connection:
    """A connection with wfc's settings; readers are ``query_only``."""
    try:
        return _connect(target, writer=writer, busy_timeout=busy_timeout, uri=uri)
    except sqlite3.Error as exc:
        raise explain(location, exc, busy_timeout) from None


def _connect(target: str, *, writer: bool, busy_timeout: float, uri: bool) -> sqlite3.Connection:
    """:func:`connect`, raising what SQLite raised (a connection it could
    not set up is closed)."""
    statements = WRITER_STATEMENTS if writer else 128
    conn = sqlite3.connect(target, isolation_level=None, check_same_thread=False, uri=uri, cached_statements=statements)
    try:
        conn.row_factory = sqlite3.Row
        conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("PRAGMA secure_delete = ON")  # secrets erased from a run must not linger in freed space
        conn.execute(f"PRAGMA cache_size = {-(WRITER_CACHE_KIB if writer else READER_CACHE_KIB)}")
        if not writer:
            conn.execute("PRAGMA query_only = ON")
    except BaseException:
        conn.close()
        raise
    return conn


class Opened(NamedTuple):
    """The connections of an opened file."""

    writer: sqlite3.Connection
    reader: sqlite3.Connection
    read_only: bool
    """True when opened read-only: ``writer`` then refuses writes."""


def open_file(path: str, now: float, locks: LockWaits, *, read_only: bool = False) -> Opened:
    """Check ``path`` and open it, waiting for another process's write lock
    as ``locks`` says.

    For writing (the default) the file is created if needed, switched to WAL
    and migrated; nothing is written before it is known to be new or a wfc
    database this wfc can read. ``read_only`` opens an existing, up-to-date
    wfc database without writing anything; a database that still needs
    creating or migrating is opened for writing instead if it can be.

    Raises:
        StoreError: one of its subclasses, saying what is wrong and what to do.
    """
    # SQLite answers "busy" at once, without waiting, in a few moments of
    # another process creating the same file (its switch to WAL, the first
    # build of the WAL index): opening again after a pause is safe, as
    # nothing was written. The whole open waits at most busy_timeout, and
    # stops waiting once interrupted.
    _check_path_length(path)
    deadline = time.monotonic() + locks.busy_timeout
    pause = 0.005
    while True:
        try:
            return _open_once(path, now, locks, read_only=read_only)
        except OSError as exc:  # the system refused the path itself, or this process has no file to spare
            otherwise = f"cannot use this path: {exc.strerror}; give a shorter or simpler one"
            raise StoreError(path, _os_refusal(exc, otherwise)) from None
        except DatabaseLockedError:
            # Each look waits a slice (see LockWaits): the wait in all and
            # its end on an interrupt are this loop's.
            if locks.interrupted:
                raise StoreError(path, str(interrupted_error())) from None
            if time.monotonic() + pause > deadline:
                raise locked_error(path, locks.busy_timeout) from None
            time.sleep(pause)
            pause = min(pause * 2, 0.1)


def _os_refusal(exc: OSError, otherwise: str) -> str:
    """What the system's refusal to open the file means, and what to do:
    no file to spare, or ``otherwise``."""
    if exc.errno in (errno.EMFILE, errno.ENFILE):
        return out_of_files_message(f"cannot open it ({exc.strerror})", system=exc.errno == errno.ENFILE)
    return otherwise


#: Longest absolute path SQLite opens, in bytes: its Unix VFS keeps 512,
#: less room for the ``-journal`` suffix (measured with SQLite 3.40).
_MAX_PATH_BYTES: Final = 504


def _check_path_length(path: str) -> None:
    """Refuse a path SQLite would fail to open with only "unable to open
    database file": a long one, or a short one in a deep working folder."""
    absolute = os.path.abspath(path)
    size = len(os.fsencode(absolute))
    if size > _MAX_PATH_BYTES:
        raise StoreError(
            path,
            f"its full path ({absolute[:40]}…) is {size} bytes long, and SQLite opens paths of at most "
            f"{_MAX_PATH_BYTES}; give a shorter path, or run from a folder nearer the root",
        )


def _open_once(path: str, now: float, locks: LockWaits, *, read_only: bool) -> Opened:
    _roll_back_interrupted_write(path, locks.slice)
    found = _inspect(path, locks.slice)
    supported = latest_version()
    if found > supported:
        raise NewerDatabaseError(path, found, supported)
    if read_only and found == supported:
        return _open_read_only(path, locks)
    if read_only and not Path(path).exists():
        raise StoreError(path, "no such file; `wfc run` creates a database, or give the path of an existing one")
    if read_only and not _can_write(Path(path)):
        raise _cannot_prepare_for_reading(path, found, supported)
    return _open_for_writing(path, now, found, locks)


class OpenedFile:
    """The database file as it was opened, to notice it deleted or replaced
    while open: SQLite goes on writing to the file it opened, which nobody
    can open any more, and every commit since would be lost with it."""

    def __init__(self, path: str) -> None:
        self.path = os.path.abspath(path)
        self._identity = _identity(self.path)

    def check(self) -> None:
        """Raises :class:`StoreError` if the path no longer names the file opened."""
        if _identity(self.path) != self._identity:
            raise StoreError(
                self.path,
                "the file was deleted or replaced while this process had it open, so what it writes now would be "
                "lost with the old file; nothing more is written. Stop this process, put back the file that holds "
                "the runs if it was removed by mistake, and start again",
            )


def _identity(path: str) -> tuple[int, int] | None:
    try:
        found = os.stat(path)
    except OSError:
        return None
    return found.st_dev, found.st_ino


def _roll_back_interrupted_write(path: str, busy_timeout: float) -> None:
    """Roll back what a writer that stopped mid-transaction left in the file.

    wfc writes in WAL mode, but a file switched to a rollback journal (by
    another tool) and written by a process that died leaves ``-journal``
    beside it, holding the pages as they were. SQLite rolls it back when a
    connection that may write opens the file; a read-only one cannot, and
    one opened ``immutable`` reads the uncommitted pages as if committed.
    So the rollback is done here first, as any SQLite reader would; where
    the file or its folder is read-only nothing can be read safely."""
    file = Path(path)
    journal = Path(f"{path}-journal")
    try:
        with journal.open("rb") as handle:
            hot = handle.read(len(_JOURNAL_HEADER)) == _JOURNAL_HEADER
    except OSError:
        return  # no journal (or none this process may read: then SQLite's own open says why)
    if not hot:
        return
    if not _can_write(file):
        raise ReadOnlyDatabaseError(
            path,
            f"a write to it was interrupted, and its journal {journal.name} still holds the pages as they were "
            f"before; SQLite must roll that write back before the file can be read, which writes to it, but the "
            f"file or its folder is read-only. Make both writable and run any wfc command on it once",
        )
    conn = sqlite3.connect(path, timeout=busy_timeout)
    try:
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()  # a plain open rolls a hot journal back
    except sqlite3.Error as exc:
        raise explain(path, exc, busy_timeout) from None
    finally:
        conn.close()


def _open_read_only(path: str, locks: LockWaits) -> Opened:
    busy_timeout = locks.busy_timeout

    def reading(target: str) -> sqlite3.Connection:
        conn = _connect(target, writer=False, busy_timeout=locks.slice, uri=True)
        try:
            conn.execute("SELECT count(*) FROM wfc_migrations").fetchone()  # SQLite opens files lazily
            # Opened: its reads wait as configured (the open's looks wait a slice, see open_file).
            conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
        except BaseException:
            conn.close()
            raise
        return conn

    try:
        conn = _read_even_if_full(path, _read_only_target(Path(path)), reading)
    except sqlite3.Error as exc:
        raise explain(path, exc, busy_timeout) from None
    return Opened(writer=conn, reader=conn, read_only=True)


def _read_even_if_full(path: str, target: str, read: Callable[[str], _T]) -> _T:
    """``read(target)``, ``target`` a read-only URI of ``path``; on a full
    disk, read again without writing the ``-shm`` file.

    The first reader of a WAL database sizes its ``-shm`` file (32 KiB),
    which a full disk refuses: reading, which takes no new space, would fail
    for want of it. So then the file is read as SQLite reads where the
    ``-shm`` file may not be written (``readonly_shm``): its index of the
    WAL kept in memory and checked against the WAL at every read, so a
    writer that comes along meanwhile is seen. That needs the ``-shm`` file
    to exist, as the failed read leaves it. (SQLite shares a file's ``-shm``
    between the connections of a process: one opened for writing while such
    a reader is open cannot write. The commands that read are processes of
    their own; an engine opened ``read_only`` beside a writing one, in one
    process on a full disk, is the case to avoid.)

    Raises:
        sqlite3.Error: what the first read met, if reading failed.
    """
    try:
        return read(target)
    except sqlite3.Error as exc:
        if not _full_disk_error(primary_code(exc) or 0, path) or not Path(f"{path}-shm").exists():
            raise
        try:
            return read(f"{target}&readonly_shm=1")
        except sqlite3.Error:
            raise exc from None


def _can_write(file: Path) -> bool:
    return (not file.exists() or _writable(file)) and _writable(file.parent)


def _cannot_prepare_for_reading(path: str, found: int, supported: int) -> ReadOnlyDatabaseError:
    """Reading needs a write first (creating or upgrading the tables), and
    the file or its folder is read-only."""
    if found == 0:
        what = "it holds no wfc tables yet (a new, empty file), and creating them writes to it"
    else:
        what = (
            f"it was written by an older wfc (schema version {found}; this wfc reads version {supported}), and "
            f"upgrading it writes to it"
        )
    return ReadOnlyDatabaseError(
        path,
        f"{what}, but the file or its folder is read-only. Make them writable and run any wfc command once, "
        f"or read it with the wfc that wrote it",
    )


def _open_for_writing(path: str, now: float, found: int, locks: LockWaits) -> Opened:
    if not _can_write(Path(path)):
        raise read_only_error(path)
    busy_timeout = locks.busy_timeout
    # A slice at a time (see LockWaits): switching a new file to WAL and
    # migrating, busy, fail after one, and are tried again by open_file.
    writer = connect(path, path, writer=True, busy_timeout=locks.slice)
    try:
        try:
            mode = writer.execute("PRAGMA journal_mode").fetchone()[0]
            if str(mode).lower() != "wal":
                mode = writer.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise StoreError(path, f"cannot switch it to WAL mode (got {mode!r}); is it on a network file system?")
            writer.execute("PRAGMA synchronous = FULL")
            if found < latest_version():
                migrate(writer, path, now, locks)
        except sqlite3.Error as exc:
            raise explain(path, exc, busy_timeout) from None
        reader = connect(path, path, writer=False, busy_timeout=busy_timeout)
    except BaseException:
        writer.close()
        raise
    return Opened(writer=writer, reader=reader, read_only=False)
