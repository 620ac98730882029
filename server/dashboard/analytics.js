// Per workflow over a window: runs started per minute, failure and
// compensation rates, and p50/p95 time per step, drawn as SVG charts.
import { api } from "./api.js";
import { cut, h, message, s, show } from "./dom.js";

const WINDOWS = [["15m", "15 minutes"], ["1h", "1 hour"], ["6h", "6 hours"], ["24h", "24 hours"], ["7d", "7 days"]];

function percent(rate) { return rate === null ? "—" : `${(rate * 100).toFixed(1)} %`; }

function barChart(points, { label, width = 720, height = 160 }) {
  const max = Math.max(1, ...points.map(([, v]) => v));
  const step = width / Math.max(1, points.length);
  const svg = s("svg", { viewBox: `0 0 ${width} ${height + 20}`, width, height: height + 20, role: "img", "aria-label": label, class: "chart" });
  points.forEach(([at, value], i) => {
    const bar = (value / max) * height;
    const rect = s("rect", { x: i * step + 1, y: height - bar, width: Math.max(1, step - 2), height: bar, class: "bar" });
    rect.append(s("title", {}, `${new Date(at).toLocaleTimeString()}: ${value}`));
    svg.append(rect);
  });
  svg.append(s("line", { x1: 0, y1: height, x2: width, y2: height, class: "axis" }));
  svg.append(s("text", { x: 2, y: 12, class: "tick" }, `${max}`));
  if (points.length) {
    svg.append(s("text", { x: 2, y: height + 16, class: "tick" }, new Date(points[0][0]).toLocaleTimeString()));
    svg.append(s("text", { x: width - 2, y: height + 16, class: "tick end" }, new Date(points[points.length - 1][0]).toLocaleTimeString()));
  }
  return svg;
}

function stepChart(steps, { width = 720 }) {
  const row = 26, left = 180, height = steps.length * row + 24;
  const max = Math.max(0.001, ...steps.map((step) => step.p95));
  const scale = (value) => (value / max) * (width - left - 130);
  const svg = s("svg", { viewBox: `0 0 ${width} ${height}`, width, height, role: "img", "aria-label": "Time per step: median and 95th percentile", class: "chart" });
  steps.forEach((step, i) => {
    const y = i * row + 4;
    svg.append(s("text", { x: left - 8, y: y + 15, class: "tick end" }, s("title", {}, step.node), cut(step.node, 24)));
    svg.append(s("rect", { x: left, y: y + 2, width: scale(step.p95), height: 18, class: "bar p95" }));
    svg.append(s("rect", { x: left, y: y + 6, width: scale(step.p50), height: 10, class: "bar" }));
    svg.append(s("text", { x: left + scale(step.p95) + 6, y: y + 15, class: "tick" }, `${fmt(step.p50)} / ${fmt(step.p95)}`));
  });
  return svg;
}

function fmt(seconds) { return seconds < 1 ? `${Math.round(seconds * 1000)} ms` : `${seconds.toFixed(2)} s`; }

export async function analyticsView() {
  const { specs } = await api("/specs");
  const names = [...new Set(specs.map((spec) => spec.name))].sort();
  const workflow = h("select", { id: "an-workflow" }, ...names.map((n) => h("option", { value: n }, n)));
  const windowSelect = h("select", { id: "an-window" }, ...WINDOWS.map(([v, t]) => h("option", { value: v, selected: v === "1h" }, t)));
  const out = h("div");
  async function render() {
    if (!workflow.value) { out.replaceChildren(message("info", "No workflow is deployed yet.")); return; }
    let stats;
    try {
      stats = await api("/analytics", { query: { workflow: workflow.value, since: windowSelect.value } });
    } catch (error) {
      out.replaceChildren(message("error", error.message));
      return;
    }
    const perMinute = stats.started.map(([at, count]) => [at, count]);
    const total = stats.started.reduce((sum, [, c]) => sum + c, 0);
    const minutes = Math.max(1, (Date.parse(stats.until) - Date.parse(stats.since)) / 60000);
    out.replaceChildren(
      h("dl.figures", {},
        h("div", {}, h("dt", { text: "Runs read" }), h("dd", { text: `${stats.runs}${stats.sampled ? " (the newest; sampled)" : ""}` })),
        h("div", {}, h("dt", { text: "Started per minute" }), h("dd", { text: (total / minutes).toFixed(2) })),
        h("div", {}, h("dt", { text: "Failure rate" }), h("dd", { text: percent(stats.failure_rate) })),
        h("div", {}, h("dt", { text: "Compensation rate" }), h("dd", { text: percent(stats.compensation_rate) }))),
      h("h2", { text: `Runs started (per ${stats.bucket / 60} min)` }),
      barChart(perMinute, { label: "Runs started over the window" }),
      h("h2", { text: "Time per step: median (inner) and 95th percentile" }),
      stats.steps.length ? stepChart(stats.steps, {}) : message("info", "No task attempts in this window."),
      stats.steps.length ? h("table", {}, h("thead", {}, h("tr", {}, ...["Step", "Attempts", "Failed", "p50", "p95"].map((t) => h("th", { scope: "col", text: t })))),
        h("tbody", {}, ...stats.steps.map((st) => h("tr", {}, h("td", {}, show(st.node)), h("td", { text: st.attempts }), h("td", { text: st.failed }),
          h("td", { text: fmt(st.p50) }), h("td", { text: fmt(st.p95) }))))) : null);
  }
  workflow.addEventListener("change", render);
  windowSelect.addEventListener("change", render);
  const element = h("section", {}, h("h1", { text: "Analytics" }),
    h("form.filters", { onsubmit: (e) => { e.preventDefault(); render(); } },
      h("label", { for: "an-workflow" }, "Workflow"), workflow, h("label", { for: "an-window" }, "Window"), windowSelect,
      h("button", { type: "submit" }, "Refresh")), out);
  await render();
  const timer = setInterval(() => { if (!document.hidden) render(); }, 30000);
  return { element, stop: () => clearInterval(timer) };
}
