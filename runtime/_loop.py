"""The engine's machinery: the commit loop and background work.

:class:`CommitLoop` is what :class:`~wfc.runtime.Engine` holds and talks to,
through a few methods: :meth:`~CommitLoop.running` (the background work, for
the engine's ``async with``), :meth:`~CommitLoop.call` (queue a command, await
its commit), :meth:`~CommitLoop.following` (be woken by the commits of a run)
and the worker controls (:meth:`~CommitLoop.drain`, ...).

Every state change goes through one commit loop. Callers and task workers
queue commands; each loop turn drains the queue, applies all of it in one
store transaction (see :mod:`wfc.runtime._turn`), commits, and only then acts:
starts task attempts, wakes timers, answers callers.

Background work (in the engine's anyio task group): the commit loop; with
``serve=True`` also the timer loop (fires due durable timers, including those
that came due while no engine ran) and the poll loop (heartbeat, and claims
task attempts nobody holds a lease on: those of a crashed process, or
dispatched by a process that does not run that task).

On a store shared by many processes (PostgreSQL) an engine takes only as many
attempts as it has room for (``max_concurrent_tasks``): a dispatch beyond that
stays in the outbox for any worker, and a claim asks for the free slots only.
A claimed attempt that no process ever started runs at once; one that a dead
or stopped process held is delivered again through its run (``TASK_CLAIMED``).
The store's wakeups (``LISTEN/NOTIFY``) end the loops' sleeps early, so work
left by another process starts without waiting for the poll interval.
"""

from __future__ import annotations

import asyncio
import functools
import gc
import logging
import math
import os
import re
import socket
import time
import uuid
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from typing import Any, Final

import anyio
import anyio.abc

from wfc.runtime._attempts import Attempts, TaskCounters
from wfc.runtime._commands import Barrier, Command, Deploy, Migrate, RunInput, SendEvent, StartRun
from wfc.runtime._dispatches import dispatch_of
from wfc.runtime._observe import Commit, Observer, Observers
from wfc.runtime._spec_cache import CachedSpec, SpecCache
from wfc.runtime._tasks import TaskDefinition, deadline_of
from wfc.runtime._tuning import process_tuning
from wfc.runtime._turn import Outcome, Shared, Turn, refused_data, set_aside_reason
from wfc.runtime.errors import StaleRunError, UsageError
from wfc.runtime.interpreter import DispatchTask, Limits, Redeliver, TimerFired
from wfc.runtime.interpreter.state import TERMINAL_STATUSES
from wfc.runtime.store import JournalRecord, Store, Wakeup
from wfc.specs import WfcError

log = logging.getLogger("wfc.runtime")

#: The first claim of a burst asks for this many attempts, each full batch
#: that comes back :data:`CLAIM_GROWTH` times as many, up to
#: :data:`CLAIM_MOST`; an empty claim starts over. After a restart the first
#: runs resume after a short turn instead of one over hundreds of runs, and
#: the rest are claimed in two large batches (64, 256, 1024: measured against
#: 32 doubling and a flat 256, it resumed first and finished first).
CLAIM_FIRST = 64
CLAIM_GROWTH = 4
CLAIM_MOST = 1024
#: Where commits are pipelined, a queue at least twice this long with
#: nothing in flight is taken in two turns: the second is computed while the
#: first commits, and the two halves of a crowd of runs that move in step go
#: on taking turns.
SPLIT_FROM: Final = 64
#: Seconds before the same trouble of the database, met by the same work, is
#: logged again as a warning (see :meth:`CommitLoop._log_store_failure`).
SAY_AGAIN_AFTER: Final = 60.0


class Follow:
    """What the commit loop tells the readers of one run.

    Take an event before reading the run, so a commit in between still
    wakes the reader. Events are made only when someone waits for them.
    """

    def __init__(self) -> None:
        self._changed: asyncio.Event | None = None
        self._settled: asyncio.Event | None = None
        self.final: tuple[bytes, CachedSpec] | None = None
        """When this engine's last commit of the run finished it: the state
        as stored, and its spec."""
        self.readers = 0

    def changed(self) -> asyncio.Event:
        """Set by the next change of the run (for journal readers)."""
        if self._changed is None:
            self._changed = asyncio.Event()
        return self._changed

    def settled(self) -> asyncio.Event:
        """Set by the next commit that finishes the run, this engine's or
        another process's (told by its notice, or seen by the look at
        awaited runs once per poll interval): a step that leaves the run
        running wakes nobody who waits for its end."""
        if self._settled is None:
            self._settled = asyncio.Event()
        return self._settled

    @property
    def awaited(self) -> bool:
        """True while someone waits for the run's end (see :meth:`settled`)."""
        return self._settled is not None

    def notify(self, final: tuple[bytes, CachedSpec] | None, *, ended: bool) -> None:
        """A commit changed the run (``ended`` false; ``final``: what this
        engine's commit left, if it finished the run), or the run is known
        to have ended (``ended``: another process's notice or the look at
        awaited runs, which leave :attr:`final` as the last commit here set it)."""
        if not ended:
            self.final = final
        if self._changed is not None:
            self._changed.set()
            self._changed = None
        if (ended or final is not None) and self._settled is not None:
            self._settled.set()
            self._settled = None


class _Beside(Exception):
    """A turn computed beside one whose commit went apart touched a run
    that one writes: it is done again once that one landed."""


def _run_of(command: Command) -> str | None:
    """The run a command is for; ``None`` when it names none."""
    if isinstance(command, (RunInput, StartRun, SendEvent, Migrate)):
        return command.run_id
    return None


