"""Hostile and huge data on the dashboard, against one real ``wfc server``
for the module: every string a workflow author, a task, an API caller or an
operator controls (run ids, task, node and event names, inputs, outputs,
failure messages, user task labels, notes, users and groups) holds markup,
and must show as text; no script runs (each payload sets ``window.__pwned``
or calls ``alert``, and the page is opened with its Content-Security-Policy
bypassed, so that the page's own escaping is what is tested); links built
from ids are encoded and lead to their run; 1 MB values, 10,000-key objects,
deep JSON, 200-character ids, controls and bidi overrides neither hang the
page nor widen it. Screenshots are saved in the test's temporary folder."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from dashlive import Server, start_server
from playwright.sync_api import Browser, Page, expect

#: Markup, script, an event handler, an attribute break-out, template syntax.
P = (
    '<img src=x onerror="window.__pwned=1">"><script>window.__pwned=2</script><svg onload=window.__pwned=3>'
    "{{constructor.constructor('window.__pwned=4')()}}${alert(5)}'\"`"
)
RLO, PDF = "\u202e", "\u202c"
LONG_ID = "r-" + "W" * 198
#: Run ids: markup, URL syntax, a route of the API, an object property, long, emoji, a link scheme.
EMOJI = "🚀 émoji ünïcode 👩‍👩‍👧"
IDS = [P, "a/b?c#d%e f", "x", "x/history", "constructor", LONG_ID, EMOJI, "javascript:window.__pwned=6", "%2e%2e"]

FLOW = f'''
from wfc.dsl import Field, UserTaskForm, Workflow, WorkflowThread

P = {P!r}

review = UserTaskForm(
    "review",
    approved=Field(bool, display_name="Approve " + P, description="Help " + P),
    comment=Field(str, required=False, display_name="<b>bold</b> " + P),
)


def hostile(wf: WorkflowThread):
    key = wf.declare_str("key").required()
    note = wf.declare_str("note").required()
    blob = wf.declare_json("blob").default({{}})
    who = wf.declare_str("who").default("ann")
    wf.execute(P + "echo", note, blob)
    wf.assign_user_task(review, user=who, group=P, notes=note)
    wf.wait_for_event("evt" + P, correlation=key, timeout=3600)
    wf.execute("boom" + P, note, retries=0)


hostile_wf = Workflow("hostile", hostile)
'''

HUGE_FLOW = '''
from wfc.dsl import Workflow, WorkflowThread


def huge(wf: WorkflowThread):
    kind = wf.declare_str("kind").required()
    wf.declare_json("data").default({})
    return wf.execute("huge", kind)


huge_wf = Workflow("huge", huge)
'''

TASKS = f'''
from wfc.runtime import task

P = {P!r}


@task(P + "echo")
def echo(note: str, blob: object) -> dict:
    return {{P: note, "k": [P, {{"<a href='javascript:window.__pwned=7'>x</a>": blob}}]}}


@task("boom" + P, retries=0)
def boom(note: str) -> str:
    raise RuntimeError("failed: " + note + " \\u202eevil\\u202c \\x1b[31m end")


@task("huge")
def huge(kind: str) -> object:
    if kind == "string":
        return "x" * 1_000_000
    if kind == "keys":
        return {{f"key-{{i}}-<b>": i for i in range(10_000)}}
    if kind == "deep":
        value: object = P
        for _ in range(30):
            value = {{"d": [value]}}
        return value
    return "ok"
'''

#: Finds what should not be there: handlers, scripts, images, frames, bold
#: text from a label, styles, links that are not the dashboard's own, SVG that
#: is not one of its drawings; and whether the page is wider than the window.
PROBE = """() => {
  const injected = [];
  for (const el of document.querySelectorAll("*")) {
    for (const attr of el.attributes) {
      if (attr.name.startsWith("on") || (attr.name === "style" && attr.value)) {
        injected.push(`${el.tagName} ${attr.name}: ${el.outerHTML.slice(0, 120)}`);
      }
    }
    const tag = el.tagName.toLowerCase();
    const foreign = ["img", "iframe", "object", "embed", "b", "foreignobject", "base", "meta"];
    if (foreign.includes(tag) && el.closest("body")) {
      injected.push(el.outerHTML.slice(0, 80));
    }
    if (tag === "script" && el.getAttribute("src") !== "/ui/app.js") injected.push(el.outerHTML.slice(0, 80));
    const target = el.getAttribute("href") || "";
    if (tag === "a" && !target.startsWith("#")) injected.push(`a href=${target}`);
    if (tag === "svg" && !el.matches("svg.graph, svg.timeline, svg.chart")) injected.push(el.outerHTML.slice(0, 80));
  }
  const root = document.documentElement;
  return { pwned: window.__pwned === undefined ? null : String(window.__pwned), injected,
           wide: root.scrollWidth - window.innerWidth, tall: root.scrollHeight };
}"""

#: Stands in for the dialogs, so a payload that calls one is seen; and who the user is.
INIT = f"""
for (const name of ["alert", "confirm", "prompt"]) window[name] = () => {{ window.__pwned = name; }};
localStorage.setItem("wfc-user", "ann");
localStorage.setItem("wfc-groups", JSON.stringify([{P!r}]));
"""


def start(server: Server, run_id: str, workflow: str, inputs: dict[str, Any]) -> None:
    response = httpx.post(f"{server.url}/api/v1/runs", json={"workflow": workflow, "run_id": run_id, "inputs": inputs},
                          timeout=30)
    assert response.status_code == 201, response.text


def user_task(server: Server, run_id: str, timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        items = server.api("GET", "/user-tasks", params={"run_id": run_id})["items"]
        if items:
            found: dict[str, Any] = items[0]
            return found
        assert time.monotonic() < deadline, server.api("GET", f"/runs/{quote(run_id, safe='')}")
        time.sleep(0.1)


def seed(server: Server, folder: Path) -> None:
    """Deploy both workflows (from the CLI) and start the hostile and huge runs."""
    done = server.cli("run", str(folder / "hostile.py"), "--detach", "--run-id", "failing", "-i", "key=failing",
                      "-i", f"note={P}")
    assert done.returncode == 0, done.stderr
    done = server.cli("run", str(folder / "huge.py"), "--detach", "--run-id", "huge-string", "-i", "kind=string")
    assert done.returncode == 0, done.stderr
    for i, run_id in enumerate(IDS):
        inputs = {"key": f"k{i}", "note": f"{P} note{RLO}RTL{PDF}", "blob": {P: [P, {"<b>": P}]}, "who": P}
        start(server, run_id, "hostile", inputs)
    for kind in ("keys", "deep"):
        start(server, f"huge-{kind}", "huge", {"kind": kind})
    start(server, "huge-input", "huge", {"kind": "none", "data": {"s": "y" * 900_000}})
    # The failing run: its user task completed, its event sent, then its last task raises.
    task = user_task(server, "failing")
    server.api("POST", f"/user-tasks/{task['id']}/complete",
               json={"values": {"approved": True, "comment": f"{P} {RLO}override"}})
    server.api("POST", "/runs/failing/events", json={"name": "evt" + P, "payload": {"p": P + RLO}})
    server.wait_for("failing", "FAILED")
    for kind in ("string", "keys", "deep", "input"):
        server.wait_for(f"huge-{kind}", "COMPLETED")
    for run_id in IDS:
        user_task(server, run_id)  # each waits for its person: the page shows the same every time


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("hostile")
    (folder / "hostile.py").write_text(FLOW)
    (folder / "huge.py").write_text(HUGE_FLOW)
    (folder / "hostile_tasks.py").write_text(TASKS)
    for server in start_server(folder, str(folder / "hostile_tasks.py")):
        seed(server, folder)
        yield server


@pytest.fixture
def hostile_page(browser: Browser) -> Iterator[Page]:
    """A page with its Content-Security-Policy bypassed: only its own escaping stands between data and script."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, bypass_csp=True)
    context.add_init_script(INIT)
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.on("dialog", lambda dialog: (problems.append(f"dialog: {dialog.message}"), dialog.dismiss()))
    yield page
    context.close()
    assert not problems, problems


