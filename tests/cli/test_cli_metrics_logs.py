"""``wfc worker --metrics-port`` serves the worker's metrics (a real worker
process, scraped over HTTP and parsed), refuses to expose them beyond
loopback without a token, and ``--log-format json`` makes every line a
worker or ``wfc run`` writes on stderr a JSON object, one per transition,
masked values masked."""

from __future__ import annotations

import sys
from pathlib import Path

import httpx
import pytest

pytest.importorskip("prometheus_client", reason="the metrics need pip install 'wfc[metrics]'")

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "runtime"))
from obsflows import ATTEMPTS, CARD, COMPENSATIONS, DURATIONS, ENDINGS, FLOWS, INPUTS, labelled, scraped
from obsproc import TASKS_FILE, deploy, start_runs, start_wfc, wait_runs
from rtdb import Db

METRICS_URL = r"metrics at (http://127\.0\.0\.1:\d+/metrics)"


def test_a_worker_serves_metrics_of_the_attempts_it_ran(db: Db, tmp_path: Path) -> None:
    deploy(db.url, list(FLOWS.values()))
    worker = start_wfc(
        tmp_path, "worker", "--db", db.url, "--tasks", TASKS_FILE, "--poll", "0.1", "--metrics-port", "0",
        "--log-format", "json",
    )  # fmt: skip
    try:
        url = worker.wait_for(METRICS_URL).group(1)
        runs = {f"w-{name}": (name, INPUTS.get(name, {})) for name in [*ENDINGS, "m-orphan"]}
        start_runs(db.url, runs)  # by a client: the worker counts no start
        assert wait_runs(db.url, [f"w-{name}" for name in ENDINGS]) == {
            f"w-{name}": status for name, status in ENDINGS.items()
        }
        with httpx.Client(timeout=30) as http:
            scrape = http.get(url)
            assert http.get(url.replace("/metrics", "/elsewhere")).status_code == 404
        assert scrape.status_code == 200
    finally:
        code = worker.stop()
    assert code == 0, worker.stderr()
    samples = scraped(scrape.text)
    assert labelled(samples, "wfc_task_attempts_total", "task", "outcome") == ATTEMPTS
    assert labelled(samples, "wfc_compensations_total", "task", "outcome") == COMPENSATIONS
    assert labelled(samples, "wfc_task_duration_seconds_count", "task") == DURATIONS
    assert labelled(samples, "wfc_runs_started_total", "workflow") == {}
    assert labelled(samples, "wfc_runs_finished_total", "workflow", "status") == {
        (name, status): 1 for name, status in ENDINGS.items()
    }
    # Read from the database: the orphan's attempt waits for a worker that runs its task.
    assert labelled(samples, "wfc_dispatch_backlog", "task") == {"nobody-runs": 1}
    assert labelled(samples, "wfc_runs_active", "workflow", "status") == {("m-orphan", "RUNNING"): 1}
    assert samples[("wfc_oldest_dispatch_age_seconds", frozenset())] >= 0

    lines = worker.json_lines()
    assert worker.stdout() == ""  # in JSON mode the worker's own lines are log records too
    assert CARD not in worker.stderr()
    banner = next(line for line in lines if line["logger"] == "wfc.worker")
    assert banner["level"] == "info" and "serving charge, flaky, ok-task, release, reserve, slow" in banner["message"]
    assert any(line["logger"] == "wfc.worker" and "wfc worker stopped after" in line["message"] for line in lines)
    # One line per transition the worker committed, with where it happened.
    comp = [line for line in lines if line.get("run_id") == "w-m-comp"]
    assert {line["workflow"] for line in comp} == {"m-comp"} and {line["version"] for line in comp} == {"1.0"}
    assert [line["seq"] for line in comp] == sorted(line["seq"] for line in comp)
    assert comp[-1]["kind"] == "RUN_COMPENSATED"
    released = next(line for line in comp if line["kind"] == "COMPENSATION_DISPATCHED")
    assert released["node"] == "reserve" and released["attempt"] == 1 and released["thread"] == 0
    assert released["idempotency_key"] == "w-m-comp/0/reserve/1/compensate"
    timed_out = next(line for line in lines if line.get("run_id") == "w-m-timeout" and line["kind"] == "TASK_FAILED")
    assert timed_out["level"] == "warning" and timed_out["detail"]["error"] == "TIMEOUT"
    failed = next(line for line in lines if line.get("run_id") == "w-m-retry" and line["kind"] == "RUN_FAILED")
    assert failed["level"] == "error"
    assert all(line["time"].endswith("Z") for line in lines)


