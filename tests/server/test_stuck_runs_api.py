"""Stuck runs through ``GET /api/v1/runs?stuck_for=`` of a real server and
``wfc runs list --stuck``: the same runs, each with why, from the same
stored state (runs started an hour ago that nothing served since)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import anyio
import pytest
from rtstuck import started_an_hour_ago
from srvlive import LiveServer, start_server, stop_server
from typer.testing import CliRunner

from wfc.cli import app


@pytest.fixture
def idle(db_url: str) -> Iterator[LiveServer]:
    """A server that serves no tasks or timers, on runs owed work for an hour."""
    anyio.run(started_an_hour_ago, db_url)
    server = start_server(db_url, serve=False)
    try:
        yield server
    finally:
        stop_server(server)


def test_the_api_lists_stuck_runs_with_why(idle: LiveServer) -> None:
    with idle.client() as client:
        for stuck_for in ("300", "5m"):
            page = client.get("/api/v1/runs", params={"stuck_for": stuck_for})
            assert page.status_code == 200, page.text
            runs = {run["id"]: run for run in page.json()["runs"]}
            assert sorted(runs) == ["napper", "orphan"]
        (dispatch,) = runs["orphan"]["stuck"]
        assert dispatch["kind"] == "dispatch" and dispatch["task"] == "nobody-serves"
        assert "with no live worker" in dispatch["message"] and dispatch["holder"] is None
        (timer,) = runs["napper"]["stuck"]
        assert timer["kind"] == "timer" and timer["timer"] == 1 and "was not fired" in timer["message"]
        assert client.get("/api/v1/runs", params={"stuck_for": "2h"}).json()["runs"] == []
        # Paged like any list: one run per page, then the other, then the end.
        first = client.get("/api/v1/runs", params={"stuck_for": "300", "limit": 1}).json()
        second = client.get("/api/v1/runs", params={"stuck_for": "300", "limit": 1, "cursor": first["next_cursor"]})
        assert {first["runs"][0]["id"], second.json()["runs"][0]["id"]} == {"napper", "orphan"}
        listed = {run["id"]: run["stuck"] for run in client.get("/api/v1/runs").json()["runs"]}
        assert set(listed) >= {"orphan", "napper", "patient", "dreamer"} and not any(listed.values())
        wrong = client.get("/api/v1/runs", params={"stuck_for": "soon"})
        assert wrong.status_code == 422 and wrong.headers["content-type"] == "application/problem+json"
        assert "stuck_for" in wrong.json()["detail"] and "5m" in wrong.json()["detail"]


def test_the_cli_lists_the_same_stuck_runs(idle: LiveServer) -> None:
    runner = CliRunner(env={"COLUMNS": "300", "NO_COLOR": "1"})
    result = runner.invoke(app, ["runs", "list", "--stuck", "5m", "--db", idle.db_url, "--json"])
    assert result.exit_code == 0, result.output
    documents = {doc["id"]: doc for doc in json.loads(result.stdout)}
    with idle.client() as client:
        api = {run["id"]: run["stuck"] for run in client.get("/api/v1/runs?stuck_for=300").json()["runs"]}
    assert sorted(documents) == sorted(api) == ["napper", "orphan"]
    assert [r["message"] for r in documents["orphan"]["stuck"]] == [r["message"] for r in api["orphan"]]
    table = runner.invoke(app, ["runs", "list", "--stuck", "300", "--db", idle.db_url])
    assert table.exit_code == 0, table.output
    assert "stuck because" in table.stdout and "no worker claimed it" in table.stdout
    assert "was not fired" in table.stdout and "patient" not in table.stdout
    wrong = runner.invoke(app, ["runs", "list", "--stuck", "soon", "--db", idle.db_url])
    assert wrong.exit_code == 2 and "is not a duration" in wrong.output and "Traceback" not in wrong.output