def check(page: Page, where: str) -> dict[str, Any]:
    found: dict[str, Any] = page.evaluate(PROBE)
    assert found["pwned"] is None, f"{where}: a payload ran ({found['pwned']})"
    assert found["injected"] == [], f"{where}: injected {found['injected']}"
    assert found["wide"] <= 0, f"{where}: the page is {found['wide']} px wider than the window"
    return found


def shot(page: Page, tmp_path: Path, name: str) -> None:
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(tmp_path / f"{name}.png"))


def open_run(page: Page, server: Server, run_id: str) -> None:
    page.goto(f"{server.url}/#/runs/{quote(run_id, safe='')}")
    expect(page.locator("h1 code")).to_have_text(run_id)
    expect(page.locator("svg.timeline")).to_be_visible()
    expect(page.locator("table.journal tbody tr").first).to_be_visible()


def entry(page: Page, kind: str) -> Any:
    """The journal's row of the entry of ``kind`` (exactly: not USER_TASK_COMPLETED for TASK_COMPLETED)."""
    return page.locator("table.journal tbody tr").filter(has=page.get_by_text(kind, exact=True))


def test_hostile_values_show_as_text_on_every_view(hostile: Server, hostile_page: Page, tmp_path: Path) -> None:
    page = hostile_page
    page.goto(hostile.url + "/#/runs")
    expect(page.get_by_role("link", name="huge-deep", exact=True)).to_be_visible()
    check(page, "runs")
    shot(page, tmp_path, "runs")

    open_run(page, hostile, P)
    expect(page.locator(".waiting")).to_contain_text(f"group {P}")
    expect(page.locator("dl.variables")).to_contain_text(P.replace('"', '\\"'))
    check(page, "the run with markup for its id")
    shot(page, tmp_path, "run-markup-id")

    open_run(page, hostile, "failing")
    expect(page.locator(".failure")).to_contain_text(f"RuntimeError: failed: {P}")
    expect(entry(page, "EVENT_RECEIVED")).to_contain_text("evt<img src=x onerror=")
    expect(entry(page, "TASK_COMPLETED")).to_contain_text("javascript:window.__pwned=7")
    check(page, "the failed run")
    shot(page, tmp_path, "run-failed")

    # The task that was completed: its labels, notes, values and audit trail.
    page.goto(f"{hostile.url}/#/tasks/{user_task(hostile, 'failing')['id']}")
    expect(page.get_by_role("note", name="Notes")).to_have_text(P)
    expect(page.locator("dl.variables dt").nth(1)).to_have_text(f"<b>bold</b> {P}")
    expect(page.locator("table.audit")).to_contain_text("USER_TASK_COMPLETED")
    check(page, "a done task")
    shot(page, tmp_path, "task-done")

    # An open one: its form, with the labels and help of the definition.
    page.goto(f"{hostile.url}/#/tasks/{user_task(hostile, P)['id']}")
    expect(page.get_by_label(f"Approve {P}")).to_be_visible()
    expect(page.get_by_text(f"Help {P}")).to_be_visible()
    expect(page.locator("dl.facts")).to_contain_text(P)
    check(page, "an open task")
    shot(page, tmp_path, "task-open")

    page.goto(hostile.url + "/#/tasks")
    page.get_by_role("tab", name="My groups").click()  # the group asked for is the payload
    expect(page.get_by_role("tabpanel")).to_contain_text("Nothing waiting in your groups.")
    check(page, "the inbox of the group")
    page.get_by_role("tab", name="All open").click()
    panel = page.get_by_role("tabpanel")
    expect(panel.get_by_role("link", name=f"Run {LONG_ID}")).to_be_visible()
    expect(panel.locator("tbody tr")).to_have_count(len(IDS))
    check(page, "the inbox")
    shot(page, tmp_path, "inbox")

    views = (("#/specs", "Specs"), ("#/specs/hostile/1.0", "hostile 1.0"), ("#/dead-letters", "Dead letters"),
             ("#/workers", "Workers"), ("#/analytics", "Analytics"))
    for view, heading in views:
        page.goto(f"{hostile.url}/{view}")
        expect(page.get_by_role("heading", name=heading, exact=True)).to_be_visible()
        page.wait_for_timeout(300)  # what loads after the heading (a diff form, charts)
        check(page, view)
    expect(page.locator("svg.chart").first).to_be_visible()


