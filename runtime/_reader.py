"""Reading what the engine committed: runs, their journals, deployed specs.

:class:`Reader` is the one implementation of the engine's reads:
:class:`~wfc.runtime.Engine` delegates ``get_run``, ``list_runs_page``,
``history``, ``get_spec``, ``list_specs`` and ``serving_engines`` to the
reader it holds. It needs only a store and the spec cache, so a command that
only reads (``wfc runs list``, ``show``, ``history``) opens one with
:func:`open_reader`, without the commit loop, task attempts and the
interpreter's transitions that an engine imports and starts.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import socket
import time
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from contextlib import asynccontextmanager
from typing import Any

import msgspec

from wfc.runtime._analytics import WorkflowStats, workflow_stats
from wfc.runtime._arguments import (
    Moment,
    check_key,
    check_list_args,
    check_task_id,
    epoch,
    parse_statuses,
    parse_version,
    pick_version,
    user_task_statuses,
)
from wfc.runtime._records import (
    HistoryEntry,
    RunInfo,
    RunKey,
    RunPage,
    WorkerInfo,
    history_entry,
    run_info,
    to_datetime,
    unreadable_info,
)
from wfc.runtime._run_rows import stored_state
from wfc.runtime._search import search_terms
from wfc.runtime._spec_cache import CachedSpec, SpecCache
from wfc.runtime._stuck import reasons_by_run, stuck_seconds
from wfc.runtime._subscribe import check_kinds
from wfc.runtime._user_tasks import UserTask, user_task
from wfc.runtime.errors import (
    NewerRunStateError,
    UnknownRunError,
    UnknownUserTaskError,
    UnknownWorkflowError,
    UnreadableRunError,
    UsageError,
)
from wfc.runtime.interpreter.state import RunState, RunStatus, UserTaskStatus
from wfc.runtime.store import (
    JournalFilter,
    JournalRecord,
    RunFilter,
    RunRecord,
    Store,
    StuckWindow,
    UserTaskFilter,
    UserTaskRecord,
    open_store,
)
from wfc.runtime.store.core import unreadable_why
from wfc.specs import FormDef, VarType, Version, WorkflowSpec


class Reader:
    """Reads runs, journals and specs from a store, decoding what it reads
    (masked variables as the engine shows them). It writes nothing."""

    def __init__(self, store: Store, specs: SpecCache, *, clock: Callable[[], float], lease_seconds: float) -> None:
        """``specs``: the cache the reads share with their engine, if any;
        ``lease_seconds``: how long an engine without a heartbeat still
        counts as serving."""
        self._store = store
        self._specs = specs
        self._clock = clock
        self._lease = lease_seconds

    # ------------------------------------------------------------------ specs

    async def deployed(self, workflow: str, version: Version | str | int | None) -> CachedSpec:
        """A deployed spec version (see :meth:`~wfc.runtime.Engine.get_spec`)."""
        # The versions only: the body of the one picked is decoded once per
        # cache, not read again at every start.
        versions = await self._specs.versions(self._store, workflow)
        if not versions:
            raise UnknownWorkflowError(workflow)
        major, revision = pick_version(workflow, versions, version)
        found = await self._specs.deployed(self._store, (workflow, major, revision))
        if found is None:  # removed meanwhile (by hand: deployed specs are never removed)
            raise UnknownWorkflowError(workflow, f"{major}.{revision}", [f"{v.major}.{v.revision}" for v in versions])
        return found

    async def list_specs(self, workflow: str | None = None) -> list[WorkflowSpec]:
        """Every deployed spec version (of one workflow, if named)."""
        return [self._specs.decoded(r).spec for r in await self._store.list_specs(workflow)]

    async def spec_of(self, record: RunRecord) -> CachedSpec:
        """The spec version a stored run is on."""
        return await self._specs.load(self._store, (record.workflow, record.major, record.revision), record.id)

    def now(self) -> float:
        """The time on this reader's clock."""
        return self._clock()

    # ------------------------------------------------------------------ runs

    async def get_run(self, run_id: str) -> RunInfo:
        """The run as stored now.

        Raises:
            UnknownRunError: no run has this id.
        """
        check_key(run_id, "run_id")
        record = await self._store.get_run(run_id)
        if record is None:
            raise UnknownRunError(run_id)
        return await self.info(record)

    def state(self, record: RunRecord) -> RunState:
        """The stored state of a run, checked: where wfc did not write it as
        it is, the error says so by name, never as a decoding error.

        Raises:
            NewerRunStateError: it was stored by a newer wfc.
            StoreError: it is not what wfc writes (changed by hand).
        """
        return stored_state(self._store.location, record)

    async def info(self, record: RunRecord) -> RunInfo:
        """A stored run as the API hands it out.

        Raises:
            NewerRunStateError: it was stored by a newer wfc.
            StoreError: its stored state is not what wfc writes.
        """
        state = self.state(record)
        spec = await self.spec_of(record)
        try:
            return run_info(state, spec.info.masked)
        except (ValueError, OverflowError, OSError) as exc:  # a time past year 9999: a clock not in seconds
            raise self._unreadable(record.id, "its stored state", exc) from None

    def _unreadable(self, run_id: str, what: str, error: Exception) -> UnreadableRunError:
        return UnreadableRunError(self._store.location, run_id, unreadable_why(what, error))

    async def _listed(self, record: RunRecord) -> RunInfo:
        """A run of a listing: one whose state cannot be read is listed all
        the same, from its row, saying why (:attr:`RunInfo.unreadable`),
        rather than hide every other run."""
        try:
            return await self.info(record)
        except NewerRunStateError as exc:
            why = f"stored by a newer wfc (run state format {exc.found}; this wfc reads up to {exc.supported})"
        except UnreadableRunError as exc:
            why = exc.why
        version = Version(major=record.major, revision=record.revision)
        return unreadable_info(
            record.id, record.workflow, version, record.status, record.created_at, record.updated_at, why
        )

    async def list_runs_page(
        self,
        *,
        status: RunStatus | str | Iterable[RunStatus | str] | None = None,
        workflow: str | None = None,
        version: Version | str | int | None = None,
        started_after: Moment | None = None,
        started_before: Moment | None = None,
        updated_after: Moment | None = None,
        updated_before: Moment | None = None,
        needs_attention: bool | None = None,
        limit: int | None = 100,
        after: RunKey | None = None,
        stuck_for: float | dt.timedelta | None = None,
        where: Mapping[str, Any] | None = None,
    ) -> RunPage:
        """One page of runs, newest first (see
        :meth:`~wfc.runtime.Engine.list_runs_page`).

        Raises:
            UsageError: an unknown status, a malformed version, a negative
                ``stuck_for``, or a ``where`` name that is not a searchable
                variable (of ``workflow``, if given) or a value not of its type.
        """
        check_key(workflow, "the workflow name")
        stuck = None if stuck_for is None else StuckWindow(self._clock(), stuck_seconds(stuck_for))
        statuses = None if status is None else parse_statuses(status)
        major, revision = (None, None) if version is None else parse_version(version)
        query = RunFilter(
            statuses=tuple(statuses or ()),
            workflow=workflow,
            major=major,
            revision=revision,
            started_after=epoch(started_after),
            started_before=epoch(started_before),
            updated_after=epoch(updated_after),
            updated_before=epoch(updated_before),
            needs_attention=None if needs_attention is None else bool(needs_attention),
            limit=limit,
            after=None if after is None else (after.created_at, after.id),
            stuck=stuck,
            search=await self._search_terms(where, workflow) if where else (),
        )
        records = await self._store.list_runs(query)
        runs = [await self._listed(record) for record in records]
        if stuck is not None and runs:
            reasons = reasons_by_run(*await self._store.stuck_causes([r.id for r in runs], stuck))
            runs = [dataclasses.replace(run, stuck=reasons.get(run.id, ())) for run in runs]
        full = limit is not None and len(records) == limit
        last = RunKey(created_at=records[-1].created_at, id=records[-1].id) if records and full else None
        return RunPage(runs=runs, next=last)

    async def searchable_variables(self, workflow: str | None = None) -> dict[str, set[VarType]]:
        """The searchable variables of the deployed workflows (or of one),
        with the types they are declared with."""
        found: dict[str, set[VarType]] = {}
        for record in await self._store.list_specs(workflow):
            for name, type_ in self._specs.decoded(record).searchable:
                found.setdefault(name, set()).add(type_)
        return found

    async def _search_terms(
        self, where: Mapping[str, Any], workflow: str | None
    ) -> tuple[tuple[str, tuple[str, ...]], ...]:
        if not isinstance(where, Mapping):
            raise UsageError(f"where must be a mapping of variable names to values, got {where!r}")
        return search_terms(where, await self.searchable_variables(workflow))

    async def count_runs(self, workflow: str | None = None, *, cap: int = 10_000) -> dict[RunStatus, int]:
        """Runs per status (see :meth:`~wfc.runtime.Engine.count_runs`).

        Raises:
            UsageError: a cap below 1.
        """
        check_key(workflow, "the workflow")
        if cap < 1:
            raise UsageError(f"count_runs counts up to a cap of 1 or more, not {cap}")
        counts = await self._store.count_by_status([s.value for s in RunStatus], workflow, cap)
        return {RunStatus(status): n for status, n in counts.items()}

    async def workflow_stats(
        self, workflow: str, since: dt.datetime, until: dt.datetime | None = None, *, sample: int = 2000
    ) -> WorkflowStats:
        """One workflow over a window (see :meth:`~wfc.runtime.Engine.workflow_stats`).

        Raises:
            UsageError: a bad sample size, or ``since`` after ``until``.
        """
        end = (until or dt.datetime.now(dt.UTC)).timestamp()
        start = since.timestamp()
        if not 1 <= sample <= 20000:
            raise UsageError(f"the sample of workflow_stats is 1 to 20000 runs, not {sample}")
        if start > end:
            ends = "now" if until is None else until.isoformat()
            raise UsageError(
                f"the window of workflow_stats starts ({since.isoformat()}) after it ends ({ends}); "
                "give a start before its end"
            )
        runs = [r for r in await self._store.recent_runs(workflow, start, sample) if float(r["created_at"]) <= end]
        tasks = await self._store.task_journal([str(r["id"]) for r in runs])
        return workflow_stats(workflow, start, end, runs, tasks, sample)

    async def list_workers(self) -> list[WorkerInfo]:
        """Every engine registered on the database (see :meth:`~wfc.runtime.Engine.list_workers`)."""
        now, host = self._clock(), socket.gethostname()
        engines = await self._store.list_engines()
        leases = await self._store.leases_by_engine()
        return [
            WorkerInfo(
                id=e.id,
                host=e.host,
                pid=e.pid,
                started_at=to_datetime(e.started_at),
                heartbeat_at=to_datetime(e.heartbeat_at),
                alive=e.alive(now, self._lease, host),
                tasks=e.tasks,
                leases=leases.get(e.id, (0, 0.0))[0],
                oldest_lease=to_datetime(leases[e.id][1]) if e.id in leases else None,
            )
            for e in sorted(engines, key=lambda e: e.started_at)
        ]

    async def history(
        self,
        run_id: str,
        after: int = 0,
        limit: int | None = None,
        *,
        kinds: Iterable[str] = (),
        node: str | None = None,
        thread: int | None = None,
    ) -> list[HistoryEntry]:
        """The run's journal (see :meth:`~wfc.runtime.Engine.history`).

        Raises:
            UnknownRunError: no run has this id.
            UsageError: a kind the engine never writes.
        """
        check_key(run_id, "run_id")
        check_key(node, "the node")
        where = JournalFilter(kinds=check_kinds(kinds), node=node, thread=thread)
        records = await self._store.history(run_id, after, limit, where)
        if not records and await self._store.get_run(run_id) is None:
            raise UnknownRunError(run_id)
        return [self._entry(r) for r in records]

    def _entry(self, record: JournalRecord) -> HistoryEntry:
        """One journal entry as handed out; one that is not what wfc writes
        is named as such, not a decoding error."""
        try:
            return history_entry(record)
        except (msgspec.DecodeError, TypeError, ValueError, OverflowError, OSError) as exc:
            # TypeError: a column of another type, which only SQLite keeps (changed by hand)
            raise self._unreadable(record.run_id, f"its journal entry {record.seq}", exc) from None

    async def recorded(self, run_id: str) -> tuple[RunRecord, list[dict[str, Any]], dict[str, Any]]:
        """A run's row, its whole journal (entries as dicts with the journal
        table's columns, ``detail`` decoded) and the payloads of the events
        delivered to it, by event id: what replaying it needs
        (:mod:`wfc.runtime.replay`).

        Raises:
            UnknownRunError: no run has this id.
        """
        check_key(run_id, "run_id")
        record = await self._store.get_run(run_id)
        if record is None:
            raise UnknownRunError(run_id)
        journal = [
            {"seq": r.seq, "at": r.at, "kind": r.kind, "thread": r.thread, "node": r.node, "attempt": r.attempt,
             "detail": msgspec.json.decode(r.detail)}
            for r in await self._store.history(run_id)
        ]  # fmt: skip
        payloads: dict[str, Any] = {}
        for event in await self._store.run_events(run_id):
            payloads.setdefault(event.event_id, msgspec.json.decode(event.payload))
        return record, journal, payloads

    async def live_runs(self, workflow: str, major: int, revision: int, page: int = 1000) -> AsyncIterator[RunRecord]:
        """Every RUNNING or HALTED run of one workflow version, oldest first
        newest first, read a page at a time: what a migration plan sorts."""
        for status in (RunStatus.RUNNING, RunStatus.HALTED):
            after: tuple[float, str] | None = None
            while True:
                query = RunFilter(statuses=(status.value,), workflow=workflow, major=major, revision=revision,
                                  limit=page, after=after)  # fmt: skip
                records = await self._store.list_runs(query)
                for record in records:
                    yield record
                if len(records) < page:
                    break
                after = (records[-1].created_at, records[-1].id)

    # ------------------------------------------------------------------ user tasks

    async def list_user_tasks(
        self,
        *,
        user: str | None = None,
        group: str | None = None,
        status: UserTaskStatus | str | Iterable[UserTaskStatus | str] | None = None,
        run_id: str | None = None,
        limit: int = 100,
        after: str | None = None,
    ) -> list[UserTask]:
        """User tasks, oldest first (see :meth:`~wfc.runtime.Engine.list_user_tasks`).

        Raises:
            UsageError: an unknown status, a bad name, limit, or a cursor
                ``after`` that is no (longer a) stored task.
        """
        statuses = user_task_statuses(status)
        check_list_args(user, group, run_id, limit, after)
        key = None
        if after is not None:
            last = await self._store.get_user_task(after)
            if last is None:
                raise UsageError(
                    f"after={after!r} is not a stored user task (deleted with its run?); list again from the start"
                )
            key = (last.created_at, last.id)
        where = UserTaskFilter(statuses=statuses, user=user, group=group, run_id=run_id, limit=limit, after=key)
        return [await self.user_task(record) for record in await self._store.list_user_tasks(where)]

    async def get_user_task(self, task_id: str) -> UserTask:
        """One user task with its form and audit trail (see
        :meth:`~wfc.runtime.Engine.get_user_task`).

        Raises:
            UnknownUserTaskError: no user task has this id.
        """
        record = await self.user_task_record(task_id)
        audit = [history_entry(r) for r in await self._store.user_task_journal(record.run_id, record.id)]
        return await self.user_task(record, audit)

    async def user_task_record(self, task_id: str) -> UserTaskRecord:
        """A user task's stored row.

        Raises:
            UsageError: a bad id.
            UnknownUserTaskError: no user task has this id.
        """
        check_task_id(task_id)
        record = await self._store.get_user_task(task_id)
        if record is None:
            raise UnknownUserTaskError(task_id)
        return record

    async def form(self, record: UserTaskRecord) -> FormDef:
        """The form of a stored user task, from its run's spec."""
        cached = await self._specs.load(self._store, (record.workflow, record.major, record.revision), record.run_id)
        return cached.spec.forms.get(record.form) or FormDef(name=record.form)

    async def user_task(self, record: UserTaskRecord, audit: list[HistoryEntry] | None = None) -> UserTask:
        """A stored user task as the API hands it out."""
        return user_task(record, await self.form(record), audit)

    # ------------------------------------------------------------------ engines

    async def serving_engines(self) -> int:
        """How many live engines serve the database now (see
        :meth:`~wfc.runtime.Engine.serving_engines`)."""
        now, host = self._clock(), socket.gethostname()
        return sum(1 for engine in await self._store.list_engines() if engine.alive(now, self._lease, host))


@asynccontextmanager
async def open_reader(
    url: str, *, clock: Callable[[], float] = time.time, lease_seconds: float = 30.0
) -> AsyncIterator[Reader]:
    """A :class:`Reader` over the database at ``url``, opened read-only as
    ``Engine.open(url, serve=False, read_only=True)`` opens it (nothing is
    written, so a read-only file or folder can be read), and closed after
    the block.

    Raises:
        UnsupportedUrlError: the URL scheme has no store.
        StoreError: the database is not a wfc database, or was written by a
            newer wfc; it is left untouched.
    """
    store = await open_store(url, clock(), read_only=True)
    try:
        yield Reader(store, SpecCache(store.location), clock=clock, lease_seconds=lease_seconds)
    finally:
        # No shield (an engine closes under one): a reader holds no
        # transaction, so closing waits for nothing, and each store finishes
        # closing its connections even if the task is cancelled. A command
        # that only reads so never loads anyio's backend.
        await store.close()
