"""Secrets stay secret: a masked variable's value and a database password
never appear in anything wfc prints or logs, nor anywhere in the database
once no run can use them any more.

One workflow with a masked card number goes through every path (a good run,
bad inputs, a task failure, a business exception, an expression error, an
event, every view of ``wfc runs`` with and without ``--json``); all output and
logs are collected and searched for the secret, and so are every row and the
raw bytes of the SQLite file. On PostgreSQL (``WFC_TEST_POSTGRES_URL``), a URL
with a password goes through ``wfc run``, an error and ``wfc worker``.
"""

from __future__ import annotations

import json
import logging
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from typer.testing import Result

sys.path.insert(0, str(Path(__file__).parent))  # run_helpers, with --import-mode=importlib
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "runtime"))

from rtdb import SKIP_REASON, make_db, postgres_base_url
from run_helpers import WFC, Invoke, make_invoke, read_runs, script_env, sqlite_url

from wfc.runtime import RunStatus

#: Every secret of these tests starts with this: finding it anywhere is a leak.
MARK = "S3CR3T"
#: The card number of runs that end for good (COMPLETED, or FAILED beyond retry).
CARD = f"{MARK}-card-4242-4242"
#: The card number of runs that fail but may be retried: kept in the run's
#: state (the retry needs it) and nowhere else.
RETRYABLE_CARD = f"{MARK}-card-retry-1881"
#: A masked variable's default, in the spec the user wrote.
DEFAULT_KEY = f"{MARK}-default-api-key"
PASSWORD = f"{MARK}-pw"

VAULT = f'''\
from typing import Any

from wfc.dsl import Workflow, WorkflowThread
from wfc.runtime import TaskException, task


@task("use-card")
def use_card(card: str, mode: str) -> dict[str, Any]:
    if mode == "crash":
        raise RuntimeError(f"the bank declined card {{card}}")
    if mode == "refuse":
        raise TaskException("card-refused", f"card {{card}} is blocked", {{"card": card}})
    return {{"charged": True, "card": card}}


def vault(wf: WorkflowThread) -> Any:
    card = wf.declare_str("card").required().masked()
    wf.declare_int("pin").masked()
    wf.declare_str("api-key").default("{DEFAULT_KEY}").masked()
    mode = wf.declare_str("mode").default("ok")
    copy = wf.declare_str("copy")  # not masked itself: a copy of a secret
    copy.assign(card)
    wf.do_if(wf.condition("mode == 'math' and int(copy) > 0"), lambda t: t.execute("use-card", copy, "ok"))
    wf.do_if(mode == "event", lambda t: t.wait_for_event("go", timeout=600))
    wf.execute("use-card", copy, mode, retries=0)
    return copy


vault_wf = Workflow("vault", vault)
'''


