"""Moments, durations and numbers past what datetime or the database can
hold are 422 problems that say what to give, never a 500."""

from __future__ import annotations

import pytest
from srvlive import LiveServer
from test_api_errors import assert_problem

RANGE = "from 0001-01-01 to 9999-12-31 (UTC)"
BEFORE = "reaches back before 0001-01-01"
BIGINT = "9223372036854775807"
WORKFLOW = {"workflow": "approval"}
SQUARED = "\u00b2"  # superscript 2: str.isdigit() holds, int() refuses it


@pytest.mark.parametrize(
    ("path", "params", "needle"),
    [
        ("/runs", {"started_after": "0001-01-01T00:00:00+00:01"}, f"out of range: give a date/time {RANGE}"),
        ("/runs", {"started_before": "99999999999d"}, f"'started_before': '99999999999d' {BEFORE}"),
        ("/runs", {"updated_after": "9999-12-31T23:59:59-12:00"}, "'updated_after': '9999-12-31T23:59:59-12:00'"),
        ("/runs", {"updated_before": "99999999999999999999s"}, BEFORE),
        ("/runs", {"stuck_for": "9" * 400}, "is too long a duration"),
        ("/dead-letters", {"started_after": "0001-01-01T00:00:00+00:01"}, RANGE),
        ("/retention/export", {"finished_before": "0001-01-01T00:00:00+00:01"}, "'finished_before': '0001-01-01T"),
        ("/retention/export", {"finished_before": "99999999999d"}, BEFORE),
        ("/analytics", {**WORKFLOW, "since": "0001-01-01T00:00:00+00:01"}, "is out of range"),
        ("/analytics", {**WORKFLOW, "since": "99999999999d"}, BEFORE),
        (
            "/analytics",
            {**WORKFLOW, "since": "0001-01-01T00:00:00+00:00"},
            "its first bucket would start before year 1",
        ),
        ("/journal", {"after": "99999999999999999999"}, "'99999999999999999999' is not a position of a "),
        ("/journal", {"after": SQUARED}, f"'{SQUARED}' is not a position of a "),
        ("/runs/x/history", {"after": "99999999999999999999"}, f"parameter 'after': expected `int` <= {BIGINT}"),
        ("/runs/x/history", {"thread": "9223372036854775808"}, f"parameter 'thread': expected `int` <= {BIGINT}"),
        ("/analytics", {**WORKFLOW, "since": "9999-12-31"}, "'since': '9999-12-31' is in the future; give a moment"),
        ("/analytics", {"since": "1h"}, "missing query parameter(s) 'workflow': give a value"),
        ("/analytics", {**WORKFLOW, "bucket": "1"}, "unknown query parameter(s) 'bucket'; this endpoint takes "),
    ],
)
def test_get_parameters_out_of_range_are_422(live: LiveServer, path: str, params: dict[str, str], needle: str) -> None:
    with live.client() as client:
        response = client.get(f"/api/v1{path}", params=params)
    assert_problem(response, 422, needle)
    assert "internal error" not in response.text


@pytest.mark.parametrize("value", ["0001-01-01T00:00:00+00:01", "99999999999d", "9999-12-31T23:59:59-12:00"])
def test_purge_finished_before_out_of_range_is_422(live: LiveServer, value: str) -> None:
    with live.client() as client:
        response = client.post("/api/v1/retention/purge", json={"finished_before": value})
    assert_problem(response, 422, f"invalid field 'finished_before': '{value}'")
    assert "0001-01-01" in response.json()["detail"]


def test_the_edges_of_the_ranges_are_taken(live: LiveServer) -> None:
    with live.client() as client:
        assert client.get("/api/v1/runs", params={"started_after": "0001-01-01T00:00:00Z"}).status_code == 200
        assert client.get("/api/v1/runs", params={"started_before": "9999-12-31T23:59:59Z"}).status_code == 200
        if live.db_url.startswith("sqlite"):  # a PostgreSQL position is no number
            assert client.get("/api/v1/journal", params={"after": "9223372036854775807"}).status_code == 200
        assert client.get("/api/v1/analytics", params={**WORKFLOW, "since": "1000-01-01"}).status_code == 200
        purged = client.post(
            "/api/v1/retention/purge", json={"finished_before": "0001-01-01T00:00:00Z", "dry_run": True}
        )
        assert purged.status_code == 200 and purged.json() == {"runs": 0, "dry_run": True}
