"""wfc run: the payment example end to end, failures, input parsing, spec
files, --detach and --run-id, --timeout, Ctrl-C, and databases wfc cannot use."""

from __future__ import annotations

import io
import json
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from rich.console import Console

sys.path.insert(0, str(Path(__file__).parent))  # run_helpers, with --import-mode=importlib

from run_helpers import (
    EXAMPLES,
    PAYMENT,
    WFC,
    Invoke,
    make_invoke,
    no_traceback,
    read_history,
    read_run,
    read_runs,
    script_env,
    sqlite_url,
    wait_until,
    wfc_process,
    write_approval,
)

from wfc.cli import output as cli_output
from wfc.runtime import RunStatus


@pytest.fixture
def wfc(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Invoke:
    return make_invoke(monkeypatch, tmp_path)


@pytest.fixture
def url(tmp_path: Path) -> str:
    return sqlite_url(tmp_path / "runs.db")


def test_payment_completes_and_is_stored(wfc: Invoke, url: str) -> None:
    result = wfc("run", *PAYMENT, "--input", "payment-id=p-1001", "--db", url, "--run-id", "pay-1")
    assert result.exit_code == 0, result.output
    assert "started run pay-1 (payment 1.0)" in result.stdout
    assert "run pay-1 (payment 1.0): COMPLETED" in result.stdout
    assert 'output: "settled"' in result.stdout
    for line in ("authorize-payment  TASK_COMPLETED", "send-notification  TASK_COMPLETED", "RUN_COMPLETED"):
        assert line in result.stdout
    assert "tok_visa_4242" not in result.stdout  # the masked card token
    run = read_run(url, "pay-1")
    assert run.status is RunStatus.COMPLETED
    assert run.output == "settled"
    assert run.variables == {
        "payment-id": "p-1001",
        "customer-email": "ana@example.com",
        "amount": 42.5,
        "currency": "EUR",
        "card-token": "***",  # a finished run keeps no secret
        "status": "settled",
    }


def test_console_script_runs_the_payment_example(tmp_path: Path) -> None:
    """The installed `wfc`, on $WFC_DB, with inputs from --input-json on stdin."""
    inputs = json.dumps({"payment-id": "p-2", "customer-email": "bo@example.com", "amount": 1, "card-token": "t"})
    args = ["run", str(EXAMPLES / "payment.py"), "--tasks", str(EXAMPLES / "payment_tasks.py"), "--input-json", "-"]
    env = script_env({"WFC_DB": "sqlite:///env.db"})
    result = subprocess.run(
        [str(WFC), *args], cwd=tmp_path, env=env, input=inputs, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert ": COMPLETED in " in result.stdout
    assert 'output: "settled"' in result.stdout
    [run] = read_runs(sqlite_url(tmp_path / "env.db"))
    assert run.variables["amount"] == 1.0
    assert re.fullmatch(r"payment-[0-9a-f]{12}", run.id)  # readable generated ids


def _without(args: list[str], name: str) -> list[str]:
    """``args`` without the ``--input NAME=VALUE`` pair of ``name``."""
    at = args.index(next(arg for arg in args if arg.startswith(f"{name}=")))
    return args[: at - 1] + args[at + 1 :]


def test_payment_paths_end_with_their_status(wfc: Invoke, url: str) -> None:
    """A declined card and a fraud score are business outcomes: the run
    COMPLETED, with the status as its output."""
    # Each input given once (a repeated one is refused): PAYMENT without its own value of the one changed.
    declined = wfc("run", *_without(PAYMENT, "card-token"), "-i", "payment-id=p-3", "-i", "card-token=tok_declined",
                   "--db", url)  # fmt: skip
    assert declined.exit_code == 0, declined.output
    assert 'output: "declined"' in declined.stdout
    held = wfc("run", *_without(PAYMENT, "customer-email"), "-i", "payment-id=p-4",
               "-i", "customer-email=fraud@example.com", "--db", url)  # fmt: skip
    assert 'output: "held-for-review"' in held.stdout


def test_a_workflow_with_a_long_name_gets_a_run_id_that_fits(wfc: Invoke, url: str, tmp_path: Path) -> None:
    # The id made from the workflow's name must stay within the 200 characters a run id may have.
    name = "w" * 195
    (tmp_path / "long.py").write_text(
        "from wfc.dsl import Workflow, WorkflowThread\n\n"
        "def flow(wf: WorkflowThread) -> None:\n    wf.declare_str('who').required()\n\n"
        f"long_wf = Workflow({name!r}, flow)\n"
    )
    result = wfc("run", "long.py", "-i", "who=ann", "--db", url)
    assert result.exit_code == 0, result.output
    [run] = read_runs(url)
    assert run.status is RunStatus.COMPLETED and len(run.id) == 200 and run.id.startswith("w" * 187 + "-")


def test_a_failed_run_exits_1_with_its_failure(wfc: Invoke, url: str) -> None:
    args = ["-i", "transfer-id=t-1", "-i", "source-account=acc-empty", "-i", "target-account=acc-2", "-i", "amount=10"]
    args += ["-i", "source-currency=EUR", "-i", "target-currency=USD", "--db", url, "--run-id", "tx-1"]
    exchange = [str(EXAMPLES / "currency_exchange.py"), "--tasks", str(EXAMPLES / "currency_exchange_tasks.py")]
    result = wfc("run", *exchange, *args)
    assert result.exit_code == 1
    assert "run tx-1 (currency-exchange 1.0): FAILED" in result.stdout
    assert (
        "failure: insufficient-funds at node verify-funds (thread main): account acc-empty cannot cover 10.00 EUR"
        in result.stdout
    )
    assert "RUN_FAILED" in result.stdout
    assert read_run(url, "tx-1").status is RunStatus.FAILED
    # Detached again with the same id and inputs, nothing starts: it says the run has finished, and how.
    detached = wfc("run", *exchange, *args, "--detach")
    assert detached.exit_code == 0 and detached.stdout == "tx-1\n"
    assert "run tx-1 (currency-exchange 1.0) on" in detached.stderr
    assert "exists already and has finished: FAILED" in detached.stderr
    assert "started" not in detached.stderr and "waits for one" not in detached.stderr


def test_a_retried_task_shows_its_attempts(wfc: Invoke, url: str) -> None:
    result = wfc("run", *PAYMENT, "-i", "payment-id=p-5-flaky", "--db", url)
    assert result.exit_code == 0
    assert "main@authorize-payment: attempt 1 failed (TASK_ERROR: TimeoutError: card network" in result.stdout
    assert "authorize-payment  TASK_COMPLETED  2" in result.stdout


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ("count=three", "--input count='three': variable 'count' is declared int, and 'three' is not an integer"),
        ("ratio=1,5", "--input ratio='1,5': variable 'ratio' is declared float, and '1,5' is not a number"),
        ("rush=maybe", "variable 'rush' is declared bool, and 'maybe' is not a boolean; use true/false"),
        ("meta={x}", "variable 'meta' is declared json, and '{x}' is not JSON"),
        ("colour=red", "--input colour: workflow 'approval' has no variable 'colour'; its variables are count (int"),
        ("no-equals-sign", "--input 'no-equals-sign' is not NAME=VALUE"),
    ],
)
def test_bad_inputs_are_refused_before_anything_runs(wfc: Invoke, tmp_path: Path, given: str, message: str) -> None:
    write_approval(tmp_path)
    result = wfc("run", "approval.py", "-i", "order-id=o-1", "-i", given)
    assert result.exit_code == 1
    assert message in result.stderr
    assert no_traceback(result)
    assert not (tmp_path / "wfc.db").exists()


