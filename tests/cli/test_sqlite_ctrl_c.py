"""Ctrl-C and SIGTERM stop a command at once while another process holds
a lock on the SQLite file.

Each test starts a real ``wfc`` process (the venv's console script) with a
``busy_timeout`` of 30 s, while this process holds the database's write
lock, as another process's long transaction would (or, for the commands
that only read, keeps the whole file to itself). Once the command waits
for the lock it gets SIGINT or SIGTERM (handled like Ctrl-C), and must exit
130 within a few seconds, with its usual message and no traceback, leaving
the database as it was. The store's side is tested in
tests/runtime/test_sqlite_lock_waits.py; PostgreSQL's in
tests/cli/test_postgres_ctrl_c.py.
"""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, closing
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "runtime"))
sys.path.insert(0, str(Path(__file__).parent))  # signalled, with --import-mode=importlib
from rtdb import sqlite_file_lock, sqlite_write_lock
from signalled import EXCHANGE, INPUTS, PROMPT, interrupted, no_traceback, spawn, wfc

#: Seconds a command is given to reach its wait for the lock (it takes well under one
#: without the lock); one that has ended by then fails the test.
REACH = 2.5


def waiting(process: subprocess.Popen[str]) -> None:
    """Give ``process`` time to reach the lock; fail if it ended meanwhile."""
    time.sleep(REACH)
    if process.poll() is not None:
        out, err = process.communicate()
        pytest.fail(f"wfc ended ({process.returncode}) though the write lock was held:\n{out}\n{err}")


def state(path: Path) -> dict[str, Any]:
    """What the database holds, to compare before and after. The connection
    is closed here, not left to the collector: an open one keeps another
    from taking the file to itself (:func:`rtdb.sqlite_file_lock`)."""
    with closing(sqlite3.connect(path)) as conn:
        return {
            "runs": conn.execute("SELECT id, status, version, state FROM runs ORDER BY id").fetchall(),
            "journal": conn.execute("SELECT run_id, seq, kind FROM journal ORDER BY run_id, seq").fetchall(),
            "tasks": conn.execute("SELECT run_id, dispatch_id FROM tasks ORDER BY dispatch_id").fetchall(),
            "events": conn.execute("SELECT event_id FROM events ORDER BY seq").fetchall(),
            "specs": conn.execute("SELECT name, major, revision FROM specs ORDER BY 1, 2, 3").fetchall(),
        }


def start_detached(db: Path, run_id: str) -> None:
    """A run left RUNNING at its first task (no engine serves it)."""
    started = wfc("run", *EXCHANGE, *INPUTS, "--run-id", run_id, "--detach", "--db", f"sqlite:///{db}")
    assert started.returncode == 0, started.stderr


@pytest.mark.parametrize("how", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_wfc_run_stops_at_once_while_another_process_holds_the_write_lock(tmp_path: Path, how: signal.Signals) -> None:
    db = tmp_path / "wfc.db"
    start_detached(db, "fx-0")  # the file exists, up to date: opening it takes no lock
    before = state(db)
    with sqlite_write_lock(db):
        process = spawn("run", *EXCHANGE, *INPUTS, "--run-id", "fx-1", "--db", f"sqlite:///{db}")
        waiting(process)
        took, out, err = interrupted(process, how)
    assert process.returncode == 130, err
    assert "interrupted before the run was known to start" in err and no_traceback(out, err)
    assert took < PROMPT
    assert state(db) == before


@pytest.mark.parametrize(
    ("command", "how", "lock"),
    [
        (["runs", "cancel", "fx-1", "--reason", "stop"], signal.SIGINT, sqlite_write_lock),
        (["runs", "halt", "fx-1"], signal.SIGTERM, sqlite_write_lock),
        (["event", "send", "compliance-approved", '{"ok": true}', "--run", "fx-1"], signal.SIGINT, sqlite_write_lock),
        # A command that only reads never waits for the write lock, only
        # for a file another process keeps to itself.
        (["runs", "list"], signal.SIGINT, sqlite_file_lock),
        (["runs", "show", "fx-1"], signal.SIGTERM, sqlite_file_lock),
        (["runs", "history", "fx-1", "--json"], signal.SIGINT, sqlite_file_lock),
    ],
    ids=[
        "runs-cancel-SIGINT",
        "runs-halt-SIGTERM",
        "event-send-SIGINT",
        "runs-list-SIGINT",
        "runs-show-SIGTERM",
        "runs-history-SIGINT",
    ],
)
def test_commands_on_a_run_stop_at_once_while_another_process_holds_the_lock(
    tmp_path: Path, command: list[str], how: signal.Signals, lock: Callable[[Path], AbstractContextManager[None]]
) -> None:
    db = tmp_path / "wfc.db"
    start_detached(db, "fx-1")
    before = state(db)
    with lock(db):
        process = spawn(*command, "--db", f"sqlite:///{db}")
        waiting(process)
        took, out, err = interrupted(process, how)
    assert process.returncode == 130, err
    assert no_traceback(out, err)
    assert took < PROMPT
    assert state(db) == before
    # The lock gone, the same command goes through, and the registration
    # the interrupted process could not give back (the whole file was
    # locked) is reaped: its process is gone.
    done = wfc(*command, "--db", f"sqlite:///{db}")
    assert done.returncode == 0, done.stderr
    with closing(sqlite3.connect(db)) as conn:
        assert conn.execute("SELECT count(*) FROM engines").fetchone() == (0,)
