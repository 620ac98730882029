// Calls to /api/v1 with the token the user gave (kept for this tab only).
const PREFIX = "/api/v1";
let waitingForToken = null;

export class ApiError extends Error {
  constructor(problem) {
    super(problem.detail || problem.title || "request failed");
    this.problem = problem;
    this.status = problem.status;
  }
}

// An id as one segment of an API path, percent-encoded ("/", "?", "#", "%"
// and spaces included). "." and ".." cannot be one: every URL parser takes
// them, escaped or not, for this folder and the parent folder, and the
// request would go to another endpoint. Such an id is refused, saying so.
export function seg(id) {
  const text = String(id);
  if (text === "." || text === "..") {
    throw new Error(`the id "${text}" cannot be part of a URL path (URLs read it as a folder), so the dashboard `
      + `cannot ask the API for it; use the CLI, e.g. wfc runs show -- "${text}"`);
  }
  return encodeURIComponent(text);
}

function token() { return sessionStorage.getItem("wfc-token"); }

function askForToken(reason) {
  if (waitingForToken) return waitingForToken;
  const dialog = document.getElementById("token-dialog");
  document.getElementById("token-reason").textContent = reason;
  waitingForToken = new Promise((resolve) => {
    dialog.addEventListener("close", () => {
      sessionStorage.setItem("wfc-token", document.getElementById("token-input").value.trim());
      waitingForToken = null;
      resolve();
    }, { once: true });
  });
  dialog.showModal();
  return waitingForToken;
}

export async function api(path, { method = "GET", body, query } = {}) {
  const url = new URL(PREFIX + path, location.origin);
  for (const [name, value] of Object.entries(query || {})) {
    if (value === undefined || value === null || value === "") continue;
    for (const one of Array.isArray(value) ? value : [value]) url.searchParams.append(name, one);
  }
  for (;;) {
    const headers = { Accept: "application/json" };
    if (token()) headers.Authorization = `Bearer ${token()}`;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const response = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    if (response.status === 401 || (response.status === 403 && method !== "GET" && !token())) {
      const problem = await response.json().catch(() => ({}));
      await askForToken(problem.detail || "Give the token the server was started with.");
      continue;
    }
    const text = await response.text();
    const data = text ? JSON.parse(text) : null;
    if (!response.ok) throw new ApiError(data || { status: response.status, title: response.statusText });
    return data;
  }
}
