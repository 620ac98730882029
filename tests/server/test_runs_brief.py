"""The brief view of run lists (``view=brief`` on ``GET /runs`` and ``GET
/dead-letters``): each run without its data (variables, masked, output,
threads, pending events), those keys absent rather than empty, everything
else as the full view shows it; the full view stays the default; cursors
page the same; a bad ``view`` is a 422 naming the choices; the OpenAPI
document says which fields may be absent; and a page of runs with large
variables shrinks to a small fraction."""

from __future__ import annotations

import time
from typing import Any

import httpx
from srvlive import LiveServer

from wfc.server._types import Run

#: What the brief view leaves out: exactly these keys.
OMITTED = {"variables", "masked", "output", "threads", "pending_events"}
SECRET = "brief-secret-77"


def start(client: httpx.Client, run_id: str, workflow: str = "approval", **inputs: Any) -> None:
    body = {"workflow": workflow, "run_id": run_id, "inputs": {"order-id": run_id, **inputs}}
    response = client.post("/api/v1/runs", json=body)
    assert response.status_code == 201, response.text
    time.sleep(0.002)  # distinct creation times: a stable newest-first order


def runs(client: httpx.Client, path: str = "/api/v1/runs", **params: Any) -> list[dict[str, Any]]:
    response = client.get(path, params=params)
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()["runs"]
    return found


def assert_brief_of(full: list[dict[str, Any]], brief: list[dict[str, Any]]) -> None:
    """``brief`` is ``full`` without exactly the omitted keys, run by run, field by field."""
    assert [r["id"] for r in brief] == [r["id"] for r in full]
    for whole, short in zip(full, brief, strict=True):
        assert set(whole) >= OMITTED, whole.keys()
        assert set(whole) - set(short) == OMITTED, (whole["id"], sorted(set(whole) - set(short)))
        assert set(short) <= set(whole)
        for key, value in short.items():
            assert value == whole[key], (whole["id"], key)


def seed(live: LiveServer, client: httpx.Client) -> None:
    """Runs of every shape a list shows: waiting (with a masked secret),
    halted, failed (a failure), completed (an output)."""
    for n in range(3):
        start(client, f"w-{n}", secret=SECRET)
    assert client.post("/api/v1/runs/w-1/halt", json={"reason": "looking"}).status_code == 200
    start(client, "x-1", "exploding")
    start(client, "done-1", secret=SECRET)
    sent = client.post("/api/v1/events", json={"name": "approval", "correlation": "done-1", "payload": {"ok": True}})
    assert sent.status_code == 200, sent.text
    live.wait_for(lambda: live.run("x-1").status.value == "FAILED" and live.run("done-1").status.value == "COMPLETED")


def test_brief_leaves_out_exactly_the_run_data_and_keeps_the_rest(live: LiveServer) -> None:
    with live.client() as client:
        seed(live, client)
        full = runs(client, view="full")
        brief = runs(client, view="brief")
        assert {r["status"] for r in full} == {"RUNNING", "HALTED", "FAILED", "COMPLETED"}
        assert_brief_of(full, brief)
        # What the table shows is there, with the full view's values (checked above).
        failed = next(r for r in brief if r["id"] == "x-1")
        assert failed["failure"]["name"] and "exploded" in failed["failure"]["message"]
        assert next(r for r in brief if r["id"] == "w-0")["waiting_on"]
        # Absent, not empty: the full view shows an empty list as [] (the failed run waits for no event).
        assert next(r for r in full if r["id"] == "x-1")["pending_events"] == []
        done = next(r for r in full if r["id"] == "done-1")
        assert done["output"]["secret-seen"] == "***" and done["masked"] == ["secret"]
        # Dead letters: the same view.
        letters_full = runs(client, "/api/v1/dead-letters", view="full")
        letters_brief = runs(client, "/api/v1/dead-letters", view="brief")
        assert [r["id"] for r in letters_full] == ["x-1"]
        assert_brief_of(letters_full, letters_brief)
        text = client.get("/api/v1/runs", params={"view": "brief"}).text
    assert SECRET not in text and '"***"' not in text  # no variables at all, masked or not


def test_the_full_view_is_the_default(live: LiveServer) -> None:
    with live.client() as client:
        seed(live, client)
        default = client.get("/api/v1/runs").json()
        assert default == client.get("/api/v1/runs", params={"view": "full"}).json()
        assert all(set(run) >= OMITTED for run in default["runs"])
        letters = client.get("/api/v1/dead-letters").json()
        assert letters == client.get("/api/v1/dead-letters", params={"view": "full"}).json()
        assert all(set(run) >= OMITTED for run in letters["runs"])
        # One run, started or read, is always whole.
        assert set(client.get("/api/v1/runs/w-0").json()) >= OMITTED


