"""Waiting for another process's SQLite write lock: as long as
``busy_timeout`` says, and no longer once interrupted.

SQLite's own wait cannot be ended early, so a writer waits in slices
(wfc.runtime.store.sqlite_locks). These tests hold the write lock from
another connection, as another process's long transaction would, with a
``busy_timeout`` of 30 s, and check that an interrupt (a cancelled engine,
or Ctrl-C through interrupt_lock_waits) ends the wait within a few
seconds with nothing written, while an uninterrupted wait still lasts the
whole ``busy_timeout`` and succeeds once the lock is free. The command
line's side, with real processes and signals, is in
tests/cli/test_sqlite_ctrl_c.py.
"""

from __future__ import annotations

import sqlite3
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
import pytest
from rtdb import sqlite_write_lock
from rtspec import exit_, spec, wait

from wfc.runtime import Engine, RunStatus
from wfc.runtime.errors import DatabaseLockedError, NotAWfcDatabaseError, StoreError
from wfc.runtime.store import open_store
from wfc.runtime.store.sqlite_locks import SLICE, LockWaits, interrupt_lock_waits
from wfc.runtime.store.sqlite_setup import migrate

pytestmark = pytest.mark.anyio

#: Long enough that a test waiting it out fails its time limits.
LONG_WAIT = "?busy_timeout=30"
#: What "at once" means here: well under the wait, with room for a busy machine.
PROMPT = 5.0
#: How long a write is left waiting before it is interrupted: many slices.
WAITING = 0.5
WAITS = spec("waits", [("go", wait("go")), ("end", exit_())])


