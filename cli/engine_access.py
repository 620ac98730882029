"""Opening the engine from a command: the ``--db`` option, database URLs, and
running a command's coroutine.

Commands that steer runs (``wfc runs cancel/halt/...``, ``wfc event send``)
open a *client* engine (``serve=False``): it commits the transitions it causes
itself but runs no tasks and fires no timers, leaving that to a serving engine
on the same database. Commands that only read runs (``wfc runs
list/show/history``) open a *reader*: the store and the engine's own read
methods (:class:`~wfc.runtime._reader.Reader`) without the engine, which
writes nothing at all, so they work on a read-only database file or folder,
and start without importing the commit loop, task attempts and the
interpreter. Those that read the journal feed or purge open a *reading
engine*, which writes nothing either. All refuse a database file, or a
PostgreSQL schema, that does not exist rather than create an empty one.

The runtime and anyio are imported when a command opens the database, not
when the command line is built.
"""

from __future__ import annotations

import errno
import os
import shlex
import stat
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Final, TypeVar

import typer

from wfc.cli.errors import CliError, gone_directory_message, relative_to_gone_directory
from wfc.cli.files import display
from wfc.cli.open_files import READING_NEEDED, require_free_files

if TYPE_CHECKING:
    from wfc.runtime import Engine
    from wfc.runtime._reader import Reader

T = TypeVar("T")

#: The database used when neither ``--db`` nor ``$WFC_DB`` says otherwise.
DEFAULT_DB: Final = "sqlite:///wfc.db"

DbOption = Annotated[
    str,
    typer.Option(
        "--db",
        envvar="WFC_DB",
        metavar="URL",
        help=(
            "Database URL: sqlite:///relative.db, sqlite:////absolute.db, a path to a SQLite file, or "
            "postgresql://user@host:5432/db (pip install 'wfc\\[postgres]')."  # rich markup: \\[ is a literal [
        ),
    ),
]


def database_url(value: str) -> str:
    """The URL for ``--db``: a URL as given, a bare path as a SQLite URL.
    A SQLite path that no command could use as a database file is refused
    here, for every command (see :func:`_check_sqlite_path`)."""
    value = value.strip()
    if not value:
        raise CliError(f"--db is empty; give a database URL such as {DEFAULT_DB}, or unset WFC_DB")
    # An absolute path gives sqlite:////abs/path.
    url = value if "://" in value else f"sqlite:///{Path(value).as_posix()}"
    _check_sqlite_path(url)
    return url


def _check_sqlite_path(url: str) -> None:
    """Refuse the path of a SQLite URL that cannot be a database file, saying
    what it is: SQLite itself says only that it cannot open it, or finds a
    disk I/O error in a FIFO or ``/dev/null``, and a reader would offer to
    create a database where none can be made. A folder, and what a file
    holds (another application's database, garbage), are left for opening
    it to tell."""
    if not url.startswith("sqlite:///"):
        return
    from wfc.runtime.store import sqlite_path

    path = sqlite_path(url)
    if path is None or path == ":memory:":
        return
    where = display(path)
    if relative_to_gone_directory(path):
        raise CliError(f"cannot use database {gone_directory_message(where)}")
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        # SQLite creates the file a dangling link points to (through every
        # link of a chain), if that file's folder exists.
        if os.path.islink(path) and not os.path.isdir(os.path.dirname(os.path.realpath(path))):
            raise CliError(
                f"cannot use database {where}: it is a symbolic link to {os.readlink(path)}, whose folder does "
                f"not exist; fix the link, or give the path of a database file"
            ) from None
        return  # a new database, or a missing folder, which opening it names
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise CliError(
                f"cannot use database {where}: it is a symbolic link that leads back to itself (a loop of links); "
                f"fix the link, or give the path of a database file"
            ) from None
        if exc.errno == errno.ENOTDIR:
            raise CliError(
                f"cannot use database {where}: a part of this path is a file, not a directory; give the path "
                f"of a database file"
            ) from None
        return  # a permission or a name too long: opening it names these
    kind = _FILE_KINDS.get(stat.S_IFMT(mode))
    if kind is not None:
        raise CliError(f"cannot use database {where}: it is {kind}, not a file; give the path of a database file")


