"""Live pushes (``GET /api/v1/live``): every listening page hears of a
committed change within a second, and however many listen, the server reads
the journal feed once per interval, not once per page."""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
from typing import Any

import anyio
import httpx
import pytest
from srvlive import LiveServer

from wfc.runtime import Engine
from wfc.server._live import Live


def listen(server: LiveServer, pushes: list[dict[str, Any]], ready: threading.Event) -> None:
    headers = {"Authorization": f"Bearer {server.token}"} if server.token else {}
    with httpx.stream("GET", f"{server.url}/api/v1/live", headers=headers, timeout=30) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        ready.set()
        event = ""
        for line in response.iter_lines():
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: ") and event == "push":
                pushes.append(json.loads(line[6:]))
                if "live-1" in pushes[-1]["runs"]:
                    return  # closes the stream: the page leaves


def test_twenty_pages_hear_a_start_from_one_feed_reader(
    live: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    reads = {"count": 0}
    original = Engine.read_feed

    async def counted(self: Engine, *args: Any, **kwargs: Any) -> Any:
        reads["count"] += 1
        return await original(self, *args, **kwargs)

    monkeypatch.setattr(Engine, "read_feed", counted)
    pages = 20
    pushes: list[list[dict[str, Any]]] = [[] for _ in range(pages)]
    ready = [threading.Event() for _ in range(pages)]
    threads = [threading.Thread(target=listen, args=(live, pushes[i], ready[i]), daemon=True) for i in range(pages)]
    for thread in threads:
        thread.start()
    for event in ready:
        assert event.wait(10)
    time.sleep(1.0)  # the tail has started and found nothing new
    before = reads["count"]
    with live.client() as client:
        started = time.monotonic()
        response = client.post("/api/v1/runs", json={"workflow": "approval", "run_id": "live-1",
                                                     "inputs": {"order-id": "o-live"}})
        assert response.status_code == 201, response.text
    deadline = started + 5
    while any(not any("live-1" in p["runs"] for p in page) for page in pushes):
        assert time.monotonic() < deadline, "a page heard nothing of the start"
        time.sleep(0.02)
    heard = time.monotonic() - started
    reads_meanwhile = reads["count"] - before
    for thread in threads:
        thread.join(5)
    # One reader for twenty pages: about two reads a second, whatever the number of pages.
    assert reads_meanwhile <= 2 + 3 * heard / 0.5, reads_meanwhile
    assert all(p["runs"]["live-1"].startswith(("RUN_", "EVENT_", "NODE_")) for page in pushes for p in page
               if "live-1" in p["runs"])


def test_the_tail_stops_when_the_last_page_leaves(tmp_path: Any) -> None:
    anyio.run(_tail_stops, tmp_path)


async def _tail_stops(tmp_path: Any) -> None:
    async with Engine.open(f"sqlite:///{tmp_path / 'live.db'}", serve=False) as engine:
        live = Live(engine, interval=0.05)
        async with live.listening(), live.listening():
            assert live.listeners == 2
            tail = live._tail
            assert tail is not None and not tail.done()
        assert live.listeners == 0
        assert live._tail is None
        with contextlib.suppress(asyncio.CancelledError):
            await tail
        assert tail.cancelled()


def test_a_push_names_the_user_tasks_its_entries_touch() -> None:
    """The inbox reloads on a push naming a user task, even when a later
    entry of the same run (the node completing, the next task) hides the
    ``USER_TASK_*`` kind in ``runs``."""
    import datetime as dt

    from wfc.runtime import FeedEntry
    from wfc.server._live import _user_tasks

    def entry(run: str, kind: str, **detail: Any) -> FeedEntry:
        return FeedEntry(run_id=run, workflow="w", seq=1, timestamp=dt.datetime.now(dt.UTC), thread=0, node="n",
                         kind=kind, attempt=None, detail=detail, position="")

    entries = [entry("r-1", "USER_TASK_COMPLETED", user_task="ut-a", by="ann"), entry("r-1", "NODE_COMPLETED"),
               entry("r-2", "USER_TASK_ASSIGNED", user_task="ut-b"),
               entry("r-2", "USER_TASK_CLAIMED", user_task="ut-b"),
               entry("r-3", "EVENT_RECEIVED", user_task="not-a-task-entry")]
    assert _user_tasks(entries) == ["ut-a", "ut-b"]
    assert _user_tasks([entry("r-1", "TASK_COMPLETED")]) == []
