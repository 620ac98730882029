"""The dashboard in a real browser against a real ``wfc server``: runs started
from the CLI appear, a compensated checkout shows its undone steps, events
are sent from the page, threads are switched, and a token is asked for."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from dashlive import Server, screenshot, start_server
from playwright.sync_api import Page, expect

CHECKOUT_INPUTS = [
    "-i", "customer-email=ana@example.com", "-i", "card-token=tok_visa_4242",
    "-i", 'items=[{"sku": "SKU-MOUSE", "quantity": 1}]', "-i", 'shipping-address={"city": "Porto"}',
]


def start_checkout(server: Server, order_id: str) -> None:
    done = server.cli("run", str(Path("examples/checkout.py")), "--detach", "--run-id", order_id,
                      "-i", f"order-id={order_id}", *CHECKOUT_INPUTS)
    assert done.returncode == 0, done.stderr


def test_a_run_started_from_the_cli_appears_in_the_list(checkout_server: Server, page: Page, tmp_path: Path) -> None:
    page.goto(checkout_server.url + "/#/runs")
    expect(page.get_by_role("heading", name="Runs")).to_be_visible()
    start_checkout(checkout_server, "o-live-1")
    row = page.get_by_role("row").filter(has=page.get_by_role("link", name="o-live-1"))
    expect(row).to_be_visible(timeout=5000)  # the list refreshes by itself
    checkout_server.wait_for("o-live-1", "COMPLETED")
    expect(row.get_by_text("COMPLETED")).to_be_visible(timeout=5000)
    completed = page.get_by_label("Runs by status").locator(".count").filter(has_text="COMPLETED")
    expect(completed).to_have_text("COMPLETED 1", timeout=5000)  # the counts follow too
    screenshot(page, tmp_path, "runs")


def test_a_compensated_checkout_shows_the_undone_steps(checkout_server: Server, page: Page, tmp_path: Path) -> None:
    start_checkout(checkout_server, "o-2-no-carrier")
    checkout_server.wait_for("o-2-no-carrier", "COMPENSATED")
    page.goto(checkout_server.url + "/#/runs/o-2-no-carrier")
    expect(page.get_by_role("alert").first).to_contain_text("Failed at create-shipment")
    graph = page.locator("svg.graph")
    for node in ("create-order", "charge-card", "reserve-inventory"):
        expect(graph.locator(f'[data-node="{node}"]')).to_have_class("node k-task st-compensated")
    expect(graph.locator('[data-node="create-shipment"]')).to_have_class("node k-task st-failed")
    expect(graph.locator('[data-node="validate-cart"]')).to_have_class("node k-task st-done")
    expect(graph.locator('[data-node="send-confirmation"]')).to_have_class("node k-task st-not-reached")
    # The timeline: every attempt of the failing step a bar of its own, the undoing in purple.
    timeline = page.locator("svg.timeline")
    failed = timeline.locator('rect[data-kind="task"][data-outcome="error"]')
    expect(failed).to_have_count(4)
    assert sorted(failed.evaluate_all("bars => bars.map(b => b.dataset.attempt)")) == ["1", "2", "3", "4"]
    undone = timeline.locator('rect[data-kind="compensate"]')
    expect(undone).to_have_count(3)
    assert set(undone.evaluate_all("bars => bars.map(b => b.getAttribute('class'))")) == {"bar undo"}
    # The card token is masked on the page as everywhere else.
    expect(page.locator("dl.variables")).to_contain_text('"***"')
    expect(page.locator("dl.variables")).not_to_contain_text("tok_visa")
    screenshot(page, tmp_path, "run-compensated")


def test_clicking_a_node_filters_the_journal_to_it(checkout_server: Server, page: Page) -> None:
    start_checkout(checkout_server, "o-3-no-carrier")
    checkout_server.wait_for("o-3-no-carrier", "COMPENSATED")
    page.goto(checkout_server.url + "/#/runs/o-3-no-carrier")
    page.locator('svg.graph [data-node="create-shipment"]').focus()
    page.keyboard.press("Enter")  # keyboard, not only the mouse
    rows = page.locator("table.journal tbody tr")
    expect(rows.first).to_contain_text("create-shipment")
    kinds = rows.locator("td:nth-child(5)").all_inner_texts()
    assert kinds.count("TASK_DISPATCHED") == 4, kinds  # the first attempt and its three retries


def test_an_event_sent_from_the_page_completes_the_run(tmp_path: Path, page: Page) -> None:
    server = next(servers := start_server(tmp_path, "currency_exchange_tasks.py"))
    try:
        done = server.cli("run", "examples/currency_exchange.py", "--detach", "--run-id", "t-1",
                          "-i", "transfer-id=t-1", "-i", "source-account=acc-1", "-i", "target-account=acc-2",
                          "-i", "amount=5000", "-i", "source-currency=EUR", "-i", "target-currency=USD")
        assert done.returncode == 0, done.stderr
        server.wait_for("t-1", "RUNNING")
        page.goto(server.url + "/#/runs/t-1")
        expect(page.locator(".waiting")).to_be_visible(timeout=10000)
        payload = page.get_by_label("Payload (JSON)")
        payload.fill("{not json")
        expect(page.get_by_text("The payload is not JSON")).to_be_visible()
        page.get_by_label("Event name").fill("compliance-approved")
        payload.fill(json.dumps({"approved": True, "officer": "kim"}))
        page.get_by_role("button", name="Send event").click()
        assert server.wait_for("t-1", "COMPLETED", "FAILED", "COMPENSATED")["status"] == "COMPLETED"
        expect(page.locator("h1 .badge")).to_have_text("COMPLETED", timeout=5000)  # the page follows by itself
        screenshot(page, tmp_path, "run-completed")
    finally:
        for _ in servers:
            pass


def test_the_token_is_asked_for_when_the_server_needs_one(tmp_path: Path, page: Page) -> None:
    servers: Iterator[Server] = start_server(tmp_path, "checkout_tasks.py", token="s3cret-token")
    server = next(servers)
    try:
        start_checkout(server, "o-token")
        page.goto(server.url + "/#/runs")
        dialog = page.get_by_role("dialog")
        expect(dialog).to_be_visible()
        page.get_by_label("Bearer token").fill("s3cret-token")
        page.keyboard.press("Enter")
        expect(page.get_by_role("link", name="o-token")).to_be_visible(timeout=5000)
    finally:
        for _ in servers:
            pass
