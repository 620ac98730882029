"""User tasks on the dashboard, against a real ``wfc server``: the inbox of a
user and their groups, claiming a group task, completing it through the
form drawn from its definition (refused first, by the page's own checks and
then by the server's, each problem next to its field, the task still open),
the run going on, the run page pointing at its open task, the task page's
other actions, live updates, and the accessibility checks of the other views."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from dashlive import Server, screenshot, start_server
from playwright.sync_api import Page, Route, expect
from test_accessibility import AUDIT

EXPENSE_FLOW = '''
from wfc.dsl import Field, UserTaskForm, Workflow, WorkflowThread

approval = UserTaskForm(
    "approve-expense",
    approved=Field(bool, display_name="Approve the expense?", description="No sends it back to the claimant."),
    amount=Field(int, display_name="Approved amount", description="In cents, at most what was claimed."),
    comment=Field(str, required=False, display_name="Comment", description="Shown to the claimant."),
    receipt=Field("json", required=False, display_name="Receipt data"),
)


def expense(wf: WorkflowThread):
    claim = wf.declare_str("claim-id").required()
    team = wf.declare_str("team").required()
    ut = wf.assign_user_task(approval, group=team, notes="Ana claims 120.00 EUR for a train ticket to Porto.")
    return wf.execute("book-expense", claim, ut["amount"])


expense_wf = Workflow("expense", expense)
'''

EXPENSE_TASKS = '''
from wfc.runtime import task


@task("book-expense")
def book_expense(claim: str, amount: int) -> str:
    return f"booked {claim}: {amount}"
'''

OPEN = ["UNASSIGNED", "ASSIGNED"]


@pytest.fixture
def expenses(tmp_path: Path) -> Iterator[Server]:
    (tmp_path / "expense.py").write_text(EXPENSE_FLOW)
    (tmp_path / "expense_tasks.py").write_text(EXPENSE_TASKS)
    yield from start_server(tmp_path, str(tmp_path / "expense_tasks.py"))


def start_expense(server: Server, claim: str, team: str = "finance") -> dict[str, Any]:
    """Start a run from the CLI and wait for its user task to be open."""
    flow = Path(server.db.removeprefix("sqlite:///")).with_name("expense.py")
    done = server.cli("run", str(flow), "--detach", "--run-id", claim, "-i", f"claim-id={claim}", "-i", f"team={team}")
    assert done.returncode == 0, done.stderr
    deadline = time.monotonic() + 30
    while True:
        items = server.api("GET", "/user-tasks", params={"run_id": claim})["items"]
        if items:
            assert len(items) == 1, items
            return dict(items[0])
        assert time.monotonic() < deadline, server.api("GET", f"/runs/{claim}")
        time.sleep(0.2)


def task_of(server: Server, task_id: str) -> dict[str, Any]:
    found: dict[str, Any] = server.api("GET", f"/user-tasks/{task_id}")
    return found


def who_am_i(page: Page, user: str, groups: str) -> None:
    page.get_by_label("Your user name").fill(user)
    page.get_by_label("Your groups").fill(groups)
    page.get_by_role("button", name="Remember me").click()
    expect(page.get_by_text(f"Acting as {user}.")).to_be_visible()


def audit(page: Page) -> list[str]:
    page.wait_for_timeout(300)
    problems: list[str] = page.evaluate(AUDIT)
    return problems


def test_a_group_task_is_claimed_from_the_inbox_and_completed_after_a_refusal(
    expenses: Server, page: Page, tmp_path: Path
) -> None:
    ours = start_expense(expenses, "x-1")
    start_expense(expenses, "x-2", team="support")  # another group's: not in ours
    assert ours["status"] == "UNASSIGNED" and ours["group"] == "finance" and ours["user"] is None
    page.goto(expenses.url + "/#/tasks")
    who_am_i(page, "ann", "finance")
    page.get_by_role("tab", name="My groups").click()
    panel = page.get_by_role("tabpanel")
    row = panel.get_by_role("row").filter(has=page.get_by_role("link", name="Run x-1"))
    expect(row).to_contain_text("UNASSIGNED")
    expect(row).to_contain_text("finance")
    expect(row).to_contain_text("expense")
    expect(panel.get_by_role("link", name="Run x-2")).to_have_count(0)
    screenshot(page, tmp_path, "user-task-inbox")

    row.get_by_role("button", name="Claim approve-expense of x-1").click()
    expect(page.get_by_role("status").filter(has_text="Claimed")).to_contain_text('it is in "Mine" now')
    expect(panel.get_by_role("link", name="Run x-1")).to_have_count(0)
    claimed = task_of(expenses, ours["id"])
    assert (claimed["status"], claimed["user"], claimed["group"]) == ("ASSIGNED", "ann", "finance")
    page.get_by_role("tab", name="Mine").click()
    mine = page.get_by_role("tabpanel").get_by_role("row").filter(has=page.get_by_role("link", name="Run x-1"))
    expect(mine).to_contain_text("ASSIGNED")
    expect(mine).to_contain_text("ann")

    # The task page: notes, then the form drawn from the definition.
    mine.get_by_role("link", name="approve-expense").click()
    expect(page.get_by_role("heading", name="Task approve-expense")).to_be_visible()
    expect(page.get_by_role("note", name="Notes")).to_have_text("Ana claims 120.00 EUR for a train ticket to Porto.")
    amount = page.get_by_label("Approved amount")
    expect(amount).to_have_accessible_description("In cents, at most what was claimed. · a whole number")
    expect(page.get_by_label("Comment (optional)")).to_be_visible()
    expect(page.locator("textarea#field-3")).to_have_attribute("data-type", "json")

    # Refused by the page: a required field left empty and an int that is not one.
    amount.fill("12x")
    page.get_by_role("button", name="Complete as ann").click()
    expect(page.get_by_label("Approve the expense?")).to_have_attribute("aria-invalid", "true")
    expect(page.locator('[data-field="approved"] .field-error')).to_have_text("Required (bool): give a value")
    expect(page.locator('[data-field="amount"] .field-error')).to_have_text('Must be a whole number (int), not "12x"')
    expect(page.get_by_role("alert").filter(has_text="need attention")).to_have_text("2 fields need attention.")
    expect(page.get_by_label("Approve the expense?")).to_be_focused()
    assert task_of(expenses, ours["id"])["status"] == "ASSIGNED"
    screenshot(page, tmp_path, "user-task-form")
    assert audit(page) == []

    # Refused by the server: the request loses a required value on its way
    # (as from a page with a stale form), and the 422 names it by its field.
    def drop_amount(route: Route) -> None:
        body = json.loads(route.request.post_data or "{}")
        body["values"].pop("amount", None)
        route.continue_(post_data=json.dumps(body))

    page.route("**/user-tasks/*/complete", drop_amount)
    page.get_by_label("Approve the expense?").select_option("Yes")
    amount.fill("1200")
    expect(page.locator('[data-field="amount"] .field-error')).to_be_hidden()  # fixed as it is typed
    page.get_by_role("button", name="Complete as ann").click()
    server_says = page.locator('[data-field="amount"] .field-error')
    expect(server_says).to_contain_text("Required", ignore_case=True)
    expect(page.get_by_role("alert").filter(has_text="The server refused the values")).to_be_visible()
    expect(amount).to_have_attribute("aria-invalid", "true")
    expect(page.locator('[data-field="approved"] .field-error')).to_be_hidden()
    still = task_of(expenses, ours["id"])
    assert still["status"] == "ASSIGNED" and still["values"] is None
    assert expenses.api("GET", "/runs/x-1")["status"] == "RUNNING"
    page.unroute("**/user-tasks/*/complete")

    page.get_by_label("Comment (optional)").fill("Approved, thanks")
    page.get_by_role("button", name="Complete as ann").click()
    expect(page.locator("h1 .badge")).to_have_text("DONE")
    expect(page.get_by_role("status").filter(has_text="Completed")).to_be_visible()
    run = expenses.wait_for("x-1", "COMPLETED", "FAILED")
    assert run["status"] == "COMPLETED" and run["output"] == "booked x-1: 1200"
    done = task_of(expenses, ours["id"])
    assert done["status"] == "DONE" and done["completed_by"] == "ann"
    # What the page sent (the optional field left empty is None, whether stored or left out).
    assert {"receipt": None, **done["values"]} == {"approved": True, "amount": 1200, "comment": "Approved, thanks",
                                                   "receipt": None}
    kinds = [(e["kind"], e["detail"].get("by")) for e in done["audit"]]
    assert ("USER_TASK_CLAIMED", "ann") in kinds and ("USER_TASK_COMPLETED", "ann") in kinds, kinds
    trail = page.locator("table.audit tbody")
    expect(trail).to_contain_text("USER_TASK_COMPLETED")
    expect(trail.get_by_role("row").filter(has_text="USER_TASK_CLAIMED")).to_contain_text("ann")
    expect(page.locator("dl.variables")).to_contain_text("1200")
    expect(page.get_by_role("button", name="Complete as ann")).to_have_count(0)


def test_the_run_page_shows_its_open_task_as_the_wait(expenses: Server, page: Page, tmp_path: Path) -> None:
    task = start_expense(expenses, "x-3")
    page.goto(expenses.url + "/#/runs/x-3")
    waiting = page.locator(".waiting")
    link = waiting.get_by_role("link", name="user task approve-expense")
    expect(link).to_be_visible()
    expect(waiting).to_contain_text("unassigned, group finance")
    node = page.locator("svg.graph .k-user_task")
    expect(node).to_have_class("node k-user_task st-waiting")  # the graph colours it as the current wait
    expect(node).to_have_attribute("data-node", task["node"])
    screenshot(page, tmp_path, "user-task-run")
    expect(page.locator("table.journal").get_by_role("link", name="task").first).to_have_attribute(
        "href", f"#/tasks/{task['id']}")
    link.click()
    expect(page.get_by_role("heading", name="Task approve-expense")).to_be_visible()
    expect(page.get_by_role("link", name="Run x-3")).to_be_visible()


def test_release_reassign_and_cancel_from_the_task_page(expenses: Server, page: Page) -> None:
    task = start_expense(expenses, "x-4")
    page.goto(expenses.url + "/#/tasks")
    who_am_i(page, "bob", "finance")
    page.goto(expenses.url + f"/#/tasks/{task['id']}")
    page.get_by_role("button", name="Claim as bob").click()
    expect(page.locator("h1 .badge")).to_have_text("ASSIGNED")
    assert task_of(expenses, task["id"])["user"] == "bob"

    page.get_by_role("button", name="Release to finance").click()
    expect(page.locator("h1 .badge")).to_have_text("UNASSIGNED")
    released = task_of(expenses, task["id"])
    assert (released["status"], released["user"], released["group"]) == ("UNASSIGNED", None, "finance")

    reassign = page.get_by_role("form", name="Reassign")
    reassign.get_by_label("Reassign to user").fill("cy")
    reassign.get_by_label("and/or group").fill("support")
    reassign.get_by_role("button", name="Reassign").click()
    expect(page.locator("dl.facts")).to_contain_text("cy")
    moved = task_of(expenses, task["id"])
    assert (moved["status"], moved["user"], moved["group"]) == ("ASSIGNED", "cy", "support")
    # bob may not complete cy's task: the server's conflict is shown, nothing changes.
    expect(page.get_by_text("Assigned to cy: only they can complete it")).to_be_visible()
    page.get_by_label("Approve the expense?").select_option("No")
    page.get_by_label("Approved amount").fill("0")
    page.get_by_role("button", name="Complete as bob").click()
    expect(page.get_by_role("alert").filter(has_text="cy")).to_be_visible()
    assert task_of(expenses, task["id"])["status"] == "ASSIGNED"

    page.get_by_role("form", name="Cancel the task").get_by_label("Reason").fill("claim withdrawn")
    page.get_by_role("button", name="Cancel task").click()
    expect(page.locator("h1 .badge")).to_have_text("CANCELLED")
    cancelled = task_of(expenses, task["id"])
    assert cancelled["status"] == "CANCELLED"
    by_kind = {e["kind"]: e["detail"] for e in cancelled["audit"]}
    assert by_kind["USER_TASK_RELEASED"].get("by") == "bob"
    assert by_kind["USER_TASK_REASSIGNED"]["user"] == "cy" and by_kind["USER_TASK_REASSIGNED"].get("by") == "bob"
    assert by_kind["USER_TASK_CANCELLED"]["reason"] == "claim withdrawn"
    run = expenses.wait_for("x-4", "FAILED", "COMPENSATED", "COMPLETED")
    assert run["status"] == "FAILED" and run["failure"]["name"] == "USER_TASK_CANCELLED"
    expect(page.get_by_role("form", name="Reassign")).to_have_count(0)


def test_the_inbox_follows_the_tasks_live(expenses: Server, page: Page) -> None:
    page.goto(expenses.url + "/#/tasks")
    who_am_i(page, "dee", "finance")
    page.get_by_role("tab", name="My groups").click()
    expect(page.get_by_text("Nothing waiting in your groups.")).to_be_visible()
    task = start_expense(expenses, "x-5")  # started from the CLI: the page hears of it
    row = page.get_by_role("tabpanel").get_by_role("row").filter(has=page.get_by_role("link", name="Run x-5"))
    expect(row).to_be_visible(timeout=5000)
    expenses.api("POST", f"/user-tasks/{task['id']}/claim", json={"user": "eve"})  # someone else takes it
    expect(row).to_have_count(0, timeout=5000)
    page.get_by_role("tab", name="All open").click()
    expect(page.get_by_role("tabpanel").get_by_role("row").filter(has_text="eve")).to_be_visible()


def test_the_task_views_are_labelled_readable_and_keyboard_driven(expenses: Server, page: Page) -> None:
    task = start_expense(expenses, "x-6")
    page.goto(expenses.url + "/#/tasks")
    who_am_i(page, "fay", "finance")
    assert audit(page) == []
    # The tabs: one tab stop, arrows move between them (the ARIA tabs pattern).
    page.get_by_role("tab", name="My groups").click()
    page.get_by_role("tab", name="My groups").focus()
    page.keyboard.press("ArrowRight")
    expect(page.get_by_role("tab", name="All open")).to_be_focused()
    expect(page.get_by_role("tab", name="All open")).to_have_attribute("aria-selected", "true")
    expect(page.get_by_role("tab", name="My groups")).to_have_attribute("tabindex", "-1")
    page.keyboard.press("ArrowLeft")
    expect(page.get_by_role("tab", name="My groups")).to_have_attribute("aria-selected", "true")
    # The task page is driven by the keyboard alone: Tab to a field, type, Enter submits.
    page.goto(expenses.url + f"/#/tasks/{task['id']}")
    expect(page.get_by_role("heading", name="Task approve-expense")).to_be_visible()
    assert audit(page) == []
    page.get_by_label("Approved amount").focus()
    page.keyboard.type("abc")
    page.keyboard.press("Enter")
    expect(page.locator('[data-field="amount"] .field-error')).to_be_visible()
    assert audit(page) == []  # with the problems shown too
    # Who-am-I is remembered across visits, in this browser.
    page.goto(expenses.url + "/#/tasks")
    expect(page.get_by_label("Your user name")).to_have_value("fay")
    expect(page.get_by_label("Your groups")).to_have_value("finance")
