"""The CLI on an unhappy database environment: a read-only file or folder, a
lock held too long, a damaged file, missing tables, bad URLs and servers that
cannot be reached. Each is the user's problem, reported in one paragraph with
exit code 1: never a traceback, never "internal error".

The read-only cases run the real console script as the unprivileged user
``nobody`` (``setpriv``): these tests run as root, whom file permissions do
not stop, so only another user meets a read-only file or folder the way a
user does. They are skipped, with the reason, where that is not possible.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # run_helpers, with --import-mode=importlib
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "runtime"))  # rtdb

from rtdb import sqlite_write_lock, unresolvable_invalid_hosts
from run_helpers import PAYMENT, WFC, Invoke, make_invoke, script_env, sqlite_url
from typer.testing import Result

RUN_ID = "pay-1"


@pytest.fixture
def wfc(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Invoke:
    return make_invoke(monkeypatch, tmp_path)


def _user_error(result: Result | subprocess.CompletedProcess[str], *words: str) -> str:
    """Check that ``result`` is a user's error mentioning ``words``; its text."""
    text = result.stdout + (result.stderr or "")
    code = result.exit_code if isinstance(result, Result) else result.returncode
    assert code == 1, text
    assert "Traceback" not in text
    assert "internal error" not in text and "bug in wfc" not in text
    for word in words:
        assert word in text, f"{word!r} not in: {text}"
    return text


def _database_with_a_run(wfc: Invoke, path: Path) -> str:
    url = sqlite_url(path)
    assert wfc("run", *PAYMENT, "-i", "payment-id=p-1", "--db", url, "--run-id", RUN_ID).exit_code == 0
    assert not Path(f"{path}-wal").exists()  # closed cleanly
    return url


# ---------------------------------------------------------------- read-only, as another user


@pytest.fixture
def shared_folder() -> Iterator[Path]:
    """A folder owned by root that ``nobody`` can read but not write to."""
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        pytest.skip("needs root and setpriv to run the CLI as the user nobody")
    folder = Path(tempfile.mkdtemp(prefix="wfc-ro-"))
    folder.chmod(0o755)
    probe = _as_nobody(folder, "--version")
    if probe.returncode != 0:
        shutil.rmtree(folder)
        pytest.skip(f"the user nobody cannot run {WFC} (a folder above it is private): {probe.stderr.strip()}")
    try:
        yield folder
    finally:
        shutil.rmtree(folder)


def _as_nobody(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", str(WFC), *args]
    env = script_env({"HOME": str(cwd), "PYTHONDONTWRITEBYTECODE": "1"})
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=60)


def test_read_commands_work_on_a_read_only_file(wfc: Invoke, shared_folder: Path) -> None:
    path = shared_folder / "wfc.db"
    url = _database_with_a_run(wfc, path)
    path.chmod(0o444)
    before = path.read_bytes()
    listed = _as_nobody(shared_folder, "runs", "list", "--db", url)
    assert listed.returncode == 0, listed.stderr
    assert RUN_ID in listed.stdout and "COMPLETED" in listed.stdout
    shown = _as_nobody(shared_folder, "runs", "show", RUN_ID, "--db", url)
    assert shown.returncode == 0 and "COMPLETED" in shown.stdout, shown.stderr
    history = _as_nobody(shared_folder, "runs", "history", RUN_ID, "--db", url, "--json")
    assert history.returncode == 0 and '"kind"' in history.stdout, history.stderr
    assert path.read_bytes() == before


def test_write_commands_say_the_file_is_read_only(wfc: Invoke, shared_folder: Path) -> None:
    path = shared_folder / "wfc.db"
    url = _database_with_a_run(wfc, path)
    path.chmod(0o444)
    before = path.read_bytes()
    started = _as_nobody(shared_folder, "run", *PAYMENT, "-i", "payment-id=p-2", "--db", url)
    _user_error(started, "the file is read-only", "chmod u+w", "wfc runs list")
    cancelled = _as_nobody(shared_folder, "runs", "cancel", RUN_ID, "--db", url)
    _user_error(cancelled, "the file is read-only")
    sent = _as_nobody(shared_folder, "event", "send", "approval", "--correlation", "o-1", "--db", url)
    _user_error(sent, "the file is read-only")
    assert path.read_bytes() == before


def test_write_commands_say_the_folder_is_read_only(wfc: Invoke, shared_folder: Path) -> None:
    """The file itself may be written, but no -wal/-shm can be created."""
    path = shared_folder / "wfc.db"
    url = _database_with_a_run(wfc, path)
    path.chmod(0o666)
    listed = _as_nobody(shared_folder, "runs", "list", "--db", url)
    assert listed.returncode == 0 and RUN_ID in listed.stdout, listed.stderr
    started = _as_nobody(shared_folder, "run", *PAYMENT, "-i", "payment-id=p-2", "--db", url)
    _user_error(started, "is read-only", "wfc.db-wal", "writable folder")


