"""The runs and dead-letter lists ask for the brief view (``view=brief``):
runs whose variables are large still show as rows, with their status,
failure and where they wait, while each page the list fetches (again on
every push, and for older pages) stays small; a run's own page still shows
its variables. The runs list is saved as ``runs-brief.png`` in the test's
temporary folder."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from dashlive import Server, screenshot, start_server
from playwright.sync_api import Page, Request, expect

FLOW = '''
from wfc.dsl import Workflow, WorkflowThread


def big(wf: WorkflowThread):
    key = wf.declare_str("key").required()
    wf.declare_json("blob").default({})
    wf.execute("check", key, retries=0)
    wf.wait_for_event("go", correlation=key, timeout=3600)


big_wf = Workflow("big", big)
'''

TASKS = '''
from wfc.runtime import task


@task("check", retries=0)
def check(key: str) -> str:
    if key.startswith("fail"):
        raise RuntimeError(f"{key} failed on purpose")
    return key
'''

#: A ~40 KB value in every run: 25 runs of it are 1 MB in the full view.
BLOB = {"s": "b" * 40_000}
BIG = [f"big-{n:02}" for n in range(25)]
FAILED = ["fail-0", "fail-1"]


def start(server: Server, run_id: str) -> None:
    body = {"workflow": "big", "run_id": run_id, "inputs": {"key": run_id, "blob": BLOB}}
    response = httpx.post(f"{server.url}/api/v1/runs", json=body, timeout=30)
    assert response.status_code == 201, response.text


def settled(server: Server) -> bool:
    runs = server.api("GET", "/runs", params={"limit": 100, "view": "brief"})["runs"]
    status = {r["id"]: r["status"] for r in runs}
    waiting = {r["id"] for r in runs if any("go" in w for w in r["waiting_on"])}
    return all(status.get(i) == "FAILED" for i in FAILED) and set(BIG) <= waiting


@pytest.fixture
def big_server(tmp_path: Path) -> Iterator[Server]:
    (tmp_path / "big.py").write_text(FLOW)
    (tmp_path / "big_tasks.py").write_text(TASKS)
    for server in start_server(tmp_path, str(tmp_path / "big_tasks.py")):
        # The first run deploys the workflow; the other runs oldest first, the failed ones among them.
        done = server.cli("run", str(tmp_path / "big.py"), "--detach", "--run-id", FAILED[0], "-i", f"key={FAILED[0]}")
        assert done.returncode == 0, done.stderr
        for run_id in [*BIG[:22], FAILED[1], *BIG[22:]]:
            start(server, run_id)
        deadline = time.monotonic() + 60
        while not settled(server):
            assert time.monotonic() < deadline, "the runs did not settle"
            time.sleep(0.2)
        yield server


def is_list(path: str) -> Any:
    """Whether a request is for a page of a run list at ``path`` (not a run, not counts)."""
    return lambda r: urlsplit(r.url).path == f"/api/v1{path}"


def view_of(request: Request) -> list[str]:
    return parse_qs(urlsplit(request.url).query).get("view", [])


def test_the_run_lists_ask_for_brief_runs(big_server: Server, page: Page, tmp_path: Path) -> None:
    lists: list[Request] = []
    page.on("request", lambda r: lists.append(r) if is_list("/runs")(r) or is_list("/dead-letters")(r) else None)

    with page.expect_response(is_list("/runs")) as listed:
        page.goto(big_server.url + "/#/runs")
    first = listed.value
    assert view_of(first.request) == ["brief"]
    size = len(first.body())
    assert size < 25 * 40_000 // 20, f"the page of runs is {size} bytes"
    assert b"bbbbbbbb" not in first.body()

    rows = page.locator("table tbody tr")
    expect(rows).to_have_count(25)
    newest = rows.filter(has=page.get_by_role("link", name=BIG[-1], exact=True))
    expect(newest).to_contain_text("RUNNING")
    expect(newest).to_contain_text("go")  # where it waits
    expect(newest).to_contain_text("big")  # the workflow
    failed = rows.filter(has=page.get_by_role("link", name=FAILED[1], exact=True))
    expect(failed).to_contain_text("FAILED")
    expect(failed).to_contain_text(f"{FAILED[1]} failed on purpose")
    screenshot(page, tmp_path, "runs-brief")

    # A change pushed to the page refetches the list: brief again, and the row follows.
    with page.expect_request(is_list("/runs")) as again:
        big_server.api("POST", f"/runs/{BIG[-1]}/halt", json={"reason": "looking"})
    assert view_of(again.value) == ["brief"]
    expect(newest).to_contain_text("HALTED")

    # An older page, by its cursor: brief too.
    with page.expect_request(is_list("/runs")) as older:
        page.get_by_role("button", name="Older").click()
    assert view_of(older.value) == ["brief"] and parse_qs(urlsplit(older.value.url).query)["cursor"]
    expect(rows).to_have_count(2)
    expect(rows.filter(has=page.get_by_role("link", name=FAILED[0], exact=True))).to_contain_text("FAILED")

    # The dead letters: brief, each with its failure.
    with page.expect_response(is_list("/dead-letters")) as letters:
        page.goto(big_server.url + "/#/dead-letters")
    assert view_of(letters.value.request) == ["brief"]
    expect(page.get_by_role("heading", name="Dead letters")).to_be_visible()
    expect(rows).to_have_count(2)
    for run_id in FAILED:
        expect(rows.filter(has=page.get_by_role("link", name=run_id, exact=True))).to_contain_text("failed on purpose")

    assert len(lists) >= 4 and all(view_of(r) == ["brief"] for r in lists), [r.url for r in lists]

    # A run's own page is whole: it shows the variables the list leaves out.
    with page.expect_request(lambda r: urlsplit(r.url).path == f"/api/v1/runs/{BIG[0]}") as one:
        page.goto(f"{big_server.url}/#/runs/{BIG[0]}")
    assert view_of(one.value) == []
    expect(page.locator("dl.variables")).to_contain_text("bbbbbbbb")
