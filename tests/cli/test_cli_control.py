"""wfc runs halt|resume|cancel|retry and list --needs-attention: each change
is stored, and a change that makes no sense is refused with the reason."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # run_helpers, with --import-mode=importlib

from run_helpers import Invoke, make_invoke, read_history, read_run, sqlite_url, write_approval

from wfc.runtime import RunStatus

#: A step that fails until the file ``fixed`` exists, and a shipment whose
#: undo step always fails when the order id says so.
FLAKY = """\
from pathlib import Path

from wfc.dsl import Workflow, WorkflowThread
from wfc.runtime import task


@task("charge")
def charge(order_id: str) -> str:
    return f"charged {order_id}"


@task("refund")
def refund(order_id: str) -> str:
    if "stuck" in order_id:
        raise RuntimeError("the bank is down")
    return f"refunded {order_id}"


@task("ship")
def ship(order_id: str) -> str:
    if not Path("fixed").exists():
        raise RuntimeError("carrier unreachable")
    return f"shipped {order_id}"


def order(wf: WorkflowThread) -> None:
    order_id = wf.declare_str("order-id").required()
    wf.execute("charge", order_id).compensate_with("refund", order_id, retries=0)
    wf.execute("ship", order_id)


order_wf = Workflow("order", order)
"""


@pytest.fixture
def wfc(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Invoke:
    return make_invoke(monkeypatch, tmp_path)


@pytest.fixture
def waiting(wfc: Invoke, tmp_path: Path) -> str:
    """A database with the approval run ``ap-1`` waiting for its event."""
    url = sqlite_url(tmp_path / "runs.db")
    write_approval(tmp_path)
    started = wfc("run", "approval.py", "-i", "order-id=o-1", "--db", url, "--run-id", "ap-1", "--timeout", "0.3")
    assert started.exit_code == 1  # still waiting when the timeout ends
    return url


def test_halt_then_resume(wfc: Invoke, waiting: str) -> None:
    halted = wfc("runs", "halt", "ap-1", "--reason", "checking the order", "--db", waiting)
    assert halted.exit_code == 0, halted.stderr
    assert "halted run ap-1 (approval 1.0): now HALTED" in halted.stdout
    assert read_run(waiting, "ap-1").status is RunStatus.HALTED

    again = wfc("runs", "halt", "ap-1", "--db", waiting)
    assert again.exit_code == 1
    assert "HALTED" in again.stderr

    resumed = wfc("runs", "resume", "ap-1", "--db", waiting)
    assert resumed.exit_code == 0, resumed.stderr
    assert read_run(waiting, "ap-1").status is RunStatus.RUNNING
    kinds = [entry.kind for entry in read_history(waiting, "ap-1")]
    assert kinds.index("RUN_HALTED") < kinds.index("RUN_RESUMED")


def test_resuming_a_running_run_is_refused(wfc: Invoke, waiting: str) -> None:
    result = wfc("runs", "resume", "ap-1", "--db", waiting)
    assert result.exit_code == 1
    assert "cannot resume" in result.stderr
    assert read_run(waiting, "ap-1").status is RunStatus.RUNNING


def test_cancel_with_nothing_to_compensate(wfc: Invoke, waiting: str) -> None:
    result = wfc("runs", "cancel", "ap-1", "--compensate", "--reason", "customer left", "--db", waiting)
    assert result.exit_code == 0, result.stderr
    assert "now CANCELLED" in result.stdout
    assert read_run(waiting, "ap-1").status is RunStatus.CANCELLED
    assert wfc("runs", "cancel", "ap-1", "--db", waiting).exit_code == 1


def test_retry_runs_the_failed_step_again_and_only_it(wfc: Invoke, tmp_path: Path) -> None:
    url = sqlite_url(tmp_path / "orders.db")
    # Without a compensation, the failure leaves the run FAILED, ready to retry.
    (tmp_path / "order.py").write_text(FLAKY.replace('order_id).compensate_with("refund", order_id, retries=0)',
                                                     "order_id)"))
    failed = wfc("run", "order.py", "-i", "order-id=o-7", "--db", url, "--run-id", "o-7")
    assert failed.exit_code == 1
    assert read_run(url, "o-7").status is RunStatus.FAILED

    (tmp_path / "fixed").touch()
    retried = wfc("runs", "retry", "o-7", "--db", url)
    assert retried.exit_code == 0, retried.stderr
    # A following `wfc run` of the same id serves the database and finishes the run.
    finished = wfc("run", "order.py", "--db", url, "--run-id", "o-7")
    assert finished.exit_code == 0, finished.stdout + finished.stderr
    history = read_history(url, "o-7")
    charges = [e for e in history if e.kind == "TASK_COMPLETED" and e.node == "charge"]
    assert len(charges) == 1  # the completed step did not run again
    assert read_run(url, "o-7").status is RunStatus.COMPLETED


def test_a_failed_compensation_needs_attention_and_cannot_be_retried_away(wfc: Invoke, tmp_path: Path) -> None:
    url = sqlite_url(tmp_path / "orders.db")
    (tmp_path / "order.py").write_text(FLAKY)
    assert wfc("run", "order.py", "-i", "order-id=ok-1", "--db", url, "--run-id", "ok-1").exit_code == 1
    assert wfc("run", "order.py", "-i", "order-id=stuck-1", "--db", url, "--run-id", "stuck-1").exit_code == 1
    assert read_run(url, "ok-1").status is RunStatus.COMPENSATED
    stuck = read_run(url, "stuck-1")
    assert stuck.status is RunStatus.FAILED
    assert stuck.compensation_failed

    listed = wfc("runs", "list", "--needs-attention", "--db", url)
    assert listed.exit_code == 0
    ids = [line.split()[0] for line in listed.stdout.splitlines() if line.strip().startswith(("ok-", "stuck-"))]
    assert ids == ["stuck-1"]

    refused = wfc("runs", "retry", "ok-1", "--db", url)
    assert refused.exit_code == 1
    assert "COMPENSATED" in refused.stderr
