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
