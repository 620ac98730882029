// One stream of pushes from the server (GET /api/v1/live), shared by the
// views: each push names the runs that changed, and a view reloads only
// when something it shows did. fetch rather than EventSource, so the
// bearer token goes in a header and never in a URL.
const listeners = new Set();
let started = false;

export function onPush(listener) {
  listeners.add(listener);
  if (!started) { started = true; connect(); }
  return () => listeners.delete(listener);
}

function status(text) { document.getElementById("live").textContent = text; }

async function connect() {
  for (let delay = 1000; ; delay = Math.min(delay * 2, 15000)) {
    try {
      const headers = { Accept: "text/event-stream" };
      const token = sessionStorage.getItem("wfc-token");
      if (token) headers.Authorization = `Bearer ${token}`;
      const response = await fetch("/api/v1/live", { headers });
      if (!response.ok) throw new Error(`live: ${response.status}`);
      status("● live");
      delay = 1000;
      await read(response.body.getReader());
    } catch (error) {
      // The server restarts or the token is not given yet: try again.
    }
    status("○ reconnecting");
    await new Promise((resolve) => setTimeout(resolve, delay));
  }
}

async function read(reader) {
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += decoder.decode(value, { stream: true });
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const data = block.split("\n").filter((line) => line.startsWith("data: ")).map((line) => line.slice(6)).join("\n");
      if (block.includes("event: push") && data) {
        const push = JSON.parse(data);
        for (const listener of listeners) listener(push);
      }
    }
  }
}