def test_links_from_ids_are_encoded_and_lead_to_their_run(hostile: Server, hostile_page: Page) -> None:
    page = hostile_page
    page.goto(hostile.url + "/#/runs")
    for run_id in IDS:
        link = page.locator("table").get_by_role("link", name=run_id, exact=True)
        # encodeURIComponent: one part of the hash, whatever the id holds.
        expect(link).to_have_attribute("href", "#/runs/" + quote(run_id, safe="-_.!~*'()"))
    for run_id in (P, "a/b?c#d%e f", "x/history", "%2e%2e", EMOJI):
        page.goto(hostile.url + "/#/runs")
        page.locator("table").get_by_role("link", name=run_id, exact=True).click()
        expect(page.locator("h1 code")).to_have_text(run_id)  # its own run: not "x", not a 404
        expect(page.locator("dl.variables dd").nth(1)).to_have_text(f'"k{IDS.index(run_id)}"')
        expect(page.locator("table.journal tbody tr").first).to_contain_text("RUN_STARTED")
        check(page, run_id)
    # Searched by id.
    page.goto(hostile.url + "/#/runs")
    page.get_by_label("Run id").fill("a/b?c#d%e f")
    page.get_by_label("Run id").press("Enter")
    expect(page.locator("table tbody tr")).to_have_count(1)
    expect(page.locator("table tbody tr")).to_contain_text("a/b?c#d%e f")
    # From the inbox and from a task to its run.
    page.goto(f"{hostile.url}/#/tasks/{user_task(hostile, 'x/history')['id']}")
    page.get_by_role("link", name="Run x/history").click()
    expect(page.locator("h1 code")).to_have_text("x/history")