#: The kinds of files a database cannot be, as messages name them.
_FILE_KINDS: Final = {
    stat.S_IFIFO: "a named pipe (FIFO)",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFSOCK: "a socket",
}


def db_flag(url: str) -> str:
    """`` --db URL`` when a later command needs it to find the same database
    (it is neither the default nor ``$WFC_DB``); otherwise empty."""
    from wfc.runtime._urls import redact_url

    if url in (DEFAULT_DB, os.environ.get("WFC_DB")):
        return ""
    return f" --db {shlex.quote(redact_url(url))}"  # a hint must not print the password


def wfc_command(*words: str, url: str) -> str:
    """The wfc command line a hint shows, each word quoted for a shell (a
    run id with a space or a ``$`` in it pastes as one argument), with
    ``--db`` where the command needs it."""
    return shlex.join(["wfc", *words]) + db_flag(url)


def is_private_database(url: str) -> bool:
    """Whether ``url`` is ``sqlite:///:memory:``: a database of this process
    alone, empty when it starts and gone when it exits."""
    from wfc.runtime.store import sqlite_path

    return sqlite_path(url) == ":memory:"


def refuse_private_database(url: str, what: str) -> None:
    """Refuse ``sqlite:///:memory:`` for ``what`` (a command, or what an
    option asks): ``what`` would find nothing there, or leave what it did
    behind in a database that is gone (a detached run was said to wait
    for an engine)."""
    if is_private_database(url):
        raise CliError(
            f"{what} cannot use {url}, a database of one process alone: empty when it starts and gone when it "
            f"exits. Give a database file (--db wfc.db) or a PostgreSQL URL"
        )


def require_database(url: str) -> None:
    """Refuse a SQLite file that does not exist: a client must not create an
    empty database because of a typo in a path; nor ``:memory:``, which
    holds nothing for a client (:func:`refuse_private_database`)."""
    from wfc.runtime.store import sqlite_path

    refuse_private_database(url, "this command")
    path = sqlite_path(url)
    if path is None:
        return
    file = Path(path)
    try:
        exists = file.exists()
    except OSError as exc:  # a name longer than the system takes, say
        raise CliError(f"cannot use database {display(path)}: {exc.strerror}; give a shorter or simpler path") from None
    if not exists:
        raise CliError(
            f"no database at {display(path)} ({url}); `wfc run` creates it, or point --db (or WFC_DB) at "
            f"an existing wfc database"
        )
    if _empty(file):
        # SQLite would take it as a new database, and a client would create
        # the tables in it: a command that only reads would write.
        raise CliError(
            f"{display(path)} is an empty file, not a wfc database ({url}); `wfc run` creates the tables in it, "
            f"or point --db (or WFC_DB) at an existing wfc database"
        )


def _empty(file: Path) -> bool:
    """Whether the file holds nothing, nor its WAL (where a database's first
    pages may wait to be copied into it)."""
    try:
        if file.stat().st_size > 0:
            return False
        wal = file.with_name(file.name + "-wal")
        return not wal.exists() or wal.stat().st_size == 0
    except OSError:
        return False  # left for opening the file to name


@asynccontextmanager
async def client(url: str) -> AsyncIterator[Engine]:
    """An engine that reads and steers runs but runs no tasks. An unknown
    run id raised in the block becomes a message naming the database."""
    async with _open_client(url, read_only=False) as engine:
        yield engine


@asynccontextmanager
async def reading_engine(url: str) -> AsyncIterator[Engine]:
    """An engine that only reads: it writes nothing to the database, not even
    its own registration, so a read-only file or folder can be read."""
    async with _open_client(url, read_only=True) as engine:
        yield engine


