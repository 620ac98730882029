// Draws a laid-out thread (from /specs/{name}/{version}/layout) as SVG, each
// node coloured by its state in a run when states are given.
import { s } from "./dom.js";

export const STATES = ["done", "running", "waiting", "failed", "compensated", "not reached"];

export function drawThread(layout, states = null, onNode = null) {
  const svg = s("svg", { viewBox: `0 0 ${layout.width} ${layout.height}`, width: layout.width, height: layout.height,
    role: "img", "aria-label": `Graph of thread ${layout.thread}`, class: "graph" });
  svg.append(s("defs", {}, s("marker", { id: "arrow", viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse" },
    s("path", { d: "M0,0 L10,5 L0,10 z", class: "arrowhead" }))));
  for (const line of layout.edges) {
    const d = line.points.map(([x, y], i) => `${i ? "L" : "M"}${x},${y}`).join(" ");
    svg.append(s("path", { d, class: line.back ? "edge back" : "edge", "marker-end": "url(#arrow)" }));
    if (line.label && line.points.length > 1) {
      // Along the first stretch, past the fan-out: the labels of a branch's edges stay apart.
      const [[x0, y0], [x1, y1]] = [line.points[0], line.points[1]];
      svg.append(s("text", { x: x0 + (x1 - x0) * 0.65 + 4, y: y0 + (y1 - y0) * 0.65, class: "edge-label" }, line.label));
    }
  }
  for (const box of layout.nodes) {
    const state = states ? states[box.id] || "not reached" : null;
    const group = s("g", { class: `node k-${box.kind}${state ? " st-" + state.replace(" ", "-") : ""}`, tabindex: onNode ? 0 : -1,
      "data-node": box.id });
    group.append(s("title", {}, state ? `${box.id}: ${state}` : box.id));
    group.append(s("rect", { x: box.x, y: box.y, width: box.width, height: box.height, rx: 6 }));
    box.lines.forEach((text, i) => group.append(s("text", { x: box.x + 12, y: box.y + 8 + 12 + i * 16, class: i ? "sub" : "name" }, text)));
    if (onNode) {
      group.addEventListener("click", () => onNode(box.id));
      group.addEventListener("keydown", (e) => { if (e.key === "Enter") onNode(box.id); });
    }
    svg.append(group);
  }
  return svg;
}
