// Every deployed workflow and version, a version's graph, and diffs.
import { api, seg } from "./api.js";
import { h, href, show } from "./dom.js";
import { drawThread } from "./graph.js";

export async function specsView() {
  const { specs } = await api("/specs");
  const rows = specs.map((spec) => h("tr", {},
    h("td", {}, h("a", { href: href("specs", spec.name, spec.version) }, show(spec.name))),
    h("td", { text: spec.version }), h("td", { text: (spec.threads || []).length }), h("td", {}, show((spec.tasks || []).join(", ")))));
  return { element: h("section", {}, h("h1", { text: "Specs" }),
    h("table", {}, h("thead", {}, h("tr", {}, ...["Workflow", "Version", "Threads", "Tasks"].map((t) => h("th", { scope: "col", text: t })))),
      h("tbody", {}, rows))) };
}

function renderDiff(diff) {
  const lines = [];
  lines.push(h("p", {}, h("strong", { text: `${diff.old.version} → ${diff.new.version}: ` }), diff.summary, " ",
    h(`span.badge.${diff.bump === "major" ? "s-failed" : diff.bump === "none" ? "s-completed" : "s-running"}`, { text: `${diff.bump} bump` }),
    ` (needs version ${diff.required_version})`));
  if (diff.interface.length) {
    lines.push(h("h3", { text: "Inputs and outputs" }), h("ul", {}, ...diff.interface.map((c) =>
      h("li", {}, c.breaking ? h("span.badge.s-failed", { text: "breaking" }) : null, c.description))));
  }
  if (diff.nodes.length) {
    lines.push(h("h3", { text: "Nodes" }), h("table", {}, h("thead", {}, h("tr", {}, ...["Thread", "Node", "Change", "Detail"].map((t) => h("th", { scope: "col", text: t })))),
      h("tbody", {}, ...diff.nodes.map((c) => h("tr", {}, h("td", { text: c.thread }), h("td", {}, h("code", {}, show(c.node))),
        h("td", { text: c.change }), h("td", {}, show(c.detail)))))));
  }
  for (const [title, items] of [["Threads added", diff.threads_added], ["Threads removed", diff.threads_removed], ["Other", diff.other]]) {
    if (items.length) lines.push(h("h3", { text: title }), h("ul", {}, ...items.map((item) => h("li", { text: item }))));
  }
  return h("section.diff", { "aria-label": "Differences" }, ...lines);
}

export async function specView(name, version) {
  const [layouts, { specs }] = await Promise.all([api(`/specs/${seg(name)}/${seg(version)}/layout`), api("/specs")]);
  const versions = specs.filter((s) => s.name === name).map((s) => s.version);
  const diffBox = h("div");
  const other = h("select", { id: "diff-other" }, ...versions.filter((v) => v !== layouts.version).map((v) => h("option", { value: v }, v)));
  const diffForm = versions.length > 1 ? h("form.filters", { onsubmit: async (e) => {
    e.preventDefault();
    const diff = await api(`/specs/${seg(name)}/diff`, { query: { old: other.value, new: layouts.version } });
    diffBox.replaceChildren(renderDiff(diff));
  } }, h("label", { for: "diff-other" }, "Compare with"), other, h("button", { type: "submit" }, "Diff")) : null;
  const graphs = layouts.threads.map((layout) => h("section.thread", {}, h("h2", { text: `Thread ${layout.thread}` }), drawThread(layout)));
  return { element: h("section", {}, h("h1", { text: `${name} ${layouts.version}` }), diffForm, diffBox, ...graphs) };
}
