"""Runs through the API of a real server: start, list, detail, journal,
events and control, each checked against what the database holds."""

from __future__ import annotations

import time
from typing import Any

import anyio
import httpx
from srvlive import LiveServer

SECRET = "top-secret-value-42"


def start(client: httpx.Client, run_id: str, order: str, **extra: Any) -> httpx.Response:
    body = {"workflow": "approval", "run_id": run_id, "inputs": {"order-id": order, "secret": SECRET}, **extra}
    return client.post("/api/v1/runs", json=body)


def test_start_is_idempotent_by_run_id_and_stores_the_run(live: LiveServer) -> None:
    with live.client() as client:
        first = start(client, "r-1", "o-1", version="1.0")
        assert first.status_code == 201, first.text
        assert first.json()["id"] == "r-1" and first.json()["status"] == "RUNNING"
        again = start(client, "r-1", "o-1")
        assert again.status_code == 200
        assert again.json()["id"] == "r-1"
        other = client.post(
            "/api/v1/runs", json={"workflow": "approval", "run_id": "r-1", "inputs": {"order-id": "o-2"}}
        )
        assert other.status_code == 409
        assert other.headers["content-type"] == "application/problem+json"
        assert "order-id" in other.json()["detail"]
    stored = live.run("r-1")
    assert stored.workflow == "approval" and str(stored.version) == "1.0"
    assert stored.variables["order-id"] == "o-1"
    assert len(live.read(lambda e: e.list_runs(limit=None))) == 1


def test_masked_values_never_appear_in_any_response(live: LiveServer) -> None:
    texts: list[str] = []
    with live.client() as client:
        texts.append(start(client, "m-1", "o-m").text)
        texts.append(client.get("/api/v1/runs/m-1").text)
        texts.append(client.get("/api/v1/runs").text)
        texts.append(client.get("/api/v1/runs/m-1/history").text)
        sent = client.post("/api/v1/events", json={"name": "approval", "correlation": "o-m", "payload": {"ok": True}})
        texts.append(sent.text)
        live.wait_for(lambda: live.run("m-1").status.value == "COMPLETED")
        done = client.get("/api/v1/runs/m-1")
        texts.append(done.text)
        texts.append(client.get("/api/v1/runs/m-1/history").text)
        texts.append(client.get("/api/v1/specs/approval/1.0").text)
        texts.append(start(client, "m-1", "o-other").text)  # the conflict names inputs, not values
        texts.append(client.post("/api/v1/runs/m-1/halt", json={}).text)
    assert done.json()["variables"]["secret"] == "***"
    assert done.json()["output"]["secret-seen"] == "***"
    spec = client_spec = texts[7]
    assert '"***"' in client_spec and "s3cret-default" not in spec
    for text in texts:
        assert SECRET not in text
        assert "s3cret-default" not in text
    # The run really had the secret: the task saw it (its output is masked because the secret flowed into it).
    assert live.run("m-1").status.value == "COMPLETED"


