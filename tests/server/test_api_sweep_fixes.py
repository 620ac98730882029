"""Requests the API used to take or answer wrongly: empty and overlong event
ids, malformed versions, problems that blame the wrong parameter, a 401
without a challenge, a 405 missing methods, slash redirects, a 422 of
megabytes, and the first day of the date range refused."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import typer
from srvlive import LiveServer
from test_api_errors import assert_problem

from wfc.cli.runs_cmd import parse_moment
from wfc.runtime import Engine, UsageError
from wfc.runtime.interpreter.errors import MAX_LISTED, InputError

VERSION_RULE = "is not 'major' or 'major.revision'"


def _start(live: LiveServer, run_id: str = "r-1") -> None:
    with live.client() as client:
        body = {"workflow": "approval", "run_id": run_id, "inputs": {"order-id": run_id}}
        assert client.post("/api/v1/runs", json=body).status_code == 201


def _raises(live: LiveServer, call: Callable[[Engine], Any], needle: str) -> None:
    """``call`` on an engine of ``live``'s database raises a UsageError saying ``needle``."""
    with pytest.raises(UsageError, match=needle):
        live.read(call)


# ---------------------------------------------------------------- event ids


def test_an_empty_event_id_is_refused_not_replaced(live: LiveServer) -> None:
    _start(live)
    with live.client() as client:
        by_key = client.post("/api/v1/events", json={"name": "approval", "correlation": "r-1", "event_id": ""})
        assert_problem(by_key, 422, "event_id must be a non-empty string, got ''")
        to_run = client.post("/api/v1/runs/r-1/events", json={"name": "approval", "event_id": " "})
        assert_problem(to_run, 422, "event_id must be a non-empty string")
    _raises(live, lambda e: e.send_event("approval", run_id="r-1", event_id=""), "event_id must be a non-empty")
    assert [e.kind for e in live.history("r-1") if e.kind.startswith("EVENT_RECEIVED")] == []


def test_event_ids_are_held_to_the_rule_of_run_ids(live: LiveServer) -> None:
    _start(live)
    with live.client() as client:
        long = client.post("/api/v1/events", json={"name": "approval", "correlation": "x", "event_id": "e" * 5000})
        assert_problem(long, 422, "it is 5,000 characters long, more than 200")
        newline = client.post("/api/v1/runs/r-1/events", json={"name": "approval", "event_id": "a\nb"})
        assert_problem(newline, 422, "control character U+000A")
        fits = client.post("/api/v1/events", json={"name": "approval", "correlation": "x", "event_id": "e" * 200})
        assert fits.status_code == 200 and fits.json()["event_id"] == "e" * 200
        # An empty correlation key is a key like any other (nothing waits with it).
        empty_key = client.post("/api/v1/events", json={"name": "approval", "correlation": "", "event_id": "k-1"})
        assert empty_key.status_code == 200, empty_key.text
    _raises(live, lambda e: e.send_event("approval", correlation="x", event_id="e" * 201), "more than 200")


# ---------------------------------------------------------------- versions


@pytest.mark.parametrize(
    ("method", "path", "params", "body", "shown"),
    [
        ("POST", "/runs", None, {"workflow": "approval", "version": "1.0.banana", "inputs": {"order-id": "o"}},
         "'1.0.banana'"),
        ("POST", "/runs", None, {"workflow": "approval", "version": "1.", "inputs": {"order-id": "o"}}, "'1.'"),
        ("GET", "/specs/approval/1.0.7", None, None, "'1.0.7'"),
        ("GET", "/specs/approval/-1", None, None, "'-1'"),
        ("GET", "/specs/approval/1.0 ", None, None, "'1.0 '"),
        ("GET", "/specs/approval/1.0.7/graph", None, None, "'1.0.7'"),
        ("GET", "/specs/approval/diff", {"old": "1.0.abc", "new": "1.0"}, None, "'1.0.abc'"),
        ("GET", "/specs/approval/diff", {"old": "1.0", "new": "+1"}, None, "'+1'"),
        ("GET", "/runs", {"workflow": "approval", "version": "1.0.banana"}, None, "'1.0.banana'"),
        ("GET", "/runs", {"workflow": "approval", "version": "\u00b2"}, None, "'\u00b2'"),  # isdigit(), not int()
        ("GET", "/dead-letters", {"workflow": "approval", "version": "1.-1"}, None, "'1.-1'"),
    ],
)  # fmt: skip
def test_a_malformed_version_is_422_everywhere(
    live: LiveServer, method: str, path: str, params: dict[str, str] | None, body: Any, shown: str
) -> None:
    with live.client() as client:
        response = client.request(method, f"/api/v1{path}", params=params, json=body)
    assert_problem(response, 422, f"version {shown} {VERSION_RULE}, e.g. '1.2'")
    assert live.read(lambda e: e.list_runs(limit=None)) == []


def test_a_version_past_the_stored_numbers_is_422_not_500(live: LiveServer) -> None:
    huge = "99999999999999999999"
    with live.client() as client:
        listed = client.get("/api/v1/runs", params={"workflow": "approval", "version": huge})
        assert_problem(listed, 422, f"version '{huge}' is past the largest version number, 9223372036854775807")
        assert_problem(client.get(f"/api/v1/specs/approval/1.{huge}"), 422, "past the largest version number")


