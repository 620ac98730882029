"""A transaction's queued writes on SQLite, as a few statements per table.

At commit, the rows each table gets are laid out on the event loop's thread
(:func:`prepare`) as statements of many rows each: ``INSERT ... VALUES
(...), (...)``, ``UPDATE ... FROM (VALUES ...)``, ``DELETE ... IN (VALUES
...)``. The connection's thread runs them (:func:`write`) and holds Python's
lock only to bind a statement's values and take its outcome back: SQLite
writes the rows without it, on the other core, while the event loop computes
the next turn. Bound row by row (``executemany``), the thread took the lock
back after every row, and a busy event loop holds it up to the switch
interval each time, so the loop had to stand idle while a thousand runs'
rows were written.

A statement holds a power of two of rows (up to :data:`MOST_ROWS`), so a few
shapes per table serve every batch from the connection's statement cache.
"""

from __future__ import annotations

import functools
import itertools
import sqlite3
from collections.abc import Sequence
from contextlib import closing
from typing import Any, Final, NamedTuple

from wfc.runtime.errors import StaleRunError
from wfc.runtime.store.base import USER_TASK_COLUMNS, USER_TASK_UPDATES, WriteBatch, search_rows, user_task_row
from wfc.runtime.store.dialect import Unwait

#: Most rows one statement writes. More cost more to parse, once per
#: shape, and save little: the lock is taken back once per statement.
MOST_ROWS: Final = 256
#: Most characters of large values one statement binds (:attr:`Shape.large`;
#: UTF-8 takes one to four bytes each): SQLite copies each value it is
#: given, so a batch of large states goes in as several statements, not
#: one of many megabytes.
MOST_CHARACTERS: Final = 8 * 1024 * 1024
#: Most values one statement binds: the limit this SQLite was built with
#: (by default 32,766 since 3.32, 999 before).
with closing(sqlite3.connect(":memory:")) as _probe:
    MOST_VALUES: Final = _probe.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
#: ``UPDATE ... FROM`` came with SQLite 3.33; before, runs are updated one
#: per statement.
UPDATE_FROM: Final = sqlite3.sqlite_version_info >= (3, 33, 0)


class Shape(NamedTuple):
    """A statement over ``rows`` rows of ``columns`` values: ``head``, the
    rows as ``VALUES``, then ``tail``; ``one``, where given, for a single
    row (a run alone's commit): SQLite makes a temporary table of the
    ``VALUES`` of ``IN (VALUES ...)`` and ``UPDATE ... FROM``, which cost a
    step of a run alone about 13 % more instructions."""

    head: str
    columns: int
    tail: str = ""
    one: str | None = None
    large: int | None = None
    """The index of a value that may be large (a state, a journal entry's
    detail, a task's arguments), counted against :data:`MOST_CHARACTERS`."""


#: One statement of a flush, and its values.
Write = tuple[str, Sequence[Any]]


class Flush(NamedTuple):
    """The statements writing one batch."""

    updates: list[Write]
    """The runs' new states, each written only where the run is still at
    the version it was read at (:attr:`expected`): run first, so that
    nothing else is written for a run another process moved on."""
    writes: list[Write]
    """Everything else, in the order the tables are written."""
    expected: dict[str, int]
    """The runs :attr:`updates` write, and the version each was read at."""


def _update_runs(with_status: bool) -> Shape:
    """Runs' new states, each only where still at its expected version.
    ``status`` is named only where it changed: SQLite rewrites the entries
    of every index on a column the SET names (``runs_by_status``), changed
    or not, and most steps leave a run RUNNING."""
    status = "status = v.column7, " if with_status else ""
    return Shape(
        f"UPDATE runs SET {status}state = v.column3, updated_at = v.column4, state_format = v.column5, "
        "needs_attention = v.column6, version = runs.version + 1 FROM (VALUES",
        7 if with_status else 6,
        ") AS v WHERE runs.id = v.column1 AND runs.version = v.column2",
        f"UPDATE runs SET {status.replace('v.column7', '?7')}state = ?3, updated_at = ?4, state_format = ?5, "
        "needs_attention = ?6, version = version + 1 WHERE id = ?1 AND version = ?2",
        large=2,
    )