@asynccontextmanager
async def reader(url: str) -> AsyncIterator[Reader]:
    """What an engine reads runs with, over the database alone: it writes
    nothing, like :func:`reading_engine`, and answers as the engine does."""
    from wfc.runtime._reader import open_reader

    require_database(url)
    with _naming_unknown_runs(url):
        async with open_reader(url) as found:
            yield found


@asynccontextmanager
async def _open_client(url: str, *, read_only: bool) -> AsyncIterator[Engine]:
    import time

    from wfc.runtime import Engine
    from wfc.runtime.store import open_store

    require_database(url)
    with _naming_unknown_runs(url):
        # Opened here, not by Engine.open, so that a database that does not
        # exist (a PostgreSQL schema named by a typo) is refused, not created;
        # the engine closes the store.
        store = await open_store(url, time.time(), read_only=read_only, create=False)
        async with Engine.open(url, serve=False, read_only=read_only, store=store) as engine:
            yield engine


@contextmanager
def _naming_unknown_runs(url: str) -> Iterator[None]:
    """An unknown run or user task id raised in the block becomes a message
    naming the database and how to list what it holds."""
    from wfc.runtime.errors import UnknownRunError, UnknownUserTaskError

    try:
        yield
    except UnknownRunError as exc:
        raise CliError(
            f"no run with id {exc.run_id!r} in {url}; list the runs there with `wfc runs list{db_flag(url)}`"
        ) from None
    except UnknownUserTaskError as exc:
        raise CliError(
            f"no user task with id {exc.task_id!r} in {url}; list the user tasks there with "
            f"`wfc tasks list{db_flag(url)}`"
        ) from None


def run_async(function: Callable[[], Awaitable[T]]) -> T:
    """Run a command's coroutine function to completion, once it is sure to
    have the files it needs (:func:`~wfc.cli.open_files.require_free_files`).

    An exception that reaches us inside a task group's exception group (a
    ``SystemExit`` from a closed stdout pipe, a failure of the engine's own
    loop) is re-raised as itself when it is the only one, so that it is
    reported like any other. Ctrl-C (and SIGTERM, SIGHUP) cancels the coroutine,
    after cutting short what the database keeps it waiting for, and a
    database error that this caused ends it as the interrupt does, with
    ``KeyboardInterrupt`` (see :mod:`wfc.cli.interrupting`).
    """
    import anyio

    from wfc.cli.interrupting import Interrupt, cutting_database_waits

    require_free_files()
    interrupt = Interrupt()

    async def main() -> T:
        with cutting_database_waits(interrupt):
            return await function()

    try:
        try:
            return anyio.run(main)
        except BaseExceptionGroup as group:
            leaves = list(_leaves(group))
            if len(leaves) == 1:
                raise leaves[0] from None
            raise
    except Exception as exc:
        if interrupt.caused(exc):
            raise KeyboardInterrupt from None
        raise


def run_reading(function: Callable[[], Awaitable[T]]) -> T:
    """Run the coroutine function of a command that only reads through
    :func:`reader`, on asyncio's own runner: anyio's runner would import
    anyio's backend (a tenth of ``wfc runs list``), which a reader never
    uses. Like :func:`run_async`, first checks it may open enough files,
    and Ctrl-C (SIGTERM, SIGHUP) cuts short what the database keeps the
    command waiting for: a reader waits too, for a file another process
    holds exclusively."""
    import asyncio

    from wfc.cli.interrupting import Interrupt, cutting_database_waits

    require_free_files(READING_NEEDED)
    interrupt = Interrupt()

    async def main() -> T:
        with cutting_database_waits(interrupt):
            return await function()

    try:
        return asyncio.run(main())
    except Exception as exc:
        if interrupt.caused(exc):
            raise KeyboardInterrupt from None
        raise


def _leaves(group: BaseExceptionGroup[BaseException]) -> Iterator[BaseException]:
    for exc in group.exceptions:
        if isinstance(exc, BaseExceptionGroup):
            yield from _leaves(exc)
        else:
            yield exc
