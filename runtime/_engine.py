"""The engine: the imperative shell around the pure interpreter.

:class:`Engine` is the public API: deploy specs, start runs, send events,
read runs and their journals. It checks what callers give
(:mod:`~wfc.runtime._inputs`), reads through a
:class:`~wfc.runtime._reader.Reader` over the store and its one
:class:`~wfc.runtime._spec_cache.SpecCache`, and hands every change to the
private :class:`~wfc.runtime._loop.CommitLoop` it holds (behind the small
``_Loop`` interface): the commit loop that batches many runs' transitions into
one transaction, task attempts, timers, recovery. A task attempt is delivered
at least once; its idempotency key makes effectively-once possible.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine, Iterable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import TYPE_CHECKING, Any, Final, Protocol

import anyio
import msgspec

from wfc.runtime._analytics import WorkflowStats
from wfc.runtime._arguments import (
    Moment,
    check_clock,
    check_count,
    check_datetime,
    check_engine_options,
    check_flag,
    check_moment,
    check_name,
    check_person,
    check_seconds,
    check_task_id,
    check_text,
    check_workflow,
    given,
    parse_version,
)
from wfc.runtime._attempts import TaskCounters
from wfc.runtime._commands import Deploy, Migrate, Reply, RunInput, SendEvent, StartRun
from wfc.runtime._ids import new_run_id
from wfc.runtime._inputs import (
    check_cancel_args,
    check_complete_args,
    check_event_args,
    check_form_values,
    check_reason,
    check_reassign_args,
    check_run_id,
    check_start_args,
    start_variables,
)
from wfc.runtime._loop import CommitLoop, Follow
from wfc.runtime._observe import Observer, Observers, Signal
from wfc.runtime._reader import Reader
from wfc.runtime._records import HistoryEntry, RunInfo, RunKey, RunPage, SentEvent, Started, WorkerInfo, run_info
from wfc.runtime._retention import cutoff, keep_for, purge, retention_seconds, runs_taken
from wfc.runtime._search_backfill import index_pending
from wfc.runtime._spec_cache import CachedSpec, SpecCache, derive
from wfc.runtime._stuck import stuck_seconds
from wfc.runtime._subscribe import FeedEntry, Start, Subscription, read_feed
from wfc.runtime._tasks import TaskDefinition, TaskFunction, task_definitions
from wfc.runtime._trace_context import start_trace
from wfc.runtime._user_tasks import UserTask
from wfc.runtime.errors import MissingTasksError, UnknownRunError, UsageError, WaitTimeoutError
from wfc.runtime.interpreter import (
    Cancel,
    CancelUserTask,
    ClaimUserTask,
    CompleteUserTask,
    Halt,
    Limits,
    ReassignUserTask,
    ReleaseUserTask,
    Resume,
    Retry,
    UserTaskInput,
)
from wfc.runtime.interpreter.state import RunStatus, UserTaskStatus, decode_state
from wfc.runtime.store import Store, StuckWindow, UserTaskRecord, open_store, retention
from wfc.runtime.store.feed import head as feed_head
from wfc.runtime.store.workload import Workload, read_workload
from wfc.runtime.tracing import Tracing, exporting
from wfc.specs import SpecError, Version, WorkflowSpec, body_hash, dumps, from_builtins, validate
from wfc.specs.workflow import VarType

if TYPE_CHECKING:
    from wfc.runtime.migration_apply import MigrationReport
    from wfc.runtime.migration_plan import MigrationPlan

log = logging.getLogger("wfc.runtime")

TaskLike = TaskFunction[Any, Any] | TaskDefinition

#: Seconds a write of its own that went through (a heartbeat, every 10 s with
#: the default lease; a probe) tells
#: :meth:`Engine.check_writable` that the database takes writes.
WRITES_TRUSTED_FOR: Final = 15.0


class _Loop(Protocol):
    """All the engine asks of its machinery (:class:`~wfc.runtime._loop.CommitLoop`),
    the way an httpx ``Client`` holds a ``Transport``: the engine checks and
    reads; every change goes through :meth:`call`."""

    @property
    def engine_id(self) -> str: ...

    def running(self) -> AbstractAsyncContextManager[None]:
        """Run the background work for the block; close after it."""

    def check_open(self) -> None:
        """Raise :class:`UsageError` once the engine closed."""

    async def call(self, command: StartRun | SendEvent | Deploy | RunInput | Migrate) -> Any:
        """Queue a command; its reply once its transaction committed."""

    def following(self, run_id: str) -> AbstractAsyncContextManager[Follow]:
        """Be woken by the commits that touch ``run_id``, while in the block."""

    def in_flight(self, run_id: str) -> bool:
        """True when this engine's last commit of the run left it running
        with a task in flight (and no other process is known to have changed
        it since)."""

    # The controls of a worker (see Engine.drain and the properties below).
    @property
    def counters(self) -> TaskCounters: ...

    @property
    def running_attempts(self) -> int: ...

    @property
    def busy(self) -> bool: ...

    async def drain(self, grace: float) -> None: ...

    def hurry(self) -> None: ...

    def wake_timers(self) -> None: ...

    def observe(self, observer: Observer) -> None:
        """Tell ``observer`` about every commit from now on."""

    troubled: bool
    """Whether work met the database's trouble since the last write that went through."""

    wrote_at: float
    """When (``time.monotonic()``) the engine's last heartbeat went through."""