def _all_told(commands: Iterable[Command]) -> bool:
    """Whether every command has a caller waiting for its reply, who is
    told of a failure (an engine's own inputs, task results and timers,
    have none)."""
    return all(command.reply is not None for command in commands)


@dataclass
class _Flight:
    """A turn whose commit was queued, not awaited (see :meth:`CommitLoop._launch`)."""

    commands: list[Command]
    turn: Turn | None
    began: float
    error: Exception | None = None
    """Why the turn failed before its commit was queued."""
    reserved: int = 0
    """Task slots its attempts take once it lands (see :meth:`CommitLoop._free_slots`)."""

    @functools.cached_property
    def runs(self) -> set[str]:
        """The runs it may write: those of its commands and those its turn touched."""
        runs = {run_id for command in self.commands if (run_id := _run_of(command)) is not None}
        if self.turn is not None:
            runs.update(self.turn.lives)
        return runs


@dataclass
class _UncertainTurn:
    """A failed turn whose commit may have gone through after all."""

    failed_at: float
    """When it failed (``anyio.current_time()``)."""
    firsts: dict[str, JournalRecord]
    """Its first journal entry of each run: stored if it went through."""
    attempts: dict[str, DispatchTask]
    """The attempts it would start, by dispatch id."""
    committed: set[str] | None = None
    """The runs it wrote, once looked at."""


@dataclass(eq=False)
class _Uncertain:
    """Failed turns that may have gone through after all, watched together
    because they would start the same attempts (see
    :meth:`CommitLoop._watch_uncertain`)."""

    turns: list[_UncertainTurn] = field(default_factory=list)
    """The turns not looked at yet."""
    attempts: set[str] = field(default_factory=set)
    """The dispatch ids of every turn that joined."""

    def add(self, turn: Turn) -> None:
        """Watch ``turn`` too."""
        firsts = {entry.run_id: entry for entry in reversed(turn.tx.batch.journal)}
        self.turns.append(_UncertainTurn(anyio.current_time(), firsts, dict(turn.outcome.start)))
        self.attempts.update(turn.outcome.start)


