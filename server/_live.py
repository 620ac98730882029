"""Live pushes to open dashboard pages (``GET /api/v1/live``, server-sent
events).

However many pages are open, the server tails the journal feed once: one
reader asks the database for what was committed since its last look (the
feed's two cheap statements) right after each commit of the server's own
engine and every ``interval`` seconds for other processes' commits, never
more than once per ``spacing``, and only while at least one page listens. Each push names the runs that changed, so
a page asks again only when something it shows changed: an idle page costs
the database nothing, a busy one a single request per push.
"""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from collections.abc import AsyncIterator

import msgspec
from starlette.responses import StreamingResponse

from wfc.runtime import Engine, FeedEntry
from wfc.runtime._observe import Signal
from wfc.server._http import Call

#: Most run ids named in one push; past that, ``more`` tells pages to reload.
MAX_RUNS_PER_PUSH = 200
#: Seconds between pushes without news, so proxies and pages know the stream lives.
KEEPALIVE = 15.0


class Push(msgspec.Struct, kw_only=True):
    """What changed since the last push."""

    runs: dict[str, str]
    """Run id → the kind of its latest journal entry (``RUN_COMPLETED``, ...)."""
    more: bool = False
    """More runs changed than are named: reload whatever is shown."""
    user_tasks: list[str] = []
    """Ids of the user tasks the new entries name (``USER_TASK_*``): the
    inbox reloads on these, whatever entry of its run came last."""


class Live:
    """One tail of the journal, shared by every listening page."""

    def __init__(self, engine: Engine, interval: float = 0.5, spacing: float = 0.1) -> None:
        self._engine = engine
        self._interval = interval
        self._spacing = spacing
        self._listeners: set[asyncio.Queue[Push | None]] = set()
        self._tail: asyncio.Task[None] | None = None
        self._committed = asyncio.Event()
        self._observing = False

    @property
    def listeners(self) -> int:
        return len(self._listeners)

    @contextlib.asynccontextmanager
    async def listening(self) -> AsyncIterator[asyncio.Queue[Push | None]]:
        """A queue of pushes for one page, for as long as it listens;
        ``None`` once the server shuts down (:meth:`close`)."""
        queue: asyncio.Queue[Push | None] = asyncio.Queue(maxsize=8)
        self._listeners.add(queue)
        if not self._observing:
            # This server's own engine commits: look at once, not at the next interval.
            self._engine.observe(Signal(self._committed.set))
            self._observing = True
        if self._tail is None or self._tail.done():
            self._tail = asyncio.create_task(self._follow())
        try:
            yield queue
        finally:
            self._listeners.discard(queue)
            if not self._listeners and self._tail is not None:
                self._tail.cancel()
                self._tail = None

    async def _follow(self) -> None:
        position = await self._engine.feed_end()
        while self._listeners:
            entries, position = await self._engine.read_feed(position, MAX_RUNS_PER_PUSH)
            if len(entries) == MAX_RUNS_PER_PUSH:
                # A burst: pages reload what they show, and the tail skips to
                # the end rather than reading the burst page by page.
                self._publish(Push(runs={}, more=True))
                position = await self._engine.feed_end()
            elif entries:
                self._publish(Push(runs={entry.run_id: entry.kind for entry in entries},
                                   user_tasks=_user_tasks(entries)))
            await self._next_look()

    async def _next_look(self) -> None:
        """Until a commit of this server's engine (other processes' commits
        are seen every ``interval``), and never sooner than ``spacing`` after
        the last look: however fast the engine commits, at most one read of
        the feed per ``spacing``."""
        await asyncio.sleep(self._spacing)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._committed.wait(), max(0.0, self._interval - self._spacing))
        self._committed.clear()

    def close(self) -> None:
        """End every page's stream: the server shuts down. A stream that
        stayed open would hold the shutdown for ever (a keep-alive every
        :data:`KEEPALIVE` seconds); the pages connect again on their own."""
        for queue in self._listeners:
            if queue.full():  # the end counts more than the oldest push
                queue.get_nowait()
            queue.put_nowait(None)

    def _publish(self, push: Push) -> None:
        for queue in self._listeners:
            if queue.full():  # a page that does not keep up gets one "reload everything"
                with contextlib.suppress(asyncio.QueueEmpty):
                    queue.get_nowait()
                push = Push(runs={}, more=True)
            queue.put_nowait(push)


def _user_tasks(entries: list[FeedEntry]) -> list[str]:
    """The user tasks named by ``entries``, each once, in order."""
    named = (entry.detail.get("user_task") for entry in entries if entry.kind.startswith("USER_TASK_"))
    return list(dict.fromkeys(task for task in named if isinstance(task, str)))


async def event_stream(live: Live) -> AsyncIterator[bytes]:
    """The server-sent events of one page: ``retry``, then a ``push`` event
    per change and a comment every :data:`KEEPALIVE` seconds."""
    yield b"retry: 2000\n\n"
    async with live.listening() as queue:
        while True:
            try:
                push = await asyncio.wait_for(queue.get(), timeout=KEEPALIVE)
            except TimeoutError:
                yield b": still here\n\n"
                continue
            if push is None:
                return  # the server shuts down
            yield b"event: push\ndata: " + msgspec.json.encode(push) + b"\n\n"


_LIVES: weakref.WeakKeyDictionary[Engine, Live] = weakref.WeakKeyDictionary()


def live_of(engine: Engine) -> Live:
    """The one tail of ``engine``'s journal that every page of its server shares."""
    found = _LIVES.get(engine)
    if found is None:
        found = _LIVES[engine] = Live(engine)
    return found


async def live_pushes(call: Call[None, None]) -> StreamingResponse:
    return StreamingResponse(
        event_stream(live_of(call.engine)),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
