// One user task: its notes, its form drawn from the definition, what can be
// done to it (claim, release, reassign, complete, cancel) and its audit
// trail (the journal entries naming it).
import { api, seg } from "./api.js";
import { h, href, json, message, show, statusBadge, when } from "./dom.js";
import { taskForm } from "./form.js";
import { onPush } from "./live.js";
import { me } from "./me.js";

const OPEN = new Set(["UNASSIGNED", "ASSIGNED"]);

function describe(entry) {
  const { user_task: _, by, ...rest } = entry.detail || {};
  return Object.entries(rest).map(([name, value]) => `${name}: ${typeof value === "string" ? value : json(value)}`).join(", ");
}

function who(entry) {
  const detail = entry.detail || {};
  if (detail.by) return detail.by;
  return detail.timer ? "a timer" : entry.kind === "USER_TASK_ASSIGNED" ? "the workflow" : "an operator";
}

export async function taskView(taskId) {
  const path = `/user-tasks/${seg(taskId)}`;
  let task = await api(path);
  const form = taskForm(task.form);
  const headline = h("div.headline");
  const notice = h("div");
  const actions = h("div.actions", { role: "group", "aria-label": "Actions" });
  const completion = h("section", { "aria-labelledby": "form-title" });
  const audit = h("tbody");

  async function act(verb, body, done) {
    try {
      await api(`${path}/${verb}`, { method: "POST", body });
      notice.replaceChildren(message("info", done));
      if (verb === "complete") form.showProblems([]);
    } catch (error) {
      if (error.status === 422 && Array.isArray(error.problem.errors)) {
        form.showProblems(error.problem.errors, `The server refused the values: ${error.message}`);
        notice.replaceChildren();
      } else {
        notice.replaceChildren(message("error", error.message));
      }
    }
    await refresh();
  }

  // The audit entries carry the thread's name; the task only its number.
  function threadName() {
    const named = (task.audit || []).find((entry) => entry.thread === task.thread);
    return named && named.thread_name ? ` ${named.thread_name}` : "";
  }

  function summary() {
    const mine = me().user;
    headline.replaceChildren(
      h("h1", {}, "Task ", h("code", { text: task.form.name }), " ", statusBadge(task.status)),
      h("p.muted", {}, h("a", { href: href("runs", task.run_id) }, "Run ", show(task.run_id)),
        ` · ${task.workflow} ${task.version} · node ${task.node} · thread #${task.thread}${threadName()} · created ${when(task.created_at)}`,
        ` · updated ${when(task.updated_at)}`),
      h("dl.facts", {},
        h("dt", { text: "Assignee" }), h("dd", { text: task.user ? `${task.user}${task.user === mine ? " (you)" : ""}` : OPEN.has(task.status) ? "nobody yet" : "nobody" }),
        h("dt", { text: "Group" }), h("dd", { text: task.group || "—" }),
        task.completed_by ? [h("dt", { text: "Completed by" }), h("dd", { text: task.completed_by })] : null),
      task.notes ? h("div.notes", { role: "note", "aria-label": "Notes" }, show(task.notes)) : null);
  }

  let drawn = null;
  function drawActions() {
    const { user } = me();
    // Redrawn only when what they depend on changed: a push must not wipe what is being typed.
    const key = JSON.stringify([task.status, task.user, task.group, user]);
    if (key === drawn) return;
    drawn = key;
    if (!OPEN.has(task.status)) { actions.replaceChildren(); return; }
    const reassignUser = h("input", { id: "reassign-user", placeholder: "bob" });
    const reassignGroup = h("input", { id: "reassign-group", placeholder: "support" });
    const reason = h("input", { id: "cancel-reason", placeholder: "no longer needed" });
    const by = user ? { by: user } : {};
    actions.replaceChildren(...[
      task.status === "UNASSIGNED"
        ? h("button", { type: "button", disabled: !user, title: user ? undefined : "Give your user name in the inbox first",
          onclick: () => act("claim", { user }, `Claimed by ${user}.`) }, user ? `Claim as ${user}` : "Claim")
        : null,
      task.status === "ASSIGNED" && task.group
        ? h("button", { type: "button", onclick: () => act("release", by, `Released to ${task.group}.`) }, `Release to ${task.group}`)
        : null,
      h("form.filters.inline", { "aria-label": "Reassign", onsubmit: (e) => {
        e.preventDefault();
        const body = { ...by, user: reassignUser.value.trim() || undefined, group: reassignGroup.value.trim() || undefined };
        if (!body.user && !body.group) { notice.replaceChildren(message("error", "Reassign: give a user, a group or both.")); return; }
        act("reassign", body, "Reassigned.");
      } }, h("label", {}, "Reassign to user", reassignUser), h("label", {}, "and/or group", reassignGroup), h("button", { type: "submit" }, "Reassign")),
      h("form.filters.inline", { "aria-label": "Cancel the task", onsubmit: (e) => {
        e.preventDefault();
        act("cancel", { ...by, reason: reason.value.trim() || "cancelled from the dashboard" }, "Cancelled.");
      } }, h("label", {}, "Reason", reason), h("button", { type: "submit" }, "Cancel task"))].filter(Boolean));
  }

  function drawCompletion() {
    if (task.status === "DONE") {
      completion.replaceChildren(h("h2", { id: "form-title", text: "Submitted values" }),
        h("dl.variables", {}, ...task.form.fields.flatMap((f) => [
          h("dt", { text: f.display_name || f.name }),
          h("dd", {}, h("code", {}, show(json((task.values || {})[f.name] ?? null))))])));
      return;
    }
    if (!OPEN.has(task.status)) { completion.replaceChildren(); return; }
    const { user } = me();
    const warning = task.status === "ASSIGNED" && user && task.user !== user
      ? message("info", `Assigned to ${task.user}: only they can complete it, unless it is reassigned to you.`) : null;
    if (!completion.querySelector("form")) {
      completion.replaceChildren(h("h2", { id: "form-title", text: "Complete the task" }), h("div.warning"),
        h("form.task-form", { novalidate: true, "aria-labelledby": "form-title", onsubmit: (e) => {
          e.preventDefault();
          const { values, problems } = form.values();
          if (problems.length) { form.showProblems(problems); return; }
          act("complete", user ? { values, user } : { values }, "Completed: the run goes on.");
        } }, form.element, h("div.buttons", {}, h("button.primary", { type: "submit" }, user ? `Complete as ${user}` : "Complete"))));
    }
    completion.querySelector(".warning").replaceChildren(warning || "");
  }

  function drawAudit() {
    audit.replaceChildren(...(task.audit || []).map((entry) => h("tr", {},
      h("td", { text: when(entry.timestamp) }),
      h("td", {}, h("code", { text: entry.kind })),
      h("td", {}, show(who(entry))),
      h("td", {}, show(describe(entry))))));
    if (!(task.audit || []).length) audit.append(h("tr", {}, h("td", { colspan: 4, text: "Nothing recorded yet." })));
  }

  async function refresh() {
    try {
      task = await api(path);
    } catch (error) {
      notice.replaceChildren(message("error", error.message));
      return;
    }
    summary(); drawActions(); drawCompletion(); drawAudit();
  }

  const element = h("article", {}, headline, notice, actions, completion,
    h("section", { "aria-labelledby": "audit-title" }, h("h2", { id: "audit-title", text: "Audit trail" }),
      h("table.audit", {}, h("thead", {}, h("tr", {}, ...["At", "What", "By", "Detail"].map((t) => h("th", { scope: "col", text: t })))),
        audit)));
  summary(); drawActions(); drawCompletion(); drawAudit();
  const stop = onPush((push) => {
    if (push.more || (push.user_tasks || []).includes(taskId) || Object.hasOwn(push.runs || {}, task.run_id)) refresh();
  });
  return { element, stop };
}
