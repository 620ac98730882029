"""GET /journal (every run's journal for polling consumers) and
POST /retention/purge through a real server, checked against the database."""

from __future__ import annotations

import time

from srvlive import LiveServer

SECRET = "top-secret-value-42"


def test_the_feed_pages_all_runs_in_order_and_masks_values(live: LiveServer) -> None:
    with live.client() as client:
        for run_id in ("f-1", "f-2"):
            body = {"workflow": "approval", "run_id": run_id, "inputs": {"order-id": run_id, "secret": SECRET}}
            assert client.post("/api/v1/runs", json=body).status_code == 201
        expected = {r: [h.seq for h in live.read(lambda e, r=r: e.history(r))] for r in ("f-1", "f-2")}
        wanted = {(r, seq) for r, seqs in expected.items() for seq in seqs}
        seen: list[tuple[str, int]] = []
        after = None
        # Page until every stored entry came. An empty page only says nothing
        # more is readable yet: on PostgreSQL the feed stops below the oldest
        # transaction still open anywhere on the server, so ask again.
        deadline = time.monotonic() + 30
        while not wanted <= set(seen):
            assert time.monotonic() < deadline, f"the feed gave {seen}, not all of {sorted(wanted)}"
            params: dict[str, str | int] = {"limit": 2} if after is None else {"limit": 2, "after": after}
            page = client.get("/api/v1/journal", params=params)
            assert page.status_code == 200, page.text
            assert SECRET not in page.text
            body = page.json()
            seen += [(e["run_id"], e["seq"]) for e in body["entries"]]
            after = body["next_after"]
            if not body["entries"]:
                time.sleep(0.05)
        for run_id, seqs in expected.items():
            assert [s for r, s in seen if r == run_id] == seqs
        assert len(seen) == len(set(seen))
        started = client.get("/api/v1/journal", params={"kind": "RUN_STARTED"}).json()["entries"]
        assert sorted(e["run_id"] for e in started) == ["f-1", "f-2"]
        assert all(e["workflow"] == "approval" for e in started)
        bad = client.get("/api/v1/journal", params={"after": "not-a-position"})
        assert bad.status_code == 422 and "not a position" in bad.json()["detail"]


def test_purge_deletes_finished_runs_only(live: LiveServer) -> None:
    with live.client() as client:
        for run_id in ("p-1", "p-2"):
            body = {"workflow": "approval", "run_id": run_id, "inputs": {"order-id": run_id}}
            assert client.post("/api/v1/runs", json=body).status_code == 201
        assert client.post("/api/v1/runs/p-1/cancel", json={}).status_code == 200
        live.wait_for(lambda: live.run("p-1").status.value == "CANCELLED")
        time.sleep(0.01)
        dry = client.post("/api/v1/retention/purge", json={"finished_before": "0s", "dry_run": True})
        assert dry.status_code == 200 and dry.json() == {"runs": 1, "dry_run": True}
        done = client.post("/api/v1/retention/purge", json={"finished_before": "0s", "status": ["CANCELLED"]})
        assert done.status_code == 200 and done.json() == {"runs": 1, "dry_run": False}
        assert client.get("/api/v1/runs/p-1").status_code == 404
        assert client.get("/api/v1/runs/p-2").json()["status"] == "RUNNING"
        wrong = client.post("/api/v1/retention/purge", json={"finished_before": "0s", "status": ["RUNNING"]})
        assert wrong.status_code == 422 and "only finished runs" in wrong.json()["detail"]
        when = client.post("/api/v1/retention/purge", json={"finished_before": "30x"})
        assert when.status_code == 422 and "finished_before" in when.json()["detail"]
    assert [r.id for r in live.read(lambda e: e.list_runs(limit=None))] == ["p-2"]
