"""The SQLite store: one file, WAL, one writer at a time.

Opening checks the file before writing anything: a file that is not SQLite, a
SQLite database of another application, or a wfc database migrated by a newer
wfc is refused with a clear error and left byte-for-byte untouched. Then the
numbered migrations in ``migrations/sqlite`` are applied in one ``BEGIN
IMMEDIATE`` transaction and recorded in ``wfc_migrations``.

Settings: WAL so readers never block the writer; ``synchronous=FULL`` because
a transition is acknowledged only after its commit and must survive power
loss, not just a process crash (batching many runs per commit is what keeps
this affordable); ``busy_timeout`` so another process writing briefly makes us
wait instead of fail; ``foreign_keys=ON``.

Each connection is used from worker threads one call at a time
(:class:`_Connection`). A call is a whole unit of work, not one statement: the
hot path of a transaction is two thread hops (``BEGIN IMMEDIATE`` with the
first read, then every queued write with ``COMMIT``), which matters more for
latency than the statements themselves.
"""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import AsyncIterator, Callable, Collection, Iterable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager, suppress
from typing import Any, Final, TypeVar

import anyio

from wfc.runtime.errors import ReadOnlyDatabaseError, StaleRunError, StoreError
from wfc.runtime.store import rows as decode
from wfc.runtime.store.base import (
    EngineRecord,
    EventRecord,
    JournalRecord,
    RunRecord,
    RunVersion,
    SpecRecord,
    Store,
    StoreTransaction,
    TaskRecord,
    TimerRecord,
    WriteBatch,
    process_alive,
)
from wfc.runtime.store.sqlite_setup import (
    DEFAULT_BUSY_TIMEOUT,
    connect,
    environment_error,
    explain,
    migrate,
    open_file,
    parse_target,
)

T = TypeVar("T")
_CHUNK: Final = 500

#: Primary SQLite result codes of the environment's trouble, not the data's:
#: BUSY, LOCKED, NOMEM, READONLY, INTERRUPT, IOERR, FULL, CANTOPEN, PROTOCOL,
#: SCHEMA. Work that hit one is tried again (see :meth:`Store.is_transient`).
_TRANSIENT_CODES: Final = frozenset({5, 6, 7, 8, 9, 10, 13, 14, 15, 17})
#: What to do about some of them, for messages.
_HINTS: Final = {
    5: "another process is writing to the database; wait for it to finish, or stop it",
    6: "another connection holds a lock on the database; wait for it to finish, or stop it",
    8: "the database file or its folder is read-only; give this process write access to both",
    10: "the disk reported an I/O error; check the disk and the file system that hold the file",
    13: "the disk is full; free space on the disk that holds the database file",
    14: "the database file cannot be opened any more; check that it and its folder still exist",
}


def _primary_code(error: sqlite3.Error) -> int | None:
    """SQLite's primary result code of ``error`` (extended codes keep it in
    the low byte); ``None`` when the error carries none."""
    code = getattr(error, "sqlite_errorcode", None)
    return code & 0xFF if isinstance(code, int) else None


async def open_sqlite(url_rest: str, now: float, *, read_only: bool = False) -> SqliteStore:
    """Open (creating and migrating if needed) the wfc database at
    ``url_rest``, the part of a ``sqlite:///`` URL after its prefix (a path,
    then ``?busy_timeout=SECONDS`` if given); ``":memory:"`` gives a private
    in-memory database. ``read_only`` writes nothing (see
    :func:`~wfc.runtime.store.sqlite_setup.open_file`)."""
    target = parse_target(url_rest)
    path = target.path
    if path == ":memory:":
        conn = connect(":memory:", path, writer=True)
        migrate(conn, path, now)
        shared = _Connection(conn)
        return SqliteStore(path, shared, shared)
    opened = await anyio.to_thread.run_sync(
        functools.partial(open_file, path, now, read_only=read_only, busy_timeout=target.busy_timeout)
    )
    if opened.read_only:
        single = _Connection(opened.writer)
        return SqliteStore(path, single, single, read_only=True, busy_timeout=target.busy_timeout)
    return SqliteStore(path, _Connection(opened.writer), _Connection(opened.reader), busy_timeout=target.busy_timeout)