def test_an_encoded_slash_in_an_id_reaches_the_run_it_names(hostile: Server) -> None:
    base = f"{hostile.url}/api/v1/runs"
    assert httpx.get(f"{base}/x%2Fhistory").json()["id"] == "x/history"  # not the journal of run "x"
    assert httpx.get(f"{base}/a%2Fb%3Fc%23d%25e%20f").json()["id"] == "a/b?c#d%e f"
    entries = httpx.get(f"{base}/x%2Fhistory/history", params={"kind": "RUN_STARTED"}).json()["entries"]
    assert entries[0]["detail"]["inputs"]["key"] == f"k{IDS.index('x/history')}"
    assert httpx.get(f"{base}/x%2Fhistory/nodes").status_code == 200
    assert httpx.get(f"{base}/x%2Fhistory/timeline").status_code == 200
    assert httpx.get(f"{base}/x/history").json()["entries"][0]["kind"] == "RUN_STARTED"  # run "x" is still "x"
    unknown = httpx.get(f"{base}/no%2Fsuch")
    assert unknown.status_code == 404 and "'no/such'" in unknown.json()["detail"]


def test_dot_ids_are_refused_with_the_reason_and_escaped_dots_work(hostile: Server, hostile_page: Page) -> None:
    page = hostile_page
    body = {"workflow": "huge", "run_id": "..", "inputs": {"kind": "none"}}
    refused = httpx.post(f"{hostile.url}/api/v1/runs", json=body, timeout=30)
    assert refused.status_code == 422 and "no URL can name it" in refused.json()["detail"], refused.text
    # A run stored so by an older wfc: the page says why it cannot open it.
    page.goto(hostile.url + "/#/runs/..")
    expect(page.get_by_role("alert")).to_contain_text('the id ".." cannot be part of a URL path')
    page.goto(hostile.url + "/#/runs/" + quote("%2e%2e", safe=""))
    expect(page.locator("h1 code")).to_have_text("%2e%2e")


def test_huge_values_are_cut_and_shown_in_full_on_demand(hostile: Server, hostile_page: Page, tmp_path: Path) -> None:
    page = hostile_page
    began = time.monotonic()
    open_run(page, hostile, "huge-string")
    assert time.monotonic() - began < 10
    output = entry(page, "TASK_COMPLETED").locator("code.detail")
    expect(output.get_by_role("button", name=re.compile(r"^show all 1,000,0\d\d characters$"))).to_be_visible()
    assert len(output.inner_text()) < 2_100
    found = check(page, "a 1 MB output")
    assert found["tall"] < 10_000, f"the page is {found['tall']} px tall"
    shot(page, tmp_path, "huge-string")
    output.get_by_role("button").click()
    expect(output.get_by_role("button")).to_have_count(0)
    assert output.inner_text().count("x") == 1_000_000

    open_run(page, hostile, "huge-input")
    data = page.locator("dl.variables dd").first
    expect(data.get_by_role("button", name="show all 900,008 characters")).to_be_visible()
    assert check(page, "a 900 KB input")["tall"] < 10_000
    page.locator("#vars-title").scroll_into_view_if_needed()
    page.screenshot(path=str(tmp_path / "huge-input.png"))

    open_run(page, hostile, "huge-keys")
    keys = entry(page, "TASK_COMPLETED").locator("code.detail")
    expect(keys.get_by_role("button", name="show all")).to_be_visible()
    assert check(page, "a 10,000-key output")["tall"] < 10_000

    open_run(page, hostile, "huge-deep")
    expect(entry(page, "TASK_COMPLETED")).to_contain_text('{"d":[{"d":[{"d":[')
    check(page, "an output 60 levels deep")


