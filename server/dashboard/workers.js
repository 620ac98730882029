// Engines and workers on the database: tasks, heartbeats and the leases they hold.
import { api } from "./api.js";
import { h, message, show, when } from "./dom.js";

export async function workersView() {
  const body = h("tbody");
  const summary = h("p", { role: "status" });
  const notice = h("div");

  async function render() {
    let workers;
    try {
      ({ workers } = await api("/workers"));
    } catch (error) {
      notice.replaceChildren(message("error", error.message));
      return;
    }
    notice.replaceChildren();
    const now = Date.now();
    body.replaceChildren(...workers.map((w) => h("tr", {},
      h("td", {}, h("code", { text: w.id.slice(0, 12), title: w.id })),
      h("td", { text: `${w.host} · pid ${w.pid}` }),
      h("td", {}, h(`span.badge.${w.alive ? "s-completed" : "s-failed"}`, { text: w.alive ? "alive" : "gone" })),
      h("td", { text: `${Math.max(0, Math.round((now - Date.parse(w.heartbeat_at)) / 1000))} s ago` }),
      h("td", { text: when(w.started_at) }),
      h("td", {}, show(w.tasks.join(", ") || "—")),
      h("td", { text: w.leases }),
      h("td", { text: w.oldest_lease ? when(w.oldest_lease) : "—" }))));
    if (!workers.length) body.append(h("tr", {}, h("td", { colspan: 8, text: "No engine is registered: nothing runs tasks now." })));
    const alive = workers.filter((w) => w.alive).length;
    summary.textContent = `${alive} of ${workers.length} engines alive.`;
  }

  const element = h("section", {}, h("h1", { text: "Workers" }), summary, notice,
    h("table", {}, h("caption.sr", { text: "Engines registered on the database" }),
      h("thead", {}, h("tr", {}, ...["Engine", "Where", "State", "Heartbeat", "Started", "Tasks", "Leases", "Oldest lease"]
        .map((t) => h("th", { scope: "col", text: t })))),
      body));
  await render();
  // Heartbeats are not journal entries: look again every few seconds (one cheap query).
  const timer = setInterval(() => { if (!document.hidden) render(); }, 5000);
  return { element, stop: () => clearInterval(timer) };
}