def rows(path: Path, sql: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(path) as conn:
        return list(conn.execute(sql).fetchall())


async def waiting_run(path: Path) -> None:
    """Run ``r-1``, waiting for the event ``go``, stored by an engine since closed."""
    async with Engine.open(f"sqlite:///{path}{LONG_WAIT}", serve=False) as engine:
        await engine.deploy(WAITS)
        await engine.start("waits", run_id="r-1")


async def interrupted_while_waiting(attempt: Callable[[], Awaitable[None]], failures: list[BaseException]) -> float:
    """Run ``attempt``; once it has waited :data:`WAITING` seconds (still
    waiting: nothing in ``failures``), interrupt every lock wait of the
    process. How long it took to end after that."""
    with anyio.fail_after(PROMPT + 35):
        async with anyio.create_task_group() as tg:
            tg.start_soon(attempt)
            await anyio.sleep(WAITING)
            assert failures == []  # still waiting
            began = time.monotonic()
            interrupt_lock_waits()
    return time.monotonic() - began


async def test_a_cancelled_engine_closes_at_once_while_its_write_waits_for_the_lock(tmp_path: Path) -> None:
    path = tmp_path / "wfc.db"
    await waiting_run(path)
    sent: list[str] = []
    scope = anyio.CancelScope()

    async def use_engine() -> None:
        with scope:
            async with Engine.open(f"sqlite:///{path}{LONG_WAIT}", serve=False) as engine:
                opened.set()
                await engine.send_event("go", {}, run_id="r-1")  # waits for the write lock
                sent.append("sent")

    opened = anyio.Event()
    with sqlite_write_lock(path), anyio.fail_after(PROMPT + 35):
        async with anyio.create_task_group() as tg:
            tg.start_soon(use_engine)
            await opened.wait()
            await anyio.sleep(WAITING)
            began = time.monotonic()
            scope.cancel()
        took = time.monotonic() - began
    assert took < PROMPT, f"the cancelled engine took {took:.1f}s to close"
    assert sent == []
    assert rows(path, "SELECT count(*) FROM events") == [(0,)]
    assert rows(path, "SELECT id, status, version FROM runs") == [("r-1", "RUNNING", 1)]
    # The lock let go, the event goes through as ever.
    async with Engine.open(f"sqlite:///{path}", serve=False) as engine:
        await engine.send_event("go", {}, run_id="r-1")
        assert (await engine.get_run("r-1")).status is RunStatus.COMPLETED


async def test_interrupting_ends_a_write_waiting_for_the_lock_with_nothing_written(tmp_path: Path) -> None:
    path = tmp_path / "wfc.db"
    await waiting_run(path)
    async with Engine.open(f"sqlite:///{path}{LONG_WAIT}", serve=False) as engine:
        failures: list[BaseException] = []

        async def cancel() -> None:
            try:
                await engine.cancel("r-1", reason="stop")
            except StoreError as exc:
                failures.append(exc)

        with sqlite_write_lock(path):
            took = await interrupted_while_waiting(cancel, failures)
            assert took < PROMPT
            assert len(failures) == 1 and "interrupted while waiting for another process's write lock" in str(
                failures[0]
            )
            assert rows(path, "SELECT status FROM runs") == [("RUNNING",)]
        # Once the lock is free, interrupted or not, the store writes (a
        # closing engine gives back its registration).
        assert (await engine.cancel("r-1", reason="stop")).status is RunStatus.CANCELLED
    assert rows(path, "SELECT status FROM runs") == [("CANCELLED",)]
    assert rows(path, "SELECT count(*) FROM engines") == [(0,)]


async def test_an_uninterrupted_wait_lasts_busy_timeout_then_names_the_lock(tmp_path: Path) -> None:
    """Slices add up to the whole busy_timeout: not one slice, not more."""
    path = tmp_path / "wfc.db"
    await waiting_run(path)
    async with Engine.open(f"sqlite:///{path}?busy_timeout=1.5", serve=False) as engine:
        with sqlite_write_lock(path):
            began = time.monotonic()
            with pytest.raises(DatabaseLockedError, match=r"more than 1\.5 s"):
                await engine.cancel("r-1", reason="stop")
            took = time.monotonic() - began
    assert 1.4 <= took < 1.5 + PROMPT
    assert rows(path, "SELECT status FROM runs") == [("RUNNING",)]


async def test_a_write_goes_through_once_the_lock_is_let_go_many_slices_later(tmp_path: Path) -> None:
    path = tmp_path / "wfc.db"
    await waiting_run(path)
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")
    release = threading.Timer(20 * SLICE, lambda: holder.execute("ROLLBACK"))
    try:
        async with Engine.open(f"sqlite:///{path}{LONG_WAIT}", serve=False) as engine:
            began = time.monotonic()
            release.start()
            assert (await engine.cancel("r-1", reason="stop")).status is RunStatus.CANCELLED
            took = time.monotonic() - began
    finally:
        release.join()
        holder.close()
    assert took >= 15 * SLICE  # it did wait for the lock
    assert rows(path, "SELECT status FROM runs") == [("CANCELLED",)]


async def test_interrupting_ends_an_open_that_waits_for_the_lock(tmp_path: Path) -> None:
    """Opening a new file switches it to WAL, which waits while another
    process writes to it: an interrupt ends that wait too, before any store
    exists to interrupt, and the file is left as it was."""
    path = tmp_path / "new.db"
    with sqlite3.connect(path, isolation_level=None) as other:  # an empty file, which wfc would make its own
        other.execute("BEGIN IMMEDIATE")
        failures: list[BaseException] = []

        async def open_it() -> None:
            try:
                store = await open_store(f"sqlite:///{path}{LONG_WAIT}", time.time())
            except StoreError as exc:
                failures.append(exc)
            else:
                await store.close()

        took = await interrupted_while_waiting(open_it, failures)
        other.execute("ROLLBACK")
    assert took < PROMPT
    assert len(failures) == 1 and "interrupted while waiting for another process's write lock" in str(failures[0])
    assert rows(path, "PRAGMA journal_mode") == [("delete",)]
    assert rows(path, "SELECT name FROM sqlite_master") == []


async def test_a_timeout_around_engine_open_ends_its_registration_s_wait_for_the_lock(tmp_path: Path) -> None:
    """The engine registers as it opens: a wait the caller gave up on ends
    at once, before any engine exists whose close would interrupt it."""
    path = tmp_path / "wfc.db"
    await waiting_run(path)
    opened: list[str] = []
    with sqlite_write_lock(path), anyio.fail_after(PROMPT + 35):
        began = time.monotonic()
        with anyio.move_on_after(WAITING):
            async with Engine.open(f"sqlite:///{path}{LONG_WAIT}"):
                opened.append("open")
        took = time.monotonic() - began
    assert opened == []
    assert took < WAITING + PROMPT, f"the cancelled open took {took:.1f}s"
    assert rows(path, "SELECT count(*) FROM engines") == [(0,)]


@pytest.mark.parametrize("write", ["register", "heartbeat", "claim", "release"])
async def test_an_engine_s_own_writes_wait_out_a_lock_held_for_many_slices(tmp_path: Path, write: str) -> None:
    """Registration, heartbeats, task claims and the release at close each
    wait for the lock as long as busy_timeout says, slice after slice."""
    path = tmp_path / "wfc.db"
    await waiting_run(path)
    store = await open_store(f"sqlite:///{path}{LONG_WAIT}", time.time())
    try:
        if write != "register":
            await store.register_engine("e-1", "host", 1, time.time(), 30.0)
        holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        holder.execute("BEGIN IMMEDIATE")
        release = threading.Timer(20 * SLICE, lambda: holder.execute("ROLLBACK"))
        began = time.monotonic()
        release.start()
        try:
            if write == "register":
                await store.register_engine("e-1", "host", 1, time.time(), 30.0)
            elif write == "heartbeat":
                await store.heartbeat("e-1", time.time(), 30.0)
            elif write == "claim":
                assert await store.claim_tasks("e-1", ["nothing-here"], time.time(), 30.0, 10) == []
            else:
                await store.release_engine("e-1")
        finally:
            release.join()
            holder.close()
        assert time.monotonic() - began >= 15 * SLICE  # it did wait for the lock
    finally:
        await store.close()
    assert rows(path, "SELECT count(*) FROM engines") == [(0 if write == "release" else 1,)]


def test_a_wait_for_the_lock_does_not_spin_where_the_connection_itself_waits_less() -> None:
    """A connection whose own lock wait is shorter than a slice (0 here; an
    SQLite built without usleep waits no time under a second) is asked
    again a slice later, not in a busy loop."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "spin.db"
        holder = sqlite3.connect(path, isolation_level=None)
        holder.execute("CREATE TABLE t (x)")
        holder.execute("BEGIN IMMEDIATE")
        conn = sqlite3.connect(path, isolation_level=None, timeout=0)
        tries = 0

        def begin() -> None:
            nonlocal tries
            tries += 1
            conn.execute("BEGIN IMMEDIATE")

        waits = LockWaits(0.5)
        began = time.monotonic()
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            waits.waiting(begin)
        took = time.monotonic() - began
        holder.execute("ROLLBACK")
        holder.close()
        conn.close()
    assert 0.45 <= took < 2.0
    assert tries <= 0.5 / SLICE + 2, f"{tries} tries in {took:.2f}s: it spun"


def test_a_file_another_application_made_its_own_while_wfc_waited_is_refused(tmp_path: Path) -> None:
    """wfc looked at an empty file, then waited for the lock to make it
    WAL and create its tables; meanwhile another application created its
    own there. Looked at again under the lock, the file is refused, and
    left as that application wrote it. (The race itself is a matter of
    milliseconds: the look under the lock is tested here directly.)"""
    path = tmp_path / "theirs.db"
    with sqlite3.connect(path, isolation_level=None) as other:
        other.execute("CREATE TABLE theirs (x)")
        other.execute("INSERT INTO theirs VALUES (1)")
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        with pytest.raises(NotAWfcDatabaseError, match=r"another application .* tables: theirs"):
            migrate(conn, str(path), time.time(), LockWaits(1.0))
    finally:
        conn.close()
    assert rows(path, "SELECT name FROM sqlite_master") == [("theirs",)]
    assert rows(path, "SELECT x FROM theirs") == [(1,)]
