"""``/api/v1/user-tasks`` through a real server on both stores: the inbox and
its paging, one task with its audit trail, every change with what the
database holds afterwards, and every refusal as a problem document."""

from __future__ import annotations

import datetime as dt
import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
from rtspec import exit_, field, form, out, spec, user_task, var, variable
from srvlive import LiveServer
from typer.testing import CliRunner

from wfc.cli import app
from wfc.runtime import UserTask

REVIEW = spec(
    "review",
    [
        ("review", user_task("review", user=var("reviewer"), group="support", notes="Check the order")),
        ("done", exit_(out("review"))),
    ],
    variables={"reviewer": variable("str")},
    forms=[
        form(
            "review",
            field("approved", "bool", display_name="Approve?", description="Whether it may ship"),
            field("amount", "float"),
            field("note", "str", required=False),
        )
    ],
)

KEYS = {
    "id", "run_id", "workflow", "version", "thread", "node", "form", "status", "user", "group", "notes",
    "created_at", "updated_at", "values", "completed_by",
}  # fmt: skip


def start_reviews(live: LiveServer, client: httpx.Client, runs: dict[str, str | None]) -> dict[str, str]:
    """Deploy the review, start a run per id (reviewer, or none: the group's)
    through the API, and return each run's task id."""
    live.read(lambda engine: engine.deploy(REVIEW))
    for run_id, reviewer in runs.items():
        inputs = {} if reviewer is None else {"reviewer": reviewer}
        started = client.post("/api/v1/runs", json={"workflow": "review", "run_id": run_id, "inputs": inputs})
        assert started.status_code == 201, started.text
    ids: dict[str, str] = {}
    for run_id in runs:
        items = client.get("/api/v1/user-tasks", params={"run_id": run_id}).json()["items"]
        assert len(items) == 1, items  # assigned by the start's own commit
        ids[run_id] = items[0]["id"]
    return ids


def stored(live: LiveServer, task_id: str) -> UserTask:
    result: UserTask = live.read(lambda engine: engine.get_user_task(task_id))
    return result


