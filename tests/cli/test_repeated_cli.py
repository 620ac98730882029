"""Repeated and malformed arguments on the command line: a status given
twice picks each run once (list, export, purge); an input or a field named
twice is refused, naming it; a new run's id, a user or consumer name with a
control character or too long is refused; a ``--kind`` the engine never
writes is refused instead of waiting forever. Each refusal exits non-zero
with what to do, and changes nothing stored."""

from __future__ import annotations

import json
import sqlite3
import sys
from pathlib import Path

import pytest
from typer.testing import Result

sys.path.insert(0, str(Path(__file__).parent))  # the helpers, with --import-mode=importlib

from rtdb import Db
from run_helpers import Invoke, make_invoke, no_traceback, sqlite_url
from task_helpers import audit_kinds, start_reviews, stored

FLOW = """\
from wfc.dsl import Workflow, WorkflowThread
from wfc.runtime import task


@task("charge")
def charge(order_id: str, card: str) -> str:
    if order_id.startswith("bad"):
        raise RuntimeError("card declined")
    return f"charged {order_id}"


def order(wf: WorkflowThread) -> None:
    order_id = wf.declare_str("order-id").required()
    card = wf.declare_str("card").required().masked()
    count = wf.declare_int("count").default(1)
    wf.execute("charge", order_id, card, retries=0)


order_wf = Workflow("order", order)
"""