#: Pairs of keys, for a table's primary key of two columns: written as
#: ``(a, b) IN (VALUES ...)``, SQLite scans the table.
_PAIRS: Final = "(SELECT column1, column2 FROM (VALUES"
_NEW_RUNS: Final = Shape(
    "INSERT INTO runs (id, workflow, major, revision, status, state, created_at, updated_at, state_format, "
    "needs_attention, trace_context, version) VALUES",
    12,
    large=5,
)
_UPDATE_STATUS: Final = _update_runs(True)
_UPDATE: Final = _update_runs(False)
# Apart: SQLite rewrites the entries of every index on a column the SET
# names, changed or not, and only a migration changes these.
_MOVED_RUNS: Final = Shape(
    "UPDATE runs SET major = v.column2, revision = v.column3 FROM (VALUES",
    3,
    ") AS v WHERE runs.id = v.column1",
    "UPDATE runs SET major = ?2, revision = ?3 WHERE id = ?1",
)
_DROP_THREADS: Final = Shape(
    "DELETE FROM run_threads WHERE run_id IN (VALUES", 1, ")", "DELETE FROM run_threads WHERE run_id = ?"
)
_PUT_THREADS: Final = Shape(
    "INSERT INTO run_threads (run_id, number, state) VALUES",
    3,
    "ON CONFLICT (run_id, number) DO UPDATE SET state = excluded.state",
    large=2,
)
_PUT_SEARCH: Final = Shape(
    "INSERT INTO run_search (run_id, key, value, run_created) VALUES",
    4,
    "ON CONFLICT (run_id, key) DO UPDATE SET value = excluded.value",
)
_DROP_SEARCH: Final = Shape(
    f"DELETE FROM run_search WHERE (run_id, key) IN {_PAIRS}",
    2,
    "))",
    "DELETE FROM run_search WHERE run_id = ? AND key = ?",
)
_PUT_USER_TASKS: Final = Shape(
    f"INSERT INTO user_tasks ({USER_TASK_COLUMNS}) VALUES",
    len(USER_TASK_COLUMNS.split(",")),
    f"ON CONFLICT (id) DO UPDATE SET {USER_TASK_UPDATES}",
    large=14,
)
_JOURNAL: Final = Shape(
    "INSERT INTO journal (run_id, seq, at, thread, node, kind, attempt, detail) VALUES", 8, large=7
)
_PUT_TASKS: Final = Shape(
    "INSERT INTO tasks (dispatch_id, run_id, workflow, thread, node, task, args, attempt, idempotency_key, "
    "timeout, created_at, lease_owner, lease_expires_at) VALUES",
    13,
    "ON CONFLICT (dispatch_id) DO UPDATE SET lease_owner = excluded.lease_owner, "
    "lease_expires_at = excluded.lease_expires_at",
    large=6,
)
_DROP_TASKS: Final = Shape(
    "DELETE FROM tasks WHERE dispatch_id IN (VALUES", 1, ")", "DELETE FROM tasks WHERE dispatch_id = ?"
)
_PUT_TIMERS: Final = Shape("INSERT OR REPLACE INTO timers (run_id, timer, due_at) VALUES", 3)
_DROP_TIMERS: Final = Shape(
    f"DELETE FROM timers WHERE (run_id, timer) IN {_PAIRS}",
    2,
    "))",
    "DELETE FROM timers WHERE run_id = ? AND timer = ?",
)
_DROP_WAITS: Final = Shape(
    "DELETE FROM event_waits WHERE run_id IN (VALUES", 1, ")", "DELETE FROM event_waits WHERE run_id = ?"
)
_DROP_THREAD_WAITS: Final = Shape(
    f"DELETE FROM event_waits WHERE (run_id, thread) IN {_PAIRS}",
    2,
    "))",
    "DELETE FROM event_waits WHERE run_id = ? AND thread = ?",
)


def prepare(batch: WriteBatch, unwaited: Sequence[Unwait]) -> Flush:
    """The statements writing ``batch`` and dropping the waits ``unwaited``."""
    flush = Flush([], [], {})
    if batch.runs:
        _prepare_runs(batch, flush)
    writes = flush.writes
    if batch.user_tasks:
        _add(writes, _PUT_USER_TASKS, [user_task_row(t) for t in batch.user_tasks.values()])
    if batch.journal:
        rows = [(j.run_id, j.seq, j.at, j.thread, j.node, j.kind, j.attempt, j.detail.decode()) for j in batch.journal]
        _add(writes, _JOURNAL, rows)
    if batch.tasks:
        tasks = batch.tasks
        puts = [
            (t.dispatch_id, t.run_id, t.workflow, t.thread, t.node, t.task, t.args.decode(), t.attempt,
             t.idempotency_key, t.timeout, t.created_at, t.lease_owner, t.lease_expires_at)
            for t in tasks.values()
            if t is not None
        ]  # fmt: skip
        _add(writes, _PUT_TASKS, puts)
        _add(writes, _DROP_TASKS, [(key,) for key, t in tasks.items() if t is None])
    if batch.timers:
        timers = batch.timers
        _add(writes, _PUT_TIMERS, [(t.run_id, t.timer, t.due_at) for t in timers.values() if t is not None])
        _add(writes, _DROP_TIMERS, [key for key, t in timers.items() if t is None])
    if unwaited:
        _add(writes, _DROP_WAITS, [(run_id,) for run_id, thread in unwaited if thread is None])
        _add(writes, _DROP_THREAD_WAITS, [(run_id, thread) for run_id, thread in unwaited if thread is not None])
    return flush