def test_well_formed_versions_are_still_taken(live: LiveServer) -> None:
    with live.client() as client:
        for version in ("1", "1.1", "01.0", "latest"):
            assert client.get(f"/api/v1/specs/approval/{version}").status_code == 200, version
        assert_problem(client.get("/api/v1/specs/approval/2"), 404, "not deployed")
        diff = client.get("/api/v1/specs/approval/diff", params={"old": "1.0", "new": "1"})
        assert diff.status_code == 200 and diff.json()["new"]["version"] == "1.1"
    _raises(live, lambda e: e.get_spec("approval", -1), f"version -1 {VERSION_RULE}")


# ---------------------------------------------------------------- journal kinds


def test_an_unknown_kind_is_blamed_on_kind(live: LiveServer) -> None:
    _start(live)
    with live.client() as client:
        feed = client.get("/api/v1/journal", params={"kind": "K0"})
        assert_problem(feed, 422, "invalid query parameter 'kind': unknown journal entry kind 'K0'")
        assert "'after'" not in feed.json()["detail"]
        history = client.get("/api/v1/runs/r-1/history", params={"kind": ["RUN_STARTED", "run_started"]})
        assert_problem(history, 422, "invalid query parameter 'kind': unknown journal entry kind 'run_started'")
        assert "RUN_RETRIED, RUN_STARTED" in history.json()["detail"]  # the kinds to give
        known = client.get("/api/v1/runs/r-1/history", params={"kind": "RUN_STARTED"})
        assert [e["kind"] for e in known.json()["entries"]] == ["RUN_STARTED"]
        bad_position = client.get("/api/v1/journal", params={"kind": "RUN_STARTED", "after": "nowhere"})
        assert_problem(bad_position, 422, "invalid query parameter 'after'")
    _raises(live, lambda e: e.history("r-1", kinds=["K0"]), "unknown journal entry kind 'K0'")


# ---------------------------------------------------------------- body values are fields


@pytest.mark.parametrize("name", ["started_after", "started_before", "updated_after", "updated_before"])
def test_a_bad_moment_in_a_body_is_called_a_field(live: LiveServer, name: str) -> None:
    with live.client() as client:
        response = client.post("/api/v1/dead-letters/redrive", json={name: "zz"})
    assert_problem(response, 422, f"invalid field {name!r}: 'zz' is neither an ISO date/time")
    with live.client() as client:
        response = client.get("/api/v1/dead-letters", params={name: "zz"})
    assert_problem(response, 422, f"invalid query parameter {name!r}: 'zz'")


# ---------------------------------------------------------------- 401 and 405


def test_a_401_says_how_to_authenticate(guarded: LiveServer) -> None:
    with guarded.client(token=None) as anonymous:
        response = anonymous.get("/api/v1/runs")
        assert_problem(response, 401, "Authorization: Bearer")
        assert response.headers["www-authenticate"] == 'Bearer realm="wfc"'
    with guarded.client(token="wrong-token") as wrong:
        response = wrong.post("/api/v1/runs", json={"workflow": "approval"})
        assert_problem(response, 401)
        assert response.headers["www-authenticate"].startswith('Bearer realm="wfc", error="invalid_token"')


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("DELETE", "/api/v1/runs", "GET, HEAD, POST"),
        ("PUT", "/api/v1/runs", "GET, HEAD, POST"),
        ("GET", "/api/v1/runs/x/cancel", "POST"),
        ("POST", "/api/v1/specs/approval/1.0", "GET, HEAD"),
        ("POST", "/api/v1/specs/approval/diff", "GET, HEAD"),
        ("DELETE", "/healthz", "GET, HEAD"),
    ],
)
def test_a_405_lists_every_method_of_the_path(live: LiveServer, method: str, path: str, allowed: str) -> None:
    with live.client() as client:
        response = client.request(method, path)
    assert_problem(response, 405, f"{method} is not allowed on {path}; it takes {allowed}")
    assert response.headers["allow"] == allowed


def test_each_method_of_a_shared_path_still_reaches_its_endpoint(live: LiveServer) -> None:
    with live.client() as client:
        assert client.head("/api/v1/runs").status_code == 200
        _start(live)
        assert [run["id"] for run in client.get("/api/v1/runs").json()["runs"]] == ["r-1"]


# ---------------------------------------------------------------- no redirects, 404s are problems


@pytest.mark.parametrize(
    ("method", "path", "meant"),
    [
        ("GET", "/api/v1/runs/", "/api/v1/runs"),
        ("POST", "/api/v1/runs/", "/api/v1/runs"),
        ("GET", "/api/v1/runs/x/history/", "/api/v1/runs/x/history"),
        ("GET", "/healthz/", "/healthz"),
    ],
)
def test_a_trailing_slash_is_a_404_naming_the_path_meant(live: LiveServer, method: str, path: str, meant: str) -> None:
    with live.client() as client:
        response = client.request(method, path)
    assert_problem(response, 404, f"no endpoint at {path}; did you mean {meant}?")
    assert "location" not in response.headers


