// One run: what went wrong (or what it waits for) first, then its graph with a
// thread switcher, actions, variables and the journal.
import { api, seg } from "./api.js";
import { h, href, json, message, show, statusBadge, when } from "./dom.js";
import { drawThread, STATES } from "./graph.js";
import { onPush } from "./live.js";
import { drawTimeline } from "./timeline.js";

const FINISHED = new Set(["COMPLETED", "FAILED", "COMPENSATED", "CANCELLED"]);

export async function runView(runId) {
  const path = `/runs/${seg(runId)}`;
  let run = await api(path);
  const layouts = await api(`/specs/${seg(run.workflow)}/${seg(run.version)}/layout`);
  let thread = 0;
  let openTasks = [];
  const journalFilter = { kind: "", node: "", thread: "" };

  const headline = h("div.headline");
  const notice = h("div");
  const threadPicker = h("nav.threads", { "aria-label": "Threads of this run" });
  const threadFamily = h("p.family");
  const graphBox = h("div.graph-box");
  const variables = h("dl.variables");
  const timelineBox = h("div");
  const journalBody = h("tbody");
  const journalMore = h("div.pager");

  function summary() {
    const parts = [h("h1", {}, "Run ", h("code", { text: run.id }), " ", statusBadge(run.status))];
    parts.push(h("p.muted", {}, h("a", { href: href("specs", run.workflow, run.version) }, `${run.workflow} ${run.version}`),
      ` · started ${when(run.created_at)} · updated ${when(run.updated_at)}`));
    if (run.failure) {
      parts.push(h("div.failure", { role: "alert" }, h("strong", { text: `Failed at ${run.failure.node} (${run.failure.thread}): ` }),
        show(`${run.failure.name}: ${run.failure.message}`)));
    }
    if (run.needs_attention) parts.push(message("error", "Its compensation failed after every retry: someone must look at it."));
    if (run.compensation) parts.push(h("p", {}, "Compensation: ", show(json(run.compensation))));
    // An open user task is said once, as a link to its page, not also as the thread's wait.
    const waits = (run.waiting_on || []).filter((w) => !openTasks.some((t) => w.includes(t.id)));
    if (!FINISHED.has(run.status) && (waits.length || openTasks.length)) {
      parts.push(h("div.waiting", {}, h("strong", { text: "Waiting for: " }), show(waits.join(", ")),
        openTasks.length ? h("ul.open-tasks", { "aria-label": "Open user tasks" }, ...openTasks.map((t) => h("li", {},
          "a person: ", h("a", { href: href("tasks", t.id) }, `user task ${t.form.name}`),
          ` (${t.status.toLowerCase()}${t.user ? `, assigned to ${t.user}` : ""}${t.group ? `, group ${t.group}` : ""})`,
          ` at ${t.node}`))) : null));
    }
    headline.replaceChildren(...parts);
  }

  async function drawGraph() {
    const nodes = await api(`${path}/nodes`);
    const current = nodes.threads.find((t) => t.number === thread) || nodes.threads[0];
    threadPicker.replaceChildren(h("span.label", { text: "Thread:" }), ...nodes.threads.map((t) => {
      const parent = t.parent === null ? "" : ` (child of #${t.parent})`;
      return h("button", { type: "button", "aria-pressed": String(t.number === current.number),
        onclick: () => { thread = t.number; drawGraph(); } }, `#${t.number} ${t.name}${parent}`);
    }));
    const go = (t) => h("button.link", { type: "button", onclick: () => { thread = t.number; drawGraph(); } }, `#${t.number} ${t.name}`);
    const parent = nodes.threads.find((t) => t.number === current.parent);
    const children = nodes.threads.filter((t) => t.parent === current.number);
    threadFamily.replaceChildren(
      parent ? h("span", {}, "Started by ", go(parent)) : h("span", { text: "The run's entrypoint thread" }),
      children.length ? h("span", {}, " · started ", ...children.flatMap((t, i) => [i ? ", " : "", go(t)])) : "");
    const layout = layouts.threads.find((l) => l.thread === current.name);
    const legend = h("ul.legend", { "aria-label": "Node states" }, ...STATES.map((state) =>
      h("li", {}, h(`span.swatch.st-${state.replace(" ", "-")}`), state)));
    graphBox.replaceChildren(legend, drawThread(layout, current.states, (node) => {
      journalFilter.node = node; journalFilter.thread = String(current.number); loadJournal();
    }));
  }

  async function drawGantt() {
    timelineBox.replaceChildren(drawTimeline(await api(`${path}/timeline`)));
  }

  function drawVariables() {
    variables.replaceChildren(...Object.entries(run.variables).flatMap(([name, value]) => [
      h("dt", { text: name }), h("dd", {}, h("code", {}, show(json(value))))]));
  }

  async function loadJournal(after = 0) {
    const page = await api(`${path}/history`, { query: { after, limit: 200, kind: journalFilter.kind, node: journalFilter.node,
      thread: journalFilter.thread } });
    const rows = page.entries.map((e) => h("tr", {},
      h("td", { text: e.seq }), h("td", { text: when(e.timestamp) }), h("td", {}, show(`#${e.thread} ${e.thread_name}`)),
      h("td", {}, show(e.node || "")), h("td", {}, h("code", { text: e.kind })), h("td", { text: e.attempt ?? "" }),
      h("td", {}, h("code.detail", {}, show(json(e.detail))),
        e.detail && e.detail.user_task ? [" ", h("a", { href: href("tasks", e.detail.user_task) }, "task")] : null)));
    if (after === 0) journalBody.replaceChildren(...rows); else journalBody.append(...rows);
    journalMore.replaceChildren(page.next_after ? h("button", { type: "button", onclick: () => loadJournal(page.next_after) }, "More") : "");
  }

  async function act(verb, body = {}) {
    try {
      run = await api(`${path}/${verb}`, { method: "POST", body });
      notice.replaceChildren(message("info", `${verb}: done.`));
      refresh();
    } catch (error) {
      notice.replaceChildren(message("error", error.message));
    }
  }

  const eventName = h("input", { id: "event-name", required: true, placeholder: "approved" });
  const eventPayload = h("textarea", { id: "event-payload", rows: 4, spellcheck: "false" }, "{}");
  const eventError = h("p.msg.error", { role: "alert", hidden: true });
  eventPayload.addEventListener("input", () => validatePayload());
  function validatePayload() {
    try {
      JSON.parse(eventPayload.value || "null");
      eventError.hidden = true;
      eventPayload.removeAttribute("aria-invalid");
      return true;
    } catch (error) {
      eventError.hidden = false;
      eventError.textContent = `The payload is not JSON: ${error.message}`;
      eventPayload.setAttribute("aria-invalid", "true");
      return false;
    }
  }
  const eventForm = h("form.event", { "aria-labelledby": "event-title", onsubmit: async (e) => {
    e.preventDefault();
    if (!validatePayload()) return;
    try {
      const outcome = await api(`${path}/events`, { method: "POST", body: { name: eventName.value.trim(), payload: JSON.parse(eventPayload.value || "null") } });
      notice.replaceChildren(message("info", `Event ${eventName.value}: ${outcome.outcome || "sent"}.`));
      refresh();
    } catch (error) {
      notice.replaceChildren(message("error", error.message));
    }
  } }, h("h2", { id: "event-title", text: "Send an event" }),
  h("label", { for: "event-name" }, "Event name"), eventName,
  h("label", { for: "event-payload" }, "Payload (JSON)"), eventPayload, eventError,
  h("button", { type: "submit" }, "Send event"));

  const actions = h("div.actions", { role: "group", "aria-label": "Actions" },
    h("button", { type: "button", onclick: () => act("cancel", { reason: "cancelled from the dashboard" }) }, "Cancel"),
    h("button", { type: "button", onclick: () => act("cancel", { reason: "cancelled from the dashboard", compensate: true }) }, "Cancel and compensate"),
    h("button", { type: "button", onclick: () => act("halt", { reason: "halted from the dashboard" }) }, "Halt"),
    h("button", { type: "button", onclick: () => act("resume") }, "Resume"),
    h("button", { type: "button", onclick: () => act("retry") }, "Retry"));

  const kindInput = h("input", { id: "journal-kind", placeholder: "TASK_FAILED" });
  const nodeInput = h("input", { id: "journal-node", placeholder: "charge-card" });
  const journalForm = h("form.filters", { role: "search", "aria-label": "Filter the journal", onsubmit: (e) => {
    e.preventDefault();
    journalFilter.kind = kindInput.value.trim(); journalFilter.node = nodeInput.value.trim(); journalFilter.thread = "";
    loadJournal();
  } }, h("label", { for: "journal-kind" }, "Kind"), kindInput, h("label", { for: "journal-node" }, "Node"), nodeInput,
  h("button", { type: "submit" }, "Filter"));

  // The run's open user tasks: its current wait when a person has work to do.
  async function loadOpenTasks() {
    if (FINISHED.has(run.status)) { openTasks = []; return; }
    try {
      openTasks = (await api("/user-tasks", { query: { run_id: runId, status: ["UNASSIGNED", "ASSIGNED"] } })).items;
    } catch (error) {
      openTasks = [];  // a server without user tasks: the run page still works
    }
  }

  async function refresh() {
    run = await api(path);
    await loadOpenTasks();
    summary(); drawVariables();
    await Promise.all([drawGraph(), loadJournal(), drawGantt()]);
  }

  const element = h("article", {}, headline, notice, actions,
    h("section", { "aria-labelledby": "graph-title" }, h("h2", { id: "graph-title", text: "Graph" }), threadPicker, threadFamily, graphBox),
    h("section", { "aria-labelledby": "timeline-title" }, h("h2", { id: "timeline-title", text: "Timeline" }), timelineBox),
    h("section", { "aria-labelledby": "vars-title" }, h("h2", { id: "vars-title", text: "Variables" }), variables),
    eventForm,
    h("section", { "aria-labelledby": "journal-title" }, h("h2", { id: "journal-title", text: "Journal" }), journalForm,
      h("table.journal", {}, h("thead", {}, h("tr", {}, ...["#", "At", "Thread", "Node", "Kind", "Attempt", "Detail"].map((t) => h("th", { scope: "col", text: t })))),
        journalBody), journalMore));
  await refresh();
  const stop = onPush((push) => { if (push.more || Object.hasOwn(push.runs || {}, runId)) refresh(); });
  return { element, stop };
}
