"""Why wfc drives the standard library's sqlite3 from one thread instead of aiosqlite.

Measures the commit wfc's engine makes (read the versions of the runs in a
batch, write each run's new state and a journal row, put a task row, commit)
on a WAL file with ``synchronous=FULL``, three ways:

- ``aiosqlite``: one ``await`` per statement, each a hop to aiosqlite's thread;
- ``sqlite3, hop per statement``: the same with stdlib sqlite3 in a worker
  thread, one hop per statement;
- ``sqlite3, hop per transaction``: wfc's way, the whole transaction body in
  one hop to the thread that owns the connection.

Prints one JSON line: milliseconds per transaction (median of ``--reps``) and
the ratio of each to wfc's way. Needs ``pip install aiosqlite`` (bench/run
installs it in the benchmark's own virtualenv; it is never a wfc dependency).
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

RUNS_PER_COMMIT = 8
STATE = b"x" * 600

SCHEMA = """
CREATE TABLE runs (id TEXT PRIMARY KEY, version INTEGER NOT NULL, state BLOB NOT NULL);
CREATE TABLE journal (run_id TEXT NOT NULL, seq INTEGER NOT NULL, entry BLOB NOT NULL, PRIMARY KEY (run_id, seq));
CREATE TABLE tasks (id TEXT PRIMARY KEY, run_id TEXT NOT NULL, payload BLOB NOT NULL);
"""


def _statements(batch: int) -> list[tuple[str, tuple[Any, ...]]]:
    """The statements of one commit of ``RUNS_PER_COMMIT`` runs, after BEGIN."""
    ids = [f"run-{i}" for i in range(RUNS_PER_COMMIT)]
    marks = ",".join("?" * len(ids))
    select = f"SELECT id, version FROM runs WHERE id IN ({marks})"
    statements: list[tuple[str, tuple[Any, ...]]] = [(select, tuple(ids))]
    for run_id in ids:
        statements.append(("UPDATE runs SET version = version + 1, state = ? WHERE id = ?", (STATE, run_id)))
        statements.append(("INSERT INTO journal VALUES (?, ?, ?)", (run_id, batch, b"entry")))
        statements.append(("INSERT OR REPLACE INTO tasks VALUES (?, ?, ?)", (f"{run_id}-t", run_id, b"task")))
    return statements


def _prepare(path: Path) -> None:
    conn = sqlite3.connect(path)
    conn.executescript(SCHEMA)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.executemany("INSERT INTO runs VALUES (?, 0, ?)", [(f"run-{i}", STATE) for i in range(RUNS_PER_COMMIT)])
    conn.commit()
    conn.close()


def _connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA synchronous = FULL")
    return conn


async def _aiosqlite(path: Path, commits: int) -> float:
    import aiosqlite

    async with aiosqlite.connect(path, isolation_level=None) as conn:
        await conn.execute("PRAGMA synchronous = FULL")
        started = time.perf_counter()
        for batch in range(commits):
            await conn.execute("BEGIN IMMEDIATE")
            for sql, params in _statements(batch):
                cursor = await conn.execute(sql, params)
                await cursor.fetchall()
            await conn.execute("COMMIT")
        return time.perf_counter() - started


async def _in_thread(executor: ThreadPoolExecutor, fn: Callable[[], Any]) -> Any:
    return await asyncio.get_running_loop().run_in_executor(executor, fn)


async def _hop_per_statement(path: Path, commits: int) -> float:
    conn = _connect(path)
    with ThreadPoolExecutor(1) as executor:
        started = time.perf_counter()
        for batch in range(commits):
            await _in_thread(executor, functools.partial(conn.execute, "BEGIN IMMEDIATE"))
            for sql, params in _statements(batch):
                await _in_thread(executor, lambda s=sql, p=params: conn.execute(s, p).fetchall())
            await _in_thread(executor, functools.partial(conn.execute, "COMMIT"))
        elapsed = time.perf_counter() - started
    conn.close()
    return elapsed


def _transaction(conn: sqlite3.Connection, batch: int) -> None:
    conn.execute("BEGIN IMMEDIATE")
    for sql, params in _statements(batch):
        conn.execute(sql, params).fetchall()
    conn.execute("COMMIT")


async def _hop_per_transaction(path: Path, commits: int) -> float:
    conn = _connect(path)
    with ThreadPoolExecutor(1) as executor:
        started = time.perf_counter()
        for batch in range(commits):
            await _in_thread(executor, functools.partial(_transaction, conn, batch))
        elapsed = time.perf_counter() - started
    conn.close()
    return elapsed


WAYS: dict[str, Callable[[Path, int], Awaitable[float]]] = {
    "aiosqlite": _aiosqlite,
    "sqlite3_hop_per_statement": _hop_per_statement,
    "sqlite3_hop_per_transaction": _hop_per_transaction,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commits", type=int, default=300)
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args()
    times: dict[str, list[float]] = {name: [] for name in WAYS}
    with tempfile.TemporaryDirectory() as folder:
        for rep in range(args.reps):  # interleaved, so drift on a shared machine hits every way alike
            for name, way in WAYS.items():
                path = Path(folder) / f"{name}-{rep}.db"
                _prepare(path)
                times[name].append(asyncio.run(way(path, args.commits)) / args.commits * 1000)
    medians = {name: statistics.median(values) for name, values in times.items()}
    ours = medians["sqlite3_hop_per_transaction"]
    print(
        json.dumps(
            {
                "statements_per_commit": len(_statements(0)) + 2,
                "ms_per_commit": {name: round(value, 3) for name, value in medians.items()},
                "ms_per_commit_range": {name: [round(min(v), 3), round(max(v), 3)] for name, v in times.items()},
                "ratio_to_hop_per_transaction": {name: round(value / ours, 2) for name, value in medians.items()},
            }
        )
    )


if __name__ == "__main__":
    main()
