"""A commit's rows on SQLite go in as a few statements of many rows each
(:mod:`wfc.runtime.store.sqlite_flush`): every row is stored as given, a run
another process moved on fails the whole batch and is named, and the event
loop goes on while the connection's thread writes a pipelined turn."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import anyio
import pytest
from rtstore import run_write, seed, task_record

from wfc.runtime.errors import StaleRunError
from wfc.runtime.store import JournalRecord, Store, TimerRecord, open_store, sqlite_flush
from wfc.runtime.store import sqlite as sqlite_store
from wfc.runtime.store.base import WriteBatch
from wfc.runtime.store.sqlite_flush import Flush, prepare

pytestmark = pytest.mark.anyio

#: More than one statement's most rows, and not a power of two: 256 + 32 + 8 + 4.
COUNT = 300
#: Text that JSON, SQL and UTF-8 each treat specially.
AWKWARD = '{"s":"é ✓ \\" \\\\ \\u0000 \'; DROP TABLE runs; --","n":1e400}'


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "flush.db"


@pytest.fixture
async def store(path: Path) -> AsyncIterator[Store]:
    opened = await open_store(f"sqlite:///{path}", time.time())
    try:
        await seed(opened, "r0")
        yield opened
    finally:
        await opened.close()


def _rows(path: Path, sql: str) -> list[tuple[object, ...]]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def _journal(run_id: str, seq: int) -> JournalRecord:
    return JournalRecord(run_id, seq, 3.0, 0, "n", "TASK_COMPLETED", 1, f'{{"seq":{seq},"t":"é"}}'.encode())


def _ids() -> list[str]:
    return [f"r{i:03d}" for i in range(1, COUNT + 1)]


async def _create(store: Store, state: bytes = AWKWARD.encode()) -> None:
    async with store.transaction() as tx:
        for run_id in _ids():
            tx.batch.runs[run_id] = run_write(run_id, None)
            tx.batch.runs[run_id].state = state


def _row_counts(flush: Flush, table: str) -> list[int]:
    """The rows of each statement of ``flush`` writing ``table``."""
    return [max(1, sql.count("(?")) for sql, _ in flush.updates + flush.writes if f" {table} " in sql]


def _fill(batch: WriteBatch, rows: WriteBatch) -> None:
    batch.runs.update(rows.runs)
    batch.journal.extend(rows.journal)
    batch.tasks.update(rows.tasks)
    batch.timers.update(rows.timers)


async def test_many_rows_go_in_a_few_statements_and_each_is_stored_as_given(store: Store, path: Path) -> None:
    batch = WriteBatch()
    for index, run_id in enumerate(_ids()):
        batch.runs[run_id] = run_write(run_id, None)
        batch.runs[run_id].state = AWKWARD.encode()
        batch.journal.append(_journal(run_id, 1))
        batch.put_task(task_record(f"{run_id}/t#1", run_id))
        batch.timers[(run_id, index)] = TimerRecord(run_id, index, 100.0 + index)
    flush = prepare(batch, [])
    assert _row_counts(flush, "journal") == [256, 32, 8, 4]
    assert _row_counts(flush, "runs") == [256, 32, 8, 4]

    async with store.transaction() as tx:
        _fill(tx.batch, batch)
    assert _rows(path, "SELECT DISTINCT state FROM runs WHERE id != 'r0'") == [(AWKWARD,)]
    assert _rows(path, "SELECT count(*), min(version), max(version) FROM runs WHERE id != 'r0'") == [(COUNT, 1, 1)]
    # The journal's feed keeps the order the rows were given in.
    assert [row[0] for row in _rows(path, "SELECT run_id FROM journal ORDER BY feed")] == _ids()
    assert _rows(path, "SELECT DISTINCT detail FROM journal") == [('{"seq":1,"t":"é"}',)]
    assert _rows(path, "SELECT count(*), min(args), max(args) FROM tasks") == [(COUNT, "[1]", "[1]")]
    assert _rows(path, "SELECT sum(due_at) FROM timers") == [(sum(100.0 + i for i in range(COUNT)),)]

    async with store.transaction() as tx:
        for index, run_id in enumerate(_ids()):
            tx.batch.runs[run_id] = run_write(run_id, 1, status="COMPLETED" if index % 2 else "RUNNING")
            tx.batch.runs[run_id].status_changed = bool(index % 2)
            tx.batch.drop_task(f"{run_id}/t#1")
            tx.batch.timers[(run_id, index)] = None
    assert _rows(path, "SELECT status, count(*), min(version), max(version) FROM runs WHERE id != 'r0' GROUP BY 1") == [
        ("COMPLETED", COUNT // 2, 2, 2),
        ("RUNNING", COUNT // 2, 2, 2),
    ]
    assert _rows(path, "SELECT count(*) FROM tasks") == [(0,)]
    assert _rows(path, "SELECT count(*) FROM timers") == [(0,)]


async def test_runs_another_process_moved_on_are_named_and_nothing_of_the_batch_is_written(
    store: Store, path: Path
) -> None:
    await _create(store)
    moved = ["r007", "r200", "r300"]
    conn = sqlite3.connect(path)
    with conn:
        conn.executemany("UPDATE runs SET version = 4 WHERE id = ?", [(run_id,) for run_id in moved])
    conn.close()

    with pytest.raises(StaleRunError) as raised:
        async with store.transaction() as tx:
            for run_id in _ids():
                tx.batch.runs[run_id] = run_write(run_id, 1)
                tx.batch.journal.append(_journal(run_id, 2))
    assert sorted(raised.value.run_ids) == moved
    assert _rows(path, "SELECT count(*) FROM journal") == [(0,)]
    assert _rows(path, "SELECT version, count(*) FROM runs WHERE id != 'r0' GROUP BY 1") == [(1, COUNT - 3), (4, 3)]


@pytest.fixture
def without_update_from(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """As on SQLite before 3.33, which has no ``UPDATE ... FROM``."""
    monkeypatch.setattr(sqlite_flush, "UPDATE_FROM", False)
    sqlite_flush._most_rows.cache_clear()
    yield
    sqlite_flush._most_rows.cache_clear()


async def test_without_update_from_runs_are_updated_one_per_statement(
    store: Store, path: Path, without_update_from: None
) -> None:
    await _create(store)
    batch = WriteBatch()
    for run_id in _ids():
        batch.runs[run_id] = run_write(run_id, 1)
    assert _row_counts(prepare(batch, []), "runs") == [1] * COUNT
    assert all("FROM (VALUES" not in sql for sql, _ in prepare(batch, []).updates)

    with pytest.raises(StaleRunError) as raised:
        async with store.transaction() as tx:
            _fill(tx.batch, batch)
            tx.batch.runs["r010"] = run_write("r010", 5)
    assert list(raised.value.run_ids) == ["r010"]
    async with store.transaction() as tx:
        for run_id in _ids():
            tx.batch.runs[run_id] = run_write(run_id, 1)
    assert _rows(path, "SELECT DISTINCT version FROM runs WHERE id != 'r0'") == [(2,)]


async def test_a_lower_limit_on_values_gives_statements_of_fewer_rows(
    store: Store, path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlite_flush, "MOST_VALUES", 999)  # SQLite before 3.32
    sqlite_flush._most_rows.cache_clear()
    try:
        await _create(store)
        batch = WriteBatch()
        for run_id in _ids():
            batch.put_task(task_record(f"{run_id}/t#1", run_id))
        counts = _row_counts(prepare(batch, []), "tasks")
        assert counts == [64, 64, 64, 64, 32, 8, 4]  # 13 values a row: 76 fit, 64 a power of two
        async with store.transaction() as tx:
            _fill(tx.batch, batch)
        assert _rows(path, "SELECT count(*) FROM tasks") == [(COUNT,)]
    finally:
        sqlite_flush._most_rows.cache_clear()


async def test_a_pipelined_commit_gives_the_event_loop_back_while_its_rows_are_written(
    store: Store, path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The turn after it is computed meanwhile; before, the loop waited
    for the rows to be written, and only the ``COMMIT`` overlapped."""
    writing, release = threading.Event(), threading.Event()
    real = sqlite_store.write

    def write(conn: sqlite3.Connection, flush: Flush) -> None:
        writing.set()
        release.wait(10)
        real(conn, flush)

    monkeypatch.setattr(sqlite_store, "write", write)
    try:
        with anyio.fail_after(5):
            async with store.transaction(pipelined=lambda: True) as tx:
                tx.batch.runs["r1"] = run_write("r1", None)
        assert await anyio.to_thread.run_sync(writing.wait, 5)
        assert not release.is_set() and _rows(path, "SELECT count(*) FROM runs WHERE id = 'r1'") == [(0,)]
    finally:
        release.set()
    await tx.committed()
    assert _rows(path, "SELECT count(*) FROM runs WHERE id = 'r1'") == [(1,)]


async def test_large_states_go_in_statements_of_a_few_megabytes(store: Store, path: Path) -> None:
    """SQLite copies every value a statement binds: 40 states of 1 MiB go in
    as five statements of eight, not one of 40 MiB."""
    state = ('{"blob":"' + "x" * (1024 * 1024 - 11) + '"}').encode()
    batch = WriteBatch()
    for run_id in _ids()[:40]:
        batch.runs[run_id] = run_write(run_id, None)
        batch.runs[run_id].state = state
        batch.journal.append(_journal(run_id, 1))
    flush = prepare(batch, [])
    assert _row_counts(flush, "runs") == [8, 8, 8, 8, 8]
    assert _row_counts(flush, "journal") == [32, 8]  # small rows: as many as fit a power of two
    async with store.transaction() as tx:
        _fill(tx.batch, batch)
    assert _rows(path, "SELECT count(*), min(length(state)), max(length(state)) FROM runs WHERE id != 'r0'") == [
        (40, len(state), len(state))
    ]