def test_inputs_are_parsed_by_type_over_the_json_file(wfc: Invoke, tmp_path: Path, url: str) -> None:
    write_approval(tmp_path)
    (tmp_path / "inputs.json").write_text('{"order-id": "from-file", "count": 9, "meta": {"k": 1}}')
    args = ["-i", "order-id=o-7", "-i", "rush=YES", "-i", "ratio=0.25", "-i", 'meta=["a", 1]', "-i", "secret=pw"]
    result = wfc("run", "approval.py", "--input-json", "inputs.json", *args, "--db", url, "--timeout", "0.2")
    assert result.exit_code == 1  # it waits for its event
    [run] = read_runs(url)
    assert run.variables == {
        "order-id": "o-7", "count": 9, "rush": True, "ratio": 0.25, "meta": ["a", 1], "secret": "pw",
    }  # fmt: skip


def test_missing_required_inputs_are_named(wfc: Invoke, url: str) -> None:
    result = wfc("run", str(EXAMPLES / "payment.py"), "--tasks", str(EXAMPLES / "payment_tasks.py"), "--db", url)
    assert result.exit_code == 1
    assert "invalid inputs for workflow 'payment' (4 problems): 'amount': required float input is missing" in (
        result.stderr
    )
    assert "Give inputs with --input amount=VALUE --input card-token=VALUE" in result.stderr
    assert no_traceback(result)


