// Runs and dead letters: counts, filters, keyset pages and bulk actions.
import { api, seg } from "./api.js";
import { h, href, message, show, statusBadge, when } from "./dom.js";
import { onPush } from "./live.js";

const STATUSES = ["RUNNING", "HALTED", "COMPLETED", "FAILED", "COMPENSATED", "CANCELLED"];

export async function runsView({ deadLetters = false }) {
  const filters = { status: [], workflow: "", version: "", started_after: "", needs_attention: false, search: "", kind: "all",
    where: "", stuck_for: "" };
  const pages = [null];
  const selected = new Set();
  const table = h("tbody");
  const pager = h("div.pager");
  const notice = h("div");
  const counts = h("div.counts", { "aria-label": "Runs by status" });

  const statusBoxes = STATUSES.map((status) =>
    h("label.check", {}, h("input", { type: "checkbox", value: status, onchange: (e) => {
      e.target.checked ? filters.status.push(status) : filters.status.splice(filters.status.indexOf(status), 1);
      reload();
    } }), status));
  const field = (name, label, placeholder) => h("label", {}, label,
    h("input", { name, placeholder, onchange: (e) => { filters[name] = e.target.value.trim(); reload(); } }));
  const form = h("form.filters", { role: "search", onsubmit: (e) => { e.preventDefault(); reload(); } },
    deadLetters ? null : h("fieldset", {}, h("legend", { text: "Status" }), statusBoxes),
    field("search", "Run id", "o-1"), field("workflow", "Workflow", "checkout"), field("version", "Version", "1.2"),
    field("started_after", "Started within", "24h"),
    field("where", "Variable = value", "order-id=o-1"),
    deadLetters ? null : field("stuck_for", "Stuck for over", "5m"),
    deadLetters
      ? h("label", {}, "Which", h("select", { name: "kind", onchange: (e) => { filters.kind = e.target.value; reload(); } },
        h("option", { value: "all" }, "All failed runs"), h("option", { value: "failed" }, "Failed, compensation fine"),
        h("option", { value: "compensation_failed" }, "Compensation failed")))
      : h("label.check", {}, h("input", { type: "checkbox", onchange: (e) => { filters.needs_attention = e.target.checked; reload(); } }),
        "Needs attention"));

  const bulk = h("div.bulk", {},
    h("button", { type: "button", onclick: () => act("cancel") }, "Cancel selected"),
    h("button", { type: "button", onclick: () => act("retry") }, "Retry selected"),
    deadLetters ? h("button", { type: "button", onclick: () => redriveAll() }, "Re-drive all matching") : null);

  async function redriveAll() {
    const body = { kind: filters.kind, workflow: filters.workflow || undefined, version: filters.version || undefined,
      started_after: filters.started_after || undefined, where: whereTerms().length ? whereTerms() : undefined };
    try {
      const outcome = await api("/dead-letters/redrive", { method: "POST", body });
      const refused = outcome.refused.map((r) => ` ${r.run_id}: ${r.detail}`).join("");
      notice.replaceChildren(message(outcome.refused.length ? "error" : "info",
        `Re-drove ${outcome.retried.length} run(s)${outcome.more ? "; more match: re-drive again" : ""}.${refused}`));
    } catch (error) {
      notice.replaceChildren(message("error", error.message));
    }
    render();
  }

  // "order-id=o-1, status=paid": every pair must hold (the API's where=NAME:VALUE).
  function whereTerms() {
    return filters.where.split(",").map((pair) => pair.trim()).filter(Boolean).map((pair) => {
      const at = pair.indexOf("=");
      return at < 0 ? pair : `${pair.slice(0, at).trim()}:${pair.slice(at + 1).trim()}`;
    });
  }

  function query(cursor) {
    return {
      status: deadLetters ? undefined : filters.status, workflow: filters.workflow, version: filters.version,
      started_after: filters.started_after, needs_attention: filters.needs_attention ? "true" : undefined,
      kind: deadLetters ? filters.kind : undefined, cursor, limit: 25,
      where: whereTerms(), stuck_for: deadLetters ? undefined : filters.stuck_for,
      // The table shows none of a run's data (variables, output, threads), and the page is
      // fetched again on every push: ask for runs without it.
      view: "brief",
    };
  }

  async function load() {
    if (filters.search) {
      try {
        const run = await api(`/runs/${seg(filters.search)}`);
        return { runs: [run], next_cursor: null };
      } catch (error) {
        if (error.status === 404) return { runs: [], next_cursor: null };
        throw error;
      }
    }
    const q = query(pages[pages.length - 1]);
    if (deadLetters) delete q.needs_attention;
    return api(deadLetters ? "/dead-letters" : "/runs", { query: q });
  }

  async function render() {
    let page;
    try {
      page = await load();
    } catch (error) {
      notice.replaceChildren(message("error", error.message));
      return;
    }
    table.replaceChildren(...page.runs.map(row));
    if (!page.runs.length) table.append(h("tr", {}, h("td", { colspan: 7, text: "No runs match." })));
    pager.replaceChildren(
      h("button", { type: "button", disabled: pages.length === 1, onclick: () => { pages.pop(); render(); } }, "Newer"),
      h("span", { text: `Page ${pages.length}` }),
      h("button", { type: "button", disabled: !page.next_cursor, onclick: () => { pages.push(page.next_cursor); render(); } }, "Older"));
  }

  function row(run) {
    const box = h("input", { type: "checkbox", "aria-label": `Select ${run.id}`, checked: selected.has(run.id),
      onchange: (e) => (e.target.checked ? selected.add(run.id) : selected.delete(run.id)) });
    return h("tr", {},
      h("td", {}, box),
      h("td", {}, h("a", { href: href("runs", run.id) }, show(run.id))),
      h("td", {}, show(run.workflow), " ", h("span.muted", { text: run.version })),
      h("td", {}, statusBadge(run.status), run.needs_attention ? h("span.badge.s-failed", { text: "compensation failed" }) : null),
      h("td", {}, show(run.stuck && run.stuck.length ? `stuck: ${run.stuck.map((r) => r.message).join("; ")}`
        : run.failure ? `${run.failure.name}: ${run.failure.message}` : (run.waiting_on || []).join(", ") || run.node || "", 500)),
      h("td", { text: when(run.created_at) }),
      h("td", { text: when(run.updated_at) }));
  }

  async function act(verb) {
    if (!selected.size) { notice.replaceChildren(message("info", "Select runs first.")); return; }
    const results = await Promise.allSettled([...selected].map(async (id) =>
      api(`/runs/${seg(id)}/${verb}`, { method: "POST", body: verb === "cancel" ? { reason: "bulk cancel from the dashboard" } : {} })));
    const failed = results.map((r, i) => [r, [...selected][i]]).filter(([r]) => r.status === "rejected");
    notice.replaceChildren(message(failed.length ? "error" : "info",
      `${verb}: ${results.length - failed.length} of ${results.length} done.` +
      failed.map(([r, id]) => ` ${id}: ${r.reason.message}`).join("")));
    selected.clear();
    render();
  }

  async function countAll() {
    if (deadLetters) return;
    const { counts: found, cap } = await api("/run-counts", { query: { workflow: filters.workflow } });
    counts.replaceChildren(...STATUSES.map((status) => {
      const n = found[status] || 0;
      return h("span.count", {}, statusBadge(status), ` ${n >= cap ? `${n.toLocaleString()}+` : n.toLocaleString()}`);
    }));
  }

  function reload() { pages.length = 1; pages[0] = null; render(); countAll(); }

  const element = h("section", { "aria-labelledby": "runs-title" },
    h("h1", { id: "runs-title", text: deadLetters ? "Dead letters" : "Runs" }),
    counts, form, notice, bulk,
    h("table", {}, h("caption.sr", { text: deadLetters ? "Failed runs" : "Runs, newest first" }),
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, h("span.sr", { text: "Select" })),
        ...["Run", "Workflow", "Status", "Where", "Started", "Updated"].map((t) => h("th", { scope: "col", text: t })))),
      table),
    pager);
  await render();
  countAll().catch(() => {});
  // Any change may move a run into this page: reload it, at most once per push.
  // Counts: at most one request a second while pushes come, the last after the last push.
  let counting = null;
  const unsubscribe = onPush(() => {
    render();
    if (counting === null) counting = setTimeout(() => { counting = null; countAll().catch(() => {}); }, 1000);
  });
  return { element, stop: () => { unsubscribe(); clearTimeout(counting); } };
}
