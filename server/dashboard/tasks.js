// The inbox of user tasks: "Mine" (assigned to me), "My groups" (offered
// to a group I am in, for anyone of it to claim) and "All open". Who I am
// is remembered in this browser (me.js).
import { api, seg } from "./api.js";
import { age, h, href, message, show, statusBadge, when } from "./dom.js";
import { onPush } from "./live.js";
import { me, whoAmI } from "./me.js";

const OPEN = ["UNASSIGNED", "ASSIGNED"];
const TABS = [
  { id: "mine", label: "Mine" },
  { id: "groups", label: "My groups" },
  { id: "open", label: "All open" },
];

// A push that may change an inbox: it names a user task, or it is a burst.
export function namesUserTasks(push) {
  return push.more || (push.user_tasks || []).length > 0
    || Object.values(push.runs || {}).some((kind) => kind.startsWith("USER_TASK_"));
}

export async function tasksView() {
  let tab = TABS.some((t) => t.id === localStorage.getItem("wfc-inbox-tab")) ? localStorage.getItem("wfc-inbox-tab") : "groups";
  let shown = [];
  let cursors = [];
  const body = h("tbody");
  const pager = h("div.pager");
  const notice = h("div");
  const counts = new Map(TABS.map((t) => [t.id, h("span.tab-count")]));

  const tabs = TABS.map((t) => h("button", { type: "button", role: "tab", id: `tab-${t.id}`, "aria-controls": "inbox-panel",
    onclick: () => select(t.id), onkeydown: (e) => arrow(e, t.id) }, t.label, counts.get(t.id)));
  const tablist = h("div.tabs", { role: "tablist", "aria-label": "Inboxes" }, ...tabs);

  // Left and right move between the tabs (the ARIA tabs pattern).
  function arrow(event, id) {
    const step = { ArrowRight: 1, ArrowLeft: -1 }[event.key];
    if (!step) return;
    event.preventDefault();
    const next = TABS[(TABS.findIndex((t) => t.id === id) + step + TABS.length) % TABS.length];
    select(next.id);
    document.getElementById(`tab-${next.id}`).focus();
  }

  function select(id) {
    tab = id;
    localStorage.setItem("wfc-inbox-tab", id);
    render();
  }

  // The queries of a tab: one per group for "My groups" (the API filters
  // by one group at a time).
  function queries() {
    const { user, groups } = me();
    if (tab === "mine") return user ? [{ user, status: "ASSIGNED" }] : [];
    if (tab === "groups") return groups.map((group) => ({ group, status: "UNASSIGNED" }));
    return [{ status: OPEN }];
  }

  function empty() {
    const { user, groups } = me();
    if (tab === "mine" && !user) return "Give your user name above to see the tasks assigned to you.";
    if (tab === "groups" && !groups.length) return "Give your groups above to see the tasks offered to them.";
    return { mine: "Nothing assigned to you.", groups: "Nothing waiting in your groups.", open: "No open tasks." }[tab];
  }

  async function load(more = false) {
    const wanted = more ? cursors.filter((c) => c.next) : queries().map((query) => ({ query, next: null }));
    const pages = await Promise.all(wanted.map((c) =>
      api("/user-tasks", { query: { ...c.query, limit: 50, after: c.next || undefined } })));
    const found = pages.flatMap((p) => p.items);
    const next = wanted.map((c, i) => ({ query: c.query, next: pages[i].next }));
    return { found, next };
  }

  let latest = 0;
  async function render(more = false) {
    const ticket = ++latest;
    let page;
    try {
      page = await load(more);
    } catch (error) {
      notice.replaceChildren(message("error", error.message));
      return;
    }
    if (ticket !== latest) return;  // a newer render (a push, a tab) answers instead
    const seen = new Set(more ? shown.map((t) => t.id) : []);
    shown = [...(more ? shown : []), ...page.found.filter((t) => !seen.has(t.id))];
    shown.sort((a, b) => a.created_at.localeCompare(b.created_at) || a.id.localeCompare(b.id));
    cursors = page.next;
    for (const t of tabs) {
      const selected = t.id === `tab-${tab}`;
      t.setAttribute("aria-selected", String(selected));
      t.tabIndex = selected ? 0 : -1;
    }
    panel.setAttribute("aria-labelledby", `tab-${tab}`);
    for (const [id, count] of counts) {  // only the shown tab is counted: one query per push
      count.textContent = id === tab ? ` (${shown.length}${cursors.some((c) => c.next) ? "+" : ""})` : "";
    }
    body.replaceChildren(...shown.map(row));
    if (!shown.length) body.append(h("tr", {}, h("td", { colspan: 7, text: empty() })));
    pager.replaceChildren(cursors.some((c) => c.next)
      ? h("button", { type: "button", onclick: () => render(true) }, "More") : "");
  }

  function row(task) {
    const claimable = task.status === "UNASSIGNED" && me().user;
    return h("tr", { "data-task": task.id },
      h("td", {}, h("a", { href: href("tasks", task.id) }, show(task.form.name))),
      h("td", {}, task.workflow, " ", h("span.muted", { text: task.version }), " · ",
        h("a", { href: href("runs", task.run_id), "aria-label": `Run ${task.run_id}` }, show(task.run_id))),
      h("td", {}, statusBadge(task.status)),
      h("td", {}, show(task.user || "—")),
      h("td", {}, show(task.group || "—")),
      h("td", {}, h("time", { datetime: task.created_at, title: when(task.created_at) }, age(task.created_at))),
      h("td", {}, claimable ? h("button", { type: "button", "aria-label": `Claim ${task.form.name} of ${task.run_id}`,
        onclick: () => claim(task) }, "Claim") : null));
  }

  async function claim(task) {
    try {
      await api(`/user-tasks/${seg(task.id)}/claim`, { method: "POST", body: { user: me().user } });
      notice.replaceChildren(message("info", `Claimed ${task.form.name} of ${task.run_id}: it is in "Mine" now.`));
    } catch (error) {
      notice.replaceChildren(message("error", `${task.form.name} of ${task.run_id}: ${error.message}`));
    }
    render();
  }

  const panel = h("div", { role: "tabpanel", id: "inbox-panel", tabindex: "-1" },
    h("table", {}, h("caption.sr", { text: "User tasks, oldest first" }),
      h("thead", {}, h("tr", {}, ...["Task", "Workflow / run", "Status", "Assignee", "Group", "Age"].map((t) => h("th", { scope: "col", text: t })),
        h("th", { scope: "col" }, h("span.sr", { text: "Actions" })))),
      body),
    pager);
  const element = h("section", { "aria-labelledby": "tasks-title" },
    h("h1", { id: "tasks-title", text: "Tasks" }),
    whoAmI(() => render()),
    h("p.muted", { text: "The dashboard does not check who you are: it sends this name with what you claim or complete." }),
    notice, tablist, panel);
  await render();
  const stop = onPush((push) => { if (namesUserTasks(push)) render(); });
  return { element, stop };
}