@pytest.fixture
def wfc(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Invoke:
    (tmp_path / "flow.py").write_text(FLOW)
    return make_invoke(monkeypatch, tmp_path)


@pytest.fixture
def url(wfc: Invoke, tmp_path: Path) -> str:
    """A database with ``ok-1`` COMPLETED and ``bad-1`` FAILED."""
    db = sqlite_url(tmp_path / "runs.db")
    for run_id, code in (("ok-1", 0), ("bad-1", 1)):
        result = wfc("run", "flow.py", "-i", f"order-id={run_id}", "-i", "card=4111", "--db", db, "--run-id", run_id)
        assert result.exit_code == code, result.output
    return db


def _ids(path: Path) -> list[str]:
    with sqlite3.connect(path) as conn:
        ids = [row[0] for row in conn.execute("SELECT id FROM runs ORDER BY id")]
    conn.close()
    return ids


def refused(result: Result, code: int, *needles: str) -> str:
    """The error of a refused command: its exit code, no traceback, each needle."""
    assert result.exit_code == code, result.output
    assert no_traceback(result) and "internal error" not in result.output
    for needle in needles:
        assert needle in result.output, result.output
    return result.output


# ---------------------------------------------------------------- --status twice


def test_list_with_a_status_twice_shows_each_run_once(wfc: Invoke, url: str) -> None:
    table = wfc("runs", "list", "--status", "failed", "--status", "failed", "--db", url)
    assert table.exit_code == 0, table.output
    assert table.stdout.count("bad-1") == 1 and "ok-1" not in table.stdout
    listed = wfc("runs", "list", "--status", "failed", "--status", "completed", "--status", "FAILED", "--json",
                 "--db", url)  # fmt: skip
    assert listed.exit_code == 0, listed.output
    assert sorted(run["id"] for run in json.loads(listed.stdout)) == ["bad-1", "ok-1"]


def test_export_and_purge_with_a_status_twice_take_each_run_once(wfc: Invoke, url: str, tmp_path: Path) -> None:
    twice = ("--status", "failed", "--status", "failed")
    exported = wfc("runs", "export", *twice, "-o", "archive.jsonl", "--db", url)
    assert exported.exit_code == 0, exported.output
    lines = (tmp_path / "archive.jsonl").read_text().splitlines()
    assert [json.loads(line)["run"]["id"] for line in lines] == ["bad-1"]
    dry = wfc("runs", "purge", "--finished-before", "0s", *twice, "--dry-run", "--db", url)
    assert dry.exit_code == 0 and "would delete 1 " in dry.stdout, dry.output
    done = wfc("runs", "purge", "--finished-before", "0s", *twice, "--db", url)
    assert done.exit_code == 0 and "deleted 1 FAILED run " in done.stdout, done.output
    assert _ids(tmp_path / "runs.db") == ["ok-1"]


# ---------------------------------------------------------------- a name twice


def test_an_input_given_twice_is_refused_naming_it(wfc: Invoke, url: str, tmp_path: Path) -> None:
    args = ("run", "flow.py", "-i", "order-id=o-2", "--db", url, "--run-id", "o-2")
    error = refused(
        wfc(*args, "-i", "count=1", "-i", "count=2", "-i", "card=4111-secret", "-i", " card=5500-secret"),
        1, "--input count is given twice ('1' and '2'); give each input once",
        "--input card is given twice (the values are masked); give each input once",
    )  # fmt: skip
    assert "secret" not in error
    refused(wfc(*args, "-i", "card=x", "-i", "count=1", "-i", "count=2", "-i", "count=3"),
            1, "--input count is given 3 times ('1', '2' and '3')")  # fmt: skip
    assert _ids(tmp_path / "runs.db") == ["bad-1", "ok-1"]


def test_a_field_given_twice_is_refused_and_the_task_stays_open(invoke: Invoke, db: Db) -> None:
    task_id = start_reviews(db.url, {"r-ann": "ann"})["r-ann"]
    fields = ("-f", "approved=true", "-f", "amount=1", "-f", "approved=false")
    refused(invoke("tasks", "complete", task_id, "-u", "ann", *fields, "--db", db.url),
            1, "--field approved is given twice ('true' and 'false'); give each field once")  # fmt: skip
    task = stored(db.url, task_id)
    assert task.status.value == "ASSIGNED" and task.values is None
    assert audit_kinds(task) == [("USER_TASK_ASSIGNED", None)]


# ---------------------------------------------------------------- names


@pytest.mark.parametrize(
    ("run_id", "problem"),
    [
        ("a\x1b[2Jb\nc", "run_id 'a\\x1b[2Jb\\nc' is not allowed: character 2 is the control character U+001B"),
        ("x" * 100_000, "is not allowed: it is 100,000 characters long, more than 200"),
    ],
)
def test_a_bad_run_id_is_refused_before_any_run(
    wfc: Invoke, url: str, tmp_path: Path, run_id: str, problem: str
) -> None:
    result = wfc("run", "flow.py", "-i", "order-id=o-3", "-i", "card=x", "--db", url, "--run-id", run_id)
    error = refused(result, 1, problem, "give 1 to 200 characters", "no control characters")
    assert "\x1b" not in error and len(error) < 1000
    assert _ids(tmp_path / "runs.db") == ["bad-1", "ok-1"]


def test_an_empty_run_id_is_refused(wfc: Invoke, url: str, tmp_path: Path) -> None:
    result = wfc("run", "flow.py", "-i", "order-id=o-4", "-i", "card=x", "--db", url, "--run-id", "")
    refused(result, 1, "run_id must be a non-empty string")
    assert _ids(tmp_path / "runs.db") == ["bad-1", "ok-1"]


def test_user_names_with_control_characters_are_refused(invoke: Invoke, db: Db) -> None:
    task_id = start_reviews(db.url, {"r-ann": "ann"})["r-ann"]
    refused(invoke("tasks", "reassign", task_id, "--user", "bob\x1b[31m", "--db", db.url),
            1, "user 'bob\\x1b[31m' is not allowed: character 4 is the control character U+001B")  # fmt: skip
    refused(invoke("tasks", "complete", task_id, "-u", "an\nn", "-f", "approved=1", "-f", "amount=1", "--db", db.url),
            1, "user 'an\\nn' is not allowed", "without control characters")  # fmt: skip
    task = stored(db.url, task_id)
    assert task.status.value == "ASSIGNED" and task.user == "ann"
    assert audit_kinds(task) == [("USER_TASK_ASSIGNED", None)]


def test_a_consumer_name_with_a_control_character_is_refused(wfc: Invoke, url: str, tmp_path: Path) -> None:
    refused(wfc("runs", "watch", "--consumer", "ops\nx", "-n", "1", "--db", url),
            1, "the subscriber's name 'ops\\nx' is not allowed")  # fmt: skip
    with sqlite3.connect(tmp_path / "runs.db") as conn:
        assert conn.execute("SELECT count(*) FROM subscribers").fetchone() == (0,)
    conn.close()


# ---------------------------------------------------------------- kinds


def test_watch_with_an_unknown_kind_is_refused_listing_the_kinds(wfc: Invoke, url: str) -> None:
    for consumer in ([], ["--consumer", "ops"]):
        result = wfc("runs", "watch", "--kind", "run_failed", "--kind", "NO_SUCH_KIND", *consumer, "-n", "1",
                     "--db", url)  # fmt: skip
        refused(result, 1, "unknown journal entry kind 'NO_SUCH_KIND'", "RUN_COMPLETED, RUN_FAILED")
        assert "'RUN_FAILED'" not in result.output  # given in any case: the CLI capitalises it
    known = wfc("runs", "watch", "--kind", "run_failed", "--from-start", "-n", "1", "--db", url)
    assert known.exit_code == 0 and "bad-1" in known.stdout, known.output