def test_missing_tasks_point_at_the_tasks_module(wfc: Invoke, url: str) -> None:
    result = wfc("run", str(EXAMPLES / "payment.py"), "-i", "payment-id=p", "--db", url)
    assert result.exit_code == 1
    assert "workflow 'payment' uses tasks that no @task function in" in result.stderr
    assert "authorize-payment, fraud-check, send-notification, settle-payment, void-authorization" in result.stderr
    assert "payment_tasks.py" in result.stderr


def test_a_spec_file_runs_with_its_tasks(wfc: Invoke, url: str) -> None:
    spec = str(EXAMPLES / "specs" / "payment.json")
    result = wfc("run", spec, *PAYMENT[1:], "-i", "payment-id=p-6", "--db", url)
    assert result.exit_code == 0, result.output
    assert 'output: "settled"' in result.stdout
    wrong = wfc("run", spec, "--workflow", "checkout", "--db", url)
    assert wrong.exit_code == 1
    assert "holds workflow 'payment', not 'checkout'" in wrong.stderr


def test_several_workflows_need_workflow(wfc: Invoke, tmp_path: Path, url: str) -> None:
    source = write_approval(tmp_path).read_text()
    (tmp_path / "two.py").write_text(source + '\nsecond_wf = Workflow("second", approval)\n')
    result = wfc("run", "two.py", "-i", "order-id=o", "--db", url)
    assert result.exit_code == 1
    assert "two.py defines 2 workflows (approval, second); choose one with --workflow NAME" in result.stderr
    chosen = wfc("run", "two.py", "--workflow", "second", "-i", "order-id=o", "--db", url, "--timeout", "0.2")
    assert "started run" in chosen.stdout
    assert "(second 1.0)" in chosen.stdout
    unknown = wfc("run", "two.py", "--workflow", "third", "--db", url)
    assert "two.py has no workflow named 'third'; it defines approval, second" in unknown.stderr


def test_a_changed_workflow_is_deployed_as_a_new_version(wfc: Invoke, tmp_path: Path, url: str) -> None:
    path = write_approval(tmp_path)
    assert "(approval 1.0)" in wfc("run", "approval.py", "-i", "order-id=a", "--db", url, "--timeout", "0").stdout
    path.write_text(path.read_text().replace("timeout=600", "timeout=900"))
    again = wfc("run", "approval.py", "-i", "order-id=b", "--db", url, "--timeout", "0")
    assert "(approval 1.1)" in again.stdout
    assert sorted(str(run.version) for run in read_runs(url)) == ["1.0", "1.1"]