def test_cursors_page_the_same_in_both_views(live: LiveServer) -> None:
    with live.client() as client:
        for n in range(7):
            start(client, f"p-{n}")

        def walk(view: str) -> tuple[list[list[dict[str, Any]]], list[str | None]]:
            pages: list[list[dict[str, Any]]] = []
            cursors: list[str | None] = []
            cursor: str | None = None
            while True:
                params: dict[str, Any] = {"workflow": "approval", "limit": 3, "view": view}
                if cursor is not None:
                    params["cursor"] = cursor
                page = client.get("/api/v1/runs", params=params).json()
                pages.append(page["runs"])
                cursor = page["next_cursor"]
                cursors.append(cursor)
                if cursor is None:
                    return pages, cursors

        full_pages, full_cursors = walk("full")
        brief_pages, brief_cursors = walk("brief")
    assert brief_cursors == full_cursors and len(full_cursors) == 3
    assert [[r["id"] for r in page] for page in brief_pages] == [["p-6", "p-5", "p-4"], ["p-3", "p-2", "p-1"], ["p-0"]]
    for whole, short in zip(full_pages, brief_pages, strict=True):
        assert_brief_of(whole, short)


def test_a_bad_view_is_a_422_naming_the_choices(live: LiveServer) -> None:
    with live.client() as client:
        for path in ("/api/v1/runs", "/api/v1/dead-letters"):
            for bad in ("tiny", "BRIEF", ""):
                response = client.get(path, params={"view": bad})
                assert response.status_code == 422, (path, bad, response.text)
                assert response.headers["content-type"] == "application/problem+json"
                problem = response.json()
                assert problem["type"] == "urn:wfc:problem:invalid-request"
                # The same words as a bad status: the parameter, the value, the choices.
                assert problem["detail"] == (
                    f"invalid query parameter 'view': invalid enum value {bad!r}; give one of full, brief"
                )
        twice = client.get("/api/v1/runs", params=[("view", "brief"), ("view", "full")])
        assert twice.status_code == 422 and "'view' is given more than once" in twice.json()["detail"]
        # One run takes no view: it is always whole.
        assert client.get("/api/v1/runs/nope", params={"view": "brief"}).status_code == 422


def test_the_openapi_document_says_what_may_be_absent(live: LiveServer) -> None:
    with live.client() as client:
        document = client.get("/api/v1/openapi.json").json()
    schemas = document["components"]["schemas"]
    run = schemas["Run"]
    assert set(run["properties"]) >= OMITTED
    assert not set(run["required"]) & OMITTED
    always = {"id", "workflow", "version", "status", "created_at", "updated_at", "node", "waiting_on", "failure",
              "needs_attention", "compensation"}
    assert set(run["required"]) == always
    for name in OMITTED:
        assert "Absent in the brief view" in run["properties"][name]["description"], name
    for name in always:
        assert "brief" not in run["properties"][name].get("description", ""), name
    assert schemas["RunView"]["enum"] == ["brief", "full"]
    for path in ("/api/v1/runs", "/api/v1/dead-letters"):
        view = next(p for p in document["paths"][path]["get"]["parameters"] if p["name"] == "view")
        assert view == {
            "name": "view",
            "in": "query",
            "required": False,
            "schema": {"$ref": "#/components/schemas/RunView", "default": "full"},
        }
    # Every other operation answering a Run answers it whole, and declares no view.
    for path in ("/api/v1/runs/{run_id}", "/api/v1/runs/{run_id}/halt"):
        for operation in document["paths"][path].values():
            assert all(p["name"] != "view" for p in operation["parameters"])


def test_a_brief_page_of_runs_with_large_variables_is_a_small_fraction(live: LiveServer) -> None:
    note = "n" * 40_000  # a ~40 KB variable in each run
    with live.client() as client:
        for n in range(25):
            body = {"workflow": "approval", "version": "1.1", "run_id": f"big-{n:02}",
                    "inputs": {"order-id": f"big-{n:02}", "note": note}}
            assert client.post("/api/v1/runs", json=body).status_code == 201
        full = client.get("/api/v1/runs", params={"limit": 25})
        brief = client.get("/api/v1/runs", params={"limit": 25, "view": "brief"})
    assert len(full.json()["runs"]) == len(brief.json()["runs"]) == 25
    assert len(full.content) > 25 * 40_000
    assert len(brief.content) * 20 < len(full.content), (len(brief.content), len(full.content))
    assert note not in brief.text
    assert_brief_of(full.json()["runs"], brief.json()["runs"])


def test_the_run_type_tells_absent_from_empty() -> None:
    """Decoded back, a brief run's data is UNSET, and a full run's empty data is empty."""
    import msgspec

    fields = {"id": "r", "workflow": "w", "version": "1.0", "status": "RUNNING", "created_at": "2026-01-01T00:00:00Z",
              "updated_at": "2026-01-01T00:00:00Z", "node": "n", "waiting_on": [], "failure": None,
              "needs_attention": False, "compensation": None}
    brief = msgspec.convert(fields, Run)
    assert all(getattr(brief, name) is msgspec.UNSET for name in OMITTED)
    assert set(msgspec.to_builtins(brief)) == set(fields) | {"stuck", "unreadable"}
    empty = {"variables": {}, "masked": [], "output": None, "threads": [], "pending_events": []}
    whole = msgspec.convert({**fields, **empty}, Run)
    assert {name: getattr(whole, name) for name in OMITTED} == empty
    assert msgspec.json.decode(msgspec.json.encode(whole))["variables"] == {}
