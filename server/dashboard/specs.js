// Every deployed workflow and version, a version's graph, and diffs.
import { api } from "./api.js";
import { h } from "./dom.js";
import { drawThread } from "./graph.js";

export async function specsView() {
  const { specs } = await api("/specs");
  const rows = specs.map((spec) => h("tr", {},
    h("td", {}, h("a", { href: `#/specs/${encodeURIComponent(spec.name)}/${spec.version}` }, spec.name)),
    h("td", { text: spec.version }), h("td", { text: (spec.threads || []).length }), h("td", { text: (spec.tasks || []).join(", ") })));
  return { element: h("section", {}, h("h1", { text: "Specs" }),
    h("table", {}, h("thead", {}, h("tr", {}, ...["Workflow", "Version", "Threads", "Tasks"].map((t) => h("th", { scope: "col", text: t })))),
      h("tbody", {}, rows))) };
}

export async function specView(name, version) {
  const [layouts, { specs }] = await Promise.all([api(`/specs/${encodeURIComponent(name)}/${version}/layout`), api("/specs")]);
  const versions = specs.filter((s) => s.name === name).map((s) => s.version);
  const diffBox = h("div");
  const other = h("select", { id: "diff-other" }, ...versions.filter((v) => v !== layouts.version).map((v) => h("option", { value: v }, v)));
  const diffForm = versions.length > 1 ? h("form.filters", { onsubmit: async (e) => {
    e.preventDefault();
    const diff = await api(`/specs/${encodeURIComponent(name)}/diff`, { query: { old: other.value, new: layouts.version } });
    diffBox.replaceChildren(h("pre.diff", { text: JSON.stringify(diff, null, 2) }));
  } }, h("label", { for: "diff-other" }, "Compare with"), other, h("button", { type: "submit" }, "Diff")) : null;
  const graphs = layouts.threads.map((layout) => h("section.thread", {}, h("h2", { text: `Thread ${layout.thread}` }), drawThread(layout)));
  return { element: h("section", {}, h("h1", { text: `${name} ${layouts.version}` }), diffForm, diffBox, ...graphs) };
}
