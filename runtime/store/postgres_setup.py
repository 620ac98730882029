"""Opening a PostgreSQL database: the URL, connecting with clear errors,
checks that leave foreign schemas untouched, and the numbered, append-only
migrations in ``migrations/postgres``.

wfc keeps its tables in one schema of the database, ``wfc`` unless the URL
says ``?schema=NAME``, so they never mix with an application's own tables (a
``runs`` or ``events`` table is common). The schema is wfc's when its
``wfc_migrations`` table carries wfc's comment. A schema that holds anything
else is refused and left untouched, as is one migrated by a newer wfc; a
missing or empty schema is created and migrated. Migrating takes a
transaction-scoped advisory lock, so processes starting together migrate once.
Opened to read only, or by a client that must not create a database
(``create=False``), a missing schema is refused instead of created.

Every connection waits at most a bounded time for a lock another session
holds (PostgreSQL's ``lock_timeout``), as SQLite waits for its write lock:
``?lock_timeout=SECONDS`` in the URL, else ``$WFC_PG_LOCK_TIMEOUT``, else 10
seconds; then :func:`environment_error` names the lock as
:class:`DatabaseLockedError`.
"""

from __future__ import annotations

import os
import re
import socket
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

from wfc.runtime._urls import redact_url, without_query
from wfc.runtime.errors import (
    DatabaseLockedError,
    DatabaseUnreachableError,
    DatabaseUrlError,
    MissingTablesError,
    NewerDatabaseError,
    NotAWfcDatabaseError,
    StoreError,
)
from wfc.runtime.store import schema
from wfc.runtime.store.dialect import wait_seconds

#: The schema wfc uses when the URL names none.
DEFAULT_SCHEMA: Final = "wfc"
#: The comment on ``wfc_migrations`` that marks a schema as wfc's.
MARKER: Final = "wfc schema migrations"
#: First key of every advisory lock wfc takes ("wfc1"), so its locks do not
#: meet the single-key advisory locks applications take.
LOCK_CLASS: Final = 0x77666331
_SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,47}$")
_CONNECT_TIMEOUT: Final = 10.0
#: Seconds a statement waits for a lock another session holds unless told
#: otherwise: SQLite's busy timeout, so both stores wait alike.
DEFAULT_LOCK_TIMEOUT: Final = 10.0
#: Environment variable overriding :data:`DEFAULT_LOCK_TIMEOUT` (the URL's
#: ``?lock_timeout=SECONDS`` overrides both).
LOCK_TIMEOUT_ENV: Final = "WFC_PG_LOCK_TIMEOUT"
#: Connections of the pool for reads, claims and heartbeats.
DEFAULT_POOL_SIZE: Final = 4
#: Environment variable overriding :data:`DEFAULT_POOL_SIZE`.
POOL_SIZE_ENV: Final = "WFC_PG_POOL_SIZE"
_MAX_POOL_SIZE: Final = 100


def asyncpg_module(location: str) -> Any:
    """The asyncpg module, or a clear error saying how to install it."""
    try:
        import asyncpg  # type: ignore[import-untyped]
    except ImportError:
        raise StoreError(
            location, "PostgreSQL support needs the asyncpg package; install it with: pip install 'wfc[postgres]'"
        ) from None
    return asyncpg


@dataclass(frozen=True)
class PgTarget:
    """Where a ``postgresql://`` URL points."""

    dsn: str
    """The URL for asyncpg: wfc's own query parameters removed."""
    schema: str
    """The schema holding wfc's tables."""
    location: str
    """The URL without its password, for messages."""
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT
    """Seconds a statement waits for a lock another session holds."""
    pool_size: int = DEFAULT_POOL_SIZE
    """Connections of the pool for reads, claims and heartbeats."""

    def channel(self, kind: str) -> str:
        """The ``LISTEN``/``NOTIFY`` channel of one kind of wakeup."""
        return f"wfc.{self.schema}.{kind}"

    def settings(self, *, search_path: bool = True) -> dict[str, str]:
        """The server settings of each of wfc's connections."""
        # 0 would turn PostgreSQL's wait off (wait for ever); a wait of 0 s
        # means "do not wait", as SQLite's busy_timeout=0: 1 ms is that.
        wait_ms = max(1, round(self.lock_timeout * 1000))
        settings = {"application_name": "wfc", "lock_timeout": str(wait_ms)}
        if search_path:
            settings["search_path"] = f'"{self.schema}"'
        return settings