class CommitLoop:
    """The commit loop and background work of one engine."""

    def __init__(
        self,
        store: Store,
        specs: SpecCache,
        tasks: Mapping[str, TaskDefinition],
        *,
        serve: bool,
        lease_seconds: float,
        poll_interval: float,
        max_batch: int,
        max_concurrent_tasks: int,
        limits: Limits,
        clock: Callable[[], float],
        observers: Observers | None = None,
        keep_waiting: bool = False,
    ) -> None:
        self._store = store
        self._observers = observers or Observers(())
        self._definitions = tasks
        self._serve = serve
        self._lease = lease_seconds
        self._poll = poll_interval
        self._max_batch = max_batch
        self._clock = clock
        self.engine_id = uuid.uuid4().hex
        """This engine's id, recorded as the lease owner of its task attempts."""
        self._shared = Shared(
            engine_id=self.engine_id,
            tasks=frozenset(tasks),
            policies={name: d.policy for name, d in tasks.items()},
            lease=lease_seconds,
            serve=serve,
            specs=specs,
            limits=limits,
            keep_waiting=keep_waiting,
        )
        self._queue: deque[Command] = deque()
        # Waited on and cleared once per turn: an asyncio event, not a new
        # anyio one each time (the engine runs on asyncio only).
        self._wake = asyncio.Event()
        self._timer_wake = anyio.Event()
        self._timers_inflight: set[tuple[str, int]] = set()
        self._attempts = Attempts(tasks, max_concurrent_tasks, self._submit, deadline_of(clock))
        self._follows: dict[str, Follow] = {}
        self._tell_ends: set[int] = set()
        """Senders of wakeups known to tell which runs ended (``"ended"``)."""
        self._look_soon: set[str] = set()
        """Awaited runs to look at before the poll interval is up (see :meth:`_watch_loop`)."""
        self._look_wake = anyio.Event()
        self._max_tasks = max_concurrent_tasks
        self._claim_wake = anyio.Event()
        self._claim_size = CLAIM_FIRST
        self._registered_at: float | None = None
        """When :meth:`running` registered this engine (its first heartbeat)."""
        self._draining = False
        self._drain_scope: anyio.CancelScope | None = None
        self._shared.slots = self._free_slots
        store.subscribe(self._on_wakeup)
        self._closed = False
        self._tg: anyio.abc.TaskGroup | None = None
        # Held by the timer and the poll loop while they use the store: closing
        # waits for a claim or heartbeat in flight before it releases this
        # engine, so none can take a lease (or register the engine) after that.
        self._timer_pass = anyio.Lock()
        self._poll_pass = anyio.Lock()
        self._uncertain: dict[str, _Uncertain] = {}
        """Attempts of failed turns, and the watch that looks for them (see :meth:`_watch_uncertain`)."""
        self._reserved = 0
        """Attempts of turns in flight, started when they land."""
        self._elsewhere: int | None = None
        """What :meth:`_written_elsewhere` read last."""
        self._followed: set[str] = set()
        """Runs that readers began to follow since the last look at awaited runs."""
        self._committing = False
        self._loops: list[anyio.CancelScope] = []
        """The cancel scopes of the engine's loops, which only closing cancels."""
        self._said: dict[tuple[str, str], float] = {}
        """When the database's trouble was last logged, by the work that met it and the trouble."""
        self._told_trouble = False
        """Set when the database's trouble was logged, until a commit goes through."""
        self.troubled = False
        """Set when work met the database's trouble (a full disk, an I/O
        error, a lost connection), cleared by the next commit or heartbeat
        that goes through: whether the database may not take writes now."""
        self.wrote_at = -math.inf
        """When (``time.monotonic()``) a heartbeat of this engine last went
        through: a write, which tells that the database took writes then."""

    @property
    def counters(self) -> TaskCounters:
        """What this engine did with task attempts since it opened."""
        return self._attempts.counters

    @property
    def queued(self) -> int:
        """Commands waiting for the next turn."""
        return len(self._queue)

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """Run the background work until the block exits, then close: the
        commands queued are committed, attempts still running are released.

        An error of the block is re-raised after the task group closed, so it
        reaches the caller as itself, not in an ``ExceptionGroup``."""
        if self._serve:  # a client runs nothing: it is not an engine that serves the database
            registered_at = self._clock()
            host, pid = socket.gethostname(), os.getpid()
            await self._store.register_engine(
                self.engine_id, host, pid, registered_at, self._lease, tasks=sorted(self._definitions)
            )
            self._registered_at = registered_at
        body_error: Exception | None = None
        async with anyio.create_task_group() as tg:
            self._tg = tg
            self._attempts.open()
            loops = [self._commit_loop, self._watch_loop]
            if self._serve:
                loops += [self._timer_loop, self._poll_loop]
            for loop in loops:
                tg.start_soon(self._until_closed, loop)
            # What exists now (modules, the store, this engine) lives as long
            # as the engine: the cyclic collector need not walk it every pass.
            gc.freeze()
            process_tuning.enter()
            try:
                yield
            except Exception as exc:
                body_error = exc
            except BaseException:
                # Cancelled (a server shutting down, a timeout around the
                # engine) or interrupted: what the store waits for, such as
                # another session's lock, is cut short, or closing would wait
                # for it first (up to the lock wait).
                self._store.interrupt()
                raise
            finally:
                process_tuning.exit()
                await self._shutdown()
        if body_error is not None:
            raise body_error

    async def _shutdown(self) -> None:
        self._closed = True
        with anyio.CancelScope(shield=True):
            # Attempts still running are abandoned here and claimed again by
            # the next engine, with the same idempotency key.
            self._attempts.close()
            await self._attempts.closed()
            await self._turns_taken()
            # A loop stuck in a database call (a half-open connection) must
            # not keep the engine from closing: its leases expire by themselves
            # (so waiting longer than a lease is pointless).
            with anyio.move_on_after(min(10.0, self._lease)) as waited:
                async with self._timer_pass, self._poll_pass:  # the loops see _closed after this
                    if self._serve:  # a client registered nothing and holds no leases
                        try:
                            await self._store.release_engine(self.engine_id)
                        except Exception as exc:  # the store may be what failed; closing must go on
                            self._release_failed(exc)
            if waited.cancelled_caught:
                log.warning(
                    "closed engine %s without releasing its leases: the database did not answer", self.engine_id
                )
        for scope in self._loops:
            scope.cancel()
        if self._tg is not None:
            self._tg.cancel_scope.cancel()

    async def _until_closed(self, loop: Callable[[], Awaitable[None]]) -> None:
        """Run one of the engine's loops until :meth:`_shutdown` ends it.

        Shielded from the cancellation of the engine's caller (a timeout or
        a task group around ``Engine.open``, a server shutting down): that
        cancels the block, and closing then still needs the commit loop to
        commit what is queued, answer the close's wait and give back the
        leases. Cancelled with the rest, it left the close waiting 10 s for
        an answer nobody would give."""
        with anyio.CancelScope(shield=True) as scope:
            self._loops.append(scope)
            await loop()

    def _release_failed(self, error: Exception) -> None:
        """Say that closing could not release this engine's leases: in one
        line when the database's trouble (a full disk) is why, which
        nothing is lost to (the leases run out by themselves); with the
        traceback otherwise."""
        reason = self._trouble(error)
        if reason is None:
            log.error("could not release task leases of engine %s", self.engine_id, exc_info=error)
            return
        log.warning(
            "could not release task leases of engine %s (%s); any attempts it held go to the next engine on the "
            "database once their lease (%g s) runs out",
            self.engine_id,
            reason,
            self._lease,
        )

    @asynccontextmanager
    async def following(self, run_id: str) -> AsyncIterator[Follow]:
        """While in the block, changes of ``run_id`` are told to the yielded
        :class:`Follow`."""
        follow = self._follows.get(run_id)
        if follow is None:
            follow = self._follows[run_id] = Follow()
        follow.readers += 1
        # Its reader may count on the next look at awaited runs for what
        # another process did before (a waiter on a run in flight here does
        # not read it first), however long ago that was: see _watch_loop.
        self._followed.add(run_id)
        try:
            yield follow
        finally:
            follow.readers -= 1
            if follow.readers <= 0:
                self._follows.pop(run_id, None)

    def in_flight(self, run_id: str) -> bool:
        """True when this engine's last commit of ``run_id`` left it running
        with a task in flight (or, with ``keep_waiting``, waiting on
        anything), and no other process is known to have changed it since
        (the turns' cache holds it)."""
        return run_id in self._shared.runs

    def _changed(self, run_id: str, final: tuple[bytes, CachedSpec] | None, *, ended: bool) -> None:
        """Wake the readers of ``run_id``: a commit changed it (``final``
        holds what this engine's commit left when it finished the run), or
        it is known to have ended (``ended``): see :meth:`Follow.notify`."""
        follow = self._follows.get(run_id)
        if follow is not None:
            follow.notify(final, ended=ended)

    def check_open(self) -> None:
        """Raise if the engine closed."""
        if self._closed:
            raise UsageError("the engine is closed; call it inside `async with Engine.open(url) as engine:`")

    def _submit(self, command: Command) -> None:
        self._queue.append(command)
        self._wake.set()

    async def call(self, command: StartRun | SendEvent | Deploy | RunInput | Migrate) -> Any:
        """Queue ``command`` and return its reply, once its turn committed."""
        self.check_open()
        reply = command.reply
        if reply is None:  # only internal inputs go without a reply, and not through here
            raise UsageError("internal error: a call needs a reply slot")
        self._submit(command)
        return await reply.get()

    # ------------------------------------------------------------------ commit loop

    async def _commit_loop(self) -> None:
        flight: _Flight | None = None
        while True:
            while not self._queue:
                if flight is not None:
                    await self._land(flight, None)
                    flight = None
                    self._committing = False
                    continue
                await self._wake.wait()
                self._wake.clear()
            commands = self._take(flight)
            self._committing = True
            try:
                if self._store.pipelining is None:
                    await self._commit(commands)
                elif not commands:  # each command waiting is for a run the turn in flight writes
                    assert flight is not None
                    await self._land(flight, None)
                    flight = None
                else:
                    launched: _Flight | None = await self._launch(commands, flight)
                    if flight is not None:
                        launched = await self._land(flight, launched)
                    flight = launched
            finally:
                self._committing = flight is not None

    def _take(self, flight: _Flight | None) -> list[Command]:
        """The commands of the next turn, from the head of the queue.

        Where commits are pipelined, a turn with nothing in flight takes
        half of a long queue (:data:`SPLIT_FROM`). Where they go apart, a
        turn computed beside one in flight takes only commands for runs
        that one does not write, up to the first command that is not (or
        names no run: an event sent by correlation, a deploy), so no run's
        commands change order."""
        queue = self._queue
        count = min(len(queue), self._max_batch)
        if flight is None:
            if count >= 2 * SPLIT_FROM and self._store.pipelining is not None:
                count = (count + 1) // 2
        elif self._store.pipelining == "apart":
            busy = flight.runs
            count = next((i for i in range(count) if (run_id := _run_of(queue[i])) is None or run_id in busy), count)
        return [queue.popleft() for _ in range(count)]

    async def _launch(self, commands: list[Command], beside: _Flight | None) -> _Flight:
        """Apply the commands in a pipelined transaction (see
        :meth:`~wfc.runtime.store.Store.transaction`): its commit is only
        started, and the loop computes the next turn meanwhile. The cache
        takes this turn's states at once, at the versions its commit writes,
        so the next turn need not read them.

        Where one process writes (SQLite), the commit is queued behind that
        of the turn before (``beside``): it fails if that one's does, and
        then both are done again as unpipelined turns (:meth:`_land`). Where
        the commits go apart (PostgreSQL), this turn must write none of the
        runs ``beside`` writes (:meth:`_take`); should it touch one after
        all, it is dropped before its commit and done again once ``beside``
        landed."""
        began = time.perf_counter() if self._observers else 0.0
        turn: Turn | None = None
        try:
            async with self._store.transaction(pipelined=self._more) as tx:
                turn = Turn(self._shared, tx, self._clock())
                await self._apply_all(turn, commands)
                if beside is not None and self._store.pipelining == "apart" and not beside.runs.isdisjoint(turn.lives):
                    raise _Beside()
        except Exception as exc:
            # Its cached states were changed in memory: the next turn must not take them.
            self._shared.forget(turn.lives if turn else ())
            return _Flight(commands, turn, began, exc)
        outcome = turn.committed()
        # A turn built while this one lands must not lease the same slots.
        self._reserved += len(outcome.start)
        return _Flight(commands, turn, began, reserved=len(outcome.start))

    def _more(self) -> bool:
        """True when commands wait: the next turn can be computed while the
        last one commits."""
        return bool(self._queue)

    async def _land(self, flight: _Flight, successor: _Flight | None) -> _Flight | None:
        """Wait for the commit of ``flight`` and act on it; ``successor``, the
        turn computed meanwhile, is returned to be landed next. If the commit
        failed, nothing of it acts, and nothing is done again before the
        successor's commit ended too (the cache holds its states): if it was
        queued behind the failed commit, it failed as well, and its commands
        are done again after those of the failed turn, the unpipelined way.
        Then ``None``: the successor was dealt with."""
        error = await self._settle(flight)
        if error is None:
            return successor
        self._shared.forget(flight.turn.lives if flight.turn else ())
        later: Exception | None = None
        if successor is not None:
            later = await self._settle(successor)
            if later is not None:
                self._shared.forget(successor.turn.lives if successor.turn else ())
        await self._redo(flight, error)
        if successor is not None and later is not None:
            if flight.error is None and self._store.pipelining == "queued":
                # Queued behind the failed commit, on its states: only done again.
                await self._commit(successor.commands)
            else:
                await self._redo(successor, later)
        return None

    async def _settle(self, flight: _Flight) -> Exception | None:
        """Wait for the commit of ``flight`` and act on it; its error if it failed."""
        error = flight.error
        turn = flight.turn
        if error is not None:
            if turn is not None:
                # A commit that began before the turn failed after all (a
                # store layer over the dialect failed the block once the
                # commit was under way) ends first: nothing is done again
                # while it may still land. Whether it did is left to the
                # lost-commit path, as for any commit whose outcome was not
                # seen (see _turn_failed).
                with suppress(Exception):
                    await turn.tx.committed()
            return error
        assert turn is not None
        try:
            await turn.tx.committed()
        except Exception as exc:
            self._unreserve(flight)
            return exc
        self._unreserve(flight)
        self._act(turn.outcome)
        self._observe(turn, flight.began, len(flight.commands))
        return None

    async def _redo(self, flight: _Flight, error: Exception) -> None:
        """Deal with the commands of a pipelined turn that failed with
        ``error`` as :meth:`_try_turn` and :meth:`_commit` do."""
        if isinstance(error, (StaleRunError, _Beside)):  # a run changed meanwhile: try again on fresh state
            await self._commit(flight.commands)
            return
        what = f"commit of {len(flight.commands)} command(s)"
        self._turn_failed(flight.turn, error, what, told=_all_told(flight.commands))
        await self._failed(flight.commands, error)

    async def _commit(self, commands: list[Command]) -> None:
        error = await self._try_commit(commands)
        if error is not None:
            await self._failed(commands, error)

    async def _failed(self, commands: list[Command], error: Exception) -> None:
        """Deal with commands whose turn failed with ``error``."""
        refused = refused_data(error)
        conflict = isinstance(error, StaleRunError)
        transient = not refused and (conflict or self._store.is_transient(error))
        if len(commands) > 1 and (conflict or not transient):
            # One bad command must not hold back the others: apply them one
            # transaction each, so only the culprit fails. So too after
            # conflicts with another process that outlasted the retries: each
            # command alone touches fewer rows, and retries on its own. (Any
            # other transient error is the database's, not a command's: each
            # would hit it again.)
            for command in commands:
                await self._commit([command])
            return
        failure = error if isinstance(error, WfcError) else self._store.commit_failed(error)
        for command in commands:
            if command.reply is not None:
                command.reply.fail(failure)
            elif isinstance(command, RunInput) and self._tg is not None and not self._closed:
                await self._input_failed(command, error, refused=refused, transient=transient)

    async def _input_failed(self, command: RunInput, error: Exception, *, refused: bool, transient: bool) -> None:
        """Deal with an engine's own input (task result, fired timer,
        redelivery) that failed to commit alone in its transaction."""
        event = command.input
        if isinstance(event, TimerFired):
            # The timer row is still there: the timer loop fires it again.
            self._timers_inflight.discard((command.run_id, event.timer))
        if refused:
            # Refused for what it writes: it would fail the same way for ever.
            await self._set_aside(command, error)
        elif transient:
            if not isinstance(event, TimerFired) and self._tg is not None:
                self._tg.start_soon(self._resubmit, command)
        elif not isinstance(event, TimerFired):
            # The outbox row of the attempt is still there; the next engine
            # to open the database delivers it again.
            log.error("dropped %s for run %s: %s", type(command.input).__name__, command.run_id, error)

    async def _set_aside(self, command: RunInput, error: Exception) -> None:
        """Fail the run of a command whose transition cannot be committed
        (bad data, an encoding error, a value the database refuses), in a
        transaction of its own: ``RUN_SET_ASIDE``, the reason in its journal.
        The run is then no longer retried for ever, and no longer blocks or
        fails the commits of the other runs."""
        reason = set_aside_reason(type(command.input).__name__, error)
        log.error("run %s: set aside: %s", command.run_id, reason)
        failed = await self._try_turn(lambda turn: turn.set_aside(command.run_id, reason), "setting a run aside")
        if failed is not None:
            # The outbox row or timer of the input is still there: the next
            # engine to open the database delivers it again.
            log.error(
                "run %s: could not be set aside either (%s); it waits for the next engine", command.run_id, failed
            )

    async def _try_commit(self, commands: list[Command]) -> Exception | None:
        """Apply the commands and commit; the error if that failed."""
        return await self._try_turn(
            lambda turn: self._apply_all(turn, commands),
            f"commit of {len(commands)} command(s)",
            len(commands),
            told=_all_told(commands),
        )

    @staticmethod
    async def _apply_all(turn: Turn, commands: list[Command]) -> None:
        await turn.prefetch(commands)
        await turn.take_timers(commands)
        for command in commands:
            await turn.handle(command)
        await turn.verify()

    async def _try_turn(
        self, act: Callable[[Turn], Awaitable[None]], what: str, size: int = 1, *, told: bool = False
    ) -> Exception | None:
        """Run ``act`` (``size`` commands) in one turn and commit; on a
        version conflict retry on fresh state. The error if it still failed,
        after the turn's cached states were dropped. ``told``: every
        command's caller gets the error (see :meth:`_turn_failed`)."""
        error: Exception | None = None
        for _ in range(3):
            turn: Turn | None = None
            began = time.perf_counter() if self._observers else 0.0
            try:
                async with self._store.transaction() as tx:
                    turn = Turn(self._shared, tx, self._clock())
                    await act(turn)
            except StaleRunError as exc:  # another process changed a run
                self._shared.forget(turn.lives if turn else ())
                error = exc
                continue
            except Exception as exc:
                self._turn_failed(turn, exc, what, told=told)
                self._shared.forget(turn.lives if turn else ())
                return exc
            self._after_commit(turn)
            self._observe(turn, began, size)
            return None
        return error

    def _turn_failed(self, turn: Turn | None, error: Exception, what: str, *, told: bool = False) -> None:
        """Say why a turn failed; watch its attempts if its commit may have
        gone through after all. ``told``: every command came from a caller
        that gets the error (``wfc runs cancel`` prints it), so the database's
        passing trouble is not said twice."""
        if self._store.is_transient(error) and not refused_data(error):
            # The database's trouble: no traceback; the engine's own inputs are tried again.
            self._log_store_failure(what, error, logging.DEBUG if told else logging.WARNING)
            if turn is not None and self._tg is not None:
                self._watch_uncertain(turn)
        elif isinstance(error, WfcError):
            # Said in full by its own message (a run stored by a newer wfc, a
            # refused value): a traceback would only bury it, so it is kept
            # for debug logs (where wfc's own bug might raise one).
            log.error("%s failed: %s", what, error)
            log.debug("%s failed", what, exc_info=error)
        else:
            log.error("%s failed", what, exc_info=error)

    def _observe(self, turn: Turn, began: float, size: int) -> None:
        if self._observers:
            duration = time.perf_counter() - began
            self._observers.committed(Commit(turn.tx.batch.journal, duration, size, turn.lives))

    def _watch_uncertain(self, turn: Turn) -> None:
        """Watch a failed turn whose commit may have gone through after all
        (a connection lost while committing hides that): its attempts'
        outbox rows, leased to this engine, would wait for nobody.

        One watch per attempt: while the database is down every resubmitted
        result fails again with the same attempts, and a watcher each would
        pile up. A turn with an attempt already watched joins that watch,
        which looks for every turn it holds: any of them may be the one that
        went through (the first may have failed for sure, and a later try
        committed with its reply lost)."""
        if not turn.outcome.start or self._tg is None:
            return
        watch = next((w for d in turn.outcome.start if (w := self._uncertain.get(d)) is not None), None)
        fresh = watch is None
        if watch is None:
            watch = _Uncertain()
        watch.add(turn)
        for dispatch_id in turn.outcome.start:
            self._uncertain.setdefault(dispatch_id, watch)
        if fresh:
            self._tg.start_soon(self._start_if_committed, watch)

    async def _start_if_committed(self, watch: _Uncertain) -> None:
        """Start the attempts of the turns of ``watch`` that went through,
        told by their first journal entry of each run, read back at least a
        poll interval after the turn failed (a commit whose connection
        dropped may land a moment later). A turn looked at leaves the watch,
        which ends once none is left: while commits keep failing, it holds
        only the turns of the last interval or so."""
        delay = self._poll
        try:
            while watch.turns and not self._closed:
                await anyio.sleep(delay)
                try:
                    await self._look_at_turns(watch)
                except Exception:  # still failing: look again later
                    delay = min(delay * 2, 10 * self._poll)  # a database that is down is not asked ever faster
                    continue
                looked = [turn for turn in watch.turns if turn.committed is not None]
                watch.turns = [turn for turn in watch.turns if turn.committed is None]
                for turn in looked:
                    for effect in turn.attempts.values():
                        if turn.committed and effect.run_id in turn.committed:
                            self._attempts.start(effect)
                if watch.turns:
                    delay = max(0.0, min(turn.failed_at for turn in watch.turns) + self._poll - anyio.current_time())
        finally:
            for dispatch_id in watch.attempts:
                if self._uncertain.get(dispatch_id) is watch:
                    del self._uncertain[dispatch_id]

    async def _look_at_turns(self, watch: _Uncertain) -> None:
        """Find which runs each turn of ``watch`` wrote, for those failed a
        poll interval ago or more and not looked at yet. Turns that join
        meanwhile are looked at too: the list is read to its end after the
        last read returned."""
        for turn in watch.turns:
            if turn.committed is None and anyio.current_time() - turn.failed_at >= self._poll:
                turn.committed = {run_id for run_id, entry in turn.firsts.items() if await self._stored(entry)}

    async def _stored(self, entry: JournalRecord) -> bool:
        """True when the journal holds ``entry`` as it was written."""
        found = await self._store.history(entry.run_id, entry.seq - 1, 1)
        return bool(found) and (found[0].seq, found[0].at, found[0].kind) == (entry.seq, entry.at, entry.kind)

    async def _resubmit(self, command: RunInput) -> None:
        # A task result must not be lost to a transient store error.
        await anyio.sleep(self._poll)
        self._submit(command)

    def observe(self, observer: Observer) -> None:
        """Tell ``observer`` about every commit from now on, like the
        observers the loop was made with."""
        self._observers.add(observer)

    def _after_commit(self, turn: Turn) -> None:
        self._act(turn.committed())

    def _act(self, outcome: Outcome) -> None:
        """Act on the effects of a committed turn."""
        self.troubled = False
        if self._told_trouble:
            # The database's trouble passed, at least for commits (see _log_store_failure).
            self._told_trouble = False
            log.info("committing to database %s works again", self._store.location)
        for dispatch_id in outcome.abandon:
            self._attempts.abandon(dispatch_id)
        for effect in outcome.start.values():
            self._attempts.start(effect)
        if self._shared.overflowed and (self._free_slots() or 0) > 0:
            # Work was left in the outbox while this engine was full, and the
            # follow-ups of this commit left room: look whether it is still there.
            self._shared.overflowed = False
            self._claim_wake.set()
        if outcome.fired or outcome.timers_changed:
            self._timers_inflight -= outcome.fired
            self._timer_wake.set()
        if outcome.deployed:  # before the reply: a start after deploy() returned must see the version
            self._shared.specs.forget_versions(outcome.deployed)
        for reply, value in outcome.replies:
            reply.set(value)
        if self._follows:
            for run_id in outcome.touched:
                self._changed(run_id, outcome.finished.get(run_id), ended=False)

    # ------------------------------------------------------------------ background work

    def _awaited(self, run_ids: Iterable[str]) -> list[str]:
        """Those of ``run_ids`` someone waits for the end of."""
        return [r for r in run_ids if (follow := self._follows.get(r)) is not None and follow.awaited]

    def _look_at(self, run_ids: Iterable[str]) -> None:
        """Have the watch loop look soon at those of ``run_ids`` someone awaits."""
        before = len(self._look_soon)
        self._look_soon.update(self._awaited(run_ids))
        if len(self._look_soon) > before:
            self._look_wake.set()

    async def _watch_loop(self) -> None:
        """Every poll interval, read the status of every run someone waits
        for, all in one query, and wake the waiters of those that finished
        or are gone: a run finished by another process that sends no
        wakeups (SQLite) is seen within the interval. One query per interval
        for all waiters, not one read of the whole run per waiter, which
        made the cost of an interval grow with the number of live runs;
        and none when no other process wrote since the last look (see
        :meth:`_written_elsewhere`). Runs named by :meth:`_look_at` are
        looked at as soon as asked, in one query for all asked meanwhile."""
        next_look = anyio.current_time() + self._poll
        while True:
            with anyio.move_on_after(max(0.0, next_look - anyio.current_time())):
                await self._look_wake.wait()
            self._look_wake = anyio.Event()
            asked: Iterable[str] = self._look_soon
            if anyio.current_time() >= next_look:
                next_look = anyio.current_time() + self._poll
                asked = await self._periodic_look()
            awaited = self._awaited(asked)
            self._look_soon = set()
            if not awaited or self._closed:
                continue
            try:
                statuses = await self._store.run_statuses(awaited)
            except Exception as exc:  # a busy or failing database must not stop the engine
                self._log_store_failure("looking at awaited runs", exc)
                self._elsewhere = None  # what was written elsewhere is still to be seen: look next time
                continue
            for run_id in awaited:
                status = statuses.get(run_id)
                if status is None or status in TERMINAL_STATUSES:  # str enum: its strings are members
                    self._changed(run_id, None, ended=True)

    async def _periodic_look(self) -> Iterable[str]:
        """The runs the look once per poll interval asks about: every run
        followed when another process may have written since the last look;
        else only those whose readers began since (what another process did
        before may be news to them), and those asked about meanwhile. With
        nobody waiting, nothing, and the database is not asked."""
        if not any(follow.awaited for follow in self._follows.values()):
            self._followed = set()
            self._elsewhere = None  # whatever was written meanwhile is for the next waiter's look
            return self._look_soon
        followed, self._followed = self._followed, set()
        if await self._written_elsewhere():
            return self._follows
        return self._look_soon | followed | self._followed

    async def _written_elsewhere(self) -> bool:
        """Whether another process may have changed runs since the last
        time this was asked (see :meth:`~wfc.runtime.store.Store.writes_elsewhere`):
        read before the look at awaited runs, so a commit elsewhere after
        it is told by the next. Where this process alone writes, the look
        once per poll interval, a query over every awaited run (10,000 with
        10,000 runs waited for), has nothing to find: this engine's commits
        wake their waiters themselves."""
        try:
            mark = await self._store.writes_elsewhere()
        except Exception:  # the look itself will say what is wrong
            return True
        if mark is None:
            return True
        changed = mark != self._elsewhere
        self._elsewhere = mark
        return changed

    async def _timer_loop(self) -> None:
        while True:
            self._timer_wake = anyio.Event()
            try:
                async with self._timer_pass:
                    delay = await self._fire_due_timers()
            except Exception as exc:  # a busy or failing database must not stop the engine
                self._log_store_failure("looking for due timers", exc)
                delay = self._poll
            with anyio.move_on_after(delay):
                await self._timer_wake.wait()

    async def _fire_due_timers(self) -> float:
        """Queue the timers that are due; return how long to sleep."""
        if self._draining or self._closed:
            return self._poll
        now = self._clock()
        due = await self._store.claim_timers(self.engine_id, now, self._lease, 1000)
        for timer in due:
            key = (timer.run_id, timer.timer)
            if key not in self._timers_inflight:
                self._timers_inflight.add(key)
                self._submit(RunInput(timer.run_id, TimerFired(timer=timer.timer)))
        if len(due) == 1000:
            return 0.0
        if due:
            # The earliest timer is one of these, not taken before their
            # commit, which wakes this loop again: asking would be a trip
            # to the database for nothing.
            return self._poll
        upcoming = await self._store.next_timer_due()
        if upcoming is not None and upcoming > now:
            return min(self._poll, upcoming - now)
        return self._poll

    def _log_store_failure(self, what: str, error: Exception, level: int = logging.WARNING) -> None:
        """Log a failed database call that is tried again: one line for the
        database's passing trouble, a traceback for anything else.

        The same trouble met again by the same work (a full disk fails every
        retry, twice a second) is said again once a minute
        (:data:`SAY_AGAIN_AFTER`), in between only in debug logs, even if
        some commits went through meanwhile (a disk all but full): a ``wfc
        run`` waiting for space shows a line a minute, not thousands. The
        first commit that goes through after says so (see :meth:`_act`)."""
        reason = self._trouble(error)
        if reason is None:
            log.exception("%s failed; trying again", what)
            return
        self.troubled = True
        key = (re.sub(r"\d+", "N", what), reason)
        now = time.monotonic()
        said = self._said.get(key)
        if level > logging.DEBUG and said is not None and now - said < SAY_AGAIN_AFTER:
            level = logging.DEBUG
        elif level > logging.DEBUG:
            self._said[key] = now
            self._told_trouble = True
        log.log(level, "%s failed, trying again: %s", what, reason)

    def _trouble(self, error: Exception) -> str | None:
        """The database's trouble ``error`` tells, in one line, naming the
        database; ``None`` for an error that may be wfc's own bug."""
        if isinstance(error, WfcError):  # named by the store: a problem of the database, said in full
            return str(error)
        if self._store.is_transient(error):
            return f"cannot use database {self._store.location}: {self._store.explain(error)}"
        return None

    async def _poll_loop(self) -> None:
        next_reap = 0.0
        # Registering was the first heartbeat: the first pass goes straight
        # to claiming what a dead process left (one commit fewer before the
        # first resumed step).
        next_beat = 0.0 if self._registered_at is None else self._registered_at + self._lease / 3
        while True:
            self._claim_wake = anyio.Event()
            now = self._clock()
            more = False
            try:
                async with self._poll_pass:
                    if self._closed:  # released: a heartbeat would register the engine again
                        return
                    if now >= next_beat:
                        await self._store.heartbeat(self.engine_id, now, self._lease)
                        next_beat = now + self._lease / 3
                        self.troubled = False
                        self.wrote_at = time.monotonic()
                    if self._store.shared and now >= next_reap:
                        await self._store.reap_engines(now, self._lease)
                        next_reap = now + self._poll
                    more = await self._claim(now)
            except Exception as exc:  # a busy or failing database must not stop the engine
                self._log_store_failure("polling the database", exc)
            if not more:
                with anyio.move_on_after(self._poll):
                    await self._claim_wake.wait()

    async def _claim(self, now: float) -> bool:
        """Claim attempts nobody holds; true when more may be waiting."""
        if self._draining:
            return False
        slots = self._free_slots()
        limit = self._claim_size if slots is None else min(slots, self._claim_size)
        if limit <= 0:
            self._shared.overflowed = True  # look again once there is room
            return False
        claimed = await self._store.claim_tasks(self.engine_id, self._definitions.keys(), now, self._lease, limit)
        full = len(claimed) == limit
        if full:
            self._claim_size = min(CLAIM_GROWTH * self._claim_size, CLAIM_MOST)
        elif not claimed:  # nothing waits: the next burst starts small again
            self._claim_size = CLAIM_FIRST
        self.counters.claimed += len(claimed)
        for record in claimed:
            if record.dispatch_id in self._attempts:
                continue
            if record.fresh:
                self._attempts.start(dispatch_of(record))
            else:
                self._submit(RunInput(record.run_id, Redeliver(dispatch_id=record.dispatch_id)))
        # A full batch: more may wait (after a restart, every attempt that
        # was in flight). Claim again at once, a larger batch, rather than a
        # batch per poll.
        return full

    def _free_slots(self) -> int | None:
        """Attempts this engine may still take on; ``None``: no limit (a store
        served by one process starts every attempt it dispatches). The
        attempts of turns not landed yet count: they start when they land."""
        if self._draining:
            return 0
        if not self._store.shared:
            return None
        return max(0, self._max_tasks - len(self._attempts) - self._reserved)

    def _unreserve(self, flight: _Flight) -> None:
        """The flight landed (its attempts start now) or failed."""
        self._reserved -= flight.reserved
        flight.reserved = 0

    def _on_wakeup(self, wakeup: Wakeup) -> None:
        """A notification from another process (in the event loop)."""
        if wakeup.kind == "tasks":
            if not wakeup.names or not self._definitions.keys().isdisjoint(wakeup.names):
                self._claim_wake.set()
        elif wakeup.kind == "timers":
            self._timer_wake.set()
        elif wakeup.kind == "specs":
            self._shared.specs.forget_versions(wakeup.names)
        elif wakeup.kind == "runs":
            for run_id in wakeup.names:
                self._shared.runs.pop(run_id, None)  # changed elsewhere: the cached state is old
                self._changed(run_id, None, ended=False)
            if wakeup.sender not in self._tell_ends:
                # An older wfc tells no ends (nor a newer one before its
                # first): look at once whether these runs ended, rather than
                # leave their waiters to the poll interval.
                self._look_at(wakeup.names)
        elif wakeup.kind == "ended":
            self._tell_ends.add(wakeup.sender)
            for run_id in wakeup.names:
                self._changed(run_id, None, ended=True)

    async def drain(self, grace: float) -> None:
        """Stop taking work and give the attempts running here up to
        ``grace`` seconds to finish and be committed. What follows from them
        is left in the outbox for other workers; attempts still running when
        the engine closes are released to them."""
        self._draining = True
        with anyio.move_on_after(grace) as self._drain_scope:
            while len(self._attempts):
                await anyio.sleep(0.02)
        await self._turns_taken()

    async def _turns_taken(self) -> None:
        """Wait, up to 10 s, until the commit loop took every command queued
        before now. The turn that takes them may fail (its commit held up
        past the lock wait, a full disk): the wait is over all the same, and
        closing goes on to give back the engine's leases."""
        barrier = Barrier()
        self._submit(barrier)
        with anyio.move_on_after(10), suppress(Exception):
            await barrier.reply.get()

    def hurry(self) -> None:
        """End a :meth:`drain` now."""
        if self._drain_scope is not None:
            self._drain_scope.cancel()

    def wake_timers(self) -> None:
        """Look for due timers now instead of at the next poll.

        The timer loop sleeps in real time until the next timer is due by the
        engine's clock; call this after moving an injected ``clock`` forward
        (tests), so timers that became due fire without waiting."""
        self._timer_wake.set()

    @property
    def running_attempts(self) -> int:
        """Task attempts running in this engine now."""
        return len(self._attempts)

    @property
    def busy(self) -> bool:
        """True while a command is queued or being committed, or a fired
        timer is not committed yet (running attempts are counted apart)."""
        return bool(self._queue) or self._committing or bool(self._timers_inflight)
