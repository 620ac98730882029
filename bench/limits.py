"""The physical reference, measured in the same run as the engines: how many
single-row commits per second the disk and the database allow.

``python limits.py sqlite PATH SECONDS``: SQLite, WAL, ``synchronous=FULL``,
one ``INSERT`` per transaction on one connection, back to back; then the
latency of an *isolated* commit: one that writes :data:`ISOLATED_PAGES`
pages after :data:`ISOLATED_GAP_MS` of computing, as a run alone commits
between the turns it computes.
``python limits.py postgres URL SECONDS``: PostgreSQL, one connection, one
``INSERT`` per transaction (autocommit), ``synchronous_commit`` as the
server has it (reported); then ``SELECT 1`` round trips per second on the
same connection. Prints one JSON object.

A durable engine that commits once per step cannot beat these figures; one
that commits many runs' transitions together can. Back-to-back commits are
the faster kind on a virtual disk, whose host merges flushes that arrive
close together: a run alone cannot commit faster than its isolated commits
allow, so the one-run-at-a-time figure is compared with those.
"""

from __future__ import annotations

import json
import sqlite3
import statistics
import sys
import time
from typing import Any

#: What one commit of a run alone writes, about: the pages of a turn that
#: takes a task's result and dispatches the next (the run, its thread, the
#: journal and the outbox, with their indexes).
ISOLATED_PAGES = 12
#: Computing between two commits of a run alone, about what a turn, its
#: attempt and the wakeups between them take.
ISOLATED_GAP_MS = 0.25


def sqlite_commits(path: str, seconds: float) -> dict[str, Any]:
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute("CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, v TEXT)")
        count, began = 0, time.perf_counter()
        while time.perf_counter() - began < seconds:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("INSERT INTO t (v) VALUES ('x')")
            conn.execute("COMMIT")
            count += 1
        elapsed = time.perf_counter() - began
        isolated = _isolated_commits(conn, seconds)
    finally:
        conn.close()
    return {
        "commits_per_s": round(count / elapsed, 1),
        "mode": "WAL, synchronous=FULL, one connection",
        "isolated_commit_ms": round(statistics.median(isolated) * 1000, 4),
        "isolated_commit_pages": ISOLATED_PAGES,
        "isolated_gap_ms": ISOLATED_GAP_MS,
    }


def _isolated_commits(conn: sqlite3.Connection, seconds: float) -> list[float]:
    """Seconds each ``COMMIT`` took, of transactions that write a row into
    each of :data:`ISOLATED_PAGES` tables (a page each), each begun after
    :data:`ISOLATED_GAP_MS` of busy waiting (computing, not sleeping: the
    processor stays awake, as it does for an engine)."""
    for table in range(ISOLATED_PAGES):
        conn.execute(f"CREATE TABLE IF NOT EXISTS p{table} (id INTEGER PRIMARY KEY, v TEXT)")
    row = "x" * 200
    took: list[float] = []
    began = time.perf_counter()
    while time.perf_counter() - began < seconds:
        until = time.perf_counter() + ISOLATED_GAP_MS / 1000
        while time.perf_counter() < until:
            pass
        conn.execute("BEGIN IMMEDIATE")
        for table in range(ISOLATED_PAGES):
            conn.execute(f"INSERT INTO p{table} (v) VALUES (?)", (row,))
        committing = time.perf_counter()
        conn.execute("COMMIT")
        took.append(time.perf_counter() - committing)
    return took


async def postgres_commits(url: str, seconds: float) -> dict[str, Any]:
    import asyncpg  # type: ignore[import-untyped]

    conn = await asyncpg.connect(url)
    try:
        setting = await conn.fetchval("SHOW synchronous_commit")
        await conn.execute("CREATE TABLE IF NOT EXISTS bench_limit (id bigserial PRIMARY KEY, v text)")
        count, began = 0, time.perf_counter()
        while time.perf_counter() - began < seconds:
            await conn.execute("INSERT INTO bench_limit (v) VALUES ('x')")
            count += 1
        elapsed = time.perf_counter() - began
        selects, select_began = 0, time.perf_counter()
        while time.perf_counter() - select_began < seconds:
            await conn.fetchval("SELECT 1")
            selects += 1
        select_elapsed = time.perf_counter() - select_began
        await conn.execute("DROP TABLE bench_limit")
    finally:
        await conn.close()
    return {
        "commits_per_s": round(count / elapsed, 1),
        "select_round_trips_per_s": round(selects / select_elapsed, 1),
        "mode": f"one connection, autocommit INSERT, synchronous_commit={setting}",
        "synchronous_commit": setting,
    }


def main() -> None:
    kind, where, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
    if kind == "sqlite":
        result = sqlite_commits(where, seconds)
    else:
        import asyncio

        result = asyncio.run(postgres_commits(where, seconds))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