def test_list_runs_filters_and_pages_with_a_cursor(live: LiveServer) -> None:
    with live.client() as client:
        for n in range(7):
            assert start(client, f"p-{n}", f"o-{n}", version="1.0" if n < 4 else "1.1").status_code == 201
            time.sleep(0.002)
        boom = client.post("/api/v1/runs", json={"workflow": "exploding", "run_id": "x-1", "inputs": {"order-id": "x"}})
        assert boom.status_code == 201
        live.wait_for(lambda: live.run("x-1").status.value == "FAILED")
        seen: list[str] = []
        cursor = None
        pages = 0
        while True:
            params: dict[str, Any] = {"workflow": "approval", "limit": 3}
            if cursor:
                params["cursor"] = cursor
            page = client.get("/api/v1/runs", params=params).json()
            seen.extend(run["id"] for run in page["runs"])
            pages += 1
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert seen == [f"p-{n}" for n in reversed(range(7))]
        assert pages == 3
        failed = client.get("/api/v1/runs", params=[("status", "FAILED"), ("status", "COMPLETED")]).json()
        assert "runs" in failed, failed
        assert [r["id"] for r in failed["runs"]] == ["x-1"]
        v10 = client.get("/api/v1/runs", params={"workflow": "approval", "version": "1.0"}).json()
        assert sorted(r["id"] for r in v10["runs"]) == ["p-0", "p-1", "p-2", "p-3"]
        major = client.get("/api/v1/runs", params={"workflow": "approval", "version": "1"}).json()
        assert len(major["runs"]) == 7
        recent = client.get("/api/v1/runs", params={"started_after": "1h", "updated_before": "2999-01-01"}).json()
        assert len(recent["runs"]) == 8
        future = client.get("/api/v1/runs", params={"started_after": "2999-01-01T00:00:00+00:00"}).json()
        assert future == {"runs": [], "next_cursor": None}
        attention = client.get("/api/v1/runs", params={"needs_attention": "true"}).json()
        assert attention["runs"] == []
    stored = live.read(lambda e: e.list_runs(limit=None))
    assert len(stored) == 8


def test_journal_pages_and_filters(live: LiveServer) -> None:
    with live.client() as client:
        start(client, "j-1", "o-j")
        client.post("/api/v1/runs/j-1/events", json={"name": "approval", "payload": {"ok": False}})
        live.wait_for(lambda: live.run("j-1").status.value == "COMPLETED")
        stored = live.history("j-1")
        entries: list[dict[str, Any]] = []
        after = 0
        while True:
            page = client.get("/api/v1/runs/j-1/history", params={"after": after, "limit": 2}).json()
            entries.extend(page["entries"])
            if page["next_after"] is None:
                break
            after = page["next_after"]
        assert [e["seq"] for e in entries] == [e.seq for e in stored]
        kinds = client.get(
            "/api/v1/runs/j-1/history", params=[("kind", "RUN_STARTED"), ("kind", "RUN_COMPLETED")]
        ).json()
        assert [e["kind"] for e in kinds["entries"]] == ["RUN_STARTED", "RUN_COMPLETED"]
        task_node = next(e.node for e in stored if e.kind == "TASK_COMPLETED")
        by_node = client.get("/api/v1/runs/j-1/history", params={"node": task_node, "thread": 0}).json()
        assert by_node["entries"] and {e["node"] for e in by_node["entries"]} == {task_node}
        assert by_node["entries"][0]["thread_name"] == "main"


def test_events_by_run_and_by_correlation_with_dedup(live: LiveServer) -> None:
    with live.client() as client:
        start(client, "e-1", "o-e1")
        start(client, "e-2", "o-e2")
        sent = client.post(
            "/api/v1/events",
            json={"name": "approval", "correlation": "o-e1", "payload": {"ok": True}, "event_id": "ev-1"},
        )
        assert sent.status_code == 200, sent.text
        assert sent.json() == {"event": "approval", "event_id": "ev-1", "run_id": "e-1", "duplicate": False}
        again = client.post(
            "/api/v1/events",
            json={"name": "approval", "correlation": "o-e1", "payload": {"ok": True}, "event_id": "ev-1"},
        )
        assert again.json()["duplicate"] is True
        unexpected = client.post("/api/v1/runs/e-2/events", json={"name": "nope"})
        assert unexpected.status_code == 422
        assert "nope" in unexpected.json()["detail"]
        direct = client.post("/api/v1/runs/e-2/events", json={"name": "approval", "payload": {"ok": True}})
        assert direct.json()["run_id"] == "e-2"
    live.wait_for(lambda: live.run("e-1").status.value == "COMPLETED" and live.run("e-2").status.value == "COMPLETED")
    assert live.run("e-1").output["approved"] is True
    assert sum(1 for e in live.history("e-1") if e.kind == "EVENT_RECEIVED") == 1


