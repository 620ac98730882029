"""A disk that fills up for real: the database file on a tiny tmpfs, filled
with a filler file and freed by deleting it (the fault tests only simulate a
full disk, with ``max_page_count`` or an injected error).

What must hold: a full disk is named as one, whatever SQLite calls it; what
is stored can still be read; an engine says the trouble once rather than at
every retry, and can tell that its database takes no writes (for
``/readyz``); no run is lost, doubled or half-written, no task runs twice,
and once space is back the work goes on by itself; the file passes
``PRAGMA integrity_check``. Mounting needs root: elsewhere these tests skip.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest
from rtspec import exit_, lit, out, spec, task
from tinydisk import TinyDisk, mount_tiny_disk

from wfc.runtime import Engine, RunStatus, StoreError, TaskContext
from wfc.runtime import _engine as engine_module
from wfc.runtime import task as wfc_task
from wfc.runtime.store import open_store

pytestmark = pytest.mark.anyio


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[TinyDisk]:
    """A 1 MiB tmpfs."""
    yield from mount_tiny_disk(tmp_path / "disk", "1m")


@pytest.fixture
def big_disk(tmp_path: Path) -> Iterator[TinyDisk]:
    """An 8 MiB tmpfs: room for a WAL of 1,000 pages, where SQLite checkpoints."""
    yield from mount_tiny_disk(tmp_path / "disk", "8m")


calls: Counter[tuple[str, str]] = Counter()
"""Task invocations by (run id, node): the side effects."""
blocked: set[str] = set()
"""Runs whose first attempt of ``hold`` blocks."""


@pytest.fixture(autouse=True)
def _fresh() -> None:
    calls.clear()
    blocked.clear()


@wfc_task("pad")
async def pad(n: int, ctx: TaskContext) -> dict[str, object]:
    calls[(ctx.run_id, ctx.node_id)] += 1
    await anyio.sleep(0.005)
    return {"n": n, "pad": "p" * 2000}


@wfc_task("hold")
async def hold(ctx: TaskContext) -> str:
    calls[(ctx.run_id, ctx.node_id)] += 1
    if ctx.run_id in blocked:
        blocked.discard(ctx.run_id)
        await anyio.sleep(60)  # until the engine closes
    return "held"


PADS = spec("pads", [("a", task("pad", lit(1))), ("b", task("pad", out("a", "n"))), ("end", exit_(out("b", "n")))])
HOLD = spec("hold", [("h", task("hold")), ("end", exit_(out("h")))])


def integrity(path: Path) -> list[tuple[str]]:
    with sqlite3.connect(path) as conn:
        return conn.execute("PRAGMA integrity_check").fetchall()


async def make_database(url: str, runs: int = 1) -> None:
    async with Engine.open(url, tasks=[pad, hold], poll_interval=0.05) as engine:
        await engine.deploy(PADS)
        await engine.deploy(HOLD)
        for index in range(runs):
            run = await engine.wait(await engine.start("pads", run_id=f"before-{index}"), timeout=10)
            assert run.status is RunStatus.COMPLETED


async def test_an_io_error_of_a_full_disk_is_named_as_a_full_disk(disk: TinyDisk) -> None:
    """SQLite reports the -shm file it cannot grow as an I/O error
    (SQLITE_IOERR_SHMSIZE): the message must say the disk is full, which is
    what to fix, not send the user to check the disk's hardware."""
    url = disk.url()
    await make_database(url)
    disk.fill()
    with pytest.raises(StoreError) as caught:
        await open_store(url, time.time())
    message = str(caught.value)
    assert "the disk is full" in message and "free space on the disk that holds the database file" in message
    assert "I/O error; check the disk" not in message
    disk.free()
    async with Engine.open(url, tasks=[pad, hold], poll_interval=0.05) as engine:
        run = await engine.wait(await engine.start("pads", run_id="after"), timeout=10)
        assert run.status is RunStatus.COMPLETED
    assert integrity(disk.root / "wfc.db") == [("ok",)]


async def test_a_database_on_a_full_disk_can_still_be_read_and_written_once_freed(disk: TinyDisk) -> None:
    """Reading takes no space, but the first reader of a WAL database sizes
    its -shm file: on a full disk the read-only commands (wfc runs list, show,
    history, export) failed. They read now, and a writer after them, once
    space is back, works as ever."""
    url = disk.url()
    await make_database(url, runs=2)
    disk.fill()
    async with Engine.open(url, serve=False, read_only=True) as reader:
        assert {run.id for run in await reader.list_runs()} == {"before-0", "before-1"}
        assert (await reader.get_run("before-1")).output == 1
        assert [entry.kind for entry in await reader.history("before-0")][-1] == "RUN_COMPLETED"
    disk.free()
    async with Engine.open(url, tasks=[pad, hold], poll_interval=0.05) as engine:
        run = await engine.wait(await engine.start("pads", run_id="after"), timeout=10)
        assert run.status is RunStatus.COMPLETED
    assert integrity(disk.root / "wfc.db") == [("ok",)]


