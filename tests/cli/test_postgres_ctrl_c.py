"""Ctrl-C and SIGTERM stop a command at once while PostgreSQL keeps it
waiting for another session's lock.

Each test starts a real ``wfc`` process (the venv's console script) on a
schema of its own, with a lock wait of 30 s, while another session holds a
lock the command needs (the runs or specs table, or the run's row). Once
the command waits for that lock it gets SIGINT or SIGTERM (handled like
Ctrl-C), and must exit 130 within a few seconds, with its usual message and
no traceback, leaving the database as it was: the interrupted transaction
rolled back, nothing half written, the engine unregistered.

Needs ``WFC_TEST_POSTGRES_URL`` (skipped without it). The store's side of
this is tested in tests/runtime/test_postgres_interrupt.py.
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "runtime"))
sys.path.insert(0, str(Path(__file__).parent))  # signalled, with --import-mode=importlib
from rtdb import Db, plain_url, run_sync
from signalled import EXCHANGE, INPUTS, PROMPT, interrupted, no_traceback, spawn, wfc


def create_schema(pg: Db) -> None:
    """wfc's schema, with no run in it."""
    import time as clock

    from wfc.runtime.store import open_store

    async def create() -> None:
        store = await open_store(pg.url, clock.time())
        await store.close()

    run_sync(create)


def start_detached(pg: Db, run_id: str) -> None:
    """A run left RUNNING at its first task (no engine serves it)."""
    started = wfc("run", *EXCHANGE, *INPUTS, "--run-id", run_id, "--detach", "--db", pg.url)
    assert started.returncode == 0, started.stderr


class Holder:
    """Another session holding a lock, in a thread of its own."""

    def __init__(self, pg: Db, statement: str) -> None:
        assert pg.schema is not None
        self._dsn = plain_url(pg.url)
        self._statement = statement.format(schema=pg.schema)
        self._pg = pg
        self._ready = threading.Event()
        self._release = threading.Event()
        self._error: BaseException | None = None
        self.pid = 0
        self._thread = threading.Thread(target=lambda: asyncio.run(self._hold()), daemon=True)

    async def _hold(self) -> None:
        import asyncpg  # type: ignore[import-untyped]

        try:
            conn = await asyncpg.connect(self._dsn)
            try:
                await conn.execute("BEGIN")
                await conn.execute(self._statement)
                self.pid = await conn.fetchval("SELECT pg_backend_pid()")
                self._ready.set()
                await asyncio.get_running_loop().run_in_executor(None, self._release.wait)
                await conn.execute("ROLLBACK")
            finally:
                await conn.close()
        except BaseException as exc:
            self._error = exc
            self._ready.set()

    def __enter__(self) -> Holder:
        self._thread.start()
        assert self._ready.wait(30) and self._error is None, self._error
        return self

    def __exit__(self, *exc: object) -> None:
        self._release.set()
        self._thread.join(30)

    def wait_until_blocking(self, process: subprocess.Popen[str], timeout: float = 60) -> None:
        """Return once a session waits for this one's lock (``process``'s)."""
        deadline = time.monotonic() + timeout
        query = f"SELECT count(*) FROM pg_stat_activity WHERE {self.pid} = ANY(pg_blocking_pids(pid))"
        while time.monotonic() < deadline:
            if process.poll() is not None:
                out, err = process.communicate()
                pytest.fail(f"wfc ended ({process.returncode}) before waiting for the lock:\n{out}\n{err}")
            if self._pg.rows(query)[0][0]:
                return
            time.sleep(0.05)
        pytest.fail("wfc never waited for the lock")


def state(pg: Db) -> dict[str, Any]:
    """What the database holds, to compare before and after."""
    return {
        "runs": pg.rows("SELECT id, status, version, state FROM runs ORDER BY id"),
        "journal": pg.rows("SELECT run_id, seq, kind FROM journal ORDER BY run_id, seq"),
        "tasks": pg.rows("SELECT run_id, dispatch_id FROM tasks ORDER BY dispatch_id"),
        "events": pg.rows("SELECT event_id FROM events ORDER BY seq"),
        "specs": pg.rows("SELECT name, major, revision FROM specs ORDER BY 1, 2, 3"),
    }


