"""Every view of the dashboard, checked in the browser: each form control has
a label, every link and button is reachable with the keyboard, and text has
a contrast ratio of at least 4.5:1 (WCAG AA) against what is behind it. The
workers and analytics views show what the database holds."""

from __future__ import annotations

from pathlib import Path

import pytest
from dashlive import Server, screenshot
from playwright.sync_api import Page, expect

#: Computes, in the page, the problems of the three checks.
AUDIT = """
() => {
  const problems = [];
  const visible = (el) => !!(el.offsetWidth || el.offsetHeight || el.getClientRects().length);
  for (const el of document.querySelectorAll("input, select, textarea")) {
    if (!visible(el) || el.type === "hidden") continue;
    const named = el.labels.length || el.getAttribute("aria-label") || el.getAttribute("aria-labelledby");
    if (!named) problems.push(`unlabelled ${el.tagName.toLowerCase()} ${el.id || el.name || ""}`);
  }
  const rgb = (text) => (text.match(/[\\d.]+/g) || []).map(Number);
  const luminance = ([r, g, b]) => {
    const c = [r, g, b].map((v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; });
    return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2];
  };
  const background = (el) => {
    for (let node = el; node; node = node.parentElement) {
      const parts = rgb(getComputedStyle(node).backgroundColor);
      if (parts.length >= 3 && (parts.length < 4 || parts[3] > 0.5)) return parts;
    }
    return [255, 255, 255];
  };
  for (const el of document.querySelectorAll("body *")) {
    if (!visible(el) || el.closest("svg")) continue;
    const own = [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
    if (!own) continue;
    const style = getComputedStyle(el);
    if (el.disabled || el.closest("[disabled]")) continue;
    const fg = rgb(style.color), bg = background(el);
    const [hi, lo] = [luminance(fg), luminance(bg)].sort((a, b) => b - a);
    const ratio = (hi + 0.05) / (lo + 0.05);
    if (ratio < 4.5) problems.push(`contrast ${ratio.toFixed(2)} of "${el.textContent.trim().slice(0, 30)}"`);
  }
  return problems;
}
"""

VIEWS = ["#/runs", "#/dead-letters", "#/specs", "#/specs/checkout/1.0", "#/workers", "#/analytics",
         "#/runs/o-a11y-no-carrier"]


@pytest.fixture
def with_runs(checkout_server: Server) -> Server:
    from test_dashboard import start_checkout

    start_checkout(checkout_server, "o-a11y-no-carrier")
    start_checkout(checkout_server, "o-a11y-ok")
    checkout_server.wait_for("o-a11y-no-carrier", "COMPENSATED")
    checkout_server.wait_for("o-a11y-ok", "COMPLETED")
    return checkout_server


def test_every_view_is_labelled_and_readable(with_runs: Server, page: Page) -> None:
    problems = {}
    for view in VIEWS:
        page.goto(with_runs.url + "/" + view)
        page.wait_for_selector("main h1")
        page.wait_for_timeout(800)  # "networkidle" never comes: the live stream stays open
        problems[view] = page.evaluate(AUDIT)
    assert problems == {view: [] for view in VIEWS}


def test_the_views_can_be_reached_with_the_keyboard(with_runs: Server, page: Page) -> None:
    page.goto(with_runs.url + "/#/runs")
    page.wait_for_selector("main h1")
    reached = []
    for _ in range(12):
        page.keyboard.press("Tab")
        reached.append(page.evaluate("document.activeElement.textContent.trim()"))
        if reached[-1] == "Workers":
            break
    assert reached[0] == "Skip to content", reached  # the first stop skips the navigation
    assert {"Runs", "Specs", "Dead letters", "Workers"} <= set(reached), reached
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Workers")).to_be_visible()
    # A run's graph nodes take the focus too, and Enter on one filters the journal to it.
    page.goto(with_runs.url + "/#/runs/o-a11y-no-carrier")
    expect(page.locator('svg.graph [data-node="charge-card"]')).to_have_attribute("tabindex", "0")


def test_workers_and_analytics_show_what_the_database_holds(with_runs: Server, page: Page, tmp_path: Path) -> None:
    page.goto(with_runs.url + "/#/workers")
    row = page.get_by_role("row").filter(has_text="alive")
    expect(row).to_contain_text("charge-card")
    expect(page.get_by_role("status").filter(has_text="engines alive")).to_contain_text("1 of 1 engines alive")
    screenshot(page, tmp_path, "workers")
    page.goto(with_runs.url + "/#/analytics")
    expect(page.locator("dl.figures")).to_contain_text("Compensation rate")
    expect(page.locator("dl.figures")).to_contain_text("50.0 %")  # one of the two finished runs was compensated
    expect(page.get_by_role("cell", name="create-shipment", exact=True)).to_be_visible()
    screenshot(page, tmp_path, "analytics")


def test_the_audit_finds_what_it_looks_for(page: Page) -> None:
    page.set_content(
        '<p style="color:#aaa;background:#fff">faint text</p><input id="x"><label>ok <input id="y"></label>'
    )
    problems = page.evaluate(AUDIT)
    assert any(p.startswith("contrast") and "faint text" in p for p in problems), problems
    assert "unlabelled input x" in problems and not any("input y" in p for p in problems), problems