def test_halt_resume_cancel_and_retry_change_the_stored_run(live: LiveServer) -> None:
    with live.client() as client:
        start(client, "c-1", "o-c")
        halted = client.post("/api/v1/runs/c-1/halt", json={"reason": "looking"})
        assert halted.status_code == 200 and halted.json()["status"] == "HALTED"
        assert live.run("c-1").status.value == "HALTED"
        again = client.post("/api/v1/runs/c-1/halt")
        assert again.status_code == 409
        assert again.json()["detail"].startswith("cannot halt")
        resumed = client.post("/api/v1/runs/c-1/resume")
        assert resumed.json()["status"] == "RUNNING"
        assert live.run("c-1").status.value == "RUNNING"
        refused = client.post("/api/v1/runs/c-1/retry", json={})
        assert refused.status_code == 409
        cancelled = client.post("/api/v1/runs/c-1/cancel", json={"reason": "no longer needed", "compensate": True})
        assert cancelled.status_code == 200, cancelled.text
    live.wait_for(lambda: live.run("c-1").status.value == "CANCELLED")
    kinds = [e.kind for e in live.history("c-1")]
    assert "RUN_HALTED" in kinds and "RUN_RESUMED" in kinds and kinds[-1] == "RUN_CANCELLED"


def test_dead_letters_list_and_redrive(live: LiveServer) -> None:
    from srvlive import BROKEN

    with live.client() as client:
        for n in range(3):
            client.post(
                "/api/v1/runs", json={"workflow": "exploding", "run_id": f"d-{n}", "inputs": {"order-id": f"{n}"}}
            )
        start(client, "ok-1", "o-ok")
        live.wait_for(lambda: all(live.run(f"d-{n}").status.value == "FAILED" for n in range(3)))
        letters = client.get("/api/v1/dead-letters").json()
        assert sorted(r["id"] for r in letters["runs"]) == ["d-0", "d-1", "d-2"]
        assert client.get("/api/v1/dead-letters", params={"kind": "compensation_failed"}).json()["runs"] == []
        one = client.post("/api/v1/dead-letters/redrive", json={"run_id": "d-0"})
        assert one.json() == {"retried": ["d-0"], "refused": [], "more": False}
        live.wait_for(
            lambda: live.run("d-0").status.value == "FAILED" and "RUN_RETRIED" in [e.kind for e in live.history("d-0")]
        )
        not_dead = client.post("/api/v1/dead-letters/redrive", json={"run_id": "ok-1"})
        assert not_dead.status_code == 409
        BROKEN["explode"] = False
        redriven = client.post("/api/v1/dead-letters/redrive", json={"workflow": "exploding", "limit": 2}).json()
        assert len(redriven["retried"]) == 2 and redriven["more"] is True
        rest = client.post("/api/v1/dead-letters/redrive", json={"workflow": "exploding"}).json()
        assert len(rest["retried"]) == 1 and rest["more"] is False
    live.wait_for(lambda: all(live.run(f"d-{n}").status.value == "COMPLETED" for n in range(3)))


CALLER = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def test_a_start_with_a_traceparent_header_joins_the_callers_trace(live: LiveServer) -> None:
    from wfc.runtime.store import open_store
    from wfc.runtime.store.traces import trace_contexts

    with live.client() as client:
        started = client.post(
            "/api/v1/runs",
            json={"workflow": "approval", "run_id": "tp-1", "inputs": {"order-id": "o-tp"}},
            headers={"traceparent": CALLER},
        )
        assert started.status_code == 201, started.text
        bad = client.post(
            "/api/v1/runs",
            json={"workflow": "approval", "run_id": "tp-2", "inputs": {"order-id": "o-tp2"}},
            headers={"traceparent": "00-not-a-trace"},
        )
        assert bad.status_code == 422 and bad.headers["content-type"] == "application/problem+json"
        assert "is not a W3C traceparent" in bad.json()["detail"]

    async def stored() -> dict[str, str | None]:
        store = await open_store(live.db_url, time.time())
        try:
            return await trace_contexts(store, ["tp-1", "tp-2"])
        finally:
            await store.close()

    assert anyio.run(stored) == {"tp-1": CALLER}