def _chunks(items: Iterable[str]) -> Iterable[list[str]]:
    batch: list[str] = []
    for item in items:
        batch.append(item)
        if len(batch) == _CHUNK:
            yield batch
            batch = []
    if batch:
        yield batch


class _Connection:
    """A sqlite3 connection used from worker threads, one call at a time."""

    def __init__(self, raw: sqlite3.Connection) -> None:
        self.raw = raw
        self._limiter = anyio.CapacityLimiter(1)

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(*args)`` in a worker thread that owns the connection for
        the call. Not abandoned on cancellation: a statement always finishes."""
        return await anyio.to_thread.run_sync(functools.partial(fn, *args), limiter=self._limiter)

    async def rows(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        """All rows of one query."""
        return await self.run(lambda: self.raw.execute(sql, params).fetchall())


# ---------------------------------------------------------------- sync bodies of transactions


def _run_versions(conn: sqlite3.Connection, run_ids: Collection[str]) -> dict[str, RunVersion]:
    found: dict[str, RunVersion] = {}
    for chunk in _chunks(run_ids):
        marks = ",".join("?" * len(chunk))
        sql = f"SELECT id, workflow, major, revision, status, version FROM runs WHERE id IN ({marks})"
        for row in conn.execute(sql, chunk):
            found[row["id"]] = decode.run_version(row)
    return found


def _load_runs(conn: sqlite3.Connection, run_ids: Collection[str]) -> dict[str, RunRecord]:
    found: dict[str, RunRecord] = {}
    for chunk in _chunks(run_ids):
        marks = ",".join("?" * len(chunk))
        for row in conn.execute(f"SELECT * FROM runs WHERE id IN ({marks})", chunk):
            found[row["id"]] = decode.run_record(row)
    return found


def _flush(conn: sqlite3.Connection, batch: WriteBatch) -> None:
    new = [r for r in batch.runs.values() if r.expected_version is None]
    changed = [r for r in batch.runs.values() if r.expected_version is not None]
    if new:
        conn.executemany(
            "INSERT INTO runs (id, workflow, major, revision, status, version, state, created_at, updated_at) "
            "VALUES (?, ?, ?, ?, ?, 1, ?, ?, ?)",
            [
                (r.id, r.workflow, r.major, r.revision, r.status, r.state.decode(), r.created_at, r.updated_at)
                for r in new
            ],
        )
    if changed:
        cursor = conn.executemany(
            "UPDATE runs SET status = ?, state = ?, updated_at = ?, version = version + 1 WHERE id = ? AND version = ?",
            [(r.status, r.state.decode(), r.updated_at, r.id, r.expected_version) for r in changed],
        )
        if cursor.rowcount != len(changed):
            # Rows whose version matched were bumped by this statement.
            current = _run_versions(conn, [r.id for r in changed])
            stale = [
                r.id for r in changed if r.id not in current or current[r.id].version != (r.expected_version or 0) + 1
            ]
            raise StaleRunError(stale or [r.id for r in changed])
    if batch.journal:
        conn.executemany(
            "INSERT INTO journal (run_id, seq, at, thread, node, kind, attempt, detail) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [(j.run_id, j.seq, j.at, j.thread, j.node, j.kind, j.attempt, j.detail.decode()) for j in batch.journal],
        )
    puts = [t for t in batch.tasks.values() if t is not None]
    if puts:
        conn.executemany(
            "INSERT INTO tasks (dispatch_id, run_id, workflow, thread, node, task, args, attempt, idempotency_key, "
            "timeout, created_at, lease_owner, lease_expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (dispatch_id) DO UPDATE SET lease_owner = excluded.lease_owner, "
            "lease_expires_at = excluded.lease_expires_at",
            [
                (t.dispatch_id, t.run_id, t.workflow, t.thread, t.node, t.task, t.args.decode(), t.attempt,
                 t.idempotency_key, t.timeout, t.created_at, t.lease_owner, t.lease_expires_at)
                for t in puts
            ],
        )  # fmt: skip
    done = [(key,) for key, t in batch.tasks.items() if t is None]
    if done:
        conn.executemany("DELETE FROM tasks WHERE dispatch_id = ?", done)
    timers = [t for t in batch.timers.values() if t is not None]
    if timers:
        conn.executemany(
            "INSERT OR REPLACE INTO timers (run_id, timer, due_at) VALUES (?, ?, ?)",
            [(t.run_id, t.timer, t.due_at) for t in timers],
        )
    dropped = [key for key, t in batch.timers.items() if t is None]
    if dropped:
        conn.executemany("DELETE FROM timers WHERE run_id = ? AND timer = ?", dropped)


class _SqliteTransaction(StoreTransaction):
    """A transaction on the writer connection. On a store opened read-only it
    reads in a deferred transaction and refuses to write."""

    def __init__(self, conn: _Connection, read_only_error: ReadOnlyDatabaseError | None = None) -> None:
        self._conn = conn
        self._begun = False
        self._read_only_error = read_only_error
        self.batch = WriteBatch()

    async def _call(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``fn`` in the transaction, opening it with the same thread hop."""

        def body() -> T:
            if not self._begun:
                self._conn.raw.execute("BEGIN IMMEDIATE" if self._read_only_error is None else "BEGIN")
                self._begun = True
            return fn(self._conn.raw)

        if self._read_only_error is None:
            return await self._conn.run(body)
        try:
            return await self._conn.run(body)
        except sqlite3.OperationalError as exc:
            if "readonly" in str(exc):
                raise self._read_only_error from None
            raise

    async def commit(self) -> None:
        if self._read_only_error is not None and self.batch:
            raise self._read_only_error

        def body() -> None:
            raw = self._conn.raw
            if not self._begun:
                if not self.batch:
                    return
                raw.execute("BEGIN IMMEDIATE")
                self._begun = True
            _flush(raw, self.batch)
            raw.execute("COMMIT")
            self._begun = False

        await self._conn.run(body)

    async def rollback(self) -> None:
        def body() -> None:
            if self._conn.raw.in_transaction:
                self._conn.raw.execute("ROLLBACK")
            self._begun = False

        await self._conn.run(body)

    async def run_versions(self, run_ids: Collection[str]) -> dict[str, RunVersion]:
        return await self._call(lambda conn: _run_versions(conn, run_ids))

    async def load_runs(self, run_ids: Collection[str]) -> dict[str, RunRecord]:
        return await self._call(lambda conn: _load_runs(conn, run_ids))

    async def get_spec(self, name: str, major: int, revision: int) -> SpecRecord | None:
        def body(conn: sqlite3.Connection) -> SpecRecord | None:
            row = conn.execute(
                "SELECT * FROM specs WHERE name = ? AND major = ? AND revision = ?", (name, major, revision)
            ).fetchone()
            return decode.spec_record(row) if row else None

        return await self._call(body)

    async def insert_spec(self, record: SpecRecord) -> None:
        await self._call(
            lambda conn: conn.execute(
                "INSERT INTO specs (name, major, revision, hash, body, deployed_at) VALUES (?, ?, ?, ?, ?, ?)",
                (record.name, record.major, record.revision, record.hash, record.body.decode(), record.deployed_at),
            )
        )

    async def find_event(self, event_id: str) -> EventRecord | None:
        def body(conn: sqlite3.Connection) -> EventRecord | None:
            row = conn.execute("SELECT * FROM events WHERE event_id = ?", (event_id,)).fetchone()
            return decode.event_record(row) if row else None

        return await self._call(body)

    async def insert_event(
        self, event_id: str, name: str, correlation: str | None, payload: bytes, run_id: str | None, now: float
    ) -> EventRecord:
        def body(conn: sqlite3.Connection) -> EventRecord:
            row = conn.execute(
                "INSERT INTO events (event_id, name, correlation, payload, run_id, created_at, delivered_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING *",
                (event_id, name, correlation, payload.decode(), run_id, now, now if run_id else None),
            ).fetchone()
            return decode.event_record(row)

        return await self._call(body)

    async def find_waiter(self, event: str, correlation: str) -> tuple[str, int] | None:
        def body(conn: sqlite3.Connection) -> tuple[str, int] | None:
            row = conn.execute(
                "SELECT run_id, thread FROM event_waits WHERE event = ? AND correlation = ? "
                "ORDER BY since, run_id LIMIT 1",
                (event, correlation),
            ).fetchone()
            return (row["run_id"], row["thread"]) if row else None

        return await self._call(body)

    async def put_wait(self, run_id: str, thread: int, event: str, correlation: str, now: float) -> None:
        await self._call(
            lambda conn: conn.execute(
                "INSERT OR REPLACE INTO event_waits (run_id, thread, event, correlation, since) VALUES (?, ?, ?, ?, ?)",
                (run_id, thread, event, correlation, now),
            )
        )

    async def drop_waits(self, run_id: str, thread: int | None = None) -> None:
        if thread is None:
            await self._call(lambda conn: conn.execute("DELETE FROM event_waits WHERE run_id = ?", (run_id,)))
        else:
            await self._call(
                lambda conn: conn.execute("DELETE FROM event_waits WHERE run_id = ? AND thread = ?", (run_id, thread))
            )

    async def claim_event(self, event: str, correlation: str, run_id: str, now: float) -> EventRecord | None:
        def body(conn: sqlite3.Connection) -> EventRecord | None:
            row = conn.execute(
                "UPDATE events SET run_id = ?, delivered_at = ? WHERE seq = (SELECT seq FROM events "
                "WHERE run_id IS NULL AND name = ? AND correlation = ? ORDER BY seq LIMIT 1) RETURNING *",
                (run_id, now, event, correlation),
            ).fetchone()
            return decode.event_record(row) if row else None

        return await self._call(body)

    async def take_timer(self, run_id: str, timer: int) -> bool:
        def body(conn: sqlite3.Connection) -> bool:
            cursor = conn.execute("DELETE FROM timers WHERE run_id = ? AND timer = ?", (run_id, timer))
            return bool(cursor.rowcount)

        return await self._call(body)