def test_long_ids_wrap_and_the_columns_beside_them_keep_their_words(
    hostile: Server, hostile_page: Page, tmp_path: Path
) -> None:
    page = hostile_page
    page.goto(hostile.url + "/#/runs")
    expect(page.locator("table").get_by_role("link", name=LONG_ID)).to_be_visible()
    check(page, "runs")
    # The long id wraps; the headers and badges beside it are not broken inside their words.
    for header in ("Workflow", "Status", "Started", "Updated"):
        box = page.get_by_role("columnheader", name=header, exact=True).bounding_box()
        assert box is not None and box["height"] < 40, (header, box)
    badge = page.locator("table .badge").first.bounding_box()
    assert badge is not None and badge["height"] < 24, badge
    open_run(page, hostile, LONG_ID)
    check(page, "a run with a 200-character id")
    shot(page, tmp_path, "long-id")
    page.goto(f"{hostile.url}/#/tasks/{user_task(hostile, LONG_ID)['id']}")
    expect(page.get_by_role("link", name=f"Run {LONG_ID}")).to_be_visible()
    check(page, "its task")


def test_controls_and_bidi_overrides_are_shown_escaped(hostile: Server, hostile_page: Page, tmp_path: Path) -> None:
    page = hostile_page
    open_run(page, hostile, "failing")
    failure = page.locator(".failure bdi")  # isolated: nothing in it reorders the text around it
    expect(failure).to_contain_text(r"\u202eevil\u202c \u001b[31m end")
    assert RLO not in failure.inner_text() and "\x1b" not in failure.inner_text()
    consumed = entry(page, "EVENT_CONSUMED")
    expect(consumed).to_contain_text(r"\u202e")  # in JSON: the escape, still the same JSON
    page.locator(".failure").screenshot(path=str(tmp_path / "failure.png"))
    open_run(page, hostile, IDS[0])
    expect(page.locator("dl.variables dd").nth(2)).to_contain_text(r"note\u202eRTL\u202c")
    open_run(page, hostile, EMOJI)  # emoji and joiners as they are
    check(page, "emoji")


def test_a_run_named_like_an_object_property_is_reloaded_only_by_its_own_pushes(
    hostile: Server, hostile_page: Page
) -> None:
    page = hostile_page
    open_run(page, hostile, "constructor")
    page.wait_for_timeout(500)
    reloads: list[str] = []
    page.on("request", lambda request: reloads.append(request.url) if request.url.endswith("/constructor") else None)
    start(hostile, "another-run", "huge", {"kind": "none"})  # a push naming another run
    hostile.wait_for("another-run", "COMPLETED")
    page.wait_for_timeout(1500)
    assert reloads == [], "a push of another run reloaded the page of run 'constructor'"
    hostile.api("POST", "/runs/constructor/events", json={"name": "evt" + P, "payload": 1})  # one of its own
    deadline = time.monotonic() + 5
    while not reloads and time.monotonic() < deadline:
        page.wait_for_timeout(100)
    assert reloads, "the page did not reload for a push of its own run"


def test_long_names_in_drawings_fit_their_place(hostile: Server, hostile_page: Page) -> None:
    page = hostile_page
    open_run(page, hostile, "failing")
    labels = page.locator("svg.timeline text.row-label")
    expect(labels.filter(has_text="boom<img")).to_have_count(1)
    widths = labels.evaluate_all("texts => texts.map(t => t.getBBox().x + t.getBBox().width)")
    assert max(widths) <= 260, widths  # left of the bars
    full = labels.filter(has_text="boom<img").locator("title").text_content()
    assert full == f"task boom{P} #1"
    page.goto(hostile.url + "/#/analytics")
    page.get_by_label("Workflow").select_option("hostile")
    steps = page.locator("svg.chart").nth(1).locator("text.tick.end")
    expect(steps.first).to_be_visible()
    lefts = steps.evaluate_all("texts => texts.map(t => t.getBBox().x)")
    assert min(lefts) >= 0, lefts


def test_the_page_runs_under_its_policy_and_markup_sinks_throw(hostile: Server, page: Page) -> None:
    violations: list[str] = []
    page.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text
            or "TrustedHTML" in m.text else None)
    open_run(page, hostile, "failing")
    page.goto(f"{hostile.url}/#/tasks/{user_task(hostile, P)['id']}")
    expect(page.get_by_label(f"Approve {P}")).to_be_visible()
    assert violations == []
    # Trusted Types: a string of markup cannot reach the DOM, whatever a future edit does.
    outcome = page.evaluate("""() => {
      try { document.body.insertAdjacentHTML("beforeend", "<img src=x>"); return "inserted"; }
      catch (error) { return error.name; }
    }""")
    assert outcome == "TypeError"
    assert page.locator("img").count() == 0
