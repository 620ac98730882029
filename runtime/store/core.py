"""The store core: every read and write the engine makes, written once over
a :class:`~wfc.runtime.store.dialect.Dialect`.

:class:`Store` is the one public face of a wfc database, whichever kind it
is; it holds a dialect, which supplies only what differs between SQLite and
PostgreSQL (see :mod:`.dialect`). The shared SQL lives here, written with
``?`` placeholders.

Every run row read is checked for the format of its state: a run stored by a
newer wfc is refused (:class:`NewerRunStateError`) before anything acts on
it, so a transaction that meets one rolls back with nothing changed.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Collection, Iterable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from types import TracebackType
from typing import Any, Final, NamedTuple, TypeVar

import msgspec
from msgspec.structs import replace

from wfc.runtime.errors import DatabaseUnavailableError, NewerRunStateError, StoreError, UnreadableRunError
from wfc.runtime.store import rows as decode
from wfc.runtime.store import user_tasks
from wfc.runtime.store.base import (
    STATE_FORMAT,
    EngineRecord,
    EventRecord,
    JournalFilter,
    JournalRecord,
    RunFilter,
    RunRecord,
    RunVersion,
    SpecRecord,
    StuckWindow,
    TaskRecord,
    TimerRecord,
    UserTaskFilter,
    UserTaskRecord,
    WakeupHandler,
    WriteBatch,
)
from wfc.runtime.store.dialect import Connection, Dialect, Pipelining, Statement
from wfc.runtime.store.rows import Row
from wfc.runtime.store.stuck import OverdueTimer, StuckDispatch, count_stuck, stuck_causes, stuck_condition

_RUN_VERSION_COLUMNS: Final = "id, workflow, major, revision, status, version, state_format"
_GET_SPEC: Final = "SELECT * FROM specs WHERE name = ? AND major = ? AND revision = ?"
_INSERT_SPEC: Final = (
    "INSERT INTO specs (name, major, revision, hash, body, deployed_at) VALUES (?, ?, ?, ?, ?, ?)"
)
_INSERT_EVENT: Final = (
    "INSERT INTO events (event_id, name, correlation, payload, run_id, created_at, delivered_at) "
    "VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING *"
)
_FIND_WAITER: Final = (
    "SELECT run_id, thread FROM event_waits WHERE event = ? AND correlation = ? ORDER BY since, run_id LIMIT 1"
)
_PUT_WAIT: Final = (
    "INSERT INTO event_waits (run_id, thread, event, correlation, since) VALUES (?, ?, ?, ?, ?) "
    "ON CONFLICT (run_id, thread) DO UPDATE SET event = excluded.event, correlation = excluded.correlation, "
    "since = excluded.since"
)
#: Give the oldest pending event of a name and key to a run; ``{lock}`` locks
#: the picked row where other processes claim too.
_CLAIM_EVENT: Final = (
    "UPDATE events SET run_id = ?, delivered_at = ? WHERE seq = (SELECT seq FROM events "
    "WHERE run_id IS NULL AND name = ? AND correlation = ? ORDER BY seq LIMIT 1{lock}) RETURNING *"
)
#: Most runs in an ``updated_after`` range that :meth:`Store.list_runs`
#: reads by ``runs_by_updated`` and sorts, where the database cannot tell.
FEW_UPDATED: Final = 5000
#: What a caller whose commit failed for a reason that may pass (a full disk,
#: a lost connection) is told to do; the CLI says it in its own words.
RETRY_ADVICE: Final = (
    "call again once that is fixed (a start() with the same run_id or a send_event() with the same event_id never "
    "applies twice)"
)
DUE_TIMERS: Final = "SELECT run_id, timer, due_at FROM timers WHERE due_at <= ? ORDER BY due_at LIMIT ?"


class SpecVersion(NamedTuple):
    """A deployed version of a workflow."""

    major: int
    revision: int


def unreadable_why(what: str, error: object) -> str:
    """Why a run cannot be read: ``what`` of it is not what wfc writes (``error``)."""
    return (
        f"{what} is not what wfc writes ({error}); it was changed outside wfc, or the file is damaged. "
        "Restore the database from a backup"
    )


def check_format(location: str, run_id: str, found: int | None) -> None:
    """Refuse a run whose state is in a format newer than this wfc reads.

    Raises:
        NewerRunStateError: it is.
        UnreadableRunError: the format is not a number (only SQLite keeps a
            value of another type in the column: changed outside wfc).
    """
    if not isinstance(found, int | None):
        raise UnreadableRunError(location, run_id, unreadable_why("its state format", repr(found)))
    if found is not None and found > STATE_FORMAT:
        raise NewerRunStateError(location, run_id, found, STATE_FORMAT)


_Item = TypeVar("_Item")


def _chunks(items: Sequence[_Item], size: int | None) -> Iterable[Sequence[_Item]]:
    if size is None:
        yield items
        return
    for start in range(0, len(items), size):
        yield items[start : start + size]


class _Transaction:
    """The block of :meth:`Store.transaction`: the dialect's, its connection
    wrapped in a :class:`StoreTransaction`. A class, not an
    ``asynccontextmanager``: one opens per commit, and with the dialect's
    block a generator's start, the event loop's finalizer hook and
    ``contextlib``'s frames were 4.6 % of a run alone's instructions per
    step."""

    __slots__ = ("_dialect", "_inner", "_pipelined")

    def __init__(self, dialect: Dialect, pipelined: Callable[[], bool] | None) -> None:
        self._dialect = dialect
        self._pipelined = pipelined
        self._inner = dialect.transaction()

    async def __aenter__(self) -> StoreTransaction:
        conn = await self._inner.__aenter__()
        try:
            if self._pipelined is not None:
                conn.pipeline(self._pipelined)
            return StoreTransaction(conn, self._dialect)
        except BaseException as exc:
            await self._inner.__aexit__(type(exc), exc, exc.__traceback__)
            raise

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> bool | None:
        return await self._inner.__aexit__(kind, error, traceback)


class StoreTransaction:
    """One write transaction. Reads see its own immediate writes; queued
    writes in :attr:`batch` are flushed at commit."""

    def __init__(self, conn: Connection, dialect: Dialect) -> None:
        self._conn = conn
        self._dialect = dialect
        # Runs found missing in this transaction. Where no other process
        # writes, they stay missing until it commits (its own new runs are
        # queued in the batch), so reading them again costs a trip for nothing.
        self._absent: set[str] = set()

    @property
    def location(self) -> str:
        """The database, as messages name it."""
        return self._dialect.location

    @property
    def batch(self) -> WriteBatch:
        """Writes flushed together at commit."""
        return self._conn.batch

    @property
    def shared(self) -> bool:
        """True when other processes may write the database meanwhile (see
        :attr:`Store.shared`)."""
        return self._dialect.shared

    @property
    def connection(self) -> Connection:
        """The dialect's connection of this transaction."""
        return self._conn

    async def committed(self) -> None:
        """Wait for the commit of a pipelined transaction (see
        :meth:`Store.transaction`); raise its error if it failed. At once
        for any other transaction: it committed when its block ended."""
        await self._conn.settled()

    # ---------------------------------------------------------------- runs

    def _run_queries(self, columns: str, run_ids: Collection[str]) -> list[Statement]:
        # In id order: two transactions locking the same runs cannot deadlock.
        queries = []
        for chunk in _chunks(sorted(run_ids), self._dialect.max_ids):
            where, params = self._dialect.any_of("id", chunk)
            queries.append((f"SELECT {columns} FROM runs WHERE {where} ORDER BY id{self._dialect.lock_rows}", params))
        return queries

    async def run_versions(self, run_ids: Collection[str]) -> dict[str, RunVersion]:
        """Identity and version of the given runs that exist (locked for this
        transaction where other processes write too).

        Raises:
            NewerRunStateError: one was stored by a newer wfc.
        """
        found: dict[str, RunVersion] = {}
        for rows in await self._conn.fetch_many(self._run_queries(_RUN_VERSION_COLUMNS, run_ids)):
            for row in rows:
                check_format(self._dialect.location, row["id"], row["state_format"])
                found[row["id"]] = decode.run_version(row)
        if not self._dialect.shared:
            self._absent.update(run_id for run_id in run_ids if run_id not in found)
        return found

    async def load_runs(self, run_ids: Collection[str]) -> dict[str, RunRecord]:
        """Full rows of the given runs that exist (locked like
        :meth:`run_versions`).

        Raises:
            NewerRunStateError: one was stored by a newer wfc.
        """
        found: dict[str, RunRecord] = {}
        wanted = [run_id for run_id in run_ids if run_id not in self._absent]
        if not wanted:
            return found
        for rows in await self._conn.fetch_many(self._run_queries(run_columns(self._dialect), wanted)):
            for row in rows:
                found[row["id"]] = run_record(self._dialect.location, row)
        if not self._dialect.shared:
            self._absent.update(run_id for run_id in wanted if run_id not in found)
        return found

    # ---------------------------------------------------------------- specs

    async def get_spec(self, name: str, major: int, revision: int) -> SpecRecord | None:
        """One deployed spec version."""
        rows = await self._conn.fetch(_GET_SPEC, (name, major, revision))
        return decode.spec_record(rows[0]) if rows else None

    async def insert_spec(self, record: SpecRecord) -> None:
        """Store a new spec version."""
        params = (record.name, record.major, record.revision, record.hash, record.body.decode(), record.deployed_at)
        await self._conn.fetch(_INSERT_SPEC, params)

    # ---------------------------------------------------------------- events and waits

    async def find_event(self, event_id: str) -> EventRecord | None:
        """A stored event by its id."""
        rows = await self._conn.fetch("SELECT * FROM events WHERE event_id = ?", (event_id,))
        return decode.event_record(rows[0]) if rows else None

    async def insert_event(
        self, event_id: str, name: str, correlation: str | None, payload: bytes, run_id: str | None, now: float
    ) -> EventRecord:
        """Store an event, delivered to ``run_id`` or (``None``) pending."""
        params = (event_id, name, correlation, payload.decode(), run_id, now, now if run_id else None)
        return decode.event_record((await self._conn.fetch(_INSERT_EVENT, params))[0])

    async def _waits(self, event: str, correlation: str) -> None:
        """Before touching waits: take turns on the key, and forget the
        waits queued to be forgotten, so reads see them gone."""
        await self._conn.lock_key(event, correlation)
        if self._conn.unwaited:
            unwaited, self._conn.unwaited = self._conn.unwaited, []
            await self._conn.drop_waits(unwaited)

    async def find_waiter(self, event: str, correlation: str) -> tuple[str, int] | None:
        """``(run_id, thread)`` of the longest-waiting correlated wait."""
        await self._waits(event, correlation)
        rows = await self._conn.fetch(_FIND_WAITER, (event, correlation))
        return (rows[0]["run_id"], rows[0]["thread"]) if rows else None

    async def put_wait(self, run_id: str, thread: int, event: str, correlation: str, now: float) -> None:
        """Record that a thread waits for a correlated event."""
        await self._waits(event, correlation)
        await self._conn.fetch(_PUT_WAIT, (run_id, thread, event, correlation, now))

    async def drop_waits(self, run_id: str, thread: int | None = None) -> None:
        """Forget one thread's correlated wait, or all of a run's. Queued:
        sent with the next statement on waits, or with the commit, so a run
        that finishes costs no trip to the database for them."""
        self._conn.unwaited.append((run_id, thread))

    async def claim_event(self, event: str, correlation: str, run_id: str, now: float) -> EventRecord | None:
        """Give the oldest pending event with this name and key to ``run_id``."""
        await self._waits(event, correlation)
        statement = _CLAIM_EVENT.format(lock=self._dialect.lock_rows)
        rows = await self._conn.fetch(statement, (run_id, now, event, correlation))
        return decode.event_record(rows[0]) if rows else None

    # ---------------------------------------------------------------- timers

    async def take_timer(self, run_id: str, timer: int) -> bool:
        """Delete a timer; false when it was already gone (fired elsewhere or
        cancelled), in which case the firing must be ignored."""
        return (run_id, timer) in await self.take_timers([(run_id, timer)])

    async def take_timers(self, timers: Collection[tuple[str, int]]) -> set[tuple[str, int]]:
        """Delete these timers (``(run_id, timer)`` keys) in one trip to the
        database; the keys of those that were there. The others fired
        already (in another engine) or were cancelled: ignore their firing.

        What a turn that fires many timers does instead of a
        :meth:`take_timer` each (a trip each, for most of the cost of a
        fired timer besides the interpreter's)."""
        keys = sorted(set(timers))  # in key order, like the runs a turn locks
        size = self._dialect.max_ids
        statements = []
        for chunk in _chunks(keys, None if size is None else max(1, size // 2)):
            where, params = self._dialect.any_timer_of(chunk)
            statements.append((f"DELETE FROM timers WHERE {where} RETURNING run_id, timer", params))
        taken: set[tuple[str, int]] = set()
        for rows in await self._conn.fetch_many(statements) if statements else ():
            taken.update((row["run_id"], row["timer"]) for row in rows)
        return taken

    # ---------------------------------------------------------------- user tasks

    async def get_user_task(self, task_id: str) -> UserTaskRecord | None:
        """A user task's row as this transaction sees it (as committed, or
        queued in this transaction's batch)."""
        queued = self.batch.user_tasks.get(task_id)
        return queued if queued is not None else await user_tasks.get_in(self._conn, task_id)


def run_columns(dialect: Dialect) -> str:
    """What a read of whole run rows selects: every column of ``runs``, and
    its ``run_threads`` rows in one text column (``thread_states``), read in
    the same statement so they are of the same commit."""
    return f"runs.*, {dialect.thread_states} AS thread_states"


def runs_query(dialect: Dialect, where: RunFilter, by_updated: bool = False) -> tuple[str, list[Any]]:
    """The statement of :meth:`Store.list_runs` for one status or none.

    Every filter is an index range (see migrations 1, 3 and 7): a ``search``
    starts from ``run_search_by_value``, whose ``run_created`` is the run's
    ``created_at``, so a page by value is read in order from that index;
    the other searched variables are each one primary-key probe.
    ``by_updated``: few runs are in the ``updated_after`` range, so sort
    them instead of reading along ``created_at`` (``+`` keeps SQLite off
    the created_at index)."""
    conditions: list[str] = []
    params: list[Any] = []
    order = dialect.code_point_order
    created, run_id, source = "created_at", f"id{order}", "runs"
    for number, (key, values) in enumerate(where.search):
        alias = f"s{number}"
        # One value (the usual case) as "=": an IN list would keep the index
        # from giving the rows in order on PostgreSQL before 17.
        condition, texts = (
            (f"{alias}.value = ?", list(values)) if len(values) == 1 else dialect.any_of(f"{alias}.value", values)
        )
        if number == 0:
            created, run_id = f"{alias}.run_created", f"{alias}.run_id{order}"
            source = f"run_search AS {alias} JOIN runs ON runs.id = {alias}.run_id"
            conditions.append(f"{alias}.key = ? AND {condition}")
        else:
            conditions.append(
                f"EXISTS (SELECT 1 FROM run_search AS {alias} WHERE {alias}.run_id = runs.id "
                f"AND {alias}.key = ? AND {condition})"
            )
        params.append(key)
        params.extend(texts)
    if where.needs_attention is not None:
        # A column each commit sets; the few flagged runs have an index of their own.
        conditions.append("needs_attention" if where.needs_attention else "NOT needs_attention")
    if where.statuses:
        condition, statuses = dialect.any_of("status", where.statuses)
        conditions.append(condition)
        params.extend(statuses)
    for condition, value in (
        ("workflow = ?", where.workflow),
        ("major = ?", where.major),
        ("revision = ?", where.revision),
        (f"{created} >= ?", where.started_after),
        (f"{created} < ?", where.started_before),
        ("updated_at >= ?", where.updated_after),
        ("updated_at < ?", where.updated_before),
        # updated_at >= created_at: the same bound on created_at lets the
        # created_at indexes skip what the updated_at filter would drop.
        (f"{created} < ?", where.updated_before),
    ):
        if value is not None:
            conditions.append(condition)
            params.append(value)
    if where.stuck is not None:
        stuck, stuck_params = stuck_condition(where.stuck)
        conditions.append(stuck)
        params.extend(stuck_params)
    if where.after is not None:
        # Keyset paging in the newest-first order; the first condition is
        # an index range on created_at, the second picks among equal times.
        conditions.append(f"{created} <= ? AND ({created} < ? OR {run_id} < ?)")
        params.extend((where.after[0], where.after[0], where.after[1]))
    statement = f"SELECT {run_columns(dialect)} FROM {source}"
    if conditions:
        statement += " WHERE " + " AND ".join(conditions)
    # Ties of created_at (runs started in one transaction) in code point
    # order of id, the order of the keyset condition and of the merge above.
    statement += f" ORDER BY {'+' if by_updated else ''}{created} DESC, {run_id} DESC"
    if where.limit is not None:
        statement += " LIMIT ?"
        params.append(where.limit)
    return statement, params


def run_record(location: str, row: Row) -> RunRecord:
    """A :class:`RunRecord` from a ``runs`` row, refused if stored by a newer wfc.

    Raises:
        NewerRunStateError: it was.
    """
    check_format(location, row["id"], row["state_format"])
    return decode.run_record(row)


class Store:
    """A wfc database: SQLite or PostgreSQL, by the dialect it holds."""

    def __init__(self, dialect: Dialect) -> None:
        self.dialect = dialect
        """What differs between the kinds of database."""

    @property
    def location(self) -> str:
        """Where the data lives, for messages."""
        return self.dialect.location

    @property
    def shared(self) -> bool:
        """True when many processes may serve the database at once: then an
        engine starts only as many attempts as it has room for and leaves the
        rest for any worker, and timers are leased before they fire."""
        return self.dialect.shared

    @property
    def read_only(self) -> bool:
        """Opened for reading only: writes raise ReadOnlyDatabaseError."""
        return self.dialect.read_only

    def transaction(
        self, *, pipelined: Callable[[], bool] | None = None
    ) -> AbstractAsyncContextManager[StoreTransaction]:
        """A write transaction: commits (with the batch) on normal exit, rolls
        back on an exception. Write transactions are built one at a time.

        ``pipelined``, where the dialect pipelines commits
        (:attr:`pipelining`): when ``pipelined()``, asked at the block's end,
        says so, the block ends before the commit did, and the next
        transaction may be built meanwhile; await
        :meth:`StoreTransaction.committed` before acting on what it wrote,
        which raises the commit's error.

        - ``queued`` (SQLite: one process writes, its statements run in order
          on one connection): the next transaction's statements queue behind
          the commit and may build on its writes; it fails when a pipelined
          commit queued before it and not yet awaited fails.
        - ``apart`` (PostgreSQL): the next transaction runs beside the commit
          on another connection, as another process's would; it must touch
          none of the runs the one before writes, and stands on its own if
          that commit fails.

        Elsewhere the block's end commits as usual."""
        return self._transaction(pipelined)

    @property
    def pipelining(self) -> Pipelining | None:
        """How commits are pipelined (see :meth:`transaction`); ``None``: never."""
        return self.dialect.pipelining

    @asynccontextmanager
    async def writing(self) -> AsyncIterator[StoreTransaction]:
        """A write transaction for a caller outside the commit loop (a purge,
        a subscriber saving its position), as :meth:`transaction`, with the
        database's trouble raised as the :class:`StoreError` that says what
        to do (locked, read-only, damaged: see :meth:`commit_failed`), as a
        call through the commit loop gets it. (The commit loop itself takes
        the driver's errors as they are: it retries the transient ones.)"""
        try:
            async with self.transaction() as tx:
                yield tx
        except StoreError:
            raise
        except Exception as exc:
            if self.dialect.named_error(exc) is None and not self.is_transient(exc):
                raise  # not the database's trouble: maybe wfc's, shown as it is
            raise self.commit_failed(exc) from None

    def _transaction(self, pipelined: Callable[[], bool] | None = None) -> _Transaction:
        return _Transaction(self.dialect, pipelined)

    async def close(self) -> None:
        """Release connections."""
        await self.dialect.close()

    def interrupt(self) -> None:
        """Cut short what the store waits for now, and what it will wait for
        long from now on: a statement waiting for another session's lock
        fails at once, its transaction rolled back (PostgreSQL), or a wait
        for another process's write lock ends within a slice, its
        transaction never begun (SQLite). For an engine that closes because
        its caller was cancelled."""
        self.dialect.interrupt()

    # ---------------------------------------------------------------- errors

    def is_transient(self, error: Exception) -> bool:
        """True when ``error`` is the database's trouble, not the data's: it
        may go away by itself or once someone fixes the environment (database
        busy, disk full, I/O error, connection lost), so the work that hit it
        is worth trying again. False for an error the same writes would hit
        again (a value the database refuses)."""
        return self.dialect.is_transient(error)

    def explain(self, error: Exception) -> str:
        """What the driver error ``error`` means and what to do about it,
        for messages (without the database's location)."""
        return self.dialect.explain(error)

    def commit_failed(self, error: Exception) -> StoreError:
        """The error a caller gets when the commit of its call failed with
        the driver error ``error``: its own class where the database names
        the trouble (locked, read-only, damaged, tables dropped), with the
        same advice as when opening met it."""
        named = self.dialect.named_error(error)
        if named is not None:
            return named
        message = f"could not commit: {self.explain(error)}"
        if self.is_transient(error):
            return DatabaseUnavailableError(self.location, f"{message}; {RETRY_ADVICE}")
        return StoreError(self.location, message)

    # ---------------------------------------------------------------- reads

    async def _fetch(self, statement: str, params: Sequence[Any] = ()) -> list[Row]:
        return await self.dialect.fetch(statement, params)

    async def get_spec(self, name: str, major: int, revision: int) -> SpecRecord | None:
        """One deployed spec version."""
        rows = await self._fetch(_GET_SPEC, (name, major, revision))
        return decode.spec_record(rows[0]) if rows else None

    async def list_specs(self, name: str | None = None) -> list[SpecRecord]:
        """Deployed specs, by name then version."""
        if name is None:
            rows = await self._fetch("SELECT * FROM specs ORDER BY name, major, revision")
        else:
            rows = await self._fetch("SELECT * FROM specs WHERE name = ? ORDER BY major, revision", (name,))
        return [decode.spec_record(row) for row in rows]

    async def spec_versions(self, name: str) -> list[SpecVersion]:
        """The deployed versions of a workflow, without their bodies."""
        rows = await self._fetch("SELECT major, revision FROM specs WHERE name = ? ORDER BY major, revision", (name,))
        return [SpecVersion(major=row["major"], revision=row["revision"]) for row in rows]

    async def get_run(self, run_id: str) -> RunRecord | None:
        """A run's row.

        Raises:
            NewerRunStateError: it was stored by a newer wfc.
        """
        rows = await self._fetch(f"SELECT {run_columns(self.dialect)} FROM runs WHERE id = ?", (run_id,))
        return run_record(self.location, rows[0]) if rows else None

    async def run_statuses(self, run_ids: Collection[str]) -> dict[str, str]:
        """The status of each given run that exists, without its state: what
        a waiter needs to know whether to read the whole run."""
        found: dict[str, str] = {}
        for chunk in _chunks(sorted(run_ids), self.dialect.max_ids):
            where, params = self.dialect.any_of("id", chunk)
            for row in await self._fetch(f"SELECT id, status FROM runs WHERE {where}", params):
                found[row["id"]] = row["status"]
        return found

    async def list_runs(self, where: RunFilter) -> list[RunRecord]:
        """The runs ``where`` picks, newest first; a run stored by a newer
        wfc among them too (``state_format``): a listing shows it as such,
        and whoever reads its state checks the format first
        (:func:`check_format`)."""
        if len(where.statuses) > 1 and where.limit is not None:
            # One index range per status, merged: a single IN over several
            # statuses would sort every run having them before the LIMIT.
            found: list[RunRecord] = []
            for status in where.statuses:
                found.extend(await self.list_runs(replace(where, statuses=(status,))))
            found.sort(key=lambda r: (r.created_at, r.id), reverse=True)
            return found[: where.limit]
        statement, params = runs_query(self.dialect, where, await self._few_updated(where))
        return [decode.run_record(row) for row in await self._fetch(statement, params)]

    async def _few_updated(self, where: RunFilter) -> bool:
        """Whether to read the runs of ``where`` by ``runs_by_updated`` and
        sort them: when it has ``updated_after``, the database cannot weigh
        that range itself, and at most :data:`FEW_UPDATED` runs are in it (a
        look at that index). Otherwise the newest-first index finds a page
        soon (many runs changed lately are among the newest)."""
        if where.updated_after is None or where.search or where.limit is None or self.dialect.estimates_ranges:
            return False
        rows = await self._fetch(
            "SELECT count(*) AS n FROM (SELECT 1 FROM runs WHERE updated_at >= ? LIMIT ?)",
            (where.updated_after, FEW_UPDATED + 1),
        )
        return int(rows[0]["n"]) <= FEW_UPDATED

    async def history(
        self, run_id: str, after: int = 0, limit: int | None = None, where: JournalFilter | None = None
    ) -> list[JournalRecord]:
        """Journal rows of a run with ``seq > after`` (and those ``where``
        picks), in order."""
        statement = "SELECT * FROM journal WHERE run_id = ? AND seq > ?"
        params: list[Any] = [run_id, after]
        if where is not None:
            if where.kinds:
                condition, values = self.dialect.any_of("kind", where.kinds)
                statement += f" AND {condition}"
                params.extend(values)
            for condition, value in (("node = ?", where.node), ("thread = ?", where.thread)):
                if value is not None:
                    statement += f" AND {condition}"
                    params.append(value)
        statement += " ORDER BY seq"
        if limit is not None:
            statement += " LIMIT ?"
            params.append(limit)
        return [decode.journal_record(row) for row in await self._fetch(statement, params)]

    async def run_events(self, run_id: str) -> list[EventRecord]:
        """The events delivered to run ``run_id`` (sent to it, or claimed by
        one of its waits), in the order they arrived: their payloads are what
        replaying the run's journal needs (see :mod:`wfc.runtime.replay`)."""
        rows = await self._fetch("SELECT * FROM events WHERE run_id = ? ORDER BY seq", (run_id,))
        return [decode.event_record(row) for row in rows]

    async def get_user_task(self, task_id: str) -> UserTaskRecord | None:
        """A user task's row."""
        return await user_tasks.get(self.dialect, task_id)

    async def list_user_tasks(self, where: UserTaskFilter) -> list[UserTaskRecord]:
        """The user tasks ``where`` picks, oldest first (see :mod:`.user_tasks`)."""
        return await user_tasks.listing(self.dialect, where)

    async def user_task_journal(self, run_id: str, task_id: str) -> list[JournalRecord]:
        """The entries of run ``run_id``'s journal that name user task ``task_id``."""
        return await user_tasks.journal(self.dialect, run_id, task_id)

    async def count_by_status(self, statuses: Sequence[str], workflow: str | None, cap: int) -> dict[str, int]:
        """Runs per status (of ``workflow``), each count stopping at ``cap``:
        an index range per status read ``cap`` rows deep at most, so the
        answer costs the same at a thousand runs or a million."""
        counts: dict[str, int] = {}
        for status in statuses:
            where, params = ("status = ?", [status]) if workflow is None else (
                "status = ? AND workflow = ?", [status, workflow]
            )
            rows = await self._fetch(f"SELECT count(*) AS n FROM (SELECT 1 FROM runs WHERE {where} LIMIT ?) AS r",
                                     [*params, cap])  # fmt: skip
            counts[status] = int(rows[0]["n"])
        return counts

    async def count_stuck(self, window: StuckWindow) -> int:
        """How many runs are stuck in ``window`` (see :mod:`.stuck`)."""
        return await count_stuck(self.dialect, window)

    async def stuck_causes(
        self, run_ids: Collection[str], window: StuckWindow
    ) -> tuple[list[StuckDispatch], list[OverdueTimer]]:
        """What makes each of ``run_ids`` stuck in ``window``, oldest first."""
        return await stuck_causes(self.dialect, run_ids, window)

    async def due_timers(self, now: float, limit: int) -> list[TimerRecord]:
        """Timers due at ``now``, earliest first."""
        return [decode.timer_record(row) for row in await self._fetch(DUE_TIMERS, (now, limit))]

    async def next_timer_due(self) -> float | None:
        """When the earliest timer is due."""
        rows = await self._fetch("SELECT min(due_at) AS due FROM timers")
        return float(rows[0]["due"]) if rows and rows[0]["due"] is not None else None

    async def pending_events(self, limit: int = 100) -> list[EventRecord]:
        """Events stored for a correlated wait that has not come yet."""
        rows = await self._fetch("SELECT * FROM events WHERE run_id IS NULL ORDER BY seq LIMIT ?", (limit,))
        return [decode.event_record(row) for row in rows]

    async def recent_runs(self, workflow: str, since: float, limit: int) -> list[Row]:
        """The newest runs of ``workflow`` created at or after ``since``, at
        most ``limit``: id, status, created_at, updated_at (the index on
        ``(workflow, created_at)`` reads exactly these)."""
        return await self._fetch(
            "SELECT id, status, created_at, updated_at FROM runs WHERE workflow = ? AND created_at >= ? "
            "ORDER BY created_at DESC LIMIT ?",
            (workflow, since, limit),
        )

    async def task_journal(self, run_ids: Sequence[str]) -> list[Row]:
        """The task entries (dispatched, completed, failed) of these runs'
        journals: run_id, thread, node, kind, attempt, at. Read by primary
        key, a few hundred runs per statement."""
        rows: list[Row] = []
        for start in range(0, len(run_ids), 500):
            chunk = run_ids[start : start + 500]
            marks = ", ".join("?" for _ in chunk)
            rows += await self._fetch(
                f"SELECT run_id, thread, node, kind, attempt, at FROM journal WHERE run_id IN ({marks}) "
                "AND kind IN ('TASK_DISPATCHED', 'TASK_COMPLETED', 'TASK_FAILED')",
                chunk,
            )
        return rows

    async def list_engines(self) -> list[EngineRecord]:
        """The serving engines registered on the database, live or not yet
        reaped (see :meth:`EngineRecord.alive`)."""
        rows = await self._fetch("SELECT id, host, pid, started_at, heartbeat_at, tasks FROM engines")
        return [
            EngineRecord(
                id=row["id"], host=row["host"], pid=row["pid"], started_at=row["started_at"],
                heartbeat_at=row["heartbeat_at"], tasks=tuple(msgspec.json.decode(row["tasks"])),
            )
            for row in rows
        ]

    async def leases_by_engine(self) -> dict[str, tuple[int, float]]:
        """Per engine id, how many outbox rows it holds and when the oldest
        of them was dispatched."""
        rows = await self._fetch(
            "SELECT lease_owner, count(*) AS held, min(created_at) AS oldest FROM tasks "
            "WHERE lease_owner IS NOT NULL GROUP BY lease_owner"
        )
        return {row["lease_owner"]: (int(row["held"]), float(row["oldest"])) for row in rows}

    # ---------------------------------------------------------------- leases

    async def register_engine(
        self, engine_id: str, host: str, pid: int, now: float, lease: float, tasks: Sequence[str] = ()
    ) -> None:
        """Record a live engine and the tasks it runs; release the leases of
        engines that are gone (a dead process on this host, or a heartbeat
        older than ``lease``). A store opened read-only registers nothing: a
        reader holds no leases."""
        if not self.read_only:
            await self.dialect.register_engine(engine_id, host, pid, now, lease, tasks)

    async def heartbeat(self, engine_id: str, now: float, lease: float) -> None:
        """Extend the leases of this engine's tasks."""
        await self.dialect.heartbeat(engine_id, now, lease)

    async def claim_tasks(
        self, engine_id: str, tasks: Collection[str], now: float, lease: float, limit: int
    ) -> list[TaskRecord]:
        """Lease outbox rows of the given tasks that nobody holds."""
        if not tasks or limit <= 0:
            return []
        return await self.dialect.claim_tasks(engine_id, tasks, now, lease, limit)

    async def release_engine(self, engine_id: str) -> None:
        """Give up this engine's leases (clean shutdown)."""
        if not self.read_only:
            await self.dialect.release_engine(engine_id)

    async def probe_write(self) -> None:
        """Commit a write that leaves nothing changed: a row of ``engines``
        added and deleted again in one transaction, which the database must
        still write (SQLite skips an update that changes no value). Whether
        the database takes writes now, its disk's room included.

        Raises:
            StoreError: it does not, saying why and what to do (see
                :meth:`writing`).
        """
        probe = f"write-probe-{uuid.uuid4().hex}"
        async with self.writing() as tx:
            await tx.connection.fetch(
                "INSERT INTO engines (id, host, pid, started_at, heartbeat_at) VALUES (?, ?, 0, 0, 0)", (probe, "")
            )
            await tx.connection.fetch("DELETE FROM engines WHERE id = ?", (probe,))

    async def claim_timers(self, engine_id: str, now: float, lease: float, limit: int) -> list[TimerRecord]:
        """Due timers for this engine to fire, earliest first. A shared store
        leases them so that one process fires each; otherwise every due timer
        is returned (the firing transaction deletes it, so it fires once)."""
        claimed = await self.dialect.claim_timers(engine_id, now, lease, limit)
        return await self.due_timers(now, limit) if claimed is None else claimed

    async def reap_engines(self, now: float, lease: float) -> int:
        """Release the leases of engines that are gone; the number reaped. A
        single-process store does this in :meth:`register_engine` only."""
        return await self.dialect.reap_engines(now, lease)

    async def writes_elsewhere(self, *, wait: bool = True) -> int | None:
        """A number that changes when another connection to the database (of
        another process, or another engine) commits, and stays the same for
        this store's own commits; ``None`` where the database cannot tell
        (then anything may have changed), and, unless ``wait``, where it
        cannot tell without waiting for the store's own work. Where nothing
        else sends wakeups (:meth:`subscribe`), an engine looks at the runs
        it waits for only when it changed."""
        return await self.dialect.writes_elsewhere(wait=wait)

    def subscribe(self, handler: WakeupHandler) -> None:
        """Call ``handler`` (in the event loop) when another process leaves
        work or changes runs. Where nothing else writes, nothing calls it:
        polling finds all."""
        self.dialect.subscribe(handler)
