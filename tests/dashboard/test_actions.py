"""Acting from the dashboard on a real server: a bulk cancel of a selection,
a retry from the dead-letter view, and switching between the threads of the
order fulfilment fan-out."""

from __future__ import annotations

import subprocess
from pathlib import Path

from dashlive import WFC, Server, screenshot, start_server
from playwright.sync_api import Page, expect

FLAKY_FLOW = """
from wfc.dsl import Workflow, WorkflowThread

def ledger(wf: WorkflowThread):
    return wf.execute("post-entry", wf.declare_str("entry").required(), retries=0)

ledger_wf = Workflow("ledger", ledger)
"""

FLAKY_TASKS = """
from pathlib import Path
from wfc.runtime import task

BROKEN = Path(__file__).with_name("ledger-is-down")

@task("post-entry", retries=0)
def post_entry(entry: str) -> str:
    if BROKEN.exists():
        raise ConnectionError("the ledger is down")
    return f"posted {entry}"
"""


def exchange(server: Server, transfer: str) -> None:
    done = server.cli("run", "examples/currency_exchange.py", "--detach", "--run-id", transfer,
                      "-i", f"transfer-id={transfer}", "-i", "source-account=acc-1", "-i", "target-account=acc-2",
                      "-i", "amount=100", "-i", "source-currency=EUR", "-i", "target-currency=USD")
    assert done.returncode == 0, done.stderr


def test_a_bulk_cancel_cancels_the_selected_runs_only(checkout_server: Server, page: Page, tmp_path: Path) -> None:
    for transfer in ("t-a", "t-b", "t-c"):
        exchange(checkout_server, transfer)
        checkout_server.wait_for(transfer, "RUNNING")
    page.goto(checkout_server.url + "/#/runs")
    for transfer in ("t-a", "t-b"):
        page.get_by_label(f"Select {transfer}").check()
    page.get_by_role("button", name="Cancel selected").click()
    expect(page.get_by_role("status").filter(has_text="cancel:")).to_contain_text("2 of 2 done")
    assert checkout_server.wait_for("t-a", "CANCELLED")["status"] == "CANCELLED"
    assert checkout_server.wait_for("t-b", "CANCELLED")["status"] == "CANCELLED"
    assert checkout_server.api("GET", "/runs/t-c")["status"] == "RUNNING"
    row = page.get_by_role("row").filter(has=page.get_by_role("link", name="t-a"))
    expect(row).to_contain_text("CANCELLED")
    screenshot(page, tmp_path, "bulk-cancel")


def test_a_dead_letter_is_retried_from_its_view(tmp_path: Path, page: Page) -> None:
    (tmp_path / "ledger.py").write_text(FLAKY_FLOW)
    (tmp_path / "ledger_tasks.py").write_text(FLAKY_TASKS)
    broken = tmp_path / "ledger-is-down"
    broken.touch()
    servers = start_server(tmp_path, str(tmp_path / "ledger_tasks.py"))
    server = next(servers)
    try:
        done = server.cli("run", str(tmp_path / "ledger.py"), "--detach", "--run-id", "e-1", "-i", "entry=e-1")
        assert done.returncode == 0, done.stderr
        assert server.wait_for("e-1", "FAILED")["failure"]["message"].startswith("ConnectionError: the ledger is down")
        page.goto(server.url + "/#/dead-letters")
        row = page.get_by_role("row").filter(has=page.get_by_role("link", name="e-1"))
        expect(row).to_contain_text("the ledger is down")
        screenshot(page, tmp_path, "dead-letters")
        broken.unlink()  # the ledger is back
        page.get_by_label("Select e-1").check()
        page.get_by_role("button", name="Retry selected").click()
        assert server.wait_for("e-1", "COMPLETED")["output"] == "posted e-1"
        expect(page.get_by_text("No runs match.")).to_be_visible(timeout=5000)  # no longer a dead letter
    finally:
        for _ in servers:
            pass


