"""PostgreSQL helpers for the benchmark: fresh databases and commit counts.

Commits are ``pg_stat_database.xact_commit`` of a database the benchmark
created for one process. A backend publishes its counts when it exits (or
when idle, at most every 10 s), so :func:`xact_commit` first waits until no
session is connected to the database: read after the process that used it
ended, the count is complete.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit, urlunsplit


def database_url(server: str, name: str) -> str:
    """``server`` with its database replaced by ``name``."""
    parts = urlsplit(server)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", "", ""))


async def _admin(server: str, statement: str) -> None:
    import asyncpg  # type: ignore[import-untyped]

    conn = await asyncpg.connect(server)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


@contextmanager
def fresh_database(server: str, name: str) -> Iterator[str]:
    """A new database on the server of ``server`` (dropped afterwards); its URL."""
    asyncio.run(_admin(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    asyncio.run(_admin(server, f'CREATE DATABASE "{name}"'))
    try:
        yield database_url(server, name)
    finally:
        asyncio.run(_admin(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _xact_commit(server: str, name: str, wait: float) -> int:
    import asyncpg

    conn = await asyncpg.connect(server)
    try:
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            sessions = await conn.fetchval("SELECT count(*) FROM pg_stat_activity WHERE datname = $1", name)
            if not sessions:
                break
            await asyncio.sleep(0.05)
        await conn.execute("SELECT pg_stat_clear_snapshot()")
        value = await conn.fetchval("SELECT xact_commit FROM pg_stat_database WHERE datname = $1", name)
        return int(value or 0)
    finally:
        await conn.close()


def xact_commit(server: str, name: str, wait: float = 15.0) -> int:
    """Transactions committed in database ``name`` so far (read-only ones
    included), once no session is connected to it."""
    return asyncio.run(_xact_commit(server, name, wait))


async def _show(server: str, setting: str) -> str:
    import asyncpg

    conn = await asyncpg.connect(server)
    try:
        return str(await conn.fetchval(f"SHOW {setting}"))
    finally:
        await conn.close()


def show(server: str, setting: str) -> str:
    """A server setting, e.g. ``synchronous_commit``."""
    return asyncio.run(_show(server, setting))
