"""One turn of the engine's commit loop: many commands, one transaction.

The loop drains every queued command, applies them all inside one ``BEGIN
IMMEDIATE ... COMMIT`` (task results of many runs, starts, events, timers), and
only after the commit acts on the effects: starts task attempts, wakes timers,
answers callers. Nothing acts on a transition before it is durable.
"""

from __future__ import annotations

import logging
import sqlite3
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

import msgspec

from wfc.runtime._commands import Barrier, Command, Deploy, Migrate, Reply, RunInput, SendEvent, StartRun
from wfc.runtime._dispatches import outbox_row
from wfc.runtime._inputs import (
    check_event,
    check_operator,
    check_same_inputs,
    input_digests,
    start_variables,
    user_task_error,
)
from wfc.runtime._records import SentEvent, Started
from wfc.runtime._run_rows import run_write, stored_state
from wfc.runtime._search import search_values
from wfc.runtime._spec_cache import CachedSpec, SpecCache
from wfc.runtime._tasks import storable_text
from wfc.runtime._user_tasks import task_row
from wfc.runtime.errors import (
    DeployConflictError,
    RunIdConflictError,
    StaleRunError,
    UnknownRunError,
    UnknownUserTaskError,
    UsageError,
)
from wfc.runtime.interpreter import (
    DEFAULT_LIMITS,
    AbandonTask,
    Cancel,
    CancelTimer,
    DispatchTask,
    EventArrived,
    Halt,
    Input,
    Limits,
    Redeliver,
    Resume,
    Retry,
    RunFinished,
    SetTimer,
    TaskCompleted,
    TaskFailed,
    TaskPolicy,
    TimerFired,
    Transition,
    UnwatchEvent,
    UserTaskChanged,
    UserTaskInput,
    WatchEvent,
    begin,
    crash,
    step,
    user_task_refusal,
)
from wfc.runtime.interpreter.state import RunState, RunStatus, TaskWait, encode_state
from wfc.runtime.store import JournalRecord, SpecRecord, StoreTransaction, TimerRecord
from wfc.specs import WfcError, WorkflowSpec

log = logging.getLogger("wfc.runtime")
_JSON = msgspec.json.Encoder()

RUN_SET_ASIDE = "RUN_SET_ASIDE"
"""Failure name of a run whose transition could not be committed (see
:meth:`Turn.set_aside`)."""

# SQLSTATE classes of what PostgreSQL refuses for the data itself: 22 data
# exception (NUL in text, bad encoding, numbers out of range), 23 integrity
# constraint violation (a CHECK, NOT NULL or trigger). Environment trouble
# (disk full 53, I/O 58, connections 08) is not the run's fault.
_REFUSED_SQLSTATE_CLASSES = ("22", "23")


def refused_data(error: BaseException) -> bool:
    """True when a commit failed because of what it was writing (an
    encoding error, a value the database refuses), so that committing the
    same transition again fails the same way; false for the environment
    (busy, full or unreachable database) and for wfc's own errors."""
    if isinstance(error, WfcError):
        return False
    if isinstance(error, ValueError | TypeError | OverflowError | RecursionError | msgspec.EncodeError):
        return True  # encoding (also asyncpg's DataError for a bad argument, a ValueError)
    if isinstance(error, sqlite3.IntegrityError | sqlite3.DataError):
        return True
    sqlstate = getattr(error, "sqlstate", None)
    return isinstance(sqlstate, str) and sqlstate[:2] in _REFUSED_SQLSTATE_CLASSES


def set_aside_reason(what: str, error: BaseException) -> str:
    """The journal's explanation for a run set aside because committing
    ``what`` (an input's type name) failed with ``error``."""
    try:
        detail = f"{type(error).__name__}: {error}"
    except Exception:
        detail = type(error).__name__
    return storable_text(
        f"the engine could not commit this run's next step ({what}): {detail}; the run was set aside so the "
        f"other runs go on. Fix what that step writes (the output of the failed node's task, an event payload, "
        f"or the database constraint that refuses it) and start a new run; if the error above names none of "
        f"these, it is a bug in wfc: please report it",
        1000,
    )