def test_the_threads_of_a_fan_out_can_be_switched(checkout_server: Server, page: Page, tmp_path: Path) -> None:
    done = checkout_server.cli(
        "run", "examples/order_fulfilment.py", "--detach", "--run-id", "f-1", "-i", "order-id=f-1",
        "-i", "customer-email=ana@example.com",
        "-i", 'items=[{"sku": "SKU-A", "quantity": 1}, {"sku": "SKU-B", "quantity": 2}]',
    )
    assert done.returncode == 0, done.stderr

    def sleeping() -> bool:
        run = checkout_server.api("GET", "/runs/f-1")
        return run["threads"][0]["node"] != "entrypoint" and len(run["threads"]) == 3 and all(
            t["status"] == "COMPLETED" for t in run["threads"][1:])

    import time

    deadline = time.monotonic() + 30
    while not sleeping():
        assert time.monotonic() < deadline, checkout_server.api("GET", "/runs/f-1")
        time.sleep(0.2)
    page.goto(checkout_server.url + "/#/runs/f-1")
    graph = page.locator("svg.graph")
    expect(graph).to_have_attribute("aria-label", "Graph of thread main")
    expect(graph.locator('[data-node="wait-for-threads"], [data-node^="wait"]').first).to_have_class(
        "node k-wait_for_threads st-done")
    sleeps = graph.locator(".k-sleep")
    expect(sleeps).to_have_class("node k-sleep st-waiting")  # a week's durable sleep
    page.get_by_role("button", name="#2 fulfil-item (child of #0)").click()
    expect(page.locator("svg.graph")).to_have_attribute("aria-label", "Graph of thread fulfil-item")
    for node in ("pick-item", "pack-item"):
        expect(page.locator(f'svg.graph [data-node="{node}"]')).to_have_class("node k-task st-done")
    expect(page.get_by_role("button", name="#2 fulfil-item (child of #0)")).to_have_attribute("aria-pressed", "true")
    page.locator("p.family").get_by_role("button", name="#0 main").click()  # back to its parent
    expect(page.locator("svg.graph")).to_have_attribute("aria-label", "Graph of thread main")
    expect(page.locator("p.family")).to_contain_text("started #1 fulfil-item, #2 fulfil-item")
    screenshot(page, tmp_path, "threads")


def test_a_spec_is_drawn_and_diffed_with_the_bump_it_needed(tmp_path: Path, page: Page) -> None:
    flow = tmp_path / "greet.py"
    v1 = FLAKY_FLOW.replace("ledger", "greet")
    v2 = v1.replace(
        'return wf.execute("post-entry", wf.declare_str("entry").required(), retries=0)',
        'entry = wf.declare_str("entry").required()\n    wf.execute("audit", entry)\n'
        '    return wf.execute("post-entry", entry, retries=0)',
    )
    db = ["--db", f"sqlite:///{tmp_path / 'dashboard.db'}"]
    for source in (v1, v2):  # the previous spec file decides the new version
        flow.write_text(source)
        compile_to = ["compile", str(flow), "-o", str(tmp_path / "specs")]
        done = subprocess.run([*WFC, *compile_to], capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        spec = next((tmp_path / "specs").glob("*.json"))
        run = ["run", str(spec), "--detach", "-i", "entry=x", *db]
        deployed = subprocess.run([*WFC, *run], capture_output=True, text=True)
        assert deployed.returncode == 0, deployed.stderr
    servers = start_server(tmp_path)  # a client of the database: no tasks
    server = next(servers)
    try:
        versions = sorted(s["version"] for s in server.api("GET", "/specs")["specs"] if s["name"] == "greet")
        assert len(versions) == 2, versions
        page.goto(f"{server.url}/#/specs/greet/{versions[1]}")
        expect(page.locator('svg.graph [data-node="audit"]')).to_be_visible()
        page.get_by_label("Compare with").select_option(versions[0])
        page.get_by_role("button", name="Diff").click()
        diff = page.get_by_role("region", name="Differences")
        expect(diff).to_contain_text(f"{versions[0]} → {versions[1]}")
        expect(diff).to_contain_text("bump")
        expect(diff.get_by_role("cell", name="audit", exact=True)).to_be_visible()
        screenshot(page, tmp_path, "spec-diff")
    finally:
        for _ in servers:
            pass