def parse_url(url: str) -> PgTarget | None:
    """The target of a ``postgresql://`` or ``postgres://`` URL; ``None``
    for other schemes.

    Raises:
        DatabaseUrlError: the URL is malformed (a password with an unescaped
            ``/``, ``#``, ``@``...), its port is not a port number, it names
            no database, its ``schema`` parameter is not a plain lowercase
            name, or the lock wait or pool size (URL or environment) is out
            of range.
    """
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        raise DatabaseUrlError(redact_url(url), f"the URL is malformed ({exc}); {_URL_FORM}") from None
    if parts.scheme not in ("postgresql", "postgres"):
        return None
    location = redact_url(url)
    _check_password(url, parts.netloc, location)
    query = parse_qsl(parts.query, keep_blank_values=True)
    schema = DEFAULT_SCHEMA
    lock_timeout = _lock_timeout_from_env(location)
    kept = []
    for key, value in query:
        if key == "schema":
            schema = value
        elif key == "lock_timeout":  # wfc's, in seconds: not passed on (PostgreSQL's own is in ms)
            lock_timeout = wait_seconds(location, value, "?lock_timeout=")
        else:
            kept.append((key, value))
    _check_address(parts.netloc, parts.path, location)
    if not _SCHEMA_NAME.match(schema):
        raise DatabaseUrlError(
            location,
            f"schema={schema!r} is not a plain schema name; use lowercase letters, digits and _ "
            f"(at most 48 characters), e.g. ?schema=wfc_orders",
        )
    dsn = urlunsplit(("postgresql", parts.netloc, parts.path, urlencode(kept), ""))
    return PgTarget(
        dsn=dsn, schema=schema, location=location, lock_timeout=lock_timeout, pool_size=_pool_size(location)
    )


_URL_FORM: Final = "write it as postgresql://user:password@host:5432/database"


def _check_password(url: str, netloc: str, location: str) -> None:
    """Refuse a URL whose user name or password holds a ``/``, ``#``, ``?``
    or ``@`` that should have been percent-encoded: it would be read as the
    end of the address (a port ``top`` out of ``app:top/secret@db``, or
    ``w`` out of ``app:p@ss:w/d@db``) or as another host, and any message
    about that would show part of the password. (A ``:`` alone in a password
    is read alike by urllib and asyncpg: after the first, all is password.)"""
    after = url.split("://", 1)[1][len(netloc) :]  # the path, query and fragment
    if "@" not in netloc and "@" not in after:
        return  # no user name, no password
    misread = netloc.count("@") > 1  # asyncpg splits at the first "@", urllib at the last
    if "@" in after:
        # An "@" past the address: the address ended inside the user name or
        # password, unless the "@" is a query parameter's (?options=...@...)
        # and the address parsed cleanly.
        misread = misread or "@" in without_query(after) or not _port_parses(netloc)
    if misread:
        raise DatabaseUrlError(
            location,
            "the URL cannot be read: its password (or user name) seems to hold a '/', '#', '?', '@' or ':' that is "
            "not percent-encoded. Special characters in a password must be percent-encoded: / as %2F, # as %23, "
            "@ as %40, : as %3A, ? as %3F (Python's urllib.parse.quote(password, safe='') does it): a password "
            "x/y@z is written x%2Fy%40z",
        )


def _port_parses(netloc: str) -> bool:
    host_port = netloc.rsplit("@", 1)[-1]
    if "," in host_port:
        return True  # several hosts: asyncpg checks each
    try:
        _ = urlsplit(f"//{host_port}").port
    except ValueError:
        return False
    return True


def _lock_timeout_from_env(location: str) -> float:
    value = os.environ.get(LOCK_TIMEOUT_ENV, "").strip()
    return wait_seconds(location, value, f"{LOCK_TIMEOUT_ENV}=") if value else DEFAULT_LOCK_TIMEOUT


def _pool_size(location: str) -> int:
    value = os.environ.get(POOL_SIZE_ENV, "").strip()
    if not value:
        return DEFAULT_POOL_SIZE
    try:
        size = int(value)
    except ValueError:
        size = 0
    if not 1 <= size <= _MAX_POOL_SIZE:
        raise DatabaseUrlError(
            location,
            f"{POOL_SIZE_ENV}={value} is not a whole number of connections between 1 and {_MAX_POOL_SIZE}; "
            f"e.g. {DEFAULT_POOL_SIZE} (the default, when it is unset)",
        )
    return size