def test_unknown_paths_and_dashboard_files_are_problems(live: LiveServer) -> None:
    with live.client() as client:
        nowhere = client.get("/api/v1/nowhere/")
        assert_problem(nowhere, 404, "no endpoint at /api/v1/nowhere/; the API is under /api/v1")
        assert "did you mean" not in nowhere.json()["detail"]
        assert_problem(client.get("/ui/nosuch"), 404, "the dashboard has no file 'nosuch'")
        assert client.get("/ui/app.js").status_code == 200
        assert client.get("/").status_code == 200


# ---------------------------------------------------------------- input errors stay small


def test_a_start_with_60000_unknown_inputs_gets_a_short_422(live: LiveServer) -> None:
    inputs: dict[str, Any] = {f"k{i:05}": 1 for i in range(60_000)}
    with live.client() as client:
        response = client.post("/api/v1/runs", json={"workflow": "approval", "inputs": inputs})
    assert_problem(response, 422, "invalid inputs for workflow 'approval' (60,001 problems): 'k00000': not a variable")
    detail = response.json()["detail"]
    assert detail.endswith(f"; … and {60_001 - MAX_LISTED:,} more") and len(response.content) < 5_000


def test_an_input_error_keeps_every_problem_and_lists_the_first() -> None:
    problems = [(f"v{i}", "required str input is missing") for i in range(25)] + [("n" * 1000, "unknown")]
    error = InputError("w", problems)
    assert error.problems == tuple(problems) and error.variable == "v0"
    message = str(error)
    assert message.startswith("invalid inputs for workflow 'w' (26 problems): 'v0': required str input is missing; ")
    assert f"'v{MAX_LISTED - 1}'" in message and f"'v{MAX_LISTED}'" not in message
    assert message.endswith("; … and 6 more")
    few = str(InputError("w", [("n" * 1000, "not a variable of this workflow")]))
    cut = f"{'n' * 80!r}… (1,000 characters)"
    assert few == f"invalid inputs for workflow 'w' (1 problem): {cut}: not a variable of this workflow"


# ---------------------------------------------------------------- the first and last day of the range


@pytest.fixture
def local_zone(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str], None]]:
    """Sets the process's local time zone (``TZ``) for the test."""

    def use(zone: str) -> None:
        monkeypatch.setenv("TZ", zone)
        time.tzset()

    yield use
    monkeypatch.undo()
    time.tzset()


@pytest.mark.parametrize(
    ("zone", "text", "utc"),
    [
        ("UTC", "0001-01-01", "0001-01-01T00:00:00+00:00"),
        ("UTC", "9999-12-31T23:59:59", "9999-12-31T23:59:59+00:00"),
        ("America/New_York", "0001-01-01", "0001-01-01T04:56:02+00:00"),
        ("Europe/Paris", "9999-12-31T23:59:59", "9999-12-31T22:59:59+00:00"),
        ("Asia/Tokyo", "0001-01-01T12:00", "0001-01-01T02:41:01+00:00"),
    ],
)
def test_local_moments_on_the_edge_days_are_taken(
    local_zone: Callable[[str], None], zone: str, text: str, utc: str
) -> None:
    local_zone(zone)
    assert parse_moment(text, "--since").astimezone(dt.UTC).isoformat() == utc


@pytest.mark.parametrize(("zone", "text"), [("Asia/Tokyo", "0001-01-01"), ("America/New_York", "9999-12-31T23:00")])
def test_a_local_moment_past_the_range_says_it_was_read_as_local(
    local_zone: Callable[[str], None], zone: str, text: str
) -> None:
    local_zone(zone)
    with pytest.raises(typer.BadParameter) as refused:
        parse_moment(text, "--since")
    assert refused.value.message == (
        f"{text!r} is out of range (read as local time, having no offset): give a date/time from 0001-01-01 to "
        "9999-12-31 (UTC)"
    )
    assert parse_moment(text, "--since", zone=dt.UTC).tzinfo is dt.UTC


def test_the_api_takes_both_ends_of_the_range_it_states(live: LiveServer, local_zone: Callable[[str], None]) -> None:
    local_zone("Asia/Tokyo")  # the API reads a moment without an offset as UTC, whatever the server's zone
    with live.client() as client:
        for name in ("started_after", "started_before", "updated_after", "updated_before"):
            for edge in ("0001-01-01", "9999-12-31T23:59:59.999999"):
                response = client.get("/api/v1/runs", params={name: edge})
                assert response.status_code == 200, (name, edge, response.text)
        purged = client.post("/api/v1/retention/purge", json={"finished_before": "0001-01-01", "dry_run": True})
        assert purged.status_code == 200 and purged.json() == {"runs": 0, "dry_run": True}
        assert client.get("/api/v1/retention/export", params={"finished_before": "0001-01-01"}).status_code == 200
        since = client.get("/api/v1/analytics", params={"workflow": "approval", "since": "0001-01-01"})
        assert_problem(since, 422, "its first bucket would start before year 1")  # not "out of range"