async def test_closing_an_engine_on_a_full_disk_says_why_in_one_line(
    disk: TinyDisk, caplog: pytest.LogCaptureFixture
) -> None:
    """Closing releases the engine's leases, a write: on a full disk that
    failed with a traceback in the log (printed by `wfc run` on Ctrl-C). It
    is one line now, and the next engine takes the attempt over."""
    caplog.set_level(logging.WARNING, "wfc.runtime")
    url = disk.url()
    await make_database(url)
    blocked.add("held-1")
    # A short lease: this process lives on, so the next engine takes the
    # attempt over once the lease has run out (another process would at once).
    async with Engine.open(url, tasks=[pad, hold], poll_interval=0.05, lease_seconds=1) as engine:
        await engine.start("hold", run_id="held-1")
        with anyio.fail_after(10):
            while not calls[("held-1", "h")]:
                await anyio.sleep(0.01)
        disk.fill()
    assert not [r for r in caplog.records if r.exc_info], [r.getMessage() for r in caplog.records if r.exc_info]
    released = [r.getMessage() for r in caplog.records if "could not release task leases" in r.getMessage()]
    assert released and "the disk is full" in released[0], [r.getMessage() for r in caplog.records]
    disk.free()
    async with Engine.open(url, tasks=[pad, hold], poll_interval=0.05) as engine:
        run = await engine.wait("held-1", timeout=10)
    assert run.status is RunStatus.COMPLETED and run.output == "held"
    assert calls[("held-1", "h")] == 2  # at least once: the attempt cut short by the close ran again
    assert integrity(disk.root / "wfc.db") == [("ok",)]


async def test_an_engine_goes_on_by_itself_once_the_full_disk_has_room_again(
    big_disk: TinyDisk, caplog: pytest.LogCaptureFixture
) -> None:
    """Many runs while the disk fills up (with the WAL near the 1,000 pages
    where SQLite checkpoints it, which needs room in the database file) and
    frees again: the engine says so once per kind of work, tells that its
    database takes no writes while full, and afterwards every run completes
    once, every task ran once, nothing is written twice, the file is sound."""
    caplog.set_level(logging.WARNING, "wfc.runtime")
    disk = big_disk
    url = disk.url()
    wal = disk.root / "wfc.db-wal"
    started: list[str] = []
    refused: list[str] = []

    async def start(run_id: str) -> None:
        try:
            await engine.start("pads", run_id=run_id)
        except StoreError as exc:  # its commit failed: "call again once that is fixed"
            assert "the disk is full" in str(exc)
            refused.append(run_id)
        else:
            started.append(run_id)

    async with Engine.open(url, tasks=[pad, hold], poll_interval=0.05, lease_seconds=1.5) as engine:
        await engine.deploy(PADS)
        await engine.check_writable()
        with anyio.fail_after(30):
            while not wal.exists() or wal.stat().st_size < 3_600_000:
                async with anyio.create_task_group() as tg:
                    for index in range(len(started), len(started) + 10):
                        tg.start_soon(start, f"r-{index}")
        disk.fill(leave=48 * 1024)
        async with anyio.create_task_group() as tg:
            for index in range(len(started), len(started) + 40):
                tg.start_soon(start, f"r-{index}")
                await anyio.sleep(0.01)
        with anyio.fail_after(10):  # the heartbeat (every 0.5 s) meets the full disk if nothing else did
            while True:
                try:
                    await engine.check_writable()
                except StoreError as exc:
                    assert "the disk is full" in str(exc)
                    break
                await anyio.sleep(0.05)
        await anyio.sleep(1.0)  # retries fail meanwhile
        disk.free()
        for run_id in list(refused):  # the same run id never starts twice
            await engine.start("pads", run_id=run_id)
        for run_id in started + refused:
            run = await engine.wait(run_id, timeout=20)
            assert run.status is RunStatus.COMPLETED and run.output == 1, run_id
        await engine.check_writable()
    assert refused, "no commit met the full disk"
    assert set(calls) == {(run_id, node) for run_id in started + refused for node in ("a", "b")}
    assert set(calls.values()) == {1}
    path = disk.root / "wfc.db"
    assert integrity(path) == [("ok",)]
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT count(*), count(DISTINCT id) FROM runs").fetchone() == (len(started + refused),) * 2
        assert conn.execute("SELECT count(*) FROM tasks").fetchone() == (0,)
        assert conn.execute(
            "SELECT count(*) FROM journal WHERE kind IN ('RUN_STARTED', 'RUN_COMPLETED') GROUP BY run_id, kind "
            "HAVING count(*) > 1"
        ).fetchall() == []
    # Said once per kind of work (within a minute), without a traceback; not at every retry.
    assert not [r for r in caplog.records if r.exc_info]
    troubles = Counter(
        (r.getMessage().split(" failed, trying again: ")[0].split(" of ")[0], r.getMessage().split(": ", 1)[1])
        for r in caplog.records
        if " failed, trying again: " in r.getMessage()
    )
    assert troubles and max(troubles.values()) == 1, troubles


async def test_a_client_engine_tells_that_its_idle_database_takes_no_writes(
    disk: TinyDisk, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A client (a `wfc server` without tasks) sends no heartbeats: asked,
    it tries a write that changes nothing (at most every few seconds), and
    tells the full disk without having failed a commit of its own first."""
    monkeypatch.setattr(engine_module, "WRITES_TRUSTED_FOR", 0.1)
    url = disk.url()
    await make_database(url)
    async with Engine.open(url, serve=False, poll_interval=0.05) as client:
        await client.check_writable()
        disk.fill()
        await anyio.sleep(0.15)
        with pytest.raises(StoreError, match="the disk is full"):
            await client.check_writable()
        assert (await client.get_run("before-0")).status is RunStatus.COMPLETED  # reads answer all the while
        disk.free()
        await client.check_writable()
    with sqlite3.connect(disk.root / "wfc.db") as conn:
        assert conn.execute("SELECT count(*) FROM engines").fetchone() == (0,)  # the probes left nothing
    assert integrity(disk.root / "wfc.db") == [("ok",)]
