"""Test databases for the conformance suite: a SQLite file, or a fresh schema
of the PostgreSQL database named by ``WFC_TEST_POSTGRES_URL``.

Each PostgreSQL test gets a schema of its own with a random name (passed to
wfc as ``?schema=NAME``), dropped afterwards, so tests are isolated from each
other and may run in parallel against one database.
"""

from __future__ import annotations

import asyncio
import os
import socket
import sqlite3
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

T = TypeVar("T")

#: The environment variable naming the PostgreSQL test database.
POSTGRES_ENV = "WFC_TEST_POSTGRES_URL"
SKIP_REASON = (
    f"PostgreSQL tests need {POSTGRES_ENV}=postgresql://user@host:5432/database (a database the tests may "
    f"create schemas in; .ci/run sets it)"
)


def postgres_base_url() -> str | None:
    """The PostgreSQL test database, if one is configured."""
    return os.environ.get(POSTGRES_ENV) or None


def with_schema(url: str, schema: str) -> str:
    """``url`` with its ``schema`` query parameter set."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "schema"]
    query.append(("schema", schema))
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), ""))


def new_schema_name() -> str:
    """A fresh schema name for one test."""
    return f"wfc_test_{uuid.uuid4().hex[:12]}"


def run_sync(make: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a coroutine to completion from sync code, even inside a running
    event loop (in a thread with a loop of its own)."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(lambda: asyncio.run(make())).result(timeout=60)


async def _pg_rows(url: str, schema: str, sql: str) -> list[tuple[Any, ...]]:
    import asyncpg  # type: ignore[import-untyped]

    conn = await asyncpg.connect(plain_url(url), server_settings={"search_path": schema})
    try:
        return [tuple(row) for row in await conn.fetch(sql)]
    finally:
        await conn.close()


async def _pg_execute(url: str, sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(plain_url(url))
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def plain_url(url: str) -> str:
    """A PostgreSQL URL without wfc's own ``schema`` parameter: what asyncpg connects to."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "schema"]
    return urlunsplit(("postgresql", parts.netloc, parts.path, urlencode(query), ""))


@dataclass
class Db:
    """One test's database."""

    kind: str
    """``"sqlite"`` or ``"postgres"``."""
    url: str
    """The URL to give wfc."""
    path: Path | None = None
    """The SQLite file."""
    schema: str | None = None
    """The PostgreSQL schema."""

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        """Rows of a query on the test's tables (plain SQL both stores read)."""
        if self.kind == "sqlite":
            import sqlite3

            with sqlite3.connect(str(self.path)) as conn:
                rows = list(conn.execute(sql).fetchall())
            conn.close()
            return rows
        assert self.schema is not None
        url, schema = self.url, self.schema
        return run_sync(lambda: _pg_rows(url, schema, sql))

    def execute(self, sql: str) -> None:
        """Run a statement on the PostgreSQL database (outside wfc's schema)."""
        url = self.url
        run_sync(lambda: _pg_execute(url, sql))

    def drop(self) -> None:
        """Remove the test's schema."""
        if self.kind == "postgres" and self.schema is not None:
            self.execute(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE')


def make_db(kind: str, tmp_path: Path) -> Db:
    """A fresh database of ``kind``; PostgreSQL needs :data:`POSTGRES_ENV`."""
    if kind == "sqlite":
        path = tmp_path / "wfc.db"
        return Db("sqlite", f"sqlite:///{path}", path=path)
    base = postgres_base_url()
    if base is None:
        raise RuntimeError(SKIP_REASON)
    schema = new_schema_name()
    return Db("postgres", with_schema(base, schema), schema=schema)


def unresolvable_invalid_hosts(monkeypatch: Any) -> None:
    """Answer every lookup of a host under the reserved ``.invalid`` domain
    with "not known" here, as a DNS server would, so that a test of an
    unknown host sends no query off this machine (``monkeypatch``: pytest's)."""
    real = socket.getaddrinfo

    def resolve(host: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(host, str) and host.endswith(".invalid"):
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolve)


@contextmanager
def sqlite_write_lock(path: Path) -> Iterator[None]:
    """Another connection holds the write lock of the SQLite file ``path``
    in the block, as a long transaction of another process would."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    finally:
        conn.execute("ROLLBACK")
        conn.close()


@contextmanager
def sqlite_file_lock(path: Path) -> Iterator[None]:
    """Another connection keeps the SQLite file ``path`` to itself in the
    block (``locking_mode=EXCLUSIVE`` after a write, as a tool that wants
    the file alone does): the one lock a reader of a WAL file waits for."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA locking_mode = EXCLUSIVE")
    conn.execute("BEGIN EXCLUSIVE")
    conn.execute("UPDATE runs SET updated_at = updated_at")
    conn.execute("COMMIT")  # the file stays locked until the connection closes
    try:
        yield
    finally:
        conn.close()


class Holder:
    """Another PostgreSQL session with an open transaction holding a lock."""

    def __init__(self, conn: Any, pid: int) -> None:
        self.conn = conn
        self.pid = pid

    async def blocking(self, timeout: float = 20) -> None:
        """Return once a session waits for a lock this one holds."""
        import anyio

        with anyio.fail_after(timeout):
            while True:
                # Inside this session's transaction the statistics views are
                # read once and kept: look afresh each time.
                await self.conn.execute("SELECT pg_stat_clear_snapshot()")
                if await self.conn.fetchval(
                    "SELECT count(*) FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))", self.pid
                ):
                    return
                await anyio.sleep(0.02)


@asynccontextmanager
async def held(pg: Db, statement: str) -> AsyncIterator[Holder]:
    """Another session runs ``statement`` (``{schema}`` standing for the
    schema of ``pg``) in a transaction and keeps it open, with its locks,
    for the block."""
    import asyncpg  # type: ignore[import-untyped]

    conn = await asyncpg.connect(plain_url(pg.url))
    try:
        await conn.execute("BEGIN")
        await conn.execute(statement.format(schema=pg.schema))
        yield Holder(conn, await conn.fetchval("SELECT pg_backend_pid()"))
    finally:
        await conn.execute("ROLLBACK")
        await conn.close()
