"""``wfc server`` serves ``/metrics``: a real server process on a loopback
port, scraped over HTTP and parsed with ``prometheus_client``'s parser,
after runs with known outcomes (ok, retries, a compensation, a timeout);
under the server's tokens; with ``--log-format json`` every line on stderr
is JSON, transitions included, and the masked card never shows."""

from __future__ import annotations

from pathlib import Path

import httpx
from obsflows import ATTEMPTS, CARD, COMPENSATIONS, DURATIONS, ENDINGS, FLOWS, INPUTS, labelled, scraped
from obsproc import TASKS_FILE, deploy, start_wfc, wait_runs

WRITE, READ = "metrics-write-token-1234", "metrics-read-token-5678"


def test_metrics_of_a_server_process_count_exactly_what_it_committed(db_url: str, tmp_path: Path) -> None:
    deploy(db_url, list(FLOWS.values()))
    server = start_wfc(
        tmp_path, "server", "--db", db_url, "--tasks", TASKS_FILE, "--port", "0", "--log-format", "json",
        env={"WFC_SERVER_TOKEN": WRITE, "WFC_SERVER_READ_TOKEN": READ},
    )  # fmt: skip
    try:
        base = server.wait_for(r"at (http://127\.0\.0\.1:\d+)/api/v1 \(metrics at /metrics\)").group(1)
        with httpx.Client(base_url=base, timeout=30) as http:
            refused = http.get("/metrics")
            assert refused.status_code == 401 and refused.headers["content-type"] == "application/problem+json"
            assert http.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
            write = {"Authorization": f"Bearer {WRITE}"}
            for name in [*ENDINGS, "m-waits"]:
                body = {"workflow": name, "run_id": f"srv-{name}", "inputs": INPUTS.get(name, {})}
                assert http.post("/api/v1/runs", json=body, headers=write).status_code == 201
            assert wait_runs(db_url, [f"srv-{name}" for name in ENDINGS]) == {
                f"srv-{name}": status for name, status in ENDINGS.items()
            }
            scrape = http.get("/metrics", headers={"Authorization": f"Bearer {READ}"})  # a read: the read token does
            assert scrape.status_code == 200 and scrape.headers["content-type"].startswith("text/plain")
            text = scrape.text
    finally:
        code = server.stop()
    assert code == 0, server.stderr()
    samples = scraped(text)
    assert labelled(samples, "wfc_runs_started_total", "workflow", "version") == {
        (name, "1.0"): 1.0 for name in [*ENDINGS, "m-waits"]
    }
    assert labelled(samples, "wfc_runs_finished_total", "workflow", "version", "status") == {
        (name, "1.0", status): 1.0 for name, status in ENDINGS.items()
    }
    assert labelled(samples, "wfc_task_attempts_total", "task", "outcome") == ATTEMPTS
    assert labelled(samples, "wfc_compensations_total", "task", "outcome") == COMPENSATIONS
    assert labelled(samples, "wfc_task_duration_seconds_count", "task") == DURATIONS
    assert labelled(samples, "wfc_runs_active", "workflow", "status") == {("m-waits", "RUNNING"): 1}
    assert samples[("wfc_timers_due", frozenset())] == 0
    assert labelled(samples, "wfc_dispatch_backlog", "task") == {}
    assert samples[("wfc_commit_batch_size_count", frozenset())] >= 10
    assert "srv-" not in text  # no run id is a label

    lines = server.json_lines()  # every line of stderr is one JSON object
    assert CARD not in server.stderr() and WRITE not in server.stderr() and READ not in server.stderr()
    assert any(line["logger"] == "wfc.server" and "(metrics at /metrics)" in line["message"] for line in lines)
    assert any(line["logger"].startswith("uvicorn") for line in lines)  # uvicorn's own records, as JSON too
    declined = [line for line in lines if line.get("run_id") == "srv-m-comp" and line["kind"] == "TASK_FAILED"]
    assert [(d["level"], d["node"], d["attempt"], d["detail"]["message"]) for d in declined] == [
        ("warning", "charge", 1, "card *** was declined")
    ]