class Engine:
    """A durable workflow engine on one database.

    Open it with :meth:`open`; all methods are coroutines of that context.
    """

    def __init__(
        self,
        store: Store,
        url: str,
        tasks: Mapping[str, TaskDefinition],
        *,
        serve: bool,
        check_tasks: bool,
        lease_seconds: float,
        poll_interval: float,
        max_batch: int,
        max_concurrent_tasks: int,
        max_children_per_run: int,
        clock: Callable[[], float],
        observers: Observers | None = None,
        cache_waiting_runs: bool = False,
    ) -> None:
        """Use :meth:`open`: an engine needs its background work running."""
        self._store = store
        self._url = url
        self._definitions = dict(tasks)
        self._check_tasks = check_tasks
        self._poll = poll_interval
        self._clock = clock
        # On a shared database another process's deploy is told (see
        # SpecCache.forget_versions): the versions may be kept meanwhile.
        # Where one process serves (SQLite), they are kept while no other
        # connection commits.
        self._specs = SpecCache(
            store.location, versions_ttl=poll_interval if store.shared else 0.0, versions_marked=not store.shared
        )
        self._reader = Reader(store, self._specs, clock=clock, lease_seconds=lease_seconds)
        self._loop: _Loop = CommitLoop(
            store,
            self._specs,
            self._definitions,
            serve=serve,
            lease_seconds=lease_seconds,
            poll_interval=poll_interval,
            max_batch=max_batch,
            max_concurrent_tasks=max_concurrent_tasks,
            limits=Limits(max_children=max_children_per_run),
            clock=clock,
            observers=observers,
            keep_waiting=cache_waiting_runs,
        )

    @classmethod
    @asynccontextmanager
    async def open(
        cls,
        url: str,
        tasks: Iterable[TaskLike] = (),
        *,
        serve: bool = True,
        read_only: bool = False,
        check_tasks: bool | None = None,
        lease_seconds: float = 30.0,
        poll_interval: float = 1.0,
        max_batch: int = 1000,
        max_concurrent_tasks: int = 1000,
        max_children_per_run: int = 1000,
        clock: Callable[[], float] = time.time,
        store: Store | None = None,
        retention: dt.timedelta | float | None = None,
        tracing: Tracing | None = None,
        observers: Iterable[Observer] = (),
        cache_waiting_runs: bool = False,
    ) -> AsyncIterator[Engine]:
        """Open the database at ``url`` and run the engine until the block exits.

        Opening resumes every unfinished run: task attempts that were in flight
        when a previous process died are delivered again (same idempotency key)
        and timers that came due meanwhile fire.

        Args:
            url: ``sqlite:///path.db`` (relative), ``sqlite:////abs/path.db`` or
                ``sqlite:///:memory:`` for one process;
                ``postgresql://user:password@host:5432/database[?schema=wfc]``
                for many engines and workers sharing the work (needs
                ``pip install 'wfc[postgres]'``).
            tasks: ``@task`` functions this engine runs.
            serve: Run tasks and timers (a worker). ``False`` makes a client
                that starts runs, sends events and reads, leaving the work to
                a serving engine on the same database.
            read_only: Only read (with ``serve=False``): nothing is written,
                not even this engine's registration, so a read-only SQLite
                file or folder, or a PostgreSQL user who may only read, can
                be read; deploying, starting or changing runs raises
                :class:`ReadOnlyDatabaseError`.
            check_tasks: Refuse to deploy or start a spec naming tasks not in
                ``tasks``; defaults to ``serve``.
            lease_seconds: How long a task attempt stays claimed by this engine
                without a heartbeat before another engine may run it again.
            poll_interval: Seconds between looks at the database for work other
                processes left (timers, unclaimed tasks), and the longest a
                ``wait`` goes without looking.
            max_batch: Most commands applied in one transaction.
            max_concurrent_tasks: Most task attempts running at once.
            max_children_per_run: Most child threads of one run running at
                once (the fan-out cap); a ``spawn_thread_for_each`` over more
                items starts the rest as slots free up (they wait durably,
                status QUEUED), it does not fail.
            clock: Source of "now" in epoch seconds, like ``time.time``
                (tests shift it); its first reading is checked (a clock in
                milliseconds would store dates no read can show). A
                clock that also has ``move_on_after(seconds)`` (e.g.
                :class:`wfc.testing.VirtualClock`) measures task attempt
                timeouts too; otherwise they pass in real time.
            store: The store of ``url``, already open, to use instead of
                opening it (tests wrap one to inject faults); the engine
                closes it.
            retention: Delete runs finished longer ago than this
                (a ``timedelta`` or seconds) with everything stored for
                them, in the background: at start, then every minute, 100
                runs per transaction (see :meth:`purge_runs`). ``None``
                (the default) keeps every run. Needs ``serve=True``.
            tracing: Export OpenTelemetry spans of every run
                (:class:`wfc.runtime.tracing.Tracing`, needs ``pip install
                'wfc[otel]'``) as their steps commit. ``None``: no tracing,
                nothing of it runs.
            observers: Told about every commit of this engine, with the
                journal entries it wrote (:class:`~wfc.runtime.Observer`):
                e.g. :class:`wfc.runtime.metrics.Metrics`. One that raises is
                logged once and ignored.
            cache_waiting_runs: Keep the state of every unfinished run in
                memory (up to 10,000 runs), not only of the runs with a
                task in flight: a run woken by its timers or events is not
                read back from the database at each step. For a process
                that does most of its database's work (the test harness,
                :mod:`wfc.testing`, opens its engine so); each sleeping run
                costs its memory. Runs changed by another process are
                still read again (their version is checked).

        Raises:
            UsageError: a bad argument (naming it and the form it takes),
                before anything is opened or started.
            UnsupportedUrlError: the URL scheme has no store.
            StoreError: the database is not a wfc database, or was written by
                a newer wfc; it is left untouched.
            TaskDefinitionError: ``tasks`` holds a non-task or a duplicate name.
        """
        check_engine_options(
            url=url,
            tasks=tasks,
            flags={
                "serve": serve,
                "read_only": read_only,
                "check_tasks": check_tasks,
                "cache_waiting_runs": cache_waiting_runs,
            },
            lease_seconds=lease_seconds,
            poll_interval=poll_interval,
            max_batch=max_batch,
            max_concurrent_tasks=max_concurrent_tasks,
            max_children_per_run=max_children_per_run,
            observers=observers,
        )
        if store is not None and not isinstance(store, Store):
            raise UsageError(f"store must be an open wfc.runtime.store.Store (or None to open url), got {given(store)}")
        # Read once here: every step stores what the clock says, so a clock
        # in other units (ms, ns) must be refused before it writes a date.
        now = check_clock(clock)
        definitions = task_definitions(tasks)
        if read_only and serve:
            raise UsageError("Engine.open(read_only=True) needs serve=False: a reading engine runs no tasks")
        keep = retention_seconds(retention)
        if keep is not None and not serve:
            raise UsageError("Engine.open(retention=...) needs serve=True: only a serving engine purges")
        if tracing is not None and not isinstance(tracing, Tracing):
            raise UsageError(f"Engine.open(tracing=...) takes a wfc.runtime.tracing.Tracing, got {tracing!r}")
        if tracing is not None and read_only:
            raise UsageError("Engine.open(tracing=...) cannot export from a read_only engine: it saves its position")
        watching = Observers(observers)
        if store is None:
            store = await open_store(url, now, read_only=read_only)
        try:
            engine = cls(
                store,
                url,
                definitions,
                serve=serve,
                check_tasks=serve if check_tasks is None else check_tasks,
                lease_seconds=lease_seconds,
                poll_interval=poll_interval,
                max_batch=max_batch,
                max_concurrent_tasks=max_concurrent_tasks,
                max_children_per_run=max_children_per_run,
                clock=clock,
                observers=watching,
                cache_waiting_runs=cache_waiting_runs,
            )
            # Tracing outlives the loop: what the loop commits while closing is exported too.
            async with exporting(tracing, store, clock) as woken:
                if woken is not None:
                    engine._loop.observe(Signal(woken))
                async with engine._loop.running(), engine._retaining(keep), engine._indexing(serve and not read_only):
                    yield engine
        finally:
            with anyio.CancelScope(shield=True):
                await store.close()

    def _retaining(self, seconds: float | None) -> AbstractAsyncContextManager[None]:
        """Purge in the background while the block runs, if asked."""
        if seconds is None:
            return _in_background(None)
        return _in_background(lambda closed: keep_for(self._store, seconds, self._clock, closed))

    def _indexing(self, serve: bool) -> AbstractAsyncContextManager[None]:
        """Index the runs stored before searchable variables were indexed
        (see :mod:`._search_backfill`) in the background of a serving
        engine, while the block runs."""
        if not serve:
            return _in_background(None)
        return _in_background(lambda closed: index_pending(self._store, self._specs, closed))

    @property
    def url(self) -> str:
        """The database URL."""
        return self._url

    @property
    def engine_id(self) -> str:
        """This engine's id, recorded as the lease owner of its task attempts."""
        return self._loop.engine_id

    @property
    def read_only(self) -> bool:
        """Whether the engine was opened to read only (``Engine.open(read_only=True)``)."""
        return self._store.read_only

    @property
    def task_names(self) -> frozenset[str]:
        """Names of the tasks this engine runs."""
        return frozenset(self._definitions)

    # ------------------------------------------------------------------ serving (for workers)

    @property
    def counters(self) -> TaskCounters:
        """What this engine did with task attempts since it opened (for ``wfc worker``)."""
        return self._loop.counters

    @property
    def running_attempts(self) -> int:
        """Task attempts running in this engine now."""
        return self._loop.running_attempts

    async def drain(self, grace: float) -> None:
        """Stop taking work and give the attempts running here up to
        ``grace`` seconds to finish and be committed. What follows from them
        is left in the outbox for other workers; attempts still running when
        the engine closes are released to them."""
        check_seconds(grace, "grace", zero=True)
        await self._loop.drain(grace)

    def hurry(self) -> None:
        """End a :meth:`drain` now."""
        self._loop.hurry()

    def wake_timers(self) -> None:
        """Look for due timers now instead of at the next poll.

        The timer loop sleeps in real time until the next timer is due by the
        engine's clock; call this after moving an injected ``clock`` forward
        (tests), so timers that became due fire without waiting."""
        self._loop.wake_timers()

    @property
    def busy(self) -> bool:
        """True while this engine has a command queued or being committed,
        or a fired timer not committed yet. With :attr:`running_attempts` at
        0 and no timer due by its clock, nothing will happen until an input
        comes or the clock moves (how :mod:`wfc.testing` skips time).
        A closed engine does nothing more: it is never busy, whatever its
        loop was doing when it stopped."""
        try:
            self._loop.check_open()
        except UsageError:
            return False  # what its loop left queued when it stopped will never be done here
        return self._loop.busy

    async def next_timer_due(self) -> float | None:
        """When the earliest durable timer of any run (a sleep, an event or
        threads timeout, a retry backoff, a user task's deadline) is due, in
        epoch seconds by the engine's clock; ``None`` when no timer is set."""
        self._loop.check_open()
        return await self._store.next_timer_due()

    def observe(self, observer: Observer) -> None:
        """Tell ``observer`` about every commit of this engine from now on,
        as the ``observers`` given to :meth:`open` are (e.g. a reader of the
        journal feed that wants to look right after a commit)."""
        self._loop.check_open()
        self._loop.observe(observer)

    # ------------------------------------------------------------------ specs

    async def deploy(self, spec: WorkflowSpec) -> bool:
        """Store a spec version; runs can then start on it.

        Deploying the same spec again is a no-op. Runs stay on the version they
        started on.

        Returns:
            True if this version was new.

        Raises:
            SpecError: the spec is invalid.
            MissingTasksError: it names tasks this engine does not run (only
                with ``check_tasks``).
            DeployConflictError: this name and version hold a different spec.
        """
        if not isinstance(spec, WorkflowSpec):
            raise UsageError(f"deploy() takes a wfc.specs.WorkflowSpec, got {type(spec).__name__}")
        _check_field_types(spec)
        validate(spec)
        self._require_tasks(derive(spec))
        digest = body_hash(spec)
        stored = msgspec.structs.replace(spec, hash=digest)
        result: bool = await self._loop.call(Deploy(spec=stored, body=dumps(stored), hash=digest))
        return result

    async def get_spec(self, workflow: str, version: Version | str | int | None = None) -> WorkflowSpec:
        """A deployed spec: the latest, or the version asked for (``"1.2"``,
        ``Version``, or a major number for its latest revision)."""
        check_workflow(workflow)
        return (await self._deployed(workflow, version)).spec

    async def _deployed(self, workflow: str, version: Version | str | int | None) -> CachedSpec:
        self._loop.check_open()
        return await self._reader.deployed(workflow, version)

    async def list_specs(self, workflow: str | None = None) -> list[WorkflowSpec]:
        """Every deployed spec version (of one workflow, if named)."""
        self._loop.check_open()
        check_workflow(workflow, or_none=True)
        return await self._reader.list_specs(workflow)

    def _require_tasks(self, spec: CachedSpec) -> None:
        if self._check_tasks:
            missing = spec.info.tasks - self._definitions.keys()
            if missing:
                raise MissingTasksError(spec.spec.name, sorted(missing))

    # ------------------------------------------------------------------ runs

    async def start(
        self,
        workflow: str,
        inputs: Mapping[str, Any] | None = None,
        run_id: str | None = None,
        version: Version | str | int | None = None,
        *,
        traceparent: str | None = None,
    ) -> str:
        """Start a run of a deployed workflow; idempotent by ``run_id``.

        Starting again with the id of an existing run of the same workflow and
        the same inputs returns that id and starts nothing. Inputs are compared
        after the defaults of the run's own version are applied, so leaving
        out an input whose default is the value the run had is the same
        start; ``version`` is not compared (a run stays on its version), but
        one that is no version is refused all the same.
        :meth:`start_run` also says whether this call created the run.

        Args:
            workflow: The workflow name.
            inputs: Values of its variables, by name.
            run_id: The run's id (e.g. ``"order-123"``): 1 to 200
                characters, no control characters (see
                :func:`~wfc.runtime._arguments.check_name`). If not given, a
                new UUID of version 7 as 32 hex digits: runs started later
                sort after (see :func:`~wfc.runtime._ids.new_run_id`).
            version: The spec version; the latest deployed one if not given.
            traceparent: A W3C ``traceparent`` (``00-<trace id>-<span id>-<flags>``):
                the run's spans join that trace, under that span. Without it
                the run gets a trace of its own. Stored with the run (a
                repeated start keeps the first one).

        Returns:
            The run id, once the run's first transition is committed.

        Raises:
            UnknownWorkflowError: no such workflow or version is deployed.
            InputError: missing required inputs, unknown names, wrong types.
            MissingTasksError: the spec names tasks this engine does not run.
            RunIdConflictError: ``run_id`` belongs to a run of another workflow.
            RunInputsConflictError: ``run_id`` belongs to a run of this
                workflow that started with other inputs (it names them).
            UsageError: ``run_id`` is empty, too long or holds a control
                character, or ``traceparent`` is not a W3C traceparent.
        """
        return (await self.start_run(workflow, inputs, run_id, version, traceparent=traceparent)).run_id

    async def start_run(
        self,
        workflow: str,
        inputs: Mapping[str, Any] | None = None,
        run_id: str | None = None,
        version: Version | str | int | None = None,
        *,
        traceparent: str | None = None,
    ) -> Started:
        """:meth:`start`, telling whether this call created the run
        (``created``) or found it started with the same inputs, by an
        earlier call or a concurrent one in any process (exactly one of
        concurrent starts of one id gets ``created=True``): what ``POST
        /api/v1/runs`` answers with 201 or 200.

        Raises:
            The errors of :meth:`start`.
        """
        self._loop.check_open()
        check_start_args(workflow, inputs, run_id)
        trace = start_trace(traceparent)
        existing = None if run_id is None else await self._store.get_run(run_id)
        if existing is not None and existing.workflow == workflow:
            if version is not None:
                parse_version(version)  # not compared (the run keeps its version), but a version all the same
            spec = await self._reader.spec_of(existing)  # a repeated start is checked against the run's version
        else:
            spec = await self._deployed(workflow, version)
            self._require_tasks(spec)
        variables = start_variables(spec.spec, inputs)
        command = StartRun(
            spec=spec,
            run_id=run_id or new_run_id(),
            inputs=dict(inputs or {}),
            variables=variables,
            new_id=run_id is None,
            trace=trace,
        )
        result: Started = await self._loop.call(command)
        return result

    async def serving_engines(self) -> int:
        """How many live engines serve this database now (this one included
        if it serves): those with a heartbeat within this engine's
        ``lease_seconds`` whose process, on this machine, still exists. With
        none, a RUNNING run is waiting for an engine: nothing executes it."""
        self._loop.check_open()
        return await self._reader.serving_engines()

    async def check_writable(self) -> None:
        """Raise the :class:`StoreError` that says why the database takes no
        writes now, if it does not: for a readiness probe (``/readyz``),
        where reads that still answer would say all is well while a full
        disk refuses every commit.

        It commits a write that changes nothing (:meth:`Store.probe_write
        <wfc.runtime.store.Store.probe_write>`) when the engine's own work
        met the database's trouble since its last commit or heartbeat that
        went through (a full disk, an I/O error, a lost connection: a failed
        commit, heartbeat or claim), or when no write of its own went
        through for :data:`WRITES_TRUSTED_FOR` seconds (a client, which
        sends no heartbeats, idle). Otherwise it returns at once, asking
        nothing of the database: a serving engine heartbeats every third of
        its lease, and its heartbeat is the probe.

        Raises:
            StoreError: the database does not take writes (e.g.
                :class:`DatabaseUnavailableError` for a full disk), saying
                what to do; :class:`ReadOnlyDatabaseError` for an engine
                opened ``read_only``.
        """
        self._loop.check_open()
        trusted = time.monotonic() - self._loop.wrote_at < WRITES_TRUSTED_FOR
        if trusted and not self._loop.troubled and not self._store.read_only:
            return
        await self._store.probe_write()
        self._loop.troubled = False
        self._loop.wrote_at = time.monotonic()

    async def count_runs(self, workflow: str | None = None, *, cap: int = 10_000) -> dict[RunStatus, int]:
        """How many runs (of ``workflow``) have each status, counting each up
        to ``cap`` (a count equal to ``cap`` means "at least"): cheap enough to
        ask on every refresh of a dashboard, whatever the number of runs.

        Raises:
            UsageError: a cap that is not an int from 1 to 2**63 - 1.
        """
        self._loop.check_open()
        check_workflow(workflow, or_none=True)
        check_count(cap, "cap")
        return await self._reader.count_runs(workflow, cap=cap)

    async def workflow_stats(
        self, workflow: str, since: dt.datetime, until: dt.datetime | None = None, *, sample: int = 2000
    ) -> WorkflowStats:
        """How ``workflow`` has been doing since ``since``: runs started per
        minute, statuses, failure and compensation rates among finished runs,
        and per step the median and 95th percentile of dispatch-to-result
        time. Reads the newest ``sample`` runs of the window at most (the
        answer says whether it sampled), so it costs the same at any size.

        Raises:
            UsageError: a bad sample size, or ``since`` after ``until``.
        """
        self._loop.check_open()
        check_workflow(workflow)
        check_datetime(since, "since")
        check_datetime(until, "until", or_none=True)
        check_count(sample, "sample", high=20_000)
        return await self._reader.workflow_stats(workflow, since, until, sample=sample)

    async def plan_migration(
        self,
        workflow: str,
        source: str,
        target: str,
        mapping: Mapping[str, Any] | None = None,
        *,
        migrate_later: bool = False,
    ) -> MigrationPlan:
        """Sort every live run of ``workflow`` version ``source`` into safe
        now, safe once it reaches a node, or must drain, for a move to
        version ``target``, with the reasons (see
        :mod:`wfc.runtime.migration_plan`; ``mapping``: the mapping file's
        content, node ids per thread and values for new variables;
        ``migrate_later``: applying the plan marks the runs that are safe
        once they reach a node to move when they do). Reads only; the
        plan's ``document()`` is what :meth:`apply_migration` takes.

        Raises:
            UnknownWorkflowError: the workflow or a version is not deployed.
            MappingError: the mapping does not fit the two versions.
        """
        from wfc.runtime.migration_plan import plan_migration

        self._loop.check_open()
        check_workflow(workflow)
        check_flag(migrate_later, "migrate_later")
        return await plan_migration(self._reader, workflow, source, target, mapping, migrate_later=migrate_later)

    async def apply_migration(
        self, plan: Mapping[str, Any] | MigrationPlan, *, progress: Callable[[int, int], None] | None = None
    ) -> MigrationReport:
        """Move the runs of a migration plan (the document ``wfc migrate
        plan --json`` printed, or a :class:`MigrationPlan`) that are safe to
        move now onto the plan's new version, each atomically with a
        ``MIGRATED`` journal entry; with ``migrate_later`` in the plan, mark
        the runs that are safe once they reach a node, so they move when they
        do. Each listed run is judged again as it is now; a run on the new
        version already is left alone, so applying twice (or again after a
        crash) moves only what is left. ``progress`` is told ``(done,
        total)`` as runs are decided. See :mod:`wfc.runtime.migration_apply`.

        Raises:
            PlanError: the plan is malformed or was made for other deployed specs.
            UnknownWorkflowError: a version of the plan is not deployed.
            MappingError: the plan's mapping does not fit the two versions.
            StoreError: the database's own trouble, not a run's (locked past
                the wait, read-only, unreachable, a commit failed for a
                reason that may pass: see ``NOT_THE_RUNS`` in
                :mod:`wfc.runtime.migration_apply`). The runs moved before
                stay moved; applying the plan again moves only the rest.
        """
        from wfc.runtime.migration_apply import apply_plan

        self._loop.check_open()
        return await apply_plan(self._reader, self._loop.call, plan, progress)

    async def list_workers(self) -> list[WorkerInfo]:
        """Every engine registered on this database (``wfc worker``, ``wfc
        run``, ``wfc server --tasks``, embedded engines): where it runs, the
        tasks it serves, its last heartbeat, whether it still counts as alive
        (as :meth:`serving_engines` judges), and the attempts it holds leases
        on. An engine that died stays listed, not alive, until a live one
        reaps it."""
        self._loop.check_open()
        return await self._reader.list_workers()

    async def workload(self, stuck_after: float | dt.timedelta = 300.0) -> Workload:
        """What the database holds to be done now, for every process
        serving it: unfinished runs by workflow and status, task attempts
        waiting for a worker by task (and the oldest one's age), timers
        past due, and the runs stuck for longer than ``stuck_after`` (see
        :meth:`count_stuck`). A few grouped reads; the metrics' gauges read it.

        Raises:
            UsageError: ``stuck_after`` is not a duration of zero or more.
        """
        self._loop.check_open()
        return await read_workload(self._store, self._clock(), stuck_seconds(stuck_after))

    async def get_run(self, run_id: str) -> RunInfo:
        """The run as stored now.

        Raises:
            UnknownRunError: no run has this id.
        """
        self._loop.check_open()
        check_run_id(run_id)
        return await self._reader.get_run(run_id)

    async def list_runs(
        self,
        status: RunStatus | str | Iterable[RunStatus | str] | None = None,
        workflow: str | None = None,
        started_after: Moment | None = None,
        started_before: Moment | None = None,
        limit: int | None = 100,
        needs_attention: bool | None = None,
        stuck_for: float | dt.timedelta | None = None,
        where: Mapping[str, Any] | None = None,
    ) -> list[RunInfo]:
        """Runs, newest first, filtered by status(es), workflow name, start
        time (``started_after <= created_at < started_before``) and, with
        ``needs_attention=True``, only the runs someone must look at: FAILED
        because a compensation still failed after its retries, so side effects
        may not be undone (``False``: only the others); ``where``: by
        searchable variables (see :meth:`list_runs_page`); with ``stuck_for``
        (seconds or a timedelta), only the runs stuck for longer than that,
        each with its :attr:`~RunInfo.stuck` reasons (see :meth:`count_stuck`)."""
        page = await self.list_runs_page(
            status=status,
            workflow=workflow,
            started_after=started_after,
            started_before=started_before,
            limit=limit,
            needs_attention=needs_attention,
            stuck_for=stuck_for,
            where=where,
        )
        return page.runs

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
        """One page of :meth:`list_runs`, for keyset paging: ``after`` is the
        ``next`` of the previous page. Besides the filters of
        :meth:`list_runs`: ``version`` (``"1.2"``, or a major number for all
        its revisions), the time of the last change
        (``updated_after <= updated_at < updated_before``) and ``where``:
        searchable variables and the value each must have (``{"order-id":
        "o-1"}``; a value as text is read as the variable's declared type,
        ``"42"`` for an int), all of them.

        Raises:
            UsageError: an unknown status, a malformed version, a negative
                ``stuck_for``, or a ``where`` name that is not a searchable
                variable (of ``workflow``, if given) or a value not of its
                type; an argument of another type than the one it takes.
        """
        self._loop.check_open()
        check_workflow(workflow, or_none=True)
        check_moment(started_after, "started_after", or_none=True)
        check_moment(started_before, "started_before", or_none=True)
        check_moment(updated_after, "updated_after", or_none=True)
        check_moment(updated_before, "updated_before", or_none=True)
        check_flag(needs_attention, "needs_attention", or_none=True)
        check_count(limit, "limit", high=None, or_none=True)  # past what a database counts: every run
        if after is not None and not isinstance(after, RunKey):
            raise UsageError(f"after must be the RunKey a previous page gave as its next (or None), got {given(after)}")
        return await self._reader.list_runs_page(
            status=status,
            workflow=workflow,
            version=version,
            started_after=started_after,
            started_before=started_before,
            updated_after=updated_after,
            updated_before=updated_before,
            needs_attention=needs_attention,
            limit=limit,
            after=after,
            stuck_for=stuck_for,
            where=where,
        )

    async def count_stuck(self, stuck_for: float | dt.timedelta) -> int:
        """How many runs are stuck for longer than ``stuck_for`` (seconds or
        a timedelta) now: RUNNING with a task attempt dispatched longer ago
        that no live engine holds (never claimed, or its holder's lease
        expired), or with a timer overdue by longer. A run waiting for an
        event, sleeping, or whose attempt a live worker runs is not stuck.
        One indexed count over the outbox and timers, cheap enough for a
        metrics scrape; :meth:`list_runs_page` with ``stuck_for`` lists them.

        Raises:
            UsageError: ``stuck_for`` is not a duration of zero or more.
        """
        self._loop.check_open()
        return await self._store.count_stuck(StuckWindow(self._clock(), stuck_seconds(stuck_for)))

    async def searchable_variables(self, workflow: str | None = None) -> dict[str, set[VarType]]:
        """The searchable variables of the deployed workflows (or of one),
        with the types they are declared with."""
        self._loop.check_open()
        check_workflow(workflow, or_none=True)
        return await self._reader.searchable_variables(workflow)

    async def wait(self, run_id: str, timeout: float | None = None) -> RunInfo:
        """Wait until the run finishes (COMPLETED, FAILED, COMPENSATED or
        CANCELLED) and return it.

        Raises:
            UnknownRunError: no run has this id.
            WaitTimeoutError: ``timeout`` seconds passed first (the run goes on).
        """
        self._loop.check_open()
        check_run_id(run_id)
        check_seconds(timeout, "timeout", zero=True, or_none=True)
        deadline = None if timeout is None else anyio.current_time() + timeout
        async with self._loop.following(run_id) as follow:
            # A run this engine holds in flight (the usual wait, right after
            # start) is not read first: its last commit here left it running,
            # and whatever ends it wakes us (a commit here, another process's
            # notice, or the commit loop's look once per poll interval).
            known = self._loop.in_flight(run_id)
            woken = False
            while True:
                event = follow.settled()  # taken before reading, so a commit in between still wakes us
                # What a commit here finishing the run hands over counts only
                # if it came after this look: one from an earlier end (before
                # a retry elsewhere) may still be there.
                handed = follow.final
                if woken:
                    # What wakes us says the run ended (or is gone): read it whole at once.
                    info = await self.get_run(run_id)
                    if info.status.finished:  # not retried in between
                        return info
                elif not known:
                    # The status alone first: the whole run is read and
                    # decoded only once it finished.
                    status = (await self._store.run_statuses((run_id,))).get(run_id)
                    if status is None:
                        raise UnknownRunError(run_id)
                    if RunStatus(status).finished:
                        info = await self.get_run(run_id)
                        if info.status.finished:  # not retried in between
                            return info
                        continue
                known = False
                # A step that leaves the run running does not wake us; its
                # end does: a commit here, another process's notice, or the
                # commit loop's look at every awaited run once per poll
                # interval (for a process that does not notify).
                if deadline is None:
                    await event.wait()
                else:
                    remaining = deadline - anyio.current_time()
                    if remaining <= 0:
                        raise WaitTimeoutError(run_id, timeout or 0.0)
                    with anyio.move_on_after(remaining) as slept:
                        await event.wait()
                    if slept.cancelled_caught:
                        continue
                woken = True
                if follow.final is not None and follow.final is not handed:
                    # Finished by this engine: the loop holds what it stored.
                    self._loop.check_open()
                    state, spec = follow.final
                    return run_info(decode_state(state), spec.info.masked)

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
        """The run's journal: every transition, in order, with masked
        variables shown as ``"***"``. ``after`` skips entries up to that
        ``seq`` (poll with the last seq seen); ``kinds``, ``node`` and
        ``thread`` keep only the entries of those kinds, that node, that
        thread.

        Raises:
            UnknownRunError: no run has this id.
            UsageError: a kind the engine never writes (the message lists
                those it does), or an argument of another type than the one
                it takes.
        """
        self._loop.check_open()
        check_run_id(run_id)
        check_count(after, "after", low=0)
        check_count(limit, "limit", or_none=True)
        check_count(thread, "thread", low=0, or_none=True)
        check_text(node, "node", or_none=True)
        return await self._reader.history(run_id, after, limit, kinds=kinds, node=node, thread=thread)

    async def watch(self, run_id: str, after: int = 0) -> AsyncIterator[HistoryEntry]:
        """Journal entries as they are committed, until the run finishes: for
        live progress displays."""
        self._loop.check_open()
        check_run_id(run_id)
        check_count(after, "after", low=0)
        seq = after
        async with self._loop.following(run_id) as follow:
            while True:
                event = follow.changed()
                # The status is read before the journal, so once it says
                # finished, this journal read holds every entry.
                record = await self._store.get_run(run_id)
                finished = record is not None and RunStatus(record.status).finished
                entries = await self.history(run_id, after=seq)
                for entry in entries:
                    seq = entry.seq
                    yield entry
                if finished:
                    return
                if not entries:
                    with anyio.move_on_after(self._poll):
                        await event.wait()

    def subscribe(
        self,
        name: str | None = None,
        kinds: Iterable[str] = (),
        *,
        start: Start = "earliest",
        batch: int = 100,
        poll_interval: float = 0.5,
    ) -> Subscription:
        """Every run's journal entries as they are committed, in commit
        order (each run's in ``seq`` order), read from a durable position.

        ``async with engine.subscribe("alerts", kinds=["COMPENSATION_FAILED"])
        as feed: async for entry in feed: ...`` An entry is handled once the
        loop body that got it returns (the loop asks for the next one); the
        position after the handled entries is saved under ``name`` once per
        batch and when the block ends, so after a crash or a restart the
        subscriber goes on from there, getting again at most the entries of
        one batch: at least once, never skipped. Handle entries
        idempotently, keyed by ``(run_id, seq)``.

        Args:
            name: The subscriber, whose position is saved in the database;
                ``None``: not saved (a live tail, like ``wfc runs watch``).
            kinds: Only entries of these kinds (``COMPENSATION_FAILED``, ...;
                those of :class:`~wfc.runtime.HistoryEntry`); empty: all.
            start: Where a subscriber with no saved position starts:
                ``"earliest"`` (every entry stored) or ``"latest"`` (what is
                committed from now on).
            batch: Most entries read at once (and delivered again after a crash).
            poll_interval: Seconds between looks for new entries when there
                were none.

        Raises:
            UsageError: a bad argument: a name that is empty, longer than
                200 characters or holds a control character, or a kind the
                engine never writes (the message lists those it does).
        """
        self._loop.check_open()
        return Subscription(
            self._store,
            name,
            kinds,
            start=start,
            batch=batch,
            poll_interval=poll_interval,
            clock=self._clock,
            check_open=self._loop.check_open,
        )

    async def feed_end(self) -> str:
        """The position after every entry committed so far: give it to
        :meth:`read_feed` to read only what is committed from now on."""
        self._loop.check_open()
        return await feed_head(self._store)

    async def read_feed(
        self, after: str | None = None, limit: int = 100, *, kinds: Iterable[str] = ()
    ) -> tuple[list[FeedEntry], str]:
        """One page of every run's journal entries after the position
        ``after`` (``None``: from the first entry stored), in the order of
        :meth:`subscribe`, and the position to read from next: for a
        consumer that keeps its position itself (``GET /api/v1/journal``).

        Raises:
            UsageError: ``after`` is not a position this database gave out,
                or a bad limit.
        """
        self._loop.check_open()
        return await read_feed(self._store, after, limit, kinds)

    async def purge_runs(
        self,
        finished_before: Moment,
        status: RunStatus | str | Iterable[RunStatus | str] | None = None,
        *,
        batch: int = 100,
        dry_run: bool = False,
    ) -> int:
        """Delete the runs that finished (last changed) before
        ``finished_before``, of the given finished statuses (default: all
        of COMPLETED, FAILED, COMPENSATED, CANCELLED), with everything
        stored for them: journal, outbox, timers, events, waits. ``batch``
        runs per transaction, so a serving engine on the same database goes
        on committing in between. Running and halted runs are never taken.
        Returns how many runs were deleted (``dry_run``: would be; nothing
        is deleted).

        Raises:
            UsageError: a status that is not a finished one, a bad moment or batch.
        """
        self._loop.check_open()
        check_count(batch, "batch", high=500)
        check_flag(dry_run, "dry_run")
        where = cutoff(finished_before, status)
        if dry_run:
            return await retention.count(self._store, where)
        return await purge(self._store, where, batch)

    async def export_runs(
        self,
        finished_before: Moment | None = None,
        status: RunStatus | str | Iterable[RunStatus | str] | None = None,
    ) -> AsyncIterator[tuple[RunInfo, list[HistoryEntry]]]:
        """Every run :meth:`purge_runs` would delete with the same arguments
        (``finished_before=None``: every finished run), with its journal,
        status by status and oldest first: for archiving before a purge.
        Masked variables are ``"***"``, as in :meth:`history`. A run purged
        while the export reads (a purge or the retention beside it) is left
        out: it was read a page at a time, and there is nothing to archive.

        Raises:
            UsageError: a status that is not a finished one, or a bad moment.
        """
        self._loop.check_open()
        where = cutoff(self._clock() if finished_before is None else finished_before, status)
        async for record in runs_taken(self._store, where):
            try:
                journal = await self.history(record.id)
            except UnknownRunError:
                continue
            yield await self._reader.info(record), journal

    # ------------------------------------------------------------------ run control

    async def _control(self, run_id: str, command: Cancel | Halt | Resume | Retry) -> RunInfo:
        """The one path of operator commands: checked here for what the
        caller gave, refused by the turn for what the run's state does not
        allow (:func:`~wfc.runtime._inputs.check_operator`)."""
        check_run_id(run_id)
        await self._loop.call(RunInput(run_id, command, Reply()))
        return await self.get_run(run_id)

    async def halt(self, run_id: str, reason: str = "") -> RunInfo:
        """Pause a running run: it becomes HALTED and nothing new is
        dispatched. Tasks already running finish and their results are kept
        (applied on resume); timers pause (waits, sleeps and retry backoffs
        keep the time they had left); events sent meanwhile are kept. Durable
        and journaled (``RUN_HALTED``).

        Raises:
            UnknownRunError: no run has this id.
            RunStateError: the run is not running (already halted, or finished).
        """
        check_reason(reason)
        return await self._control(run_id, Halt(reason=reason))

    async def resume(self, run_id: str) -> RunInfo:
        """Let a HALTED run go on from where it was: kept results are applied
        and timers re-armed with the time they had left (``RUN_RESUMED``).

        Raises:
            UnknownRunError: no run has this id.
            RunStateError: the run is not halted (running, or finished; a
                FAILED run is retried, not resumed).
        """
        return await self._control(run_id, Resume())

    async def cancel(self, run_id: str, reason: str = "", compensate: bool = False) -> RunInfo:
        """Cancel a running or halted run: every thread stops, its timers are
        dropped and results of task attempts still running are ignored; the
        run ends CANCELLED.

        With ``compensate=True`` the run is compensated first: tasks still
        running are awaited (a step that completes is compensated too), then
        the compensations of every completed step run in reverse order. The
        run ends COMPENSATED (``failure`` is ``CANCELLED`` with ``reason``), or
        CANCELLED when there was nothing to compensate, or FAILED with
        ``compensation_failed`` if a compensation failed after its retries.

        Raises:
            UnknownRunError: no run has this id.
            RunStateError: the run already finished (or, with ``compensate``,
                is already being compensated).
        """
        check_reason(reason)
        check_flag(compensate, "compensate")  # compensating cannot be undone: "no" must not mean yes
        return await self._control(run_id, Cancel(reason=reason, compensate=compensate))

    async def retry(self, run_id: str) -> RunInfo:
        """Retry a FAILED run, like LittleHorse's rescue: the node that failed
        (the origin of the failure, in whichever thread) runs again with the
        same inputs — a task as its next attempt with the same idempotency key
        — and the run goes on: the threads that failed or were halted because
        of it pick up where they were. A run whose compensation failed runs
        that compensation again and goes on compensating. Journaled as
        ``RUN_RETRIED``.

        Raises:
            UnknownRunError: no run has this id.
            RunStateError: the run is not FAILED (a COMPENSATED, COMPLETED or
                CANCELLED run cannot be retried; start a new run), or it failed
                in a way a retry would only repeat (a ``fail`` node,
                ``EXPRESSION_ERROR``, ``LOOP_LIMIT``, ``INTERNAL_ERROR``).
        """
        return await self._control(run_id, Retry())

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
        """User tasks, oldest first (by creation, then id), every filter
        given holding: assigned to ``user``, offered to ``group``, of a
        status (or any of several), of one run. An inbox: ``status="ASSIGNED",
        user="ann"``; what ann's groups may claim: ``status="UNASSIGNED",
        group="support"``. Keyset paging: ``after`` is the id of the last
        task of the previous page.

        Raises:
            UsageError: an unknown status, a bad name or limit (1 to 1000),
                or an ``after`` that is no stored task.
        """
        self._loop.check_open()
        return await self._reader.list_user_tasks(
            user=user, group=group, status=status, run_id=run_id, limit=limit, after=after
        )

    async def get_user_task(self, task_id: str) -> UserTask:
        """A user task as stored now, with its form and its audit trail
        (``audit``: the journal entries of its run that name it).

        Raises:
            UnknownUserTaskError: no user task has this id (or its run was deleted).
        """
        self._loop.check_open()
        return await self._reader.get_user_task(task_id)

    async def claim_user_task(self, task_id: str, user: str) -> UserTask:
        """``user`` takes an unassigned task (offered to a group they are
        in): it becomes ASSIGNED to them. Claiming a task already assigned
        to ``user`` changes nothing.

        Raises:
            UsageError: an empty user.
            UnknownUserTaskError: no user task has this id.
            UserTaskStateError: it is assigned to someone else, DONE or CANCELLED.
        """
        check_task_id(task_id)
        check_person(user, "user", required=True)
        return await self._user_task_input(task_id, ClaimUserTask(task_id=task_id, user=user))

    async def release_user_task(self, task_id: str, *, by: str | None = None) -> UserTask:
        """An assigned task goes back to its group, UNASSIGNED (``by``: who
        did it, for the journal).

        Raises:
            UnknownUserTaskError: no user task has this id.
            UserTaskStateError: it is not assigned, has no group to go back
                to (reassign it instead), or is closed.
        """
        check_task_id(task_id)
        check_person(by, "by")
        return await self._user_task_input(task_id, ReleaseUserTask(task_id=task_id, by=by))

    async def reassign_user_task(
        self, task_id: str, *, user: str | None = None, group: str | None = None, by: str | None = None
    ) -> UserTask:
        """Give an open task to another user and/or group (a group alone
        leaves it UNASSIGNED, offered to that group).

        Raises:
            UsageError: neither ``user`` nor ``group``.
            UnknownUserTaskError: no user task has this id.
            UserTaskStateError: it is DONE or CANCELLED.
        """
        check_task_id(task_id)
        check_reassign_args(user, group, by)
        return await self._user_task_input(task_id, ReassignUserTask(task_id=task_id, user=user, group=group, by=by))

    async def complete_user_task(
        self, task_id: str, values: Mapping[str, Any], *, user: str | None = None
    ) -> UserTask:
        """Complete an open task with the values of its form: its node
        completes with them (one key per field) and the run goes on.
        ``user``: who completes it; ``None``, an operator, may complete any
        open task. Of two completions at once, in any processes, exactly one
        wins; the other gets :class:`UserTaskStateError`.

        Raises:
            UsageError: ``values`` is not a mapping.
            UnknownUserTaskError: no user task has this id.
            UserTaskValuesError: the values do not fit the form (naming
                every unknown, missing or mistyped field); the task stays open.
            UserTaskStateError: it is DONE or CANCELLED (whatever the
                values), or assigned to another user than ``user``.
        """
        check_task_id(task_id)
        given = dict(check_complete_args(values, user))
        record = await self._user_task_record(task_id)
        if UserTaskStatus(record.status).open:
            # A closed task is a conflict whatever the values: the turn says so.
            check_form_values(task_id, await self._reader.form(record), given)
        command = CompleteUserTask(task_id=task_id, values=given, by=user)
        return await self._user_task_input(task_id, command, record)

    async def cancel_user_task(self, task_id: str, *, reason: str = "", by: str | None = None) -> UserTask:
        """Cancel an open task: its node fails with ``USER_TASK_CANCELLED``
        (which a failure handler may handle).

        Raises:
            UnknownUserTaskError: no user task has this id.
            UserTaskStateError: it is DONE or CANCELLED already.
        """
        check_task_id(task_id)
        text = check_cancel_args(reason, by)
        return await self._user_task_input(task_id, CancelUserTask(task_id=task_id, reason=text, by=by))

    async def _user_task_record(self, task_id: str) -> UserTaskRecord:
        self._loop.check_open()
        return await self._reader.user_task_record(task_id)

    async def _user_task_input(
        self, task_id: str, command: UserTaskInput, record: UserTaskRecord | None = None
    ) -> UserTask:
        """The one path of user task inputs: to the run that holds the task,
        through the commit loop, whose turn refuses what the run's state
        does not allow; the task as that commit wrote it."""
        if record is None:
            record = await self._user_task_record(task_id)
        committed: UserTaskRecord | None = await self._loop.call(RunInput(record.run_id, command, Reply()))
        if committed is None:  # nothing changed (a claim by its assignee)
            committed = await self._user_task_record(task_id)
        return await self._reader.user_task(committed)

    # ------------------------------------------------------------------ events

    async def send_event(
        self,
        name: str,
        payload: Any = None,
        *,
        run_id: str | None = None,
        correlation: str | None = None,
        event_id: str | None = None,
    ) -> SentEvent:
        """Send an external event to a run.

        By ``run_id``: the run gets it now; if no wait takes it yet it is kept
        in the run's inbox and consumed by the next wait for that name (FIFO).
        An unknown or finished run is an error. By ``correlation`` (without
        ``run_id``): it goes to the run whose wait for ``name`` with that key
        has waited longest; with no such wait it is stored and consumed by the
        first such wait to come (FIFO). Each event is consumed exactly once.
        Sending again with the same ``event_id`` does nothing; an event id is
        held to the rule of run ids (1 to 200 characters, no control
        characters: :func:`~wfc.runtime._arguments.check_name`).

        Raises:
            UsageError: neither ``run_id`` nor ``correlation`` was given, a bad
                ``event_id``, or the payload is not JSON within the limits of
                :mod:`wfc.specs.limits` (the message names the path of each
                problem in it).
            UnknownRunError: no run has ``run_id``.
            RunStateError: the run already finished.
            UnexpectedEventError: by ``run_id``, the run's workflow never
                waits for ``name`` (no wait and no interrupt handler in any
                thread); it lists the names it does wait for.
        """
        check_event_args(name, payload, run_id, correlation, event_id)
        if event_id is not None:
            # An empty id must not become a random one: a repeat would then
            # be delivered again. It is stored and shown like a run id.
            check_name(event_id, "event_id")
        command = SendEvent(
            name=name,
            payload=payload,
            run_id=run_id,
            correlation=None if correlation is None else str(correlation),
            event_id=uuid.uuid4().hex if event_id is None else event_id,
        )
        result: SentEvent = await self._loop.call(command)
        return result


