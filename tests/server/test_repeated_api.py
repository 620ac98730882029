"""The REST API goes through the engine's checks: a status repeated in the
query lists each run once, a purge counts each once, a new run's id with a
control character is refused, a feed kind the engine never writes too."""

from __future__ import annotations

import httpx
from srvlive import LiveServer


def _start(client: httpx.Client, run_id: str) -> None:
    body = {"workflow": "approval", "run_id": run_id, "inputs": {"order-id": run_id}}
    response = client.post("/api/v1/runs", json=body)
    assert response.status_code == 201, response.text


def test_a_repeated_status_lists_and_purges_each_run_once(live: LiveServer) -> None:
    with live.client() as client:
        for run_id in ("c-1", "c-2", "open"):
            _start(client, run_id)
        for run_id in ("c-1", "c-2"):
            assert client.post(f"/api/v1/runs/{run_id}/cancel", json={}).status_code == 200
            live.wait_for(lambda run_id=run_id: live.run(run_id).status.value == "CANCELLED")
        listed = client.get("/api/v1/runs", params=[("status", "CANCELLED"), ("status", "CANCELLED")])
        assert listed.status_code == 200, listed.text
        assert sorted(run["id"] for run in listed.json()["runs"]) == ["c-1", "c-2"]
        purge = {"finished_before": "0s", "status": ["CANCELLED", "CANCELLED"]}
        dry = client.post("/api/v1/retention/purge", json={**purge, "dry_run": True})
        assert dry.status_code == 200 and dry.json() == {"runs": 2, "dry_run": True}
        done = client.post("/api/v1/retention/purge", json=purge)
        assert done.status_code == 200 and done.json() == {"runs": 2, "dry_run": False}
    assert [run.id for run in live.read(lambda e: e.list_runs(limit=None))] == ["open"]


def test_bad_run_ids_and_feed_kinds_are_client_errors(live: LiveServer) -> None:
    with live.client() as client:
        for run_id in ("a\x1b[2Jb\nc", "x" * 201, ""):
            body = {"workflow": "approval", "run_id": run_id, "inputs": {"order-id": "o-1"}}
            refused = client.post("/api/v1/runs", json=body)
            assert 400 <= refused.status_code < 500, refused.text
            assert "give 1 to 200 characters" in refused.json()["detail"]
        bad = client.get("/api/v1/journal", params={"kind": "NO_SUCH_KIND"})
        assert 400 <= bad.status_code < 500, bad.text
        assert "unknown journal entry kind 'NO_SUCH_KIND'" in bad.json()["detail"]
    assert live.read(lambda e: e.list_runs(limit=None)) == []