# ---------------------------------------------------------------- the store


def _register_engine(conn: sqlite3.Connection, engine_id: str, host: str, pid: int, now: float, lease: float) -> None:
    conn.execute("BEGIN IMMEDIATE")
    try:
        for row in conn.execute("SELECT id, host, pid, heartbeat_at FROM engines").fetchall():
            dead = row["host"] == host and not process_alive(row["pid"])
            if dead or row["heartbeat_at"] < now - lease:
                conn.execute(
                    "UPDATE tasks SET lease_owner = NULL, lease_expires_at = NULL WHERE lease_owner = ?", (row["id"],)
                )
                conn.execute("DELETE FROM engines WHERE id = ?", (row["id"],))
        conn.execute(
            "INSERT INTO engines (id, host, pid, started_at, heartbeat_at) VALUES (?, ?, ?, ?, ?)",
            (engine_id, host, pid, now, now),
        )
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def _heartbeat(conn: sqlite3.Connection, engine_id: str, now: float, lease: float) -> None:
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute("UPDATE engines SET heartbeat_at = ? WHERE id = ?", (now, engine_id))
        conn.execute("UPDATE tasks SET lease_expires_at = ? WHERE lease_owner = ?", (now + lease, engine_id))
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def _claim_tasks(
    conn: sqlite3.Connection, engine_id: str, names: list[str], now: float, lease: float, limit: int
) -> list[TaskRecord]:
    marks = ",".join("?" * len(names))
    rows = conn.execute(
        "UPDATE tasks SET lease_owner = ?, lease_expires_at = ? WHERE dispatch_id IN ("
        f"SELECT dispatch_id FROM tasks WHERE task IN ({marks}) "
        "AND (lease_owner IS NULL OR lease_expires_at < ?) ORDER BY created_at LIMIT ?) RETURNING *",
        (engine_id, now + lease, *names, now, limit),
    ).fetchall()
    return [decode.task_record(row) for row in rows]


