"""Search by searchable variables, the archive export and concurrent first
starts, through a real server on each store."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
from srvlive import LiveServer, start_server, stop_server

WFC = Path(sys.executable).with_name("wfc")


def start(client: httpx.Client, run_id: str, order: str, workflow: str = "approval") -> httpx.Response:
    return client.post("/api/v1/runs", json={"workflow": workflow, "run_id": run_id, "inputs": {"order-id": order}})


def ids(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [run["id"] for run in response.json()["runs"]]


def test_where_finds_runs_by_searchable_variables_with_filters_and_pages(live: LiveServer) -> None:
    with live.client() as client:
        for n in range(5):
            assert start(client, f"s-{n}", f"o-{n % 2}").status_code == 201
        assert start(client, "x-1", "o-1", workflow="exploding").status_code == 201
        live.wait_for(lambda: live.run("x-1").status.value == "FAILED")
        assert ids(client.get("/api/v1/runs", params={"where": "order-id:o-1"})) == ["s-3", "s-1"]
        assert ids(client.get("/api/v1/runs", params={"where": "order-id:o-0", "status": "RUNNING"})) == [
            "s-4", "s-2", "s-0"
        ]
        # pages of a search neither skip nor repeat
        seen: list[str] = []
        params: dict[str, Any] = {"where": "order-id:o-0", "limit": 2}
        while True:
            page = client.get("/api/v1/runs", params=params).json()
            seen += [run["id"] for run in page["runs"]]
            if page["next_cursor"] is None:
                break
            params["cursor"] = page["next_cursor"]
        assert seen == ["s-4", "s-2", "s-0"]
        # not searchable in `exploding`: its run is not in the index, and asking there says so
        refused = client.get("/api/v1/runs", params={"where": "order-id:o-1", "workflow": "exploding"})
        assert refused.status_code == 422
        assert "'order-id': it is not a searchable variable" in refused.json()["detail"]
        unknown = client.get("/api/v1/runs", params={"where": "customer:ana"})
        assert unknown.status_code == 422 and unknown.headers["content-type"] == "application/problem+json"
        assert unknown.json()["detail"].endswith("searchable: order-id")
        malformed = client.get("/api/v1/runs", params={"where": "order-id"})
        assert malformed.status_code == 422 and "NAME:VALUE" in malformed.json()["detail"]
        assert ids(client.get("/api/v1/dead-letters", params={"where": "order-id:o-1"})) == []


def test_export_streams_what_the_cli_writes_and_reads_with_the_read_token(guarded: LiveServer) -> None:
    with guarded.client() as client:
        for n in range(3):
            assert start(client, f"x-{n}", f"o-{n}", workflow="exploding").status_code == 201
        assert start(client, "running", "o-r").status_code == 201
        guarded.wait_for(lambda: all(guarded.run(f"x-{n}").status.value == "FAILED" for n in range(3)))
    with guarded.client(token=guarded.read_token) as reader:
        with reader.stream("GET", "/api/v1/retention/export", params={"status": "FAILED"}) as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("application/x-ndjson")
            body = "".join(response.iter_text())
        lines = [json.loads(line) for line in body.splitlines()]
        assert sorted(line["run"]["id"] for line in lines) == ["x-0", "x-1", "x-2"]
        assert all(line["journal"][0]["kind"] == "RUN_STARTED" for line in lines)
        nothing = reader.get("/api/v1/retention/export", params={"finished_before": "2000-01-01"})
        assert nothing.status_code == 200 and nothing.text == ""
        bad = reader.get("/api/v1/retention/export", params={"status": "RUNNING"})
        assert bad.status_code == 422 and "only finished runs" in bad.json()["detail"]
        when = reader.get("/api/v1/retention/export", params={"finished_before": "soon"})
        assert when.status_code == 422 and "finished_before" in when.json()["detail"]
    with guarded.client(token=None) as anonymous:
        assert anonymous.get("/api/v1/retention/export").status_code == 401
    cli = subprocess.run(
        [str(WFC), "runs", "export", "--db", guarded.db_url, "--status", "FAILED"],
        capture_output=True, text=True, timeout=120, env={**os.environ, "NO_COLOR": "1"},
    )
    assert cli.returncode == 0, cli.stderr
    assert cli.stdout == body  # the same code writes both


def _race(servers: list[LiveServer], run_id: str, callers: int) -> Counter[int]:
    """``callers`` threads start ``run_id`` at once, spread over ``servers``."""
    barrier = threading.Barrier(callers)
    statuses: list[int] = []
    lock = threading.Lock()

    def call(n: int) -> None:
        with servers[n % len(servers)].client() as client:
            barrier.wait()
            status = start(client, run_id, "o-race").status_code
        with lock:
            statuses.append(status)

    threads = [threading.Thread(target=call, args=(n,)) for n in range(callers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return Counter(statuses)


def test_of_concurrent_first_starts_exactly_one_is_201(live: LiveServer) -> None:
    servers = [live]
    if live.db_url.startswith("postgresql"):
        servers.append(start_server(live.db_url))  # two processes' worth of engines on one database
    try:
        for round_ in range(5):
            statuses = _race(servers, f"race-{round_}", 8)
            assert statuses == Counter({201: 1, 200: 7}), statuses
    finally:
        for server in servers[1:]:
            stop_server(server)
    runs = live.read(lambda e: e.list_runs(limit=None))
    assert sorted(run.id for run in runs) == [f"race-{n}" for n in range(5)]
