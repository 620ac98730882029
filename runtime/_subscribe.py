"""Subscribers: every run's journal entries as an async iterator, from a
durable position saved under the subscriber's name.

Acknowledgement is the loop itself: an entry counts as handled once the
``async for`` body that got it returned, i.e. when the loop asks for the
next entry. Nothing to call, nothing to forget, and an exception in the
body (or a crash) never moves the position past the entry it was handling.
The position is saved to the database once per batch, before the next batch
is read, and when the subscription closes; so a crash delivers again at
most the entries of one batch whose bodies had returned: at least once.
Handle entries idempotently (key them by ``(run_id, seq)``).
"""

from __future__ import annotations

import datetime as dt
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Final, Literal

import anyio
import msgspec

from wfc.runtime._arguments import check_count, check_name, check_seconds, given
from wfc.runtime._records import to_datetime
from wfc.runtime.errors import UsageError
from wfc.runtime.store import Store, feed

#: Where a subscriber with no saved position starts.
Start = Literal["earliest", "latest"]
#: Every kind of journal entry the engine writes (see
#: :class:`~wfc.runtime.HistoryEntry`): what a subscriber may ask for. A kind
#: outside it would match nothing and a subscription would wait forever.
#: ``tests/runtime/test_repeated_kinds.py`` pins it to the kinds the
#: interpreter journals.
KINDS: Final = frozenset({
    "RUN_STARTED", "RUN_HALTED", "RUN_RESUMED", "RUN_CANCEL_REQUESTED", "RUN_RETRIED",
    "RUN_COMPLETED", "RUN_FAILED", "RUN_COMPENSATED", "RUN_CANCELLED",
    "NODE_ENTERED", "NODE_FAILED", "VARIABLE_SET", "SLEEPING", "TIMER_FIRED",
    "TASK_DISPATCHED", "TASK_CLAIMED", "TASK_COMPLETED", "TASK_FAILED",
    "EVENT_WAITING", "EVENT_RECEIVED", "EVENT_CONSUMED", "EVENT_TIMEOUT",
    "FAILURE_HANDLER_STARTED", "FAILURE_HANDLED",
    "THREAD_STARTED", "THREAD_QUEUED", "THREAD_COMPLETED", "THREAD_FAILED", "THREAD_HALTED",
    "THREAD_PAUSED", "THREAD_RESUMED", "THREAD_REVIVED", "THREAD_INTERRUPTED",
    "THREADS_WAITING", "THREADS_COMPLETED", "THREADS_FAILED", "THREADS_TIMEOUT",
    "INTERRUPT_RECEIVED", "INTERRUPT_HANDLER_STARTED", "INTERRUPT_HANDLED", "INTERRUPT_FAILED",
    "COMPENSATION_STARTED", "COMPENSATION_PLANNED", "COMPENSATION_DISPATCHED",
    "COMPENSATION_COMPLETED", "COMPENSATION_FAILED", "COMPENSATION_SKIPPED",
    "MIGRATED", "MIGRATION_PENDING", "MIGRATION_DROPPED",
    "USER_TASK_ASSIGNED", "USER_TASK_CLAIMED", "USER_TASK_RELEASED", "USER_TASK_REASSIGNED",
    "USER_TASK_COMPLETED", "USER_TASK_CANCELLED", "USER_TASK_REMINDED", "USER_TASK_REMINDER_COMPLETED",
    "USER_TASK_REMINDER_FAILED", "USER_TASK_TIMER_SKIPPED",
})  # fmt: skip
#: Most seconds between two saves of a position that only moved over
#: entries of other kinds (a save per poll would be a write per poll).
_SKIP_SAVE_INTERVAL: Final = 5.0


@dataclass(frozen=True)
class FeedEntry:
    """One journal entry of any run, as a subscriber gets it (see
    :class:`~wfc.runtime.HistoryEntry` for the kinds). Masked variables
    appear as ``"***"`` in ``detail``."""

    run_id: str
    workflow: str
    seq: int
    """1, 2, 3, ... per run: ``(run_id, seq)`` names the entry, for
    handling it idempotently."""
    timestamp: dt.datetime
    thread: int
    node: str | None
    kind: str
    attempt: int | None
    detail: dict[str, Any]
    position: str
    """Where this entry is in the feed of all runs (opaque): reading after
    it gives the entries that follow."""


def _entry(record: feed.FeedRecord) -> FeedEntry:
    j = record.journal
    return FeedEntry(
        run_id=j.run_id,
        workflow=record.workflow,
        seq=j.seq,
        timestamp=to_datetime(j.at),
        thread=j.thread,
        node=j.node,
        kind=j.kind,
        attempt=j.attempt,
        detail=msgspec.json.decode(j.detail),
        position=record.position,
    )