@pytest.fixture
def wfc(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Invoke:
    (tmp_path / "vault.py").write_text(textwrap.dedent(VAULT))
    return make_invoke(monkeypatch, tmp_path)


class Transcript:
    """Runs ``wfc`` commands and keeps everything they print."""

    def __init__(self, wfc: Invoke) -> None:
        self._wfc = wfc
        self.text: list[str] = []

    def __call__(self, *args: str, code: int) -> Result:
        result = self._wfc(*args)
        self.text += [result.stdout, result.stderr]
        assert result.exit_code == code, (args, result.output)
        return result


def test_a_masked_value_never_leaks_through_any_path(
    wfc: Invoke, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    url = sqlite_url(tmp_path / "vault.db")
    cli = Transcript(wfc)
    run = ("run", "vault.py", "--db", url)

    good = cli(*run, "-i", f"card={CARD}", "--run-id", "good", code=0)
    assert 'output: "***"' in good.stdout  # the copy of the card is the output
    # Bad inputs: a masked value the CLI cannot parse, one the engine refuses,
    # and an unknown input (whose message lists the variables and defaults).
    bad = cli(*run, "-i", f"card={CARD}", "-i", f"pin={CARD}", code=1)
    assert "--input pin=***" in bad.stderr
    (tmp_path / "inputs.json").write_text(json.dumps({"card": CARD, "pin": CARD}))
    refused = cli(*run, "--input-json", "inputs.json", code=1)
    assert "'pin': expected int, got str (value not shown" in refused.stderr
    unknown = cli(*run, "-i", f"card={CARD}", "-i", "bogus=1", code=1)
    assert "api-key (str, default ***)" in unknown.stderr
    # Failures whose messages quote the secret.
    cli(*run, "-i", f"card={RETRYABLE_CARD}", "-i", "mode=crash", "--run-id", "crash", code=1)
    cli(*run, "-i", f"card={RETRYABLE_CARD}", "-i", "mode=refuse", "--run-id", "refuse", code=1)
    cli(*run, "-i", f"card={CARD}", "-i", "mode=math", "--run-id", "math", code=1)
    # An event for a run that waits with the secret in its state.
    cli(*run, "-i", f"card={CARD}", "-i", "mode=event", "--run-id", "event", "--timeout", "0.3", code=1)
    cli("event", "send", "go", '{"ok": true}', "--run", "event", "--db", url, code=0)
    cli(*run, "--run-id", "event", code=0)
    # Every view of the runs.
    for json_flag in ([], ["--json"]):
        cli("runs", "list", "--db", url, *json_flag, code=0)
        for run_id in ("good", "crash", "refuse", "math", "event"):
            cli("runs", "show", run_id, "--db", url, *json_flag, code=0)
            cli("runs", "history", run_id, "--db", url, *json_flag, code=0)
    # Database URLs with a password, in errors.
    cli("runs", "list", "--db", f"mysql://app:{PASSWORD}@db.example/orders", code=1)
    cli("runs", "list", "--db", f"postgresql://app:{PASSWORD}@127.0.0.1:1/orders", code=1)

    # Each path did what it is here for.
    runs = {info.id: info for info in read_runs(url)}
    assert {k: v.status for k, v in runs.items()} == {
        "good": RunStatus.COMPLETED,
        "crash": RunStatus.FAILED,
        "refuse": RunStatus.FAILED,
        "math": RunStatus.FAILED,
        "event": RunStatus.COMPLETED,
    }
    failures = {k: v.failure.name for k, v in runs.items() if v.failure is not None}
    assert failures == {"crash": "TASK_ERROR", "refuse": "card-refused", "math": "EXPRESSION_ERROR"}

    printed = "\n".join([*cli.text, caplog.text])
    assert MARK not in printed
    assert_database_keeps_no_secret(tmp_path / "vault.db")


def assert_database_keeps_no_secret(path: Path) -> None:
    """Rows and raw bytes: the retryable card only in the state of the runs
    that may be retried, nothing else of the secrets anywhere."""
    with sqlite3.connect(path) as conn:
        tables = [row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        failed = {row[0] for row in conn.execute("SELECT id FROM runs WHERE status = 'FAILED'")}
        for table in tables:
            columns = [row[1] for row in conn.execute(f"PRAGMA table_info({table})")]
            for row in conn.execute(f"SELECT * FROM {table}"):
                for column, value in zip(columns, row, strict=True):
                    # A run's state: its row, and a row per thread (run_threads).
                    of_failed = (table, column) == ("runs", "state") and row[columns.index("status")] == "FAILED"
                    if of_failed or ((table, column) == ("run_threads", "state") and row[0] in failed):
                        assert CARD not in str(value)
                        continue
                    if (table, column) == ("specs", "body"):
                        # The spec the user wrote holds the default they chose.
                        value = str(value).replace(DEFAULT_KEY, "")
                    assert MARK not in str(value), (table, column, value)
        journal = [row[0] for row in conn.execute("SELECT detail FROM journal")]
    conn.close()
    assert journal and not any(MARK in detail for detail in journal)
    raw = b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))
    assert CARD.encode() not in raw
    assert PASSWORD.encode() not in raw


@pytest.fixture
def pg_url() -> str:
    """The PostgreSQL test database with a password in its URL (trust
    authentication accepts any) and a schema of its own."""
    base = postgres_base_url()
    if base is None:
        pytest.skip(SKIP_REASON)
    parts = urlsplit(make_db("postgres", Path()).url)
    user, host = parts.netloc.rsplit("@", 1) if "@" in parts.netloc else ("postgres", parts.netloc)
    netloc = f"{user.split(':', 1)[0]}:{PASSWORD}@{host}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))


def test_a_database_password_never_leaks(wfc: Invoke, tmp_path: Path, pg_url: str) -> None:
    cli = Transcript(wfc)
    shown = pg_url.replace(PASSWORD, "***")
    try:
        good = cli("run", "vault.py", "--db", pg_url, "-i", f"card={CARD}", "--run-id", "pg-good", code=0)
        assert f"started run pg-good (vault 1.0) on {shown}" in good.stdout
        # Quoted for a shell: "***" would be a glob there.
        assert f"full journal: wfc runs history pg-good --db '{shown}'" in good.stdout
        missing = urlsplit(pg_url)._replace(path="/wfc_h4_no_such_database")
        cli("runs", "list", "--db", urlunsplit(missing), code=1)
        banner = worker_banner(tmp_path, pg_url)
        assert f"on {shown}" in banner
    finally:
        make_db_drop(pg_url)
    assert MARK not in "\n".join([*cli.text, banner])


def worker_banner(folder: Path, url: str) -> str:
    """What ``wfc worker`` prints when it starts, and when it stops."""
    worker = subprocess.Popen(
        [str(WFC), "worker", "--tasks", "vault.py", "--db", url],
        cwd=folder,
        env=script_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert worker.stdout is not None
        first = worker.stdout.readline()
    finally:
        time.sleep(0.2)
        worker.send_signal(signal.SIGTERM)
        rest, _ = worker.communicate(timeout=30)
    return first + rest


def make_db_drop(url: str) -> None:
    """Drop the test's schema."""
    from rtdb import Db

    schema = dict(part.split("=", 1) for part in urlsplit(url).query.split("&"))["schema"]
    Db("postgres", url, schema=schema).drop()
