"""wfc runs watch|purge|export: tail every run, durably with --consumer;
delete finished runs; write them out as JSON lines first."""

from __future__ import annotations

import json
import sqlite3
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # run_helpers, with --import-mode=importlib

from run_helpers import Invoke, make_invoke, no_traceback, sqlite_url

FLOW = """\
from wfc.dsl import Workflow, WorkflowThread
from wfc.runtime import task


@task("charge")
def charge(order_id: str, card: str) -> str:
    return f"charged {order_id}"


def order(wf: WorkflowThread) -> None:
    order_id = wf.declare_str("order-id").required().searchable()
    card = wf.declare_str("card").required().masked()
    wf.execute("charge", order_id, card)


order_wf = Workflow("order", order)
"""


@pytest.fixture
def wfc(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Invoke:
    return make_invoke(monkeypatch, tmp_path)


@pytest.fixture
def url(wfc: Invoke, tmp_path: Path) -> str:
    """A database with the finished run ``o-1``."""
    (tmp_path / "flow.py").write_text(FLOW)
    db = sqlite_url(tmp_path / "runs.db")
    _run(wfc, db, "o-1")
    return db


def _run(wfc: Invoke, db: str, run_id: str) -> None:
    started = wfc("run", "flow.py", "-i", f"order-id={run_id}", "-i", "card=4111-1111", "--db", db, "--run-id", run_id)
    assert started.exit_code == 0, started.output


def _count(path: Path, sql: str) -> int:
    with sqlite3.connect(path) as conn:
        value = int(conn.execute(sql).fetchone()[0])
    conn.close()
    return value


def test_watch_json_from_start_prints_each_entry_once_per_line(wfc: Invoke, url: str) -> None:
    result = wfc("runs", "watch", "--db", url, "--from-start", "--json", "-n", "2")
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(d["run_id"], d["seq"]) for d in lines] == [("o-1", 1), ("o-1", 2)]
    assert lines[0]["kind"] == "RUN_STARTED"
    assert lines[0]["workflow"] == "order"
    assert "4111" not in result.stdout


def test_watch_with_a_consumer_goes_on_where_it_stopped(wfc: Invoke, url: str, tmp_path: Path) -> None:
    args = ("runs", "watch", "--db", url, "--consumer", "ops", "--from-start", "-k", "run_completed", "-n", "1")
    first = wfc(*args)
    assert first.exit_code == 0, first.output
    assert "o-1" in first.stdout and "RUN_COMPLETED" in first.stdout
    _run(wfc, url, "o-2")
    second = wfc(*args)
    assert second.exit_code == 0, second.output
    assert "o-2" in second.stdout and "o-1" not in second.stdout
    assert _count(tmp_path / "runs.db", "SELECT count(*) FROM subscribers WHERE name = 'ops'") == 1


def test_export_then_purge(wfc: Invoke, url: str, tmp_path: Path) -> None:
    _run(wfc, url, "o-2")
    exported = wfc("runs", "export", "--db", url, "-o", "archive.jsonl")
    assert exported.exit_code == 0, exported.output
    lines = [json.loads(line) for line in (tmp_path / "archive.jsonl").read_text().splitlines()]
    assert sorted(doc["run"]["id"] for doc in lines) == ["o-1", "o-2"]
    for doc in lines:
        assert doc["run"]["status"] == "COMPLETED"
        assert doc["run"]["variables"]["card"] == "***"
        assert doc["journal"][0]["kind"] == "RUN_STARTED" and doc["journal"][-1]["kind"] == "RUN_COMPLETED"
    assert "4111" not in (tmp_path / "archive.jsonl").read_text()

    kept = wfc("runs", "purge", "--db", url, "--finished-before", "30d")
    assert kept.exit_code == 0 and "deleted 0 finished runs" in kept.stdout
    dry = wfc("runs", "purge", "--db", url, "--finished-before", "0s", "--dry-run")
    assert dry.exit_code == 0 and "would delete 2 finished runs" in dry.stdout
    assert _count(tmp_path / "runs.db", "SELECT count(*) FROM runs") == 2
    done = wfc("runs", "purge", "--db", url, "--finished-before", "0s", "--status", "completed")
    assert done.exit_code == 0 and "deleted 2 COMPLETED runs" in done.stdout, done.output
    for table in ("runs", "journal", "tasks", "timers", "events"):
        assert _count(tmp_path / "runs.db", f"SELECT count(*) FROM {table}") == 0


def test_bad_durations_and_statuses_are_clear_errors(wfc: Invoke, url: str) -> None:
    bad = wfc("runs", "purge", "--db", url, "--finished-before", "30x")
    assert bad.exit_code == 2 and "30x" in bad.output and no_traceback(bad)
    running = wfc("runs", "purge", "--db", url, "--finished-before", "1d", "--status", "RUNNING")
    assert running.exit_code == 1 and "only finished runs" in running.output and no_traceback(running)
    unknown = wfc("runs", "export", "--db", url, "--status", "DONE")
    assert unknown.exit_code == 2 and "DONE" in unknown.output and no_traceback(unknown)
    missing = wfc("runs", "purge", "--db", url)
    assert missing.exit_code == 2 and "--finished-before" in missing.output
    folder = wfc("runs", "export", "--db", url, "-o", ".")
    assert folder.exit_code == 1 and "is a directory; give the path of a file" in folder.output and no_traceback(folder)


def test_list_where_finds_runs_by_searchable_variables(wfc: Invoke, url: str) -> None:
    _run(wfc, url, "o-2")
    found = wfc("runs", "list", "--db", url, "--where", "order-id=o-2", "--json")
    assert found.exit_code == 0, found.output
    assert [run["id"] for run in json.loads(found.stdout)] == ["o-2"]
    both = wfc("runs", "list", "--db", url, "--where", "order-id=o-1", "--status", "COMPLETED", "--json")
    assert [run["id"] for run in json.loads(both.stdout)] == ["o-1"]
    none = wfc("runs", "list", "--db", url, "--where", "order-id=o-3")
    assert none.exit_code == 0 and "no runs match" in none.output
    card = wfc("runs", "list", "--db", url, "--where", "card=4111-1111")
    assert card.exit_code == 1 and no_traceback(card)
    assert "'card': it is not a searchable variable; searchable: order-id" in card.output
    bare = wfc("runs", "list", "--db", url, "--where", "order-id")
    assert bare.exit_code == 1 and "must be NAME=VALUE" in bare.output and no_traceback(bare)