@dataclass
class Live:
    """A run's state as of its last committed version."""

    state: RunState
    cached: CachedSpec
    """The run's spec version, from the engine's spec cache."""
    version: int | None
    """Stored version; ``None`` for a run created in this turn."""
    apart: bool = False
    """The stored threads are the thread runs of :attr:`state`, each in its
    own row: the next write sends only those that changed (see :mod:`._run_rows`)."""

    @property
    def spec(self) -> WorkflowSpec:
        """The spec the run is on."""
        return self.cached.spec


@dataclass
class Shared:
    """What turns share with the engine across turns."""

    engine_id: str
    tasks: frozenset[str]
    """Tasks this engine runs itself."""
    policies: Mapping[str, TaskPolicy]
    lease: float
    serve: bool
    specs: SpecCache
    max_cached: int = 10_000
    slots: Callable[[], int | None] | None = None
    """Free task slots of this engine; ``None`` (or a function returning it):
    no limit. A dispatch beyond them stays in the outbox for any worker."""
    overflowed: bool = False
    """Set when a dispatch was left in the outbox for lack of a slot."""
    runs: OrderedDict[str, Live] = field(default_factory=OrderedDict)
    limits: Limits = DEFAULT_LIMITS
    """Limits the interpreter applies to every run (the fan-out cap)."""
    keep_waiting: bool = False
    """Keep every unfinished run in memory, a run that only sleeps or
    waits too (``Engine.open(cache_waiting_runs=True)``, what
    :mod:`wfc.testing` opens): its next step does not read and decode it
    again."""

    def remember(self, run_id: str, live: Live) -> None:
        """Keep a run's state in memory while it has a task in flight (the hot
        path); a run that only sleeps or waits for an event costs no memory,
        unless :attr:`keep_waiting`."""
        state = live.state
        keep = not state.status.finished and (
            self.keep_waiting
            or any(isinstance(t.wait, TaskWait) for t in state.threads.values())
            or (state.saga is not None and (bool(state.saga.draining) or isinstance(state.saga.wait, TaskWait)))
        )
        self.runs.pop(run_id, None)
        if keep:
            self.runs[run_id] = live
            while len(self.runs) > self.max_cached:
                self.runs.popitem(last=False)

    def forget(self, run_ids: Iterable[str]) -> None:
        """Drop cached states (after a failed commit)."""
        for run_id in run_ids:
            self.runs.pop(run_id, None)


@dataclass
class Outcome:
    """What to do once the turn committed."""

    start: dict[str, DispatchTask] = field(default_factory=dict)
    abandon: set[str] = field(default_factory=set)
    replies: list[tuple[Reply, object]] = field(default_factory=list)
    touched: set[str] = field(default_factory=set)
    timers_changed: bool = False
    fired: set[tuple[str, int]] = field(default_factory=set)
    finished: dict[str, tuple[bytes, CachedSpec]] = field(default_factory=dict)
    """Runs this turn finished: their stored state as written, and their spec."""
    deployed: set[str] = field(default_factory=set)
    """Workflows this turn deployed a version of (or found it deployed)."""


