"""The session connection of a PostgreSQL store: ``LISTEN``, ``NOTIFY`` and
liveness.

Each store keeps one connection open for its whole life. It listens on the
schema's channels (``wfc.<schema>.tasks``, ``.timers``, ``.runs``,
``.ended``, ``.specs``) and hands every notification from another process
to the store's handlers. It also sends this process's notifications,
*after* the transactions they describe committed and outside them: a
``NOTIFY`` inside a transaction serializes the commits of every notifying
process on one lock, and a wakeup is only a hint (a process that dies before
sending one leaves the others to find the work by polling). Pending
notifications are coalesced while one is being sent, and sent with
``synchronous_commit`` off, since they need no durability.

The connection's server process (pid and start time) identifies this engine's
session: when the process is SIGKILLed the server ends the session at once,
and other engines release its leases without waiting for them to expire.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Iterable
from typing import Any, Final

import msgspec

from wfc.runtime.store.base import Wakeup, WakeupHandler
from wfc.runtime.store.postgres_setup import PgTarget, connect

log = logging.getLogger("wfc.runtime")

KINDS: Final = ("tasks", "timers", "runs", "ended", "specs")
#: PostgreSQL refuses payloads of 8000 bytes or more.
_MAX_PAYLOAD: Final = 7000
_JSON = msgspec.json.Encoder()
_NAMES = msgspec.json.Decoder(list[str])


def payloads(names: Iterable[str]) -> list[str]:
    """JSON lists of ``names``, each small enough for one notification."""
    chunks: list[str] = []
    current: list[str] = []
    size = 2
    for name in sorted(names):
        length = len(_JSON.encode(name)) + 1
        if current and size + length > _MAX_PAYLOAD:
            chunks.append(_JSON.encode(current).decode())
            current, size = [], 2
        current.append(name)
        size += length
    if current:
        chunks.append(_JSON.encode(current).decode())
    return chunks


class Session:
    """The store's own connection: listens, notifies, and anchors liveness."""

    def __init__(self, target: PgTarget) -> None:
        self._target = target
        self._conn: Any = None
        self._lock = asyncio.Lock()
        self._handlers: list[WakeupHandler] = []
        self._pending: dict[str, set[str]] = {kind: set() for kind in KINDS}
        self._sender: asyncio.Task[None] | None = None
        self._closed = False
        self.backend: tuple[int, dt.datetime | None] | None = None
        """``(pid, start time)`` of the server process of this session."""

    async def open(self) -> None:
        """Connect and listen (again, after the connection was lost)."""
        conn = await connect(self._target, search_path=False, explain=self.backend is None)
        try:
            await conn.execute("SET synchronous_commit = off")
            row = await conn.fetchrow("SELECT pid, backend_start FROM pg_stat_activity WHERE pid = pg_backend_pid()")
            for kind in KINDS:
                await conn.add_listener(self._target.channel(kind), self._received)
        except BaseException:
            conn.terminate()
            raise
        conn.add_termination_listener(self._lost)
        self._conn = conn
        self.backend = (int(row["pid"]), row["backend_start"]) if row is not None else None

    @property
    def alive(self) -> bool:
        """True while the connection is open."""
        return self._conn is not None and not self._conn.is_closed()

    async def ensure(self) -> bool:
        """Reconnect if the connection was lost; true if it was (the session,
        and so the engine's liveness anchor, changed)."""
        if self.alive or self._closed:
            return False
        async with self._lock:
            if self.alive:
                return False
            await self.open()
            return True

    def subscribe(self, handler: WakeupHandler) -> None:
        """Call ``handler`` for every notification from another process."""
        self._handlers.append(handler)

    def notify(self, kind: str, names: Iterable[str] = ("*",)) -> None:
        """Queue a notification; it is sent soon, coalesced with others."""
        pending = self._pending[kind]
        before = len(pending)
        pending.update(names)
        if len(pending) > before and self._sender is None and not self._closed:
            self._sender = asyncio.get_running_loop().create_task(self._send())

    async def _send(self) -> None:
        try:
            while any(self._pending.values()):
                channels: list[str] = []
                bodies: list[str] = []
                for kind in KINDS:
                    names, self._pending[kind] = self._pending[kind], set()
                    for body in payloads(names):
                        channels.append(self._target.channel(kind))
                        bodies.append(body)
                async with self._lock:
                    if not self.alive:
                        return  # a hint lost: the others poll
                    await self._conn.execute(
                        "SELECT pg_notify(c, p) FROM unnest($1::text[], $2::text[]) AS x(c, p)", channels, bodies
                    )
        except Exception as exc:  # a wakeup is a hint; polling covers a lost one
            log.debug("sending notifications failed: %s", exc)
        finally:
            self._sender = None

    def _received(self, conn: Any, pid: int, channel: str, payload: str) -> None:
        if self.backend is not None and pid == self.backend[0]:
            return  # our own; the engine acted on its commit already
        kind = channel.rsplit(".", 1)[-1]
        try:
            names = tuple(_NAMES.decode(payload)) if payload else ()
        except msgspec.DecodeError:
            names = ()
        wakeup = Wakeup(kind=kind, names=names, sender=pid)
        for handler in self._handlers:
            try:
                handler(wakeup)
            except Exception:  # one broken handler must not silence the others
                log.exception("a wakeup handler failed")

    def _lost(self, conn: Any) -> None:
        if conn is self._conn and not self._closed:
            log.warning("lost the listening connection to %s; reconnecting", self._target.location)

    async def close(self) -> None:
        """Send what is pending (briefly), then close the connection."""
        self._closed = True
        sender = self._sender
        if sender is not None:
            try:
                await asyncio.wait_for(asyncio.shield(sender), 2)
            except Exception:
                sender.cancel()
                await asyncio.gather(sender, return_exceptions=True)
        if self._conn is not None:
            try:
                await asyncio.wait_for(self._conn.close(), 5)
            except Exception:
                self._conn.terminate()