class Subscription:
    """An async iterator over every run's journal entries, in the order they
    were committed (each run's entries in ``seq`` order). Use it as
    ``async with engine.subscribe(...) as feed: async for entry in feed:``
    so that the position is saved when the block ends. It never ends by
    itself: it waits for new entries."""

    def __init__(
        self,
        store: Store,
        name: str | None,
        kinds: Iterable[str],
        *,
        start: Start,
        batch: int,
        poll_interval: float,
        clock: Callable[[], float],
        check_open: Callable[[], None],
    ) -> None:
        """Use :meth:`~wfc.runtime.Engine.subscribe`."""
        if name is not None:
            check_name(name, "the subscriber's name")
        self._kinds = check_kinds(kinds)
        if start not in ("earliest", "latest"):
            raise UsageError(f"start must be 'earliest' or 'latest', got {start!r}")
        check_count(batch, "batch")
        check_seconds(poll_interval, "poll_interval")
        self._store = store
        self._name = name
        self._start: Start = start
        self._batch = batch
        self._poll = poll_interval
        self._clock = clock
        self._check_open = check_open
        self._buffer: deque[FeedEntry] = deque()
        self._read: str | None = None  # where the next read starts
        self._handed: FeedEntry | None = None  # yielded, its body not yet returned
        self._handled: str | None = None  # position of the last entry handled
        self._saved: str | None = None
        self._saved_at = 0.0

    @property
    def name(self) -> str | None:
        """The subscriber's name (``None``: not durable)."""
        return self._name

    @property
    def position(self) -> str | None:
        """The position after the last entry handled (what a save writes),
        ``None`` before the first read."""
        return self._handled

    def __aiter__(self) -> Subscription:
        return self

    async def __aenter__(self) -> Subscription:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def _begin(self) -> str:
        saved = None if self._name is None else await feed.load_position(self._store, self._name)
        if saved is not None:
            self._saved = saved
            return saved
        return feed.START if self._start == "earliest" else await feed.head(self._store)

    async def __anext__(self) -> FeedEntry:
        self._check_open()
        if self._handed is not None:
            # The loop asks for the next entry: the body of the last one returned.
            self._handled, self._handed = self._handed.position, None
        if self._read is None:
            self._read = self._handled = await self._begin()
        while not self._buffer:
            await self.save()
            page = await feed.read(self._store, self._read, self._batch, self._kinds)
            self._read = page.position
            self._buffer.extend(_entry(record) for record in page.records)
            if not self._buffer:
                # Everything up to the horizon was read and handled.
                self._handled = page.position
                if self._clock() - self._saved_at >= _SKIP_SAVE_INTERVAL:
                    await self.save()
                await anyio.sleep(self._poll)
                self._check_open()
        self._handed = self._buffer.popleft()
        return self._handed

    async def handled(self) -> None:
        """Count the entry being handled as handled now and save the
        position: for a loop that ends with ``break`` after handling an
        entry, which would otherwise be delivered again."""
        if self._handed is not None:
            self._handled, self._handed = self._handed.position, None
        await self.save()

    async def save(self) -> None:
        """Save the position of the last entry handled now (a durable
        subscriber; a no-op for one without a name or with nothing new)."""
        if self._name is None or self._handled is None or self._handled == self._saved:
            return
        now = self._clock()
        await feed.save_position(self._store, self._name, self._handled, now)
        self._saved, self._saved_at = self._handled, now

    async def aclose(self) -> None:
        """Save the position (the entry being handled, if any, is delivered
        again: a ``break`` cannot be told from an exception)."""
        with anyio.CancelScope(shield=True):
            await self.save()


async def read_feed(store: Store, after: str | None, limit: int, kinds: Iterable[str]) -> tuple[list[FeedEntry], str]:
    """One read of the feed, for a consumer that keeps its own position
    (``Engine.read_feed``).

    Raises:
        UsageError: a bad position, limit or kinds.
    """
    wanted = check_kinds(kinds)
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 10_000:
        raise UsageError(f"limit must be an int from 1 to 10000, got {limit!r}")
    if after is not None and not isinstance(after, str):
        raise UsageError(f"after must be a position (a string) or None, got {after!r}")
    try:
        page = await feed.read(store, feed.START if after is None else after, limit, wanted)
    except feed.FeedPositionError as exc:
        hint = "give the next_after of a previous read, or nothing to start from the first entry"
        raise UsageError(f"{exc}; {hint}") from None
    return [_entry(record) for record in page.records], page.position


def check_kinds(kinds: Iterable[str]) -> tuple[str, ...]:
    """The kinds a subscriber, a feed read or a run's history asks for,
    each one of :data:`KINDS` (empty: every kind): a kind outside it would
    match nothing, which looks like no such entries.

    Raises:
        UsageError: one string instead of a list, or a kind the engine never
            writes (listing those it does).
    """
    if isinstance(kinds, str):
        raise UsageError(f"kinds must be a list of kinds, not one string: kinds=[{kinds!r}]")
    if not isinstance(kinds, Iterable):
        raise UsageError(f"kinds must be a list of kinds (e.g. ['TASK_FAILED']), got {given(kinds)}")
    wanted = tuple(kinds)
    unknown = [kind for kind in wanted if not isinstance(kind, str) or kind not in KINDS]
    if unknown:
        listed = ", ".join(repr(kind) for kind in unknown)
        raise UsageError(
            f"unknown journal entry kind{'s' if len(unknown) > 1 else ''} {listed}: nothing would ever match; "
            f"give kinds the engine writes (in capitals): {', '.join(sorted(KINDS))}"
        )
    return wanted