def assert_problem(response: httpx.Response, status: int, *needles: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["status"] == status and body["type"].startswith("urn:wfc:problem:")
    for needle in needles:
        assert needle in body["detail"], body
    return body


def test_the_inbox_filters_and_pages(live: LiveServer) -> None:
    with live.client() as client:
        ids = start_reviews(live, client, {"r-1": "ann", "r-2": None, "r-3": None})

        def listed(**params: Any) -> list[str]:
            answer = client.get("/api/v1/user-tasks", params=params)
            assert answer.status_code == 200, answer.text
            return [item["id"] for item in answer.json()["items"]]

        everything = listed()
        assert everything == [ids["r-1"], ids["r-2"], ids["r-3"]]  # oldest first
        assert listed(user="ann") == [ids["r-1"]]
        assert listed(status="UNASSIGNED", group="support") == [ids["r-2"], ids["r-3"]]
        assert listed(status=["ASSIGNED", "DONE"]) == [ids["r-1"]]
        assert listed(run_id="r-3") == [ids["r-3"]]
        assert listed(group="billing") == []
        first = client.get("/api/v1/user-tasks", params={"limit": 2}).json()
        assert [item["id"] for item in first["items"]] == everything[:2] and first["next"] == everything[1]
        rest = client.get("/api/v1/user-tasks", params={"limit": 2, "after": first["next"]}).json()
        assert [item["id"] for item in rest["items"]] == everything[2:] and rest["next"] is None
        item = first["items"][0]
        assert set(item) == KEYS
        assert item["form"]["fields"][0] == {
            "name": "approved", "type": "bool", "required": True, "display_name": "Approve?",
            "description": "Whether it may ship",
        }  # fmt: skip
        assert (item["status"], item["user"], item["group"], item["notes"]) == ("ASSIGNED", "ann", "support",
                                                                                "Check the order")  # fmt: skip
        assert (item["run_id"], item["workflow"], item["version"], item["thread"], item["node"]) == (
            "r-1", "review", "1.0", 0, "review"
        )


def test_one_task_with_its_audit_trail_is_what_the_cli_shows(live: LiveServer) -> None:
    with live.client() as client:
        ids = start_reviews(live, client, {"r-1": None})
        assert client.post(f"/api/v1/user-tasks/{ids['r-1']}/claim", json={"user": "bob"}).status_code == 200
        detail = client.get(f"/api/v1/user-tasks/{ids['r-1']}").json()
    assert set(detail) == KEYS | {"audit"}
    assert [(e["kind"], e["detail"].get("by")) for e in detail["audit"]] == [
        ("USER_TASK_ASSIGNED", None), ("USER_TASK_CLAIMED", "bob")
    ]
    assert detail["audit"][1]["thread_name"] == "main" and detail["audit"][1]["detail"]["user_task"] == ids["r-1"]
    runner = CliRunner(env={"COLUMNS": "200", "NO_COLOR": "1"})
    shown = runner.invoke(app, ["tasks", "show", ids["r-1"], "--json", "--db", live.db_url])
    assert shown.exit_code == 0, shown.output
    cli = json.loads(shown.stdout)
    times = {"created_at", "updated_at", "timestamp"}

    def same_moment(a: str, b: str) -> bool:
        parse = dt.datetime.fromisoformat
        return abs((parse(a.replace("Z", "+00:00")) - parse(b.replace("Z", "+00:00"))).total_seconds()) < 0.001

    assert {k: v for k, v in cli.items() if k not in times | {"audit"}} == {
        k: v for k, v in detail.items() if k not in times | {"audit"}
    }
    assert all(same_moment(cli[k], detail[k]) for k in ("created_at", "updated_at"))
    for mine, theirs in zip(cli["audit"], detail["audit"], strict=True):
        assert {k: v for k, v in mine.items() if k != "timestamp"} == {
            k: v for k, v in theirs.items() if k != "timestamp"
        }
        assert same_moment(mine["timestamp"], theirs["timestamp"])


def test_claim_conflict_complete_and_the_run_goes_on(live: LiveServer) -> None:
    with live.client() as client:
        ids = start_reviews(live, client, {"r-1": None})
        task_id = ids["r-1"]
        claimed = client.post(f"/api/v1/user-tasks/{task_id}/claim", json={"user": "bob"})
        assert claimed.status_code == 200 and claimed.json()["status"] == "ASSIGNED" and claimed.json()["user"] == "bob"
        assert client.post(f"/api/v1/user-tasks/{task_id}/claim", json={"user": "bob"}).status_code == 200  # no-op
        assert_problem(client.post(f"/api/v1/user-tasks/{task_id}/claim", json={"user": "eve"}), 409, "bob")
        values = {"approved": True, "amount": 12.5}
        assert_problem(
            client.post(f"/api/v1/user-tasks/{task_id}/complete", json={"values": values, "user": "eve"}), 409, "bob"
        )
        assert stored(live, task_id).status.value == "ASSIGNED"
        done = client.post(f"/api/v1/user-tasks/{task_id}/complete", json={"values": values, "user": "bob"})
        assert done.status_code == 200, done.text
        assert done.json()["status"] == "DONE" and done.json()["completed_by"] == "bob"
        assert done.json()["values"] == values
        again = assert_problem(
            client.post(f"/api/v1/user-tasks/{task_id}/complete", json={"values": values, "user": "bob"}), 409, "DONE"
        )
        assert again["type"] == "urn:wfc:problem:user-task-state"
        # A closed task is a conflict whatever the values given.
        assert_problem(client.post(f"/api/v1/user-tasks/{task_id}/complete", json={"values": {"x": 1}}), 409, "DONE")
    live.wait_for(lambda: live.run("r-1").status.value == "COMPLETED")
    assert live.run("r-1").output == {"approved": True, "amount": 12.5, "note": None}
    task = stored(live, task_id)
    assert task.status.value == "DONE" and task.completed_by == "bob"
    assert [e.kind for e in task.audit] == ["USER_TASK_ASSIGNED", "USER_TASK_CLAIMED", "USER_TASK_COMPLETED"]


def test_release_reassign_cancel(live: LiveServer) -> None:
    with live.client() as client:
        ids = start_reviews(live, client, {"r-1": "ann"})
        base = f"/api/v1/user-tasks/{ids['r-1']}"
        released = client.post(f"{base}/release", json={"by": "ann"})
        assert released.status_code == 200 and released.json()["status"] == "UNASSIGNED"
        assert released.json()["user"] is None
        assert_problem(client.post(f"{base}/release"), 409, "UNASSIGNED")  # no body: an operator's release
        moved = client.post(f"{base}/reassign", json={"user": "carol", "group": "billing", "by": "lead"}).json()
        assert (moved["status"], moved["user"], moved["group"]) == ("ASSIGNED", "carol", "billing")
        cancelled = client.post(f"{base}/cancel", json={"reason": "withdrawn", "by": "carol"})
        assert cancelled.status_code == 200 and cancelled.json()["status"] == "CANCELLED"
        for verb, body in (("claim", {"user": "x"}), ("release", {}), ("reassign", {"user": "x"}), ("cancel", {})):
            assert_problem(client.post(f"{base}/{verb}", json=body), 409, "CANCELLED")
    live.wait_for(lambda: live.run("r-1").status.value == "FAILED")
    failure = live.run("r-1").failure
    assert failure is not None and failure.name == "USER_TASK_CANCELLED" and "withdrawn" in failure.message
    task = stored(live, ids["r-1"])
    assert [(e.kind, e.detail.get("by")) for e in task.audit] == [
        ("USER_TASK_ASSIGNED", None),
        ("USER_TASK_RELEASED", "ann"),
        ("USER_TASK_REASSIGNED", "lead"),
        ("USER_TASK_CANCELLED", "carol"),
    ]


def test_values_that_do_not_fit_the_form_are_422_field_by_field(live: LiveServer) -> None:
    with live.client() as client:
        ids = start_reviews(live, client, {"r-1": "ann"})
        answer = client.post(
            f"/api/v1/user-tasks/{ids['r-1']}/complete",
            json={"values": {"approved": "yes", "colour": "red"}, "user": "ann"},
        )
        body = assert_problem(answer, 422, "cannot complete user task", "form 'review'")
        assert body["type"] == "urn:wfc:problem:user-task-values"
        errors = {e["field"]: e["message"] for e in body["errors"]}
        assert set(errors) == {"approved", "amount", "colour"}
        assert "must be bool" in errors["approved"] and "required (float)" in errors["amount"]
        assert "not a field of form 'review'" in errors["colour"]
    task = stored(live, ids["r-1"])
    assert task.status.value == "ASSIGNED" and task.values is None and len(task.audit) == 1


def test_bad_requests(live: LiveServer) -> None:
    with live.client() as client:
        ids = start_reviews(live, client, {"r-1": "ann"})
        base = f"/api/v1/user-tasks/{ids['r-1']}"
        for method, path in (("GET", ""), ("POST", "/claim"), ("POST", "/release"), ("POST", "/reassign"),
                             ("POST", "/complete"), ("POST", "/cancel")):  # fmt: skip
            body = {"user": "x"} if path in ("/claim", "/reassign") else {}
            problem = assert_problem(
                client.request(method, f"/api/v1/user-tasks/nope{path}", json=body), 404, "no user task with id 'nope'"
            )
            assert problem["type"] == "urn:wfc:problem:unknown-user-task"
        assert_problem(client.post(f"{base}/claim", json={}), 422, "user")
        assert_problem(client.post(f"{base}/claim", json={"user": ""}), 422, "user")
        assert_problem(client.post(f"{base}/claim", json={"user": "  "}), 422, "user")
        assert_problem(client.post(f"{base}/reassign", json={}), 422, "give user, group or both")
        assert_problem(client.post(f"{base}/reassign", json={"group": ""}), 422, "group")
        assert_problem(client.post(f"{base}/release", json={"by": ""}), 422, "by")
        assert_problem(client.post(f"{base}/complete", json={"values": [1]}), 422, "values")
        assert_problem(client.post(f"{base}/complete", json={"vals": {}}), 422, "vals")
        assert_problem(client.post(f"{base}/complete", content=b"{oops"), 400, "not JSON")
        assert_problem(client.get("/api/v1/user-tasks", params={"status": "SLEEPY"}), 422, "status")
        assert_problem(client.get("/api/v1/user-tasks", params={"limit": "0"}), 422, "limit")
        assert_problem(client.get("/api/v1/user-tasks", params={"user": ""}), 422, "user")
        assert_problem(client.get("/api/v1/user-tasks", params={"after": "ut-gone"}), 422, "ut-gone")
        assert_problem(client.get("/api/v1/user-tasks", params={"colour": "red"}), 422, "colour")
    task = stored(live, ids["r-1"])
    assert (task.status.value, task.user, task.group, len(task.audit)) == ("ASSIGNED", "ann", "support", 1)


def test_of_two_completions_at_once_exactly_one_wins(live: LiveServer) -> None:
    with live.client() as client:
        ids = start_reviews(live, client, {"r-1": None})
    url = f"/api/v1/user-tasks/{ids['r-1']}/complete"

    def complete(n: int) -> int:
        with live.client() as own:
            return own.post(url, json={"values": {"approved": True, "amount": n}}).status_code

    with ThreadPoolExecutor(4) as pool:
        codes = sorted(pool.map(complete, range(4)))
    assert codes == [200, 409, 409, 409]
    task = stored(live, ids["r-1"])
    assert [e.kind for e in task.audit].count("USER_TASK_COMPLETED") == 1


def test_changes_need_the_write_token(guarded: LiveServer) -> None:
    with guarded.client() as client:
        ids = start_reviews(guarded, client, {"r-1": None})
    base = f"/api/v1/user-tasks/{ids['r-1']}"
    with guarded.client("read-secret-5678") as reading:
        assert reading.get("/api/v1/user-tasks").status_code == 200
        assert reading.get(base).status_code == 200
        for verb in ("claim", "release", "reassign", "complete", "cancel"):
            assert_problem(reading.post(f"{base}/{verb}", json={"user": "x"}), 403)
    with guarded.client(None) as anonymous:
        assert_problem(anonymous.get("/api/v1/user-tasks"), 401)
        assert_problem(anonymous.post(f"{base}/claim", json={"user": "x"}), 401)
    assert stored(guarded, ids["r-1"]).status.value == "UNASSIGNED"


def test_the_openapi_document_describes_them(live: LiveServer) -> None:
    with live.client() as client:
        document = client.get("/api/v1/openapi.json").json()
    paths = document["paths"]
    assert set(paths["/api/v1/user-tasks"]) == {"get"}
    for verb in ("claim", "release", "reassign", "complete", "cancel"):
        operation = paths[f"/api/v1/user-tasks/{{task_id}}/{verb}"]["post"]
        assert operation["tags"] == ["user tasks"] and "requestBody" in operation
    schemas = document["components"]["schemas"]
    assert "errors" in schemas["Problem"]["properties"]
    assert set(schemas["UserTask"]["required"]) == KEYS
    assert "audit" in schemas["UserTaskDetail"]["properties"]
    status = next(p for p in paths["/api/v1/user-tasks"]["get"]["parameters"] if p["name"] == "status")
    assert "items" in status["schema"]