# ---------------------------------------------------------------- locks


#: A writer in a rollback journal that dies mid-transaction: it deletes
#: every run, then spills enough pages to the file (a cache of 2 pages) that
#: the file itself holds the uncommitted delete, and the journal the runs.
_DIES_MID_WRITE = """
import os, sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("PRAGMA cache_size = 2")
conn.execute("BEGIN")
conn.execute("DELETE FROM runs")
conn.execute("CREATE TABLE pad (x)")
for _ in range(200):
    conn.execute("INSERT INTO pad VALUES (randomblob(3000))")
os._exit(0)
"""


def _interrupted_write(wfc: Invoke, path: Path) -> str:
    url = _database_with_a_run(wfc, path)
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode = DELETE").fetchone() == ("delete",)
    subprocess.run([sys.executable, "-c", _DIES_MID_WRITE, str(path)], check=True, timeout=60)
    assert Path(f"{path}-journal").stat().st_size > 0
    return url


def test_a_read_never_shows_what_an_interrupted_write_left(wfc: Invoke, shared_folder: Path) -> None:
    path = shared_folder / "wfc.db"
    url = _interrupted_write(wfc, path)
    before = path.read_bytes()
    listed = _as_nobody(shared_folder, "runs", "list", "--db", url)  # nobody may not write there
    _user_error(listed, "a write to it was interrupted", "wfc.db-journal", "Make both writable")
    assert path.read_bytes() == before
    listed = wfc("runs", "list", "--db", url)  # root may: the write is rolled back, the run is there
    assert listed.exit_code == 0, listed.output
    assert RUN_ID in listed.stdout
    assert not Path(f"{path}-journal").exists()


def test_a_locked_database_is_named_after_the_configured_wait(wfc: Invoke, tmp_path: Path) -> None:
    path = tmp_path / "wfc.db"
    url = _database_with_a_run(wfc, path)
    with sqlite_write_lock(path):
        cancelled = wfc("runs", "cancel", RUN_ID, "--db", f"{url}?busy_timeout=0.2")
        _user_error(cancelled, "locked by another process", "0.2 s", "busy_timeout", "WFC_SQLITE_BUSY_TIMEOUT")
        listed = wfc("runs", "list", "--db", url)  # readers are not blocked
        assert listed.exit_code == 0 and RUN_ID in listed.stdout


def test_the_wait_for_a_lock_is_read_from_the_environment(wfc: Invoke, tmp_path: Path) -> None:
    path = tmp_path / "wfc.db"
    url = _database_with_a_run(wfc, path)
    assert wfc("run", *PAYMENT, "-i", "payment-id=p-3", "--db", url, "--run-id", "w-1", "--detach").exit_code == 0
    with sqlite_write_lock(path):
        started = subprocess.run(
            [str(WFC), "run", *PAYMENT, "-i", "payment-id=p-2", "--db", url],
            cwd=tmp_path,
            env=script_env({"WFC_SQLITE_BUSY_TIMEOUT": "0.2"}),
            capture_output=True,
            text=True,
            timeout=60,
        )
        cancelled = subprocess.run(
            [str(WFC), "runs", "cancel", "w-1", "--db", url], cwd=tmp_path,
            env=script_env({"WFC_SQLITE_BUSY_TIMEOUT": "0.2"}), capture_output=True, text=True, timeout=60,
        )  # fmt: skip
    for failed in (started, cancelled):
        text = _user_error(failed, "locked by another process", "0.2 s")
        assert text.count("locked by another process") == 1 and "database is locked" not in text, text


# ---------------------------------------------------------------- damaged and foreign files