class Turn:
    """Applies commands inside one store transaction."""

    def __init__(self, shared: Shared, tx: StoreTransaction, now: float) -> None:
        self.shared = shared
        self.tx = tx
        self.now = now
        self.lives: dict[str, Live] = {}
        self.outcome = Outcome()
        self._slots = shared.slots() if shared.slots is not None else None
        self._unverified: set[str] = set()
        """Runs taken from the cache without reading their version."""
        self._taken: dict[tuple[str, int], bool] = {}
        """Timers :meth:`take_timers` deleted (true) or found gone (false)."""

    # ---------------------------------------------------------------- loading

    async def prefetch(self, commands: list[Command]) -> None:
        """Load every run the commands name.

        Where other processes write too (PostgreSQL), in two queries:
        versions (locking the rows), then the states not cached at that
        version. Where one process writes (SQLite), a run cached in memory is
        taken as it is, without a trip to the database: the version check of
        its write at commit, or :meth:`verify` for a run the turn used
        without writing it, finds it stale if another process changed it
        meanwhile, and the turn is tried again on fresh state."""
        ids = {c.run_id for c in commands if isinstance(c, RunInput) or (isinstance(c, StartRun) and not c.new_id)}
        ids |= {c.run_id for c in commands if isinstance(c, SendEvent) and c.run_id is not None}
        ids |= {c.run_id for c in commands if isinstance(c, Migrate)}
        if not ids:
            return
        cache = self.shared.runs
        if not self.tx.shared:
            missing = []
            for run_id in ids:
                cached = cache.get(run_id)
                if cached is not None:
                    self.lives[run_id] = cached
                    self._unverified.add(run_id)
                else:
                    missing.append(run_id)
            if missing:
                await self._load(missing)
            return
        versions = await self.tx.run_versions(ids)
        missing = []
        for run_id, found in versions.items():
            cached = cache.get(run_id)
            if cached is not None and cached.version == found.version:
                self.lives[run_id] = cached
            else:
                missing.append(run_id)
        if missing:
            await self._load(missing)

    async def take_timers(self, commands: list[Command]) -> None:
        """Delete the timers the commands fire, in one trip to the database
        (after :meth:`prefetch` locked their runs, as deleting one by one
        did): each firing goes on only if its timer was still there, in the
        transaction that commits what it caused."""
        keys = [
            (c.run_id, c.input.timer) for c in commands if isinstance(c, RunInput) and isinstance(c.input, TimerFired)
        ]
        if keys:
            taken = await self.tx.take_timers(keys)
            self._taken = {key: key in taken for key in keys}

    async def verify(self, run_ids: Iterable[str] | None = None) -> None:
        """Check that the cached runs this turn took unread (see
        :meth:`prefetch`) are still at their version, those given or (by
        default) all that it does not write (a write checks its own).

        Raises:
            StaleRunError: one changed in another process.
        """
        if run_ids is None:
            run_ids = self._unverified - self.tx.batch.runs.keys()
        ids = [run_id for run_id in run_ids if run_id in self._unverified]
        if not ids:
            return
        versions = await self.tx.run_versions(ids)
        stale = [
            run_id for run_id in ids if run_id not in versions or versions[run_id].version != self.lives[run_id].version
        ]
        if stale:
            raise StaleRunError(sorted(stale))
        self._unverified.difference_update(ids)

    async def _load(self, run_ids: list[str]) -> None:
        for run_id, record in (await self.tx.load_runs(run_ids)).items():
            cached = await self.shared.specs.load(self.tx, (record.workflow, record.major, record.revision), run_id)
            state = stored_state(self.tx.location, record)
            self.lives[run_id] = Live(state, cached, record.version, record.threads_apart)

    async def live(self, run_id: str) -> Live | None:
        if run_id not in self.lives:
            await self._load([run_id])
        return self.lives.get(run_id)

    # ---------------------------------------------------------------- commands

    async def handle(self, command: Command) -> None:
        try:
            match command:
                case RunInput():
                    await self.run_input(command)
                case StartRun():
                    await self.start(command)
                case SendEvent():
                    await self.send(command)
                case Deploy():
                    await self.deploy(command)
                case Migrate():
                    await self.migrate(command)
                case Barrier(reply=reply):
                    self.outcome.replies.append((reply, None))
        except WfcError as exc:
            run_id = getattr(command, "run_id", None)
            if run_id is not None and run_id in self._unverified:
                # Refused on the cached state: only if it is still current.
                await self.verify([run_id])
            if command.reply is None:
                log.warning("dropped %s: %s", type(command).__name__, exc)
            else:
                command.reply.fail(exc)

    async def run_input(self, command: RunInput) -> None:
        event = command.input
        if isinstance(event, TimerFired):
            key = (command.run_id, event.timer)
            self.outcome.fired.add(key)
            taken = self._taken.pop(key, None)  # None: not taken by take_timers (or asked for twice)
            if not (await self.tx.take_timer(*key) if taken is None else taken):
                return  # fired already (by another engine) or cancelled
        if isinstance(event, TaskCompleted | TaskFailed):
            self.tx.batch.drop_task(event.dispatch_id)
        live = await self.live(command.run_id)
        if live is None:
            if command.reply is not None:
                command.reply.fail(
                    UnknownUserTaskError(event.task_id)
                    if isinstance(event, UserTaskInput)
                    else UnknownRunError(command.run_id)
                )
            return
        if isinstance(event, Cancel | Halt | Resume | Retry):
            check_operator(live.state, live.spec, event)
        if isinstance(event, UserTaskInput):
            await self.check_user_task(live, event)
        transition = await self.apply(command.run_id, live, event)
        if isinstance(event, Redeliver) and not any(
            isinstance(e, DispatchTask) and e.dispatch_id == event.dispatch_id for e in transition.effects
        ):
            self.tx.batch.drop_task(event.dispatch_id)  # nobody waits for that attempt any more
        if command.reply is not None:
            # A user task input is answered with the task's row as this
            # commit writes it (None: the input changed nothing).
            answer: object = command.run_id
            if isinstance(event, UserTaskInput):
                answer = self.tx.batch.user_tasks.get(event.task_id)
            self.outcome.replies.append((command.reply, answer))

    async def check_user_task(self, live: Live, event: UserTaskInput) -> None:
        """Refuse a user task input the run's state does not allow, with the
        interpreter's reason (see :func:`~wfc.runtime._inputs.user_task_error`):
        nothing is applied, so a refused completion leaves the task open.

        Raises:
            UnknownUserTaskError, UserTaskStateError, UserTaskValuesError.
        """
        refused = user_task_refusal(live.state, live.spec, event)
        if refused is None:
            return
        # The run no longer holds a closed task: its stored row tells a
        # conflict (completed or cancelled meanwhile) from an unknown id.
        stored = await self.tx.get_user_task(event.task_id) if refused.kind == "unknown" else None
        raise user_task_error(live.state, event, refused, stored)

    async def start(self, command: StartRun) -> None:
        existing = None if command.new_id else await self.live(command.run_id)
        if existing is not None:
            # Idempotent only when it is the same start: the same workflow, and
            # the same inputs once the run's own spec filled in the defaults.
            if existing.state.workflow != command.spec.spec.name:
                raise RunIdConflictError(command.run_id, existing.state.workflow, command.spec.spec.name)
            # The caller checked the inputs against the spec it read; a run
            # started meanwhile on another version is compared on its own.
            variables = (
                command.variables
                if existing.cached is command.spec
                else start_variables(existing.spec, command.inputs)
            )
            check_same_inputs(existing.state, existing.cached.info.masked, variables)
            self.outcome.replies.append((command.reply, Started(command.run_id, created=False)))
            return
        transition = begin(
            command.spec.spec,
            command.run_id,
            command.inputs,
            self.now,
            self.shared.policies,
            self.shared.limits,
            info=command.spec.info,
        )
        # Digests of the inputs as given plus defaults, not of the variables
        # now: the first transition may already have changed those.
        transition.state.input_digests = input_digests(command.run_id, command.variables)
        live = Live(transition.state, command.spec, None)
        self.lives[command.run_id] = live
        await self.record(command.run_id, live, transition)
        self.tx.batch.runs[command.run_id].trace = command.trace
        # Decided in the transaction that inserts the run: when a concurrent
        # start (another process) commits the same id first, this insert
        # fails, the turn is tried again, and this start finds the run.
        self.outcome.replies.append((command.reply, Started(command.run_id, created=True)))

    async def send(self, command: SendEvent) -> None:
        previous = await self.tx.find_event(command.event_id)
        if previous is not None:
            self.outcome.replies.append((command.reply, SentEvent(command.event_id, previous.run_id, True)))
            return
        payload = _JSON.encode(command.payload)
        run_id = command.run_id
        if run_id is not None:
            live = await self.live(run_id)
            if live is None:
                raise UnknownRunError(run_id)
            check_event(live.state, live.cached, command.name)
        elif command.correlation is not None:
            waiter = await self.tx.find_waiter(command.name, command.correlation)
            run_id = waiter[0] if waiter is not None else None
        else:
            raise UsageError("send_event needs run_id= or correlation= to know which run the event is for")
        await self.tx.insert_event(command.event_id, command.name, command.correlation, payload, run_id, self.now)
        if run_id is not None:
            arrived = EventArrived(
                event_id=command.event_id,
                name=command.name,
                payload=msgspec.json.decode(payload),
                correlation=command.correlation,
            )
            live = await self.live(run_id)
            if live is not None:
                await self.apply(run_id, live, arrived)
        self.outcome.replies.append((command.reply, SentEvent(command.event_id, run_id, False)))

    async def deploy(self, command: Deploy) -> None:
        spec = command.spec
        existing = await self.tx.get_spec(spec.name, spec.version.major, spec.version.revision)
        if existing is not None:
            if existing.hash != command.hash:
                raise DeployConflictError(spec.name, str(spec.version))
            # Deployed elsewhere, maybe just now: a start after this call
            # returned must see it, told yet or not.
            self.outcome.deployed.add(spec.name)
            self.outcome.replies.append((command.reply, False))
            return
        await self.tx.insert_spec(
            SpecRecord(
                name=spec.name,
                major=spec.version.major,
                revision=spec.version.revision,
                hash=command.hash,
                body=command.body,
                deployed_at=self.now,
            )
        )
        self.tx.batch.deployed.add(spec.name)
        self.outcome.deployed.add(spec.name)
        self.outcome.replies.append((command.reply, True))

    async def migrate(self, command: Migrate) -> None:
        """Move a run as a migration plan orders, or say why not (see
        :mod:`wfc.runtime.migration_apply`)."""
        from wfc.runtime.migration_apply import decide, standing

        order = command.order
        live = await self.live(command.run_id)
        outcome = standing(command.run_id, live.state if live is not None else None, order)
        if outcome is None and live is not None:
            outcome, transition, moves = decide(command.run_id, live.state, order, self.now)
            if transition is not None:
                await self.switch(command.run_id, live, order.target if moves else None, transition)
        self.outcome.replies.append((command.reply, outcome))

    async def migrate_pending(self, run_id: str, live: Live) -> None:
        """After a step of a run that waits to move to another version: move
        it in this commit once it can (see :func:`~wfc.runtime.migration_apply.pending_step`)."""
        from wfc.runtime.migration_apply import pending_step

        pending = live.state.migration
        assert pending is not None
        key = (live.state.workflow, pending.to.major, pending.to.revision)
        target = await self.shared.specs.load(self.tx, key, run_id)
        transition, moves = pending_step(live.state, live.spec, target, self.now)
        if transition is not None:
            await self.switch(run_id, live, target if moves else None, transition)

    async def switch(self, run_id: str, live: Live, target: CachedSpec | None, transition: Transition) -> None:
        """Commit a migration's transition; ``target``: the spec version it
        puts the run on (``None``: it stays where it is). The run's search
        rows are written again for the new version's searchable variables."""
        if target is None:
            await self.record(run_id, live, transition)
            return
        before = live.cached.searchable
        live.cached = target
        await self.record(run_id, live, transition)
        self.tx.batch.runs[run_id].migrated = True
        if before or target.searchable:
            search: dict[str, str | None] = dict.fromkeys((name for name, _ in before), None)
            search.update(search_values(live.state.variables, target.searchable))
            self.tx.batch.runs[run_id].search = search or None

    async def set_aside(self, run_id: str, reason: str) -> None:
        """Fail a run whose transition cannot be committed: from its last
        committed state, with ``RUN_SET_ASIDE`` and ``reason`` in its journal,
        its tasks abandoned and its timers and waits dropped (the interpreter's
        ``crash``, which runs no compensation). A finished or unknown run is
        left alone."""
        live = await self.live(run_id)
        if live is None or live.state.status.finished:
            return
        transition = crash(live.state, live.spec, reason, self.now, name=RUN_SET_ASIDE, info=live.cached.info)
        await self.record(run_id, live, transition)

    # ---------------------------------------------------------------- transitions

    async def apply(self, run_id: str, live: Live, event: Input) -> Transition:
        try:
            transition = step(
                live.state, live.spec, event, self.now, self.shared.policies, self.shared.limits, info=live.cached.info
            )
        except Exception as exc:  # a bug in the interpreter must not stop every other run
            log.exception("run %s: applying %s failed", run_id, type(event).__name__)
            transition = crash(live.state, live.spec, f"{type(exc).__name__}: {exc}", self.now, info=live.cached.info)
        await self.record(run_id, live, transition)
        if live.state.migration is not None and not live.state.status.finished:
            await self.migrate_pending(run_id, live)
        return transition

    async def record(self, run_id: str, live: Live, transition: Transition) -> None:
        """Queue the transition's writes and note its effects for after commit."""
        if not transition.journal and not transition.effects:
            return
        state = transition.state
        before, live.state = live.state, state
        batch = self.tx.batch
        batch.runs[run_id] = run_write(
            run_id, before, state, live.apart, live.version, batch.runs.get(run_id), live.cached.searchable
        )
        live.apart = True
        if state.status.finished:
            self.outcome.finished[run_id] = (encode_state(state), live.cached)
        else:
            self.outcome.finished.pop(run_id, None)
        batch.journal.extend(
            JournalRecord(
                run_id=run_id,
                seq=entry.seq,
                at=entry.at,
                thread=entry.thread,
                node=entry.node,
                kind=entry.kind,
                attempt=entry.attempt,
                detail=_JSON.encode(entry.detail),
            )
            for entry in transition.journal
        )
        self.outcome.touched.add(run_id)
        follow_ups: list[Input] = []
        for effect in transition.effects:
            match effect:
                case DispatchTask():
                    local = self.shared.serve and effect.task in self.shared.tasks and self._take_slot()
                    owner, until = (self.shared.engine_id, self.now + self.shared.lease) if local else (None, None)
                    batch.put_task(outbox_row(effect, self.now, owner, until))
                    self.outcome.abandon.discard(effect.dispatch_id)
                    if local:
                        self.outcome.start[effect.dispatch_id] = effect
                case AbandonTask(dispatch_id=dispatch_id):
                    batch.drop_task(dispatch_id)
                    self.outcome.start.pop(dispatch_id, None)
                    self.outcome.abandon.add(dispatch_id)
                case SetTimer(timer=timer, due=due):
                    batch.put_timer(TimerRecord(run_id=run_id, timer=timer, due_at=due))
                    self.outcome.timers_changed = True
                case CancelTimer(timer=timer):
                    batch.drop_timer(run_id, timer)
                case WatchEvent(thread=thread, event=name, correlation=correlation):
                    await self.tx.put_wait(run_id, thread, name, correlation, self.now)
                    claimed = await self.tx.claim_event(name, correlation, run_id, self.now)
                    if claimed is not None:
                        follow_ups.append(
                            EventArrived(
                                event_id=claimed.event_id,
                                name=claimed.name,
                                payload=msgspec.json.decode(claimed.payload),
                                correlation=claimed.correlation,
                            )
                        )
                case UnwatchEvent(thread=thread):
                    await self.tx.drop_waits(run_id, thread)
                case RunFinished():
                    await self.tx.drop_waits(run_id)
                case UserTaskChanged():
                    batch.user_tasks[effect.id] = task_row(run_id, state, effect)
        # Applied only after every effect of this transition, so a follow-up's
        # effects (cancel the wait's timer ...) come after the ones they undo.
        for follow_up in follow_ups:
            await self.apply(run_id, live, follow_up)

    def _take_slot(self) -> bool:
        if self._slots is None:
            return True
        if self._slots > 0:
            self._slots -= 1
            return True
        self.shared.overflowed = True
        return False

    def committed(self) -> Outcome:
        """Update the shared cache after a successful commit."""
        for run_id, live in self.lives.items():
            if run_id in self.outcome.touched:
                live.version = 1 if live.version is None else live.version + 1
            if live.version is not None:
                self.shared.remember(run_id, live)
        return self.outcome


def finished(status: str) -> bool:
    """True for a terminal run status string."""
    return RunStatus(status).finished
