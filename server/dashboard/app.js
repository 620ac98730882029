// The dashboard's shell: a hash router over the views.
import { message } from "./dom.js";
import { runsView } from "./runs.js";
import { runView } from "./run.js";
import { specsView, specView } from "./specs.js";
import { workersView } from "./workers.js";
import { analyticsView } from "./analytics.js";
import { tasksView } from "./tasks.js";
import { taskView } from "./task.js";

const ROUTES = [
  [/^#\/runs\/(.+)$/, (m) => runView(decodeURIComponent(m[1]))],
  [/^#\/tasks\/(.+)$/, (m) => taskView(decodeURIComponent(m[1]))],
  [/^#\/tasks$/, () => tasksView()],
  [/^#\/specs\/([^/]+)\/([^/]+)$/, (m) => specView(decodeURIComponent(m[1]), decodeURIComponent(m[2]))],
  [/^#\/specs$/, () => specsView()],
  [/^#\/dead-letters$/, () => runsView({ deadLetters: true })],
  [/^#\/runs$/, () => runsView({})],
  [/^#\/workers$/, () => workersView()],
  [/^#\/analytics$/, () => analyticsView()],
];

let current = null;

async function route() {
  if (current && current.stop) current.stop();
  const hash = location.hash || "#/runs";
  const main = document.getElementById("main");
  for (const link of document.querySelectorAll("nav a")) {
    link.toggleAttribute("aria-current", hash.startsWith(link.getAttribute("href")));
  }
  for (const [pattern, view] of ROUTES) {
    const match = hash.match(pattern);
    if (!match) continue;
    main.replaceChildren();
    try {
      current = await view(match);
      main.replaceChildren(current.element);
    } catch (error) {
      current = null;
      main.replaceChildren(message("error", error.message));
    }
    return;
  }
  main.replaceChildren(message("error", `No page at ${hash}.`));
}

window.addEventListener("hashchange", route);
route();