def test_detach_then_run_id_follows_the_same_run(wfc: Invoke, url: str) -> None:
    detached = wfc("run", *PAYMENT, "-i", "payment-id=p-7", "--db", url, "--run-id", "pay-7", "--detach")
    assert detached.exit_code == 0
    assert detached.stdout == "pay-7\n"
    assert "continues when an engine serving this database runs" in detached.stderr
    assert "--run-id pay-7" in detached.stderr
    # The worker it suggests takes only the modules with tasks (payment.py has none: the worker would refuse it).
    assert f"wfc worker --tasks {EXAMPLES / 'payment_tasks.py'} --db" in detached.stderr
    assert "--tasks " + str(EXAMPLES / "payment.py") + " " not in detached.stderr.replace("wfc run", "")
    assert read_run(url, "pay-7").status is RunStatus.RUNNING
    again = wfc("run", *PAYMENT, "-i", "payment-id=p-7", "--db", url, "--run-id", "pay-7", "--detach")
    assert again.stdout == "pay-7\n"  # idempotent: the same run, nothing new started
    plain = [str(EXAMPLES / "payment.py"), "--tasks", str(EXAMPLES / "payment_tasks.py")]
    found = wfc("run", *plain, "--db", url, "--run-id", "pay-7", "--detach")  # no inputs: the run as stored
    assert found.stdout == "pay-7\n" and "found run pay-7 (payment 1.0)" in found.stderr
    other = wfc("run", *PAYMENT, "-i", "payment-id=other", "--db", url, "--run-id", "pay-7", "--detach")
    assert other.exit_code == 3  # a conflict: the id is taken by a run with other inputs
    assert "these differ: 'payment-id'" in other.stderr and other.stdout == ""
    # Following it needs neither its inputs nor the tasks' module's inputs again.
    followed = wfc("run", str(EXAMPLES / "payment.py"), "--tasks", str(EXAMPLES / "payment_tasks.py"),
                   "--db", url, "--run-id", "pay-7")  # fmt: skip
    assert followed.exit_code == 0, followed.output
    assert "following run pay-7 (payment 1.0)" in followed.stdout
    assert 'output: "settled"' in followed.stdout
    [run] = read_runs(url)
    assert (run.id, run.status, run.variables["payment-id"]) == ("pay-7", RunStatus.COMPLETED, "p-7")


def test_timeout_leaves_the_run_stored(wfc: Invoke, tmp_path: Path, url: str) -> None:
    write_approval(tmp_path)
    result = wfc("run", "approval.py", "-i", "order-id=o-9", "--db", url, "--run-id", "ap-9", "--timeout", "0.3")
    assert result.exit_code == 1
    assert "main@wait-approval: waiting for event 'approval', correlation 'o-9', timeout 600s" in result.stdout
    assert "stopped following after 0.3s: run ap-9 (approval 1.0) is RUNNING, main@wait-approval:" in result.stderr
    assert "wfc runs show ap-9" in result.stderr
    assert read_run(url, "ap-9").status is RunStatus.RUNNING


def test_ctrl_c_stops_following_not_the_run(tmp_path: Path) -> None:
    write_approval(tmp_path)
    args = [str(WFC), "run", "approval.py", "-i", "order-id=o-10", "--run-id", "ap-10"]
    process = subprocess.Popen(args, cwd=tmp_path, env=script_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    url = sqlite_url(tmp_path / "wfc.db")
    wait_until(lambda: (tmp_path / "wfc.db").exists() and any(e.kind == "EVENT_WAITING" for e in _history(url)))
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=30)
    assert process.returncode == 130
    assert b"interrupted: stopped following run ap-10. The run is durable" in err
    assert b"wfc runs show ap-10" in err
    assert b"Traceback" not in out + err
    assert read_run(url, "ap-10").status is RunStatus.RUNNING


def _history(url: str) -> list[object]:
    try:
        return list(read_history(url, "ap-10"))
    except Exception:  # not started yet
        return []