def _check_address(netloc: str, path: str, location: str) -> None:
    """Refuse a port that is not a number and a URL naming no database,
    before anything is tried."""
    host_port = netloc.rsplit("@", 1)[-1]
    if "," in host_port:
        return  # several hosts: asyncpg checks each
    try:
        _ = urlsplit(f"//{host_port}").port  # parsing the port is the check
    except ValueError:
        port = host_port.rsplit(":", 1)[-1]
        raise DatabaseUrlError(
            location, f"port {port!r} is not a port number (1 to 65535); {_URL_FORM}, e.g. port 5432"
        ) from None
    if not path.strip("/"):
        raise DatabaseUrlError(location, f"the URL names no database; add its name after the host: {_URL_FORM}")


def latest_version() -> int:
    """The schema version this wfc writes on PostgreSQL."""
    return schema.latest_version("postgres")


def expected_tables(version: int) -> set[str]:
    """The tables of wfc's schema at ``version``."""
    return schema.expected_tables("postgres", version)


def _missing_tables(target: PgTarget, missing: set[str]) -> MissingTablesError:
    return MissingTablesError(
        target.location,
        f"schema {target.schema!r} holds a wfc database, but its tables {', '.join(sorted(missing))} are gone "
        f"(dropped outside wfc). wfc does not recreate them, as the runs they held would be lost without a "
        f"word: restore the schema from a backup, or drop it (DROP SCHEMA {target.schema} CASCADE) to start afresh",
        sorted(missing),
    )


# ---------------------------------------------------------------- connecting


async def connect(target: PgTarget, *, search_path: bool = True, explain: bool = True) -> Any:
    """One asyncpg connection with wfc's settings, or a :class:`StoreError`
    that says why the server cannot be used (``explain=False``: asyncpg's
    own error, for a reconnection that may be retried)."""
    asyncpg = asyncpg_module(target.location)
    settings = target.settings(search_path=search_path)
    try:
        return await asyncpg.connect(target.dsn, timeout=_CONNECT_TIMEOUT, server_settings=settings)
    except Exception as exc:
        if not explain:
            raise
        raise connect_error(target, exc) from None


def _server(netloc: str, query: str) -> str:
    """Where a URL points, as written (several hosts, or ``?host=`` and
    ``?port=`` parameters, included), for messages."""
    hosts = netloc.rsplit("@", 1)[-1]
    if not hosts:
        given = dict(parse_qsl(query))
        hosts = f"{given.get('host', 'localhost')}:{given.get('port', '5432')}"
    elif ":" not in hosts.rsplit("]", 1)[-1] and "," not in hosts:
        hosts += ":5432"
    return hosts


def connect_error(target: PgTarget, exc: BaseException) -> StoreError:
    """A :class:`StoreError` for a failed connection attempt."""
    asyncpg = asyncpg_module(target.location)
    parts = urlsplit(target.dsn)
    database = parts.path.lstrip("/") or "(the user's default)"
    server = _server(parts.netloc, parts.query)
    if isinstance(exc, asyncpg.InvalidCatalogNameError):
        return StoreError(
            target.location, f"database {database!r} does not exist on {server}; create it (createdb {database})"
        )
    if isinstance(exc, asyncpg.InvalidAuthorizationSpecificationError | asyncpg.InvalidPasswordError):
        return StoreError(target.location, f"the server refused the login ({exc}); check the user and password")
    if isinstance(exc, socket.gaierror):
        return DatabaseUnreachableError(
            target.location,
            f"the host {parts.hostname!r} cannot be found ({exc.strerror or exc}); check the host name in the URL "
            f"and your network or DNS",
        )
    if isinstance(exc, OSError | TimeoutError):
        reason = (exc.strerror if isinstance(exc, OSError) else None) or str(exc) or type(exc).__name__
        return DatabaseUnreachableError(
            target.location,
            f"cannot connect to the PostgreSQL server at {server} ({reason}); is it running? Check that it "
            f"accepts TCP connections there, and the host and port in the URL",
        )
    return StoreError(target.location, f"cannot connect ({type(exc).__name__}: {exc})")


def environment_error(target: PgTarget, exc: BaseException) -> StoreError | None:
    """The :class:`StoreError` for a failure caused by the database's
    surroundings rather than by what wfc asked (another session's lock held
    past the wait); ``None`` for any other failure."""
    asyncpg = asyncpg_module(target.location)
    if isinstance(exc, asyncpg.LockNotAvailableError):  # 55P03: lock_timeout ran out (wfc never asks NOWAIT)
        return locked_error(target)
    return None


def locked_error(target: PgTarget) -> DatabaseLockedError:
    """Another session held a lock wfc needs for longer than the wait."""
    waited = target.lock_timeout
    return DatabaseLockedError(
        target.location,
        f"it is locked by another process: a session held a lock wfc needs for more than {waited:g} s (another "
        f"wfc process in a long transaction, or a psql session, migration or backup tool with an open "
        f"transaction; pg_stat_activity and pg_locks show which). Let that session finish or stop it, then retry; "
        f"to wait longer, add ?lock_timeout=SECONDS to the database URL or set {LOCK_TIMEOUT_ENV}",
        waited,
    )


