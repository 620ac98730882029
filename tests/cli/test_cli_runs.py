"""wfc runs list|show|history|cancel: tables, --json documents, masking,
filters, unknown runs and databases."""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # run_helpers, with --import-mode=importlib

from run_helpers import PAYMENT, Invoke, make_invoke, no_traceback, read_run, sqlite_url, wfc_process, write_approval

from wfc.runtime import RunStatus


@pytest.fixture
def wfc(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Invoke:
    return make_invoke(monkeypatch, tmp_path)


@pytest.fixture
def url(wfc: Invoke, tmp_path: Path) -> str:
    """A database with a completed payment run ``pay-1`` and an approval run
    ``ap-1`` waiting for its event."""
    url = sqlite_url(tmp_path / "runs.db")
    assert wfc("run", *PAYMENT, "-i", "payment-id=p-1", "--db", url, "--run-id", "pay-1").exit_code == 0
    write_approval(tmp_path)
    waiting = wfc("run", "approval.py", "-i", "order-id=o-1", "-i", "secret=hunter2", "--db", url,
                  "--run-id", "ap-1", "--timeout", "0.3")  # fmt: skip
    assert waiting.exit_code == 1
    return url


def test_list_shows_where_each_run_is(wfc: Invoke, url: str) -> None:
    result = wfc("runs", "list", "--db", url)
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    header = next(line for line in lines if line.lstrip().startswith("id"))
    assert header.split() == ["id", "workflow", "version", "status", "started", "updated", "where"]
    waiting = next(line for line in lines if line.lstrip().startswith("ap-1"))
    assert "approval" in waiting
    assert "WAITING FOR ENGINE" in waiting  # RUNNING, but no engine serves the database now
    assert waiting.rstrip().endswith("; then wait-approval (event)")
    done = next(line for line in lines if line.lstrip().startswith("pay-1"))
    assert "COMPLETED" in done
    assert done.rstrip().endswith("exit")


def test_list_json_and_filters(wfc: Invoke, url: str) -> None:
    runs = json.loads(wfc("runs", "list", "--json", "--db", url).stdout)
    assert [run["id"] for run in runs] == ["ap-1", "pay-1"]  # newest first
    payment = runs[1]
    assert payment["status"] == "COMPLETED"
    assert payment["version"] == "1.0"
    assert payment["output"] == "settled"
    assert payment["variables"]["card-token"] == "***"
    assert dt.datetime.fromisoformat(payment["created_at"]).tzinfo is not None

    def ids(*args: str) -> list[str]:
        result = wfc("runs", "list", "--json", "--db", url, *args)
        assert result.exit_code == 0, result.output
        return [run["id"] for run in json.loads(result.stdout)]

    assert ids("--status", "running") == ["ap-1"]
    assert ids("--status", "COMPLETED", "--status", "failed") == ["pay-1"]
    assert ids("--workflow", "payment") == ["pay-1"]
    assert ids("--since", "1h", "--limit", "1") == ["ap-1"]
    assert ids("--before", "2000-01-01") == []
    tomorrow = (dt.datetime.now(dt.UTC) + dt.timedelta(days=1)).isoformat()
    assert ids("--started-after", tomorrow) == []
    assert ids("--started-before", tomorrow) == ["ap-1", "pay-1"]


@pytest.mark.parametrize(
    ("args", "message"),
    [(["--status", "sleeping"], "'sleeping' is not one of"), (["--since", "yesterday"], "is neither an ISO")],
)
def test_list_usage_errors_exit_2(wfc: Invoke, url: str, args: list[str], message: str) -> None:
    result = wfc("runs", "list", "--db", url, *args)
    assert result.exit_code == 2
    assert message in result.output


def test_show_answers_where_the_run_is(wfc: Invoke, url: str) -> None:
    result = wfc("runs", "show", "ap-1", "--db", url)
    assert result.exit_code == 0
    text = result.stdout
    assert "run ap-1" in text
    assert "approval 1.0" in text
    assert "RUNNING" in text
    assert "where     main@wait-approval: event 'approval' with correlation 'o-1'" in text
    assert 'secret    "***"' in text
    assert "hunter2" not in text
    assert "wait-approval" in text.split("threads")[1]
    done = wfc("runs", "show", "pay-1", "--db", url).stdout
    assert 'output    "settled"' in done
    assert "tok_visa" not in done


def test_show_json(wfc: Invoke, url: str) -> None:
    run = json.loads(wfc("runs", "show", "ap-1", "--json", "--db", url).stdout)
    assert run["id"] == "ap-1"
    assert run["status"] == "RUNNING"
    assert run["variables"]["secret"] == "***"
    assert run["masked"] == ["secret"]
    assert run["node"] == "wait-approval"
    assert run["waiting_on"][0].startswith("main@wait-approval: event 'approval' with correlation 'o-1'")
    [thread] = run["threads"]
    assert (thread["name"], thread["status"], thread["kind"]) == ("main", "RUNNING", "entrypoint")
    assert run["failure"] is None
    assert run["pending_events"] == []


def test_history_table_and_json(wfc: Invoke, url: str) -> None:
    table = wfc("runs", "history", "pay-1", "--db", url)
    assert table.exit_code == 0
    assert "journal of run pay-1 (payment 1.0)" in table.stdout
    assert 'TASK_DISPATCHED  1        authorize-payment("p-1", "***", 42.5, "EUR")' in table.stdout
    assert "tok_visa" not in table.stdout
    entries = json.loads(wfc("runs", "history", "pay-1", "--json", "--db", url).stdout)
    assert [entry["seq"] for entry in entries] == list(range(1, len(entries) + 1))
    assert entries[0]["kind"] == "RUN_STARTED"
    assert entries[0]["detail"]["inputs"]["card-token"] == "***"
    assert entries[-1]["kind"] == "RUN_COMPLETED"
    assert entries[-1]["thread_name"] == "main"
    assert dt.datetime.fromisoformat(entries[-1]["timestamp"]).tzinfo is not None
    assert "tok_visa" not in json.dumps(entries)


def test_cancel(wfc: Invoke, url: str) -> None:
    result = wfc("runs", "cancel", "ap-1", "--reason", "customer left", "--db", url)
    assert result.exit_code == 0
    expected = "cancelled run ap-1 (approval 1.0): now CANCELLED; it was main@wait-approval: event 'approval'"
    assert expected in result.stdout
    assert read_run(url, "ap-1").status is RunStatus.CANCELLED
    again = wfc("runs", "cancel", "ap-1", "--db", url)
    assert again.exit_code == 1
    assert "cannot cancel: run 'ap-1' is CANCELLED" in again.stderr


@pytest.mark.parametrize("command", [["show"], ["history"], ["cancel"], ["show", "--json"]])
def test_an_unknown_run_id_exits_1(wfc: Invoke, url: str, command: list[str]) -> None:
    result = wfc("runs", *command[:1], "no-such-run", *command[1:], "--db", url)
    assert result.exit_code == 1
    assert "no run with id 'no-such-run' in sqlite:///" in result.stderr
    assert "wfc runs list" in result.stderr
    assert result.stdout == ""


def test_a_missing_database_is_not_created(wfc: Invoke, tmp_path: Path) -> None:
    result = wfc("runs", "list", "--db", "absent.db")
    assert result.exit_code == 1
    assert "no database at absent.db (sqlite:///absent.db)" in result.stderr
    assert not (tmp_path / "absent.db").exists()


def test_an_empty_file_is_not_made_a_database_by_a_command_that_reads(wfc: Invoke, tmp_path: Path) -> None:
    (tmp_path / "empty.db").write_bytes(b"")
    for args in (("runs", "list"), ("runs", "show", "r-1"), ("runs", "history", "r-1"), ("runs", "cancel", "r-1")):
        result = wfc(*args, "--db", "empty.db")
        assert result.exit_code == 1, result.output
        assert "empty.db is an empty file, not a wfc database (sqlite:///empty.db)" in result.stderr
    assert (tmp_path / "empty.db").stat().st_size == 0
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("empty.db")) == ["empty.db"]


def test_a_file_that_is_not_a_wfc_database_is_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("my notes\n")
    for command in (["runs", "list"], ["runs", "show", "x"], ["runs", "history", "x"], ["runs", "cancel", "x"]):
        result = wfc_process(tmp_path, *command, "--db", "notes.txt")
        assert result.returncode == 1
        assert "cannot use database" in result.stderr
        assert no_traceback(result)
    assert path.read_text() == "my notes\n"


def test_runs_list_of_an_empty_database(wfc: Invoke, tmp_path: Path) -> None:
    write_approval(tmp_path)
    url = sqlite_url(tmp_path / "fresh.db")
    wfc("run", "approval.py", "-i", "order-id=o", "--db", url, "--detach")
    assert "no runs match" in wfc("runs", "list", "--db", url, "--status", "completed").stdout
    assert json.loads(wfc("runs", "list", "--db", url, "--status", "failed", "--json").stdout) == []
