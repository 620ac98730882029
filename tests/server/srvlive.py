"""Helpers of the server tests: a real ``wfc.server`` app served by uvicorn
on a free loopback port, in a thread with its own event loop and engine,
driven over HTTP by httpx; the database read back by a separate engine.
"""

from __future__ import annotations

import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
import uvicorn

sys.path.insert(0, str(Path(__file__).parents[1] / "runtime"))

from rtdb import SKIP_REASON, make_db, postgres_base_url

from wfc.dsl import Workflow, WorkflowThread
from wfc.runtime import Engine, HistoryEntry, RunInfo, task
from wfc.server import create_app
from wfc.specs import WorkflowSpec


@task("record-approval")
def record_approval(order_id: str, answer: Any, secret: str) -> dict[str, Any]:
    return {"order": order_id, "approved": answer["ok"], "secret-seen": secret}


#: While true, the task ``explode`` fails; tests turn it off to see a re-drive succeed.
BROKEN = {"explode": True}


@task("explode", retries=0)
def explode(order_id: str) -> str:
    if BROKEN["explode"]:
        raise RuntimeError(f"order {order_id} exploded")
    return f"order {order_id} done"


def approval(wf: WorkflowThread) -> Any:
    order_id = wf.declare_str("order-id").required().searchable()
    secret = wf.declare_str("secret").default("s3cret-default").masked()
    answer = wf.wait_for_event("approval", correlation=order_id, timeout=600)
    return wf.execute("record-approval", order_id, answer, secret)


def approval_v2(wf: WorkflowThread) -> Any:
    order_id = wf.declare_str("order-id").required().searchable()
    secret = wf.declare_str("secret").default("s3cret-default").masked()
    wf.declare_str("note")
    answer = wf.wait_for_event("approval", correlation=order_id, timeout=600)
    return wf.execute("record-approval", order_id, answer, secret)


def exploding(wf: WorkflowThread) -> Any:
    order_id = wf.declare_str("order-id").required()
    return wf.execute("explode", order_id, retries=0)


APPROVAL_V1 = Workflow("approval", approval).compile()
APPROVAL_V2 = Workflow("approval", approval_v2).compile(previous=APPROVAL_V1)
SPECS: list[WorkflowSpec] = [APPROVAL_V1, APPROVAL_V2, Workflow("exploding", exploding).compile()]
TASKS = [record_approval, explode]


def free_port() -> socket.socket:
    """A socket listening on a free loopback port."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    return sock


@dataclass
class LiveServer:
    """A running server: its base URL, a client, and the database's URL."""

    url: str
    db_url: str
    token: str | None = None
    read_token: str | None = None
    _server: uvicorn.Server | None = None
    _thread: threading.Thread | None = None
    _failure: list[BaseException] = field(default_factory=list)

    def client(self, token: str | None = "default") -> httpx.Client:
        """An HTTP client; with the server's token unless another (or None) is given."""
        use = self.token if token == "default" else token
        headers = {"Authorization": f"Bearer {use}"} if use else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)

    def read(self, action: Callable[[Engine], Any]) -> Any:
        """Run ``action`` on a client engine of the same database (the stored state)."""

        async def main() -> Any:
            async with Engine.open(self.db_url, serve=False) as engine:
                return await action(engine)

        return anyio.run(main)

    def run(self, run_id: str) -> RunInfo:
        """The run as stored."""
        result: RunInfo = self.read(lambda e: e.get_run(run_id))
        return result

    def history(self, run_id: str) -> list[HistoryEntry]:
        """The run's journal as stored."""
        result: list[HistoryEntry] = self.read(lambda e: e.history(run_id))
        return result

    def wait_for(self, check: Callable[[], bool], timeout: float = 20) -> None:
        """Poll until ``check()`` holds."""
        deadline = time.monotonic() + timeout
        while not check():
            assert time.monotonic() < deadline, "timed out waiting"
            time.sleep(0.05)


def start_server(
    db_url: str, token: str | None = None, read_token: str | None = None, *, serve: bool = True
) -> LiveServer:
    """Serve ``db_url`` (specs deployed; the tasks running, unless ``serve`` is false) in a thread."""
    sock = free_port()
    port = sock.getsockname()[1]
    live = LiveServer(url=f"http://127.0.0.1:{port}", db_url=db_url, token=token, read_token=read_token)
    started = threading.Event()

    async def main() -> None:
        async with Engine.open(db_url, TASKS if serve else (), serve=serve, poll_interval=0.2) as engine:
            for spec in SPECS:
                await engine.deploy(spec)
            app = create_app(engine, token, read_token=read_token)
            server = uvicorn.Server(uvicorn.Config(app, lifespan="off", log_level="warning"))
            live._server = server
            started.set()
            await server.serve(sockets=[sock])

    def thread() -> None:
        try:
            anyio.run(main)
        except BaseException as exc:
            live._failure.append(exc)
            started.set()
        finally:
            sock.close()

    live._thread = threading.Thread(target=thread, daemon=True)
    live._thread.start()
    started.wait(30)
    deadline = time.monotonic() + 30
    while not (live._server is not None and live._server.started):
        assert not live._failure, live._failure
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.02)
    return live


def stop_server(live: LiveServer) -> None:
    """Stop the server and its engine."""
    if live._server is not None:
        live._server.should_exit = True
    if live._thread is not None:
        live._thread.join(30)
    assert not live._failure, live._failure


# ---------------------------------------------------------------- fixtures (used through conftest.py)


@pytest.fixture(autouse=True)
def broken_task() -> Iterator[None]:
    BROKEN["explode"] = True
    yield
    BROKEN["explode"] = True


@pytest.fixture(params=("sqlite", "postgres"))
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh database on each store."""
    if request.param == "postgres" and postgres_base_url() is None:
        pytest.skip(SKIP_REASON)
    database = make_db(request.param, tmp_path)
    try:
        yield database.url
    finally:
        database.drop()


@pytest.fixture
def live(db_url: str) -> Iterator[LiveServer]:
    """A server without tokens on a fresh database."""
    server = start_server(db_url)
    try:
        yield server
    finally:
        stop_server(server)


@pytest.fixture
def guarded(db_url: str) -> Iterator[LiveServer]:
    """A server with a token and a read-only token."""
    server = start_server(db_url, token="write-secret-1234", read_token="read-secret-5678")
    try:
        yield server
    finally:
        stop_server(server)