def _release_engine(conn: sqlite3.Connection, engine_id: str) -> None:
    conn.execute("BEGIN IMMEDIATE")
    conn.execute("UPDATE tasks SET lease_owner = NULL, lease_expires_at = NULL WHERE lease_owner = ?", (engine_id,))
    conn.execute("DELETE FROM engines WHERE id = ?", (engine_id,))
    conn.execute("COMMIT")


class SqliteStore(Store):
    """A wfc database in one SQLite file (or in memory).

    Opened ``read_only`` it holds one read-only connection: reads work, a
    write in a transaction raises :class:`ReadOnlyDatabaseError`, and no
    engine registration is kept (a reader holds no leases), so opening and
    closing write nothing either.
    """

    def __init__(
        self,
        location: str,
        writer: _Connection,
        reader: _Connection,
        *,
        read_only: bool = False,
        busy_timeout: float = DEFAULT_BUSY_TIMEOUT,
    ) -> None:
        self.location = location
        self.read_only = read_only
        self._busy_timeout = busy_timeout
        self._writer = writer
        self._reader = reader
        self._lock = anyio.Lock()
        # One connection serves both in memory: reads then take the write lock
        # so they never see a transaction in the middle.
        self._shared = writer is reader

    def transaction(self) -> AbstractAsyncContextManager[StoreTransaction]:
        return self._transaction()

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[StoreTransaction]:
        async with self._lock:
            tx = _SqliteTransaction(self._writer, self._read_only_error())
            try:
                yield tx
                with anyio.CancelScope(shield=True):
                    await tx.commit()
            except BaseException:
                with anyio.CancelScope(shield=True), suppress(sqlite3.Error):
                    await tx.rollback()
                raise

    def _read_only_error(self) -> ReadOnlyDatabaseError | None:
        if not self.read_only:
            return None
        return ReadOnlyDatabaseError(
            self.location,
            "it was opened for reading only (Engine.open(..., read_only=True), as wfc runs list/show/history "
            "do); open it for writing to start or change runs",
        )

    def is_transient(self, error: Exception) -> bool:
        if not isinstance(error, sqlite3.OperationalError):
            return False  # constraint, size and type errors: the same data fails again
        code = _primary_code(error)
        return code is None or code in _TRANSIENT_CODES

    def commit_failed(self, error: Exception) -> StoreError:
        named = None
        if isinstance(error, sqlite3.Error):
            named = environment_error(self.location, error, self._busy_timeout)
        if named is not None and type(named) is not StoreError:
            # Locked, read-only, damaged, tables dropped: the same error, with
            # the same advice, as when opening the file met it.
            return named
        return super().commit_failed(error)

    def explain(self, error: Exception) -> str:
        hint = _HINTS.get(_primary_code(error) or -1) if isinstance(error, sqlite3.Error) else None
        return f"{error} ({hint})" if hint else f"{type(error).__name__}: {error}"

    async def close(self) -> None:
        async with self._lock:
            await self._writer.run(self._writer.raw.close)
            if not self._shared:
                await self._reader.run(self._reader.raw.close)

    async def _query(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        try:
            if self._shared:
                async with self._lock:
                    return await self._reader.rows(sql, params)
            return await self._reader.rows(sql, params)
        except sqlite3.DatabaseError as exc:
            # A read that fails for reasons of the file (damaged, locked,
            # tables dropped) is the user's to fix and must be named as such;
            # anything else may be a bug in wfc and stays what it is.
            error = environment_error(self.location, exc, self._busy_timeout)
            if error is None:
                raise
            raise error from None

    async def _write(self, fn: Callable[..., T], *args: Any) -> T:
        async with self._lock:
            return await self._writer.run(fn, self._writer.raw, *args)

    # ---------------------------------------------------------------- reads

    async def get_spec(self, name: str, major: int, revision: int) -> SpecRecord | None:
        rows = await self._query(
            "SELECT * FROM specs WHERE name = ? AND major = ? AND revision = ?", (name, major, revision)
        )
        return decode.spec_record(rows[0]) if rows else None

    async def list_specs(self, name: str | None = None) -> list[SpecRecord]:
        if name is None:
            rows = await self._query("SELECT * FROM specs ORDER BY name, major, revision")
        else:
            rows = await self._query("SELECT * FROM specs WHERE name = ? ORDER BY major, revision", (name,))
        return [decode.spec_record(row) for row in rows]

    async def get_run(self, run_id: str) -> RunRecord | None:
        rows = await self._query("SELECT * FROM runs WHERE id = ?", (run_id,))
        return decode.run_record(rows[0]) if rows else None

    async def list_runs(
        self,
        statuses: Sequence[str] | None,
        workflow: str | None,
        started_after: float | None,
        started_before: float | None,
        limit: int | None,
        needs_attention: bool | None = None,
    ) -> list[RunRecord]:
        where: list[str] = []
        params: list[Any] = []
        if needs_attention is not None:
            # Derived from the state (no column): such runs are FAILED, so the
            # status index narrows the scan to failed runs.
            flagged = "(status = 'FAILED' AND coalesce(json_extract(state, '$.compensation_failed'), 0) = 1)"
            where.append(flagged if needs_attention else f"NOT {flagged}")
        if statuses:
            where.append(f"status IN ({','.join('?' * len(statuses))})")
            params.extend(statuses)
        if workflow is not None:
            where.append("workflow = ?")
            params.append(workflow)
        if started_after is not None:
            where.append("created_at >= ?")
            params.append(started_after)
        if started_before is not None:
            where.append("created_at < ?")
            params.append(started_before)
        sql = "SELECT * FROM runs"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY created_at DESC, id DESC"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        return [decode.run_record(row) for row in await self._query(sql, params)]

    async def list_runs_by_attention(
        self,
        needs_attention: bool,
        statuses: Sequence[str] | None,
        workflow: str | None,
        started_after: float | None,
        started_before: float | None,
        limit: int | None,
    ) -> list[RunRecord]:
        return await self.list_runs(statuses, workflow, started_after, started_before, limit, needs_attention)

    async def history(self, run_id: str, after: int = 0, limit: int | None = None) -> list[JournalRecord]:
        sql = "SELECT * FROM journal WHERE run_id = ? AND seq > ? ORDER BY seq"
        params: list[Any] = [run_id, after]
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        return [decode.journal_record(row) for row in await self._query(sql, params)]

    async def due_timers(self, now: float, limit: int) -> list[TimerRecord]:
        rows = await self._query(
            "SELECT run_id, timer, due_at FROM timers WHERE due_at <= ? ORDER BY due_at LIMIT ?", (now, limit)
        )
        return [TimerRecord(run_id=r["run_id"], timer=r["timer"], due_at=r["due_at"]) for r in rows]

    async def next_timer_due(self) -> float | None:
        rows = await self._query("SELECT min(due_at) AS due FROM timers")
        return float(rows[0]["due"]) if rows and rows[0]["due"] is not None else None

    async def pending_events(self, limit: int = 100) -> list[EventRecord]:
        rows = await self._query("SELECT * FROM events WHERE run_id IS NULL ORDER BY seq LIMIT ?", (limit,))
        return [decode.event_record(row) for row in rows]

    # ---------------------------------------------------------------- leases

    async def register_engine(self, engine_id: str, host: str, pid: int, now: float, lease: float) -> None:
        if self.read_only:
            return
        try:
            await self._write(_register_engine, engine_id, host, pid, now, lease)
        except sqlite3.Error as exc:  # the last step of opening: its failure is the database's
            raise explain(self.location, exc, self._busy_timeout) from None

    async def list_engines(self) -> list[EngineRecord]:
        rows = await self._query("SELECT id, host, pid, started_at, heartbeat_at FROM engines")
        return [EngineRecord(**dict(row)) for row in rows]

    async def heartbeat(self, engine_id: str, now: float, lease: float) -> None:
        await self._write(_heartbeat, engine_id, now, lease)

    async def claim_tasks(
        self, engine_id: str, tasks: Collection[str], now: float, lease: float, limit: int
    ) -> list[TaskRecord]:
        if not tasks:
            return []
        return await self._write(_claim_tasks, engine_id, sorted(tasks), now, lease, limit)

    async def release_engine(self, engine_id: str) -> None:
        if self.read_only:
            return
        await self._write(_release_engine, engine_id)