@pytest.mark.parametrize("how", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_wfc_run_stops_at_once_while_another_session_locks_the_specs_table(pg: Db, how: signal.Signals) -> None:
    """Deploying waits to insert the spec; the signal rolls that back."""
    create_schema(pg)
    before = state(pg)
    with Holder(pg, "LOCK TABLE {schema}.specs IN SHARE MODE") as lock:
        process = spawn("run", *EXCHANGE, *INPUTS, "--run-id", "fx-1", "--db", pg.url)
        lock.wait_until_blocking(process)
        took, out, err = interrupted(process, how)
        assert state(pg) == before  # already while the lock is held: nothing half written
    assert process.returncode == 130, err
    assert "interrupted before the run was known to start" in err and no_traceback(out, err)
    assert took < PROMPT
    assert state(pg) == before
    assert pg.rows("SELECT count(*) FROM engines") == [(0,)]  # unregistered on the way out


@pytest.mark.parametrize("how", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_wfc_run_stops_at_once_while_another_session_locks_the_runs_table(pg: Db, how: signal.Signals) -> None:
    """Starting the run waits to insert its row, at the commit; the signal rolls it back."""
    create_schema(pg)
    with Holder(pg, "LOCK TABLE {schema}.runs IN SHARE MODE") as lock:
        process = spawn("run", *EXCHANGE, *INPUTS, "--run-id", "fx-1", "--db", pg.url)
        lock.wait_until_blocking(process)
        before = state(pg)  # the spec deployed, the run not started
        took, out, err = interrupted(process, how)
    assert process.returncode == 130, err
    assert "interrupted before the run was known to start" in err and no_traceback(out, err)
    assert took < PROMPT
    assert before["specs"] == [("currency-exchange", 1, 0)] and before["runs"] == []
    assert state(pg) == before
    assert pg.rows("SELECT count(*) FROM engines") == [(0,)]


@pytest.mark.parametrize("how", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_wfc_run_following_a_run_stops_at_once_while_another_session_holds_its_row(pg: Db, how: signal.Signals) -> None:
    """The engine of ``wfc run`` resumes the run, runs its task and waits to
    commit the result; the signal rolls that back, and the run is where it was."""
    start_detached(pg, "fx-1")
    before = state(pg)
    with Holder(pg, "SELECT * FROM {schema}.runs WHERE id = 'fx-1' FOR UPDATE") as lock:
        process = spawn("run", *EXCHANGE, "--run-id", "fx-1", "--db", pg.url)
        lock.wait_until_blocking(process)
        took, out, err = interrupted(process, how)
    assert process.returncode == 130, err
    assert "interrupted: stopped following run fx-1. The run is durable" in err and no_traceback(out, err)
    assert took < PROMPT
    assert state(pg) == before  # the result not committed: the attempt is run again by the next engine
    assert pg.rows("SELECT count(*) FROM engines") == [(0,)]
    assert pg.rows("SELECT lease_owner FROM tasks") == [(None,)]  # its lease given back


def test_wfc_run_starting_a_run_whose_row_another_session_holds_stops_at_once(pg: Db) -> None:
    """Given inputs, ``wfc run --run-id`` of an existing run starts it again
    (idempotently), behind the commit of the run's resumed task: both wait
    for the row, and Ctrl-C ends both, with nothing written."""
    start_detached(pg, "fx-1")
    before = state(pg)
    with Holder(pg, "SELECT * FROM {schema}.runs WHERE id = 'fx-1' FOR UPDATE") as lock:
        process = spawn("run", *EXCHANGE, *INPUTS, "--run-id", "fx-1", "--db", pg.url)
        lock.wait_until_blocking(process)
        time.sleep(0.5)  # the start queued behind the commit that waits
        took, out, err = interrupted(process, signal.SIGINT)
    assert process.returncode == 130, err
    assert "interrupted before the run was known to start" in err and no_traceback(out, err)
    assert took < PROMPT
    assert state(pg) == before


@pytest.mark.parametrize(
    ("command", "how"),
    [
        (["runs", "cancel", "fx-1", "--reason", "stop"], signal.SIGINT),
        (["runs", "halt", "fx-1"], signal.SIGTERM),
        (["event", "send", "compliance-approved", '{"ok": true}', "--run", "fx-1"], signal.SIGINT),
    ],
    ids=["runs-cancel-SIGINT", "runs-halt-SIGTERM", "event-send-SIGINT"],
)
def test_commands_that_change_a_run_stop_at_once_while_another_session_holds_its_row(
    pg: Db, command: list[str], how: signal.Signals
) -> None:
    start_detached(pg, "fx-1")
    before = state(pg)
    with Holder(pg, "SELECT * FROM {schema}.runs WHERE id = 'fx-1' FOR UPDATE") as lock:
        process = spawn(*command, "--db", pg.url)
        lock.wait_until_blocking(process)
        took, out, err = interrupted(process, how)
    assert process.returncode == 130, err
    assert no_traceback(out, err)
    assert took < PROMPT
    assert state(pg) == before
    assert pg.rows("SELECT count(*) FROM engines") == [(0,)]
    # The lock gone, the same command goes through.
    done = wfc(*command, "--db", pg.url)
    assert done.returncode == 0, done.stderr