def test_metrics_beyond_loopback_need_a_token(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'wfc.db'}"
    refused = start_wfc(tmp_path, "worker", "--db", url, "--tasks", TASKS_FILE, "--metrics-port", "0",
                        "--metrics-host", "0.0.0.0")  # fmt: skip
    assert refused.finish() == 1
    assert "refusing to serve metrics on 0.0.0.0 without a token" in refused.stderr()
    assert "Traceback" not in refused.stderr()
    alone = start_wfc(tmp_path, "worker", "--db", url, "--tasks", TASKS_FILE, "--metrics-host", "0.0.0.0")
    assert alone.finish() == 1 and "--metrics-host needs --metrics-port" in alone.stderr()

    guarded = start_wfc(
        tmp_path, "worker", "--db", url, "--tasks", TASKS_FILE, "--metrics-port", "0",
        env={"WFC_METRICS_TOKEN": "scrape-secret-42"},
    )  # fmt: skip
    try:
        metrics = guarded.wait_for(METRICS_URL).group(1)
        with httpx.Client(timeout=30) as http:
            assert http.get(metrics).status_code == 401
            assert http.get(metrics, headers={"Authorization": "Bearer nope"}).status_code == 401
            allowed = http.get(metrics, headers={"Authorization": "Bearer scrape-secret-42"})
        assert allowed.status_code == 200 and "wfc_commit_duration_seconds" in allowed.text
    finally:
        assert guarded.stop() == 0
    assert "scrape-secret-42" not in guarded.stdout() + guarded.stderr()


def test_a_busy_metrics_port_is_a_clear_error(tmp_path: Path) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = str(taken.getsockname()[1])
        worker = start_wfc(tmp_path, "worker", "--db", f"sqlite:///{tmp_path / 'wfc.db'}", "--tasks", TASKS_FILE,
                           "--metrics-port", port)  # fmt: skip
        assert worker.finish() == 1
    assert f"cannot serve metrics on 127.0.0.1:{port}" in worker.stderr()
    assert "Traceback" not in worker.stderr()


FLOW = f"""
import sys
sys.path.insert(0, {str(Path(TASKS_FILE).parent)!r})
from obsflows import charge, release, reserve, _comp
from wfc.dsl import Workflow

checkout = Workflow("m-comp", _comp)
"""


def test_wfc_run_logs_every_transition_as_json(tmp_path: Path) -> None:
    (tmp_path / "flow.py").write_text(FLOW)
    url = f"sqlite:///{tmp_path / 'wfc.db'}"
    run = start_wfc(tmp_path, "run", "flow.py", "--db", url, "--input", f"card={CARD}", "--run-id", "r-1",
                    "--log-format", "json")  # fmt: skip
    code = run.finish()
    assert code == 1, run.stdout() + run.stderr()  # it ended COMPENSATED, not COMPLETED
    assert "COMPENSATED" in run.stdout()  # the progress and summary stay on stdout
    lines = run.json_lines()
    kinds = [line["kind"] for line in lines if line.get("run_id") == "r-1"]
    assert kinds[0] == "RUN_STARTED" and kinds[-1] == "RUN_COMPENSATED"
    assert "COMPENSATION_COMPLETED" in kinds and kinds.count("TASK_COMPLETED") == 1
    assert CARD not in run.stderr() and CARD not in run.stdout()
    started = lines[0]
    assert started["logger"] == "wfc.transitions" and started["workflow"] == "m-comp"
    assert started["message"] == "run r-1 (m-comp): RUN_STARTED"