@pytest.mark.parametrize("content", [b"hello, not a database\n", b"SQLite format 3\x00" + bytes(200)])
def test_a_database_wfc_cannot_use_is_left_alone(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "other.db"
    path.write_bytes(content)
    result = wfc_process(tmp_path, "run", *PAYMENT, "-i", "payment-id=p", "--db", "other.db")
    assert result.returncode == 1
    assert "cannot use database" in result.stderr
    assert no_traceback(result)
    assert path.read_bytes() == content


def test_a_terminal_gets_the_live_panel(wfc: Invoke, url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    screen = io.StringIO()
    terminal = Console(file=screen, force_terminal=True, width=140, no_color=True)
    monkeypatch.setattr(cli_output, "stdout", lambda: terminal)
    result = wfc("run", *PAYMENT, "-i", "payment-id=p-8-flaky", "--db", url, "--run-id", "pay-8")
    assert result.exit_code == 0
    shown = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", screen.getvalue())  # no styles, no cursor moves
    assert "run pay-8  payment 1.0  RUNNING" in shown  # the live panel, redrawn while it runs
    assert "retry of task 'authorize-payment' (attempt 2)" in shown
    assert "run pay-8 (payment 1.0): COMPLETED" in shown  # the summary after it


MEMORY = "sqlite:///:memory:"


def test_a_run_followed_to_its_end_may_use_a_database_in_memory(wfc: Invoke) -> None:
    result = wfc("run", *PAYMENT, "--input", "payment-id=p-1", "--db", MEMORY, "--run-id", "m-1")
    assert result.exit_code == 0, result.output
    assert "run m-1 (payment 1.0): COMPLETED" in result.stdout
    assert "full journal" not in result.stdout  # no command could read it: the database is gone


@pytest.mark.parametrize(
    ("args", "what"),
    [
        (["run", *PAYMENT, "--input", "payment-id=p-1", "--detach"], "--detach"),
        (["run", *PAYMENT, "--input", "payment-id=p-1", "--timeout", "5"], "--timeout"),
        (["worker", "--tasks", PAYMENT[2]], "wfc worker"),
        (["server"], "wfc server"),
        (["runs", "list"], "this command"),
        (["runs", "cancel", "m-1"], "this command"),
        (["event", "send", "go", "--run", "m-1"], "this command"),
    ],
    ids=["run-detach", "run-timeout", "worker", "server", "runs-list", "runs-cancel", "event-send"],
)
def test_what_would_outlive_or_look_into_a_database_in_memory_is_refused(
    tmp_path: Path, args: list[str], what: str
) -> None:
    """A database in memory is one process's, empty when it starts and gone
    when it exits. A detached run was said to wait for an engine there, a
    worker or a server served an empty database for ever, and a listing
    showed nothing, each with exit 0. (A process of its own: a worker that
    serves would never return to the test.)"""
    result = wfc_process(tmp_path, *args, "--db", MEMORY)
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"{what} cannot use {MEMORY}, a database of one process alone" in result.stderr, result.stderr
    assert "--db wfc.db" in result.stderr


@pytest.mark.parametrize("columns", ["80", "60", "40"])
def test_runs_list_shows_whole_ids_on_a_narrow_terminal(tmp_path: Path, url: str, columns: str) -> None:
    """The id is what every other command takes: the other columns give way.
    An 80-column terminal cut a generated id, 60 showed only "…"."""
    started = wfc_process(tmp_path, "run", *PAYMENT, "--input", "payment-id=p-1", "--db", url)
    assert started.returncode == 0, started.stderr
    run_id = json.loads(wfc_process(tmp_path, "runs", "list", "--db", url, "--json").stdout)[0]["id"]
    assert run_id.startswith("payment-") and len(run_id) == len("payment-") + 12
    listed = wfc_process(tmp_path, "runs", "list", "--db", url, env={"COLUMNS": columns})
    assert listed.returncode == 0, listed.stderr
    assert run_id in listed.stdout, listed.stdout