def _check_field_types(spec: WorkflowSpec) -> None:
    """Refuse a spec whose fields are not of their declared types.

    A ``WorkflowSpec`` is checked field by field only when decoded (by
    :func:`~wfc.specs.loads` or the compiler); one changed since with
    ``msgspec.structs.replace`` (``version=5``, ``variables=None``) would
    make :func:`~wfc.specs.validate` fail on an attribute, or be stored in a
    form no engine reads back. Its builtins are decoded again, as
    :func:`~wfc.specs.loads` would decode its JSON, for the path of the
    first bad field. Deploying is rare, so the round trip costs nothing
    that matters.

    Raises:
        SpecError: naming the field and what it should hold.
    """
    try:
        raw = msgspec.to_builtins(spec)
    except TypeError as exc:  # a field holds an object msgspec cannot encode at all
        raise SpecError(f"the spec is not a valid WorkflowSpec: {exc}") from None
    try:
        from_builtins(raw)
    except SpecError as exc:
        problem = f"the spec is not a valid WorkflowSpec (a field replaced with a value of another type?): {exc.reason}"
        raise SpecError(problem, exc.path) from None


@asynccontextmanager
async def _in_background(work: Callable[[anyio.Event], Coroutine[Any, Any, None]] | None) -> AsyncIterator[None]:
    """Run ``work(closed)`` in the background while the block runs (nothing
    when there is no work); ``closed`` is set when the block ends. An error
    of the block reaches the caller as itself, not in an exception group."""
    if work is None:
        yield
        return
    closed = anyio.Event()
    body_error: Exception | None = None
    async with anyio.create_task_group() as tg:
        tg.start_soon(work, closed)
        try:
            yield
        except Exception as exc:
            body_error = exc
        finally:
            closed.set()
            tg.cancel_scope.cancel()
    if body_error is not None:
        raise body_error
