"""wfc event send: by run id and by correlation key, idempotent event ids,
and the usage errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # run_helpers, with --import-mode=importlib

from run_helpers import (
    EXAMPLES,
    WFC,
    Invoke,
    make_invoke,
    no_traceback,
    read_run,
    script_env,
    sqlite_url,
    wait_until,
    wfc_process,
    write_approval,
)

from wfc.runtime import RunStatus


@pytest.fixture
def wfc(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Invoke:
    return make_invoke(monkeypatch, tmp_path)


@pytest.fixture
def url(wfc: Invoke, tmp_path: Path) -> str:
    """A database with run ``ap-1`` waiting for ``approval`` with correlation ``o-1``."""
    write_approval(tmp_path)
    url = sqlite_url(tmp_path / "runs.db")
    result = wfc("run", "approval.py", "-i", "order-id=o-1", "--db", url, "--run-id", "ap-1", "--timeout", "0.3")
    assert result.exit_code == 1
    return url


def test_an_event_for_a_waiting_run_lets_it_complete(wfc: Invoke, url: str) -> None:
    sent = wfc("event", "send", "approval", '{"ok": true}', "--run", "ap-1", "--db", url)
    assert sent.exit_code == 0, sent.output
    assert "event 'approval' (id " in sent.stdout
    assert ") delivered: run ap-1 is RUNNING, main@record-approval: task 'record-approval'" in sent.stdout
    finished = wfc("run", "approval.py", "--db", url, "--run-id", "ap-1")
    assert finished.exit_code == 0, finished.output
    assert '"approved": true' in finished.stdout
    run = read_run(url, "ap-1")
    assert run.status is RunStatus.COMPLETED
    assert run.output == {"order": "o-1", "approved": True, "count": 1, "rush": False}


def test_by_correlation_and_event_id(wfc: Invoke, url: str) -> None:
    args = ["--correlation", "o-1", "--event-id", "evt-1", "--db", url, "--json"]
    first = json.loads(wfc("event", "send", "approval", '{"ok": false}', *args).stdout)
    assert first == {"event": "approval", "event_id": "evt-1", "run_id": "ap-1", "duplicate": False}
    second = wfc("event", "send", "approval", '{"ok": false}', *args[:-1])
    assert second.exit_code == 0
    assert "event 'approval' with id evt-1 was sent before; nothing was delivered again" in second.stdout


def test_an_event_nobody_waits_for_yet_is_stored(wfc: Invoke, url: str) -> None:
    result = wfc("event", "send", "approval", "--correlation", "o-2", "--db", url)
    assert result.exit_code == 0
    assert "is stored: no run waits for it with correlation 'o-2' yet" in result.stdout


#: Waits for ``go`` only after a long sleep: an event sent before is early.
LATER = """\
from wfc.dsl import Workflow, WorkflowThread


def later(wf: WorkflowThread) -> None:
    wf.sleep(600)
    wf.wait_for_event("go")


later_wf = Workflow("later", later)
"""


def test_an_early_event_waits_in_the_inbox(wfc: Invoke, url: str, tmp_path: Path) -> None:
    (tmp_path / "later.py").write_text(LATER)
    assert wfc("run", "later.py", "--db", url, "--run-id", "l-1", "--detach").exit_code == 0
    result = wfc("event", "send", "go", "[1, 2]", "--run", "l-1", "--db", url)
    assert result.exit_code == 0, result.output
    assert "kept in the run's inbox until a wait takes it" in result.stdout
    shown = json.loads(wfc("runs", "show", "l-1", "--json", "--db", url).stdout)
    assert shown["pending_events"] == ["go"]


def test_payload_from_stdin(wfc: Invoke, url: str) -> None:
    result = wfc("event", "send", "approval", "-", "--run", "ap-1", "--db", url, input='{"ok": true}\n')
    assert result.exit_code == 0, result.output
    assert "delivered" in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["approval", "{ok: true}", "--run", "ap-1"], "not JSON"),
        (["approval", "yes", "--run", "ap-1"], "quote a string"),
        (["approval", "{}"], "give exactly one of --run ID"),
        (["approval", "{}", "--run", "ap-1", "--correlation", "o-1"], "give exactly one of --run ID"),
    ],
)
def test_usage_errors_exit_2(wfc: Invoke, url: str, args: list[str], message: str) -> None:
    result = wfc("event", "send", *args, "--db", url)
    assert result.exit_code == 2
    assert message in result.output
    assert no_traceback(result)


def test_an_unknown_or_finished_run_exits_1(wfc: Invoke, url: str) -> None:
    unknown = wfc("event", "send", "approval", "--run", "nope", "--db", url)
    assert unknown.exit_code == 1
    assert "no run with id 'nope'" in unknown.stderr
    assert wfc("runs", "cancel", "ap-1", "--db", url).exit_code == 0
    finished = wfc("event", "send", "approval", "--run", "ap-1", "--db", url)
    assert finished.exit_code == 1
    assert "run 'ap-1' is CANCELLED" in finished.stderr


def test_compliance_approval_reaches_a_running_engine(tmp_path: Path) -> None:
    """The currency-exchange example in one `wfc run` process, approved by
    `wfc event send` from another."""
    inputs = ["transfer-id=t-1", "source-account=acc-1", "target-account=acc-2", "amount=100"]
    inputs += ["source-currency=EUR", "target-currency=USD"]
    args = [
        str(WFC),
        "run",
        str(EXAMPLES / "currency_exchange.py"),
        "--tasks",
        str(EXAMPLES / "currency_exchange_tasks.py"),
    ]
    args += [part for value in inputs for part in ("-i", value)] + ["--run-id", "tx-1", "--timeout", "30"]
    runner = subprocess.Popen(args, cwd=tmp_path, env=script_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        url = sqlite_url(tmp_path / "wfc.db")
        wait_until(lambda: _waits_for_approval(tmp_path))
        sent = wfc_process(
            tmp_path, "event", "send", "compliance-approved", '{"approved": true}', "--correlation", "t-1"
        )
        assert sent.returncode == 0, sent.stderr
        assert "delivered: run tx-1 is" in sent.stdout
        out, err = runner.communicate(timeout=30)
    finally:
        runner.kill()
    assert runner.returncode == 0, err
    assert b"output: 108.7" in out
    assert read_run(url, "tx-1").status is RunStatus.COMPLETED


def _waits_for_approval(folder: Path) -> bool:
    if not (folder / "wfc.db").exists():
        return False
    shown = wfc_process(folder, "runs", "show", "tx-1", "--json")
    return shown.returncode == 0 and "compliance-approved" in " ".join(json.loads(shown.stdout)["waiting_on"])
