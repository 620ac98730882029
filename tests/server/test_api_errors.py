"""Bad requests get 4xx problem documents (RFC 9457), never a 500; the
health probes and the OpenAPI document."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import httpx
import pytest
from srvlive import LiveServer

from wfc.server import MAX_BODY
from wfc.server._endpoints import ENDPOINTS


def assert_problem(response: httpx.Response, status: int, needle: str = "") -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert set(body) == {"type", "title", "status", "detail"}
    assert body["status"] == status and body["type"].startswith("urn:wfc:problem:")
    assert needle in body["detail"]


def test_bad_requests_are_problems(live: LiveServer) -> None:
    with live.client() as client:
        assert_problem(client.post("/api/v1/runs", content=b"{not json"), 400, "not JSON")
        assert_problem(client.post("/api/v1/runs", json={"workflow": "approval", "colour": "red"}), 422, "colour")
        assert_problem(client.post("/api/v1/runs", json={"inputs": {}}), 422, "workflow")
        assert_problem(client.post("/api/v1/runs", json=[1, 2]), 422, "object")
        deep = b'{"workflow": "approval", "inputs": {"x": ' + b"[" * 5000 + b"]" * 5000 + b"}}"
        assert_problem(client.post("/api/v1/runs", content=deep), 422, "JSON nested deeper than 64 levels")
        twice = b'{"workflow": "approval", "inputs": {"order-id": "o-1", "order-id": "o-2"}}'
        assert_problem(
            client.post("/api/v1/runs", content=twice), 422, "an object gives key 'order-id' twice; give each key once"
        )
        huge = b'{"workflow": "approval", "inputs": {"x": "' + b"a" * (MAX_BODY + 10) + b'"}}'
        assert_problem(client.post("/api/v1/runs", content=huge), 413, str(MAX_BODY))

        def chunks() -> object:
            for _ in range(20):
                yield b"a" * (MAX_BODY // 10)

        assert_problem(client.post("/api/v1/runs/x/events", content=chunks()), 413)  # no Content-Length
        assert_problem(client.get("/api/v1/runs/nope"), 404, "no run with id 'nope'")
        assert_problem(client.get("/api/v1/runs/nope/history"), 404, "no run with id 'nope'")
        assert_problem(client.post("/api/v1/runs/nope/cancel"), 404, "no run with id 'nope'")
        assert_problem(client.post("/api/v1/runs/nope/events", json={"name": "approval"}), 404, "nope")
        assert_problem(client.post("/api/v1/runs", json={"workflow": "ghost"}), 404, "ghost")
        assert_problem(client.post("/api/v1/runs", json={"workflow": "approval", "inputs": {}}), 422, "order-id")
        assert_problem(client.get("/api/v1/specs/ghost/1.0"), 404, "ghost")
        assert_problem(client.get("/api/v1/specs/approval/9.9"), 404, "9.9")
        assert_problem(client.get("/api/v1/specs/approval/1.0/graph", params={"thread": "x"}), 404, "no thread 'x'")
        assert_problem(client.get("/api/v1/specs/approval/1.0/graph", params={"format": "png"}), 422, "format")
        assert_problem(client.get("/api/v1/specs/approval/diff", params={"old": "1.0"}), 422, "new")
        assert_problem(client.get("/api/v1/runs", params={"limit": "0"}), 422, "limit")
        assert_problem(client.get("/api/v1/runs", params={"limit": "many"}), 422, "limit")
        assert_problem(
            client.get("/api/v1/runs", params={"status": "SLEEPY"}),
            422,
            "parameter 'status': invalid enum value 'SLEEPY'; give one of RUNNING, HALTED, COMPLETED, FAILED",
        )
        assert_problem(client.get("/api/v1/runs", params={"colour": "red"}), 422, "unknown query parameter(s) 'colour'")
        assert_problem(client.get("/api/v1/runs", params={"cursor": "garbage!"}), 400, "cursor")
        # [1, 1, "\u0000"]: no id this server gave; PostgreSQL failed on it as a bug in wfc
        assert_problem(client.get("/api/v1/runs", params={"cursor": "WzEsMSwiXHUwMDAwIl0"}), 400, "cursor")
        assert_problem(client.get("/api/v1/runs", params={"started_after": "yesterday"}), 422, "started_after")
        assert_problem(client.get("/api/v1/runs", params={"version": "1"}), 422, "workflow")
        assert_problem(client.get("/api/v1/runs", params={"workflow": "approval", "version": "x.y"}), 422, "x.y")
        assert_problem(client.get("/api/v1/runs/x/history", params={"after": "-1"}), 422, "after")
        assert_problem(client.get("/api/v1/healthz", params={"x": "1"}), 422, "x")
        assert_problem(client.get("/api/v1/nowhere"), 404, "openapi.json")
        assert_problem(client.delete("/api/v1/runs"), 405)
        assert_problem(client.post("/api/v1/dead-letters/redrive", json={"run_id": "nope"}), 404, "nope")


def test_probes_and_openapi(live: LiveServer) -> None:
    with live.client() as client:
        assert client.get("/healthz").json() == {"status": "ok"}
        assert client.get("/api/v1/healthz").json() == {"status": "ok"}
        ready = client.get("/readyz").json()
        assert ready == {"status": "ready", "serving_engines": 1}
        document = client.get("/api/v1/openapi.json").json()
    assert document["openapi"] == "3.1.0"
    for endpoint in ENDPOINTS:
        operation = document["paths"]["/api/v1" + endpoint.path][endpoint.method.lower()]
        assert operation["operationId"] == endpoint.operation
        for ref in _refs(operation):
            assert ref.removeprefix("#/components/schemas/") in document["components"]["schemas"]
    run = document["components"]["schemas"]["Run"]
    assert {"id", "status", "variables", "threads"} <= set(run["properties"])
    runs = document["paths"]["/api/v1/runs"]["get"]["parameters"]
    assert {p["name"] for p in runs} >= {"status", "workflow", "version", "cursor", "limit", "needs_attention"}


def _refs(node: object) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if "$ref" in node else []
        return found + [r for value in node.values() for r in _refs(value)]
    if isinstance(node, list):
        return [r for value in node for r in _refs(value)]
    return []


@pytest.mark.parametrize("path", ["/api/v1/runs", "/api/v1/specs", "/api/v1/dead-letters"])
def test_tokens_guard_reads_and_writes(guarded: LiveServer, path: str) -> None:
    with guarded.client(token=None) as anonymous:
        assert_problem(anonymous.get(path), 401, "Authorization: Bearer")
        assert anonymous.get("/healthz").status_code == 200
        assert anonymous.get("/readyz").status_code == 200
        assert anonymous.get("/api/v1/openapi.json").status_code == 200
    with guarded.client(token="wrong-token") as wrong:
        assert_problem(wrong.get(path), 401)
    with guarded.client(token=guarded.read_token) as reader:
        assert reader.get(path).status_code == 200
        body = {"workflow": "approval", "run_id": "t-1", "inputs": {"order-id": "o"}}
        assert_problem(reader.post("/api/v1/runs", json=body), 403, "read-only")
    assert guarded.read(lambda e: e.list_runs(limit=None)) == []
    with guarded.client() as writer:
        assert writer.get(path).status_code == 200
        started = writer.post(
            "/api/v1/runs", json={"workflow": "approval", "run_id": "t-1", "inputs": {"order-id": "o"}}
        )
        assert started.status_code == 201
        assert writer.post("/api/v1/runs/t-1/cancel", json={}).status_code == 200
    assert guarded.run("t-1").status.value == "CANCELLED"


def test_without_a_token_pages_of_other_sites_reach_nothing(live: LiveServer) -> None:
    """DNS rebinding (another site's name pointing here) and cross-site
    changes (a form on another site posting here) are refused; the same
    requests from curl or the server's own pages are not."""
    body = '{"workflow": "approval", "run_id": "x-1", "inputs": {"order-id": "o"}}'
    port = live.url.rsplit(":", 1)[1]
    with live.client() as client:
        rebound = client.get("/api/v1/runs", headers={"Host": f"rebind.example:{port}"})
        assert_problem(rebound, 403, "answers only requests addressed to it by a loopback name")
        forged = client.post(
            "/api/v1/runs", content=body, headers={"Origin": "https://evil.example", "Content-Type": "text/plain"}
        )
        assert_problem(forged, 403, "a page of 'https://evil.example' may not change runs")
        assert_problem(client.post("/api/v1/runs", content=body, headers={"Origin": "null"}), 403, "'null'")
        other_port = client.post("/api/v1/runs", content=body, headers={"Origin": "http://127.0.0.1:1"})
        assert_problem(other_port, 403, "may not change runs")
        assert live.read(lambda e: e.list_runs(limit=None)) == []
        assert client.get("/healthz", headers={"Host": "rebind.example"}).status_code == 200  # probes stay open
        own = client.post("/api/v1/runs", content=body, headers={"Origin": live.url})
        assert own.status_code == 201, own.text
        assert client.get("/api/v1/runs", headers={"Host": f"localhost:{port}"}).status_code == 200


def test_with_a_token_other_names_and_origins_are_served(guarded: LiveServer) -> None:
    with guarded.client() as client:
        assert client.get("/api/v1/runs", headers={"Host": "wfc.internal.example"}).status_code == 200
        body = {"workflow": "approval", "run_id": "t-9", "inputs": {"order-id": "o"}}
        assert client.post("/api/v1/runs", json=body, headers={"Origin": "https://ops.example"}).status_code == 201


def test_a_token_in_another_scheme_is_refused(guarded: LiveServer) -> None:
    headers = {"Authorization": f"Basic {guarded.token}"}
    with httpx.Client(base_url=guarded.url, headers=headers) as client:
        assert_problem(client.get("/api/v1/runs"), 401)


def test_readyz_says_503_when_the_database_lost_its_tables(tmp_path: Path) -> None:
    from srvlive import start_server, stop_server

    path = tmp_path / "probe.db"
    live = start_server(f"sqlite:///{path}", serve=False)  # a client engine: nothing of its own writes meanwhile
    try:
        with live.client() as client:
            assert client.get("/readyz").json() == {"status": "ready", "serving_engines": 0}
            with sqlite3.connect(path) as conn:
                conn.execute("DROP TABLE engines")
            assert_problem(client.get("/readyz"), 503, "engines")
            assert client.get("/healthz").status_code == 200
    finally:
        stop_server(live)