# ---------------------------------------------------------------- checking and migrating


async def inspect(conn: Any, target: PgTarget) -> int:
    """Schema version of wfc's schema (0: missing or empty). Reads only.

    Raises:
        NotAWfcDatabaseError: the schema holds relations that are not wfc's.
    """
    rows = await conn.fetch(
        "SELECT c.relname, c.relkind::text AS relkind, obj_description(c.oid, 'pg_class') AS note "
        "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = $1 AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S') ORDER BY c.relname",
        target.schema,
    )
    if not rows:
        return 0
    tables = {str(row["relname"]) for row in rows if row["relkind"] in ("r", "p")}
    if any(row["relname"] == "wfc_migrations" and row["note"] == MARKER for row in rows):
        found = int(await conn.fetchval(f'SELECT coalesce(max(version), 0) FROM "{target.schema}".wfc_migrations'))
        missing = expected_tables(min(found, latest_version())) - tables
        if missing:
            raise _missing_tables(target, missing)
        return found
    # Without wfc's marked wfc_migrations the schema cannot be told from an
    # application's (a table named "runs" is common): refused as not wfc's.
    names = [str(row["relname"]) for row in rows if row["relkind"] != "S"] or [str(r["relname"]) for r in rows]
    shown = ", ".join(names[:5]) + (", ..." if len(names) > 5 else "")
    raise NotAWfcDatabaseError(
        target.location,
        f"schema {target.schema!r} holds tables that are not wfc's ({shown}); wfc will not write to it. "
        f"Give wfc a schema of its own with ?schema=NAME in the URL, or another database",
    )


async def migrate(conn: Any, target: PgTarget, now: float, *, create: bool = True) -> None:
    """Check the schema and apply the migrations it lacks, in one transaction.
    ``create=False``: refuse a missing (or empty) schema rather than create it.

    Raises:
        NotAWfcDatabaseError: the schema is not wfc's.
        NewerDatabaseError: it records a migration this wfc does not know.
        StoreError: the user may not create the schema or its tables, or
            (``create=False``) there is no wfc schema to open.
    """
    known = schema.migrations("postgres")
    current = await inspect(conn, target)  # without a lock: the usual case is up to date
    if current == 0 and not create:
        raise await _no_schema(conn, target)
    if current > len(known):
        raise NewerDatabaseError(target.location, current, len(known))
    if current == len(known):
        return
    asyncpg = asyncpg_module(target.location)
    try:
        async with conn.transaction():
            # Checked again under the lock: another process may have migrated.
            await conn.execute("SELECT pg_advisory_xact_lock($1, hashtext($2))", LOCK_CLASS, f"migrate {target.schema}")
            current = await inspect(conn, target)
            if current > len(known):
                raise NewerDatabaseError(target.location, current, len(known))
            if current == 0:
                await conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{target.schema}"')
            await conn.execute(f'SET LOCAL search_path TO "{target.schema}"')
            for migration in known[current:]:
                await conn.execute(migration.sql)
                await conn.execute(
                    "INSERT INTO wfc_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
                    migration.version,
                    migration.name,
                    now,
                )
    except asyncpg.InsufficientPrivilegeError as exc:
        raise StoreError(
            target.location,
            f"the user may not create wfc's schema {target.schema!r} or its tables ({exc}); grant it CREATE on the "
            f"database, or have an owner open it once",
        ) from None


async def _no_schema(conn: Any, target: PgTarget) -> StoreError:
    """The error for a missing wfc schema, naming those the database has
    (the one meant, when the URL's ``?schema=`` is a typo)."""
    rows = await conn.fetch(
        "SELECT n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE c.relname = 'wfc_migrations' AND obj_description(c.oid, 'pg_class') = $1 ORDER BY 1",
        MARKER,
    )
    names = [str(row["nspname"]) for row in rows]
    database = unquote(urlsplit(target.dsn).path.lstrip("/"))
    shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
    found = f"its wfc schemas: {shown}" if names else "it has no wfc schema at all"
    return StoreError(
        target.location,
        f"database {database!r} has no wfc schema {target.schema!r} ({found}); this command does not create "
        f"one. Check ?schema=NAME in the URL (without it the schema is {DEFAULT_SCHEMA!r}); `wfc run` or "
        f"`wfc worker` creates the schema",
    )