def _prepare_runs(batch: WriteBatch, flush: Flush) -> None:
    """The statements writing the rows of ``batch.runs``: ``runs``,
    ``run_threads`` and ``run_search``."""
    new: list[tuple[Any, ...]] = []
    named: list[tuple[Any, ...]] = []
    unnamed: list[tuple[Any, ...]] = []
    moved: list[tuple[str, int, int]] = []
    whole: list[tuple[str]] = []
    threads: list[tuple[str, int, str]] = []
    for r in batch.runs.values():
        if r.expected_version is None:
            new.append((r.id, r.workflow, r.major, r.revision, r.status, r.state.decode(), r.created_at,
                        r.updated_at, r.state_format, r.needs_attention, r.trace, 1))  # fmt: skip
        else:
            flush.expected[r.id] = r.expected_version
            row = (r.id, r.expected_version, r.state.decode(), r.updated_at, r.state_format, r.needs_attention)
            if r.status_changed:
                named.append((*row, r.status))
            else:
                unnamed.append(row)
            if r.migrated:
                moved.append((r.id, r.major, r.revision))
            if r.threads is None:
                whole.append((r.id,))
        if r.threads:
            threads.extend((r.id, n, b.decode()) for n, b in r.threads.items())
    _add(flush.updates, _UPDATE_STATUS, named)
    _add(flush.updates, _UPDATE, unnamed)
    writes = flush.writes
    _add(writes, _NEW_RUNS, new)
    _add(writes, _MOVED_RUNS, moved)
    _add(writes, _DROP_THREADS, whole)
    _add(writes, _PUT_THREADS, threads)
    puts, drops = search_rows(batch)
    _add(writes, _PUT_SEARCH, puts)
    _add(writes, _DROP_SEARCH, drops)


def prepare_waits(unwaited: Sequence[Unwait]) -> Flush:
    """The statements dropping the waits ``unwaited``."""
    return prepare(WriteBatch(), unwaited)


def _add(writes: list[Write], shape: Shape, rows: Sequence[Sequence[Any]]) -> None:
    """The statements writing ``rows`` as ``shape``: the largest power of
    two of rows that is left, each time, halved while its large values
    come to more than :data:`MOST_CHARACTERS`."""
    left = len(rows)
    if left <= 1:
        if left:
            writes.append((_sql(shape, 1), rows[0]))
        return
    most = _most_rows(shape)
    large = shape.large
    start = 0
    while left:
        count = min(most, 1 << (left.bit_length() - 1))
        if large is not None:
            while count > 1 and sum(len(row[large]) for row in rows[start : start + count]) > MOST_CHARACTERS:
                count //= 2
        chunk = rows[start : start + count]
        writes.append((_sql(shape, count), list(itertools.chain.from_iterable(chunk))))
        start += count
        left -= count


@functools.cache
def _most_rows(shape: Shape) -> int:
    """The largest power of two of rows of ``shape`` one statement takes."""
    if not UPDATE_FROM and shape.head.startswith("UPDATE"):
        return 1
    fits = min(MOST_ROWS, max(1, MOST_VALUES // shape.columns))
    return 1 << (fits.bit_length() - 1)


@functools.cache
def _sql(shape: Shape, rows: int) -> str:
    if rows == 1 and shape.one is not None:
        return shape.one
    row = f"({', '.join('?' * shape.columns)})"
    return f"{shape.head} {', '.join([row] * rows)} {shape.tail}".rstrip()


def write(conn: sqlite3.Connection, flush: Flush) -> None:
    """Run the statements of ``flush`` (in the connection's thread, in a
    transaction). Raises :class:`StaleRunError` naming the runs that were
    no longer at the version they were read at: none of the batch may be
    committed then."""
    cursor = conn.cursor()  # one for all: Connection.execute makes one per statement
    updated = 0
    for sql, values in flush.updates:
        updated += cursor.execute(sql, values).rowcount
    if updated != len(flush.expected):
        raise StaleRunError(_stale(conn, flush.expected) or list(flush.expected))
    for sql, values in flush.writes:
        cursor.execute(sql, values)


def _stale(conn: sqlite3.Connection, expected: dict[str, int]) -> list[str]:
    """The runs of ``expected`` this transaction did not move on by one
    version (rows whose version matched were bumped by the updates)."""
    current: dict[str, int] = {}
    ids = list(expected)
    for start in range(0, len(ids), MOST_ROWS):
        chunk = ids[start : start + MOST_ROWS]
        rows = conn.execute(f"SELECT id, version FROM runs WHERE id IN ({', '.join('?' * len(chunk))})", chunk)
        current.update((row[0], row[1]) for row in rows)
    return [run_id for run_id, version in expected.items() if current.get(run_id) != version + 1]