def test_a_truncated_database_names_integrity_check_and_backups(wfc: Invoke, tmp_path: Path) -> None:
    path = tmp_path / "wfc.db"
    url = _database_with_a_run(wfc, path)
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE filler AS WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE "
                 "i < 2000) SELECT i, randomblob(200) AS b FROM n")  # fmt: skip
    conn.commit()
    conn.execute("DROP TABLE filler")  # keeps the file large: its pages are only freed
    conn.commit()
    conn.close()
    with path.open("r+b") as handle:
        handle.truncate(path.stat().st_size // 2)
    for args in (["runs", "list"], ["runs", "cancel", RUN_ID]):
        result = wfc(*args, "--db", url)
        _user_error(result, "damaged", "PRAGMA integrity_check", "backup")


def test_garbage_instead_of_a_database_is_refused(wfc: Invoke, tmp_path: Path) -> None:
    (tmp_path / "wfc.db").write_bytes(os.urandom(4096))
    _user_error(wfc("runs", "list", "--db", "wfc.db"), "not a SQLite database", "backup")


def test_a_folder_given_as_the_database_is_named_as_one(wfc: Invoke, tmp_path: Path) -> None:
    (tmp_path / "runs").mkdir()
    for args in (("runs", "list"), ("run", *PAYMENT, "-i", "payment-id=p-1")):
        text = _user_error(wfc(*args, "--db", "runs"), "runs: it is a directory; give the path of a database file")
        assert "permissions" not in text


def test_a_path_too_long_for_sqlite_is_named_as_such(wfc: Invoke, tmp_path: Path) -> None:
    deep = tmp_path.joinpath(*["d" * 200] * 3)
    deep.mkdir(parents=True)
    url = sqlite_url(deep / "wfc.db")
    started = wfc("run", *PAYMENT, "-i", "payment-id=p-1", "--db", url)
    _user_error(started, "bytes long, and SQLite opens paths of at most")
    name_too_long = sqlite_url(tmp_path / ("n" * 300))
    _user_error(wfc("run", *PAYMENT, "-i", "payment-id=p-1", "--db", name_too_long), "File name too long")
    _user_error(wfc("runs", "list", "--db", name_too_long), "File name too long; give a shorter or simpler path")


def test_a_run_changed_by_hand_is_listed_as_such_and_refused_by_name(wfc: Invoke, tmp_path: Path) -> None:
    path = tmp_path / "wfc.db"
    url = _database_with_a_run(wfc, path)
    assert wfc("run", *PAYMENT, "-i", "payment-id=p-2", "--db", url, "--run-id", "bad-1").exit_code == 0
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE runs SET state = '{not json' WHERE id = 'bad-1'")
    listed = wfc("runs", "list", "--db", url)
    assert listed.exit_code == 0, listed.output
    assert RUN_ID in listed.stdout  # the other run is there
    [row] = [line for line in listed.stdout.splitlines() if "bad-1" in line]
    assert "cannot be read: its stored state is not what wfc writes" in row
    _user_error(wfc("runs", "show", "bad-1", "--db", url), "run 'bad-1' cannot be read", "Restore the database")


def test_a_database_missing_wfc_tables_is_a_clear_error(wfc: Invoke, tmp_path: Path) -> None:
    path = tmp_path / "wfc.db"
    url = _database_with_a_run(wfc, path)
    conn = sqlite3.connect(path)
    conn.execute("DROP TABLE journal")
    conn.close()
    for args in (["runs", "history", RUN_ID], ["run", *PAYMENT, "-i", "payment-id=p-2"]):
        _user_error(wfc(*args, "--db", url), "journal are gone", "backup")


def test_a_database_of_another_application_is_refused(wfc: Invoke, tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "app.db")
    conn.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY)")
    conn.close()
    _user_error(wfc("runs", "list", "--db", "app.db"), "another application", "invoices", "another path")


# ---------------------------------------------------------------- URLs and servers (none contacted)


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("postgresql://nobody:pw@127.0.0.1:abc/app", ["port 'abc' is not a port number"]),
        ("postgresql://nobody@127.0.0.1:5432", ["names no database"]),
        ("postgresql://nobody:pw@[::1/app", ["malformed"]),
        ("mysql://127.0.0.1/app", ["unsupported database URL", "postgresql://"]),
        ("postgresql://nobody@127.0.0.1:1/app", ["127.0.0.1:1", "is it running"]),
    ],
)
def test_a_bad_url_or_an_unreachable_server_is_a_user_error(wfc: Invoke, url: str, words: list[str]) -> None:
    pytest.importorskip("asyncpg")
    text = _user_error(wfc("runs", "list", "--db", url), *words)
    assert ":pw@" not in text


def test_a_bad_sqlite_url_parameter_is_a_user_error(wfc: Invoke, tmp_path: Path) -> None:
    url = _database_with_a_run(wfc, tmp_path / "wfc.db")
    _user_error(wfc("runs", "list", "--db", f"{url}?timeout=3"), "unknown URL parameter 'timeout'", "busy_timeout")


def test_a_host_that_does_not_resolve_is_a_user_error(wfc: Invoke, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("asyncpg")
    unresolvable_invalid_hosts(monkeypatch)  # no query leaves this machine
    result = wfc("runs", "list", "--db", "postgresql://nobody@nonexistent.invalid:5432/app")
    _user_error(result, "'nonexistent.invalid' cannot be found", "DNS")
