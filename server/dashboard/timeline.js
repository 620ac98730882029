// A run's timeline: one row per span of its trace (attempts, waits, sleeps,
// threads, compensations), a bar from its start to its end; retries are rows
// of their own, marked with their attempt.
import { cut, h, s } from "./dom.js";

const ROW = 22, LABEL = 260, WIDTH = 1000;
// Characters of a row's label that fit left of the bars (12 px monospace).
const LABEL_CHARS = 34;

function colour(bar) {
  const waiting = bar.kind === "wait" || bar.kind === "sleep" || bar.kind === "user_task";
  if (bar.open) return waiting ? "open-wait" : "open";
  const outcome = String(bar.outcome || "").toLowerCase();
  if (outcome === "compensated" || ((bar.kind === "compensate" || bar.kind === "compensation") && outcome === "ok")) return "undo";
  if (bar.kind === "compensate" || bar.kind === "compensation") return "bad";
  if (["error", "exception", "timeout", "failed", "abandoned", "cancelled"].includes(outcome)) return "bad";
  if (waiting) return "wait";
  return "good";
}

function seconds(value) { return value < 1 ? `${Math.round(value * 1000)} ms` : `${value.toFixed(2)} s`; }

export function drawTimeline(timeline) {
  const depth = new Map();
  for (const bar of timeline.bars) depth.set(bar.id, bar.parent && depth.has(bar.parent) ? depth.get(bar.parent) + 1 : 0);
  const bars = timeline.bars;
  const span = Math.max(timeline.duration, 0.001);
  const x = (t) => LABEL + (t / span) * (WIDTH - LABEL - 80);
  const height = bars.length * ROW + 28;
  const svg = s("svg", { viewBox: `0 0 ${WIDTH} ${height}`, width: WIDTH, height, role: "img", class: "timeline",
    "aria-label": `Timeline of ${bars.length} spans over ${seconds(timeline.duration)}` });
  for (const tick of [0, 0.25, 0.5, 0.75, 1]) {
    svg.append(s("line", { x1: x(tick * span), x2: x(tick * span), y1: 0, y2: height - 20, class: "grid" }));
    svg.append(s("text", { x: x(tick * span), y: height - 6, class: "tick mid" }, seconds(tick * span)));
  }
  bars.forEach((bar, i) => {
    const y = i * ROW + 4;
    const attempt = bar.attempt && (bar.kind === "task" || bar.kind === "compensate") ? ` #${bar.attempt}` : "";
    const text = `${"  ".repeat(depth.get(bar.id))}${bar.kind} ${bar.kind === bar.label ? "" : bar.label}${attempt}`;
    svg.append(s("text", { x: 4, y: y + 14, class: "row-label" }, s("title", {}, text.trim()), cut(text, LABEL_CHARS)));
    const rect = s("rect", { x: x(bar.start), y: y + 3, width: Math.max(2, x(bar.end) - x(bar.start)), height: ROW - 8, rx: 3,
      class: `bar ${colour(bar)}`, "data-kind": bar.kind, "data-outcome": bar.outcome || "", "data-attempt": bar.attempt || "" });
    rect.append(s("title", {}, `${bar.kind} ${bar.label}${attempt}: ${seconds(bar.end - bar.start)}` +
      `${bar.open ? " (still going)" : ""}${bar.outcome ? `, ${bar.outcome}` : ""}${bar.error ? ` — ${bar.error}` : ""}`));
    svg.append(rect);
  });
  const legend = h("ul.legend", { "aria-label": "Bar colours" },
    ...[["good", "done"], ["bad", "failed"], ["wait", "waited"], ["undo", "compensated"], ["open", "still going"]]
      .map(([cls, text]) => h("li", {}, h(`span.swatch.tl-${cls}`), text)));
  return h("div", {}, legend, h("div.graph-box", {}, svg));
}
