// What runs, tasks and their callers control (ids, names, values, messages,
// notes) only ever reaches the page as text: h() and s() make text nodes and
// set attributes, never markup (no innerHTML: the page's Content-Security-
// Policy requires Trusted Types, so such a sink would throw); links are made
// by href(), values and messages are shown by show().

// A tiny element builder: h("tag.class", {attributes}, children...).
export function h(spec, attributes = {}, ...children) {
  const [tag, ...classes] = spec.split(".");
  const element = document.createElement(tag);
  if (classes.length) element.className = classes.join(" ");
  for (const [name, value] of Object.entries(attributes || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on")) element.addEventListener(name.slice(2), value);
    else if (name === "text") element.textContent = value;
    else element.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

const SVG = "http://www.w3.org/2000/svg";
export function s(tag, attributes = {}, ...children) {
  const element = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, value);
  for (const child of children.flat()) if (child) element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  return element;
}

// The hash of a view from ids, each part percent-encoded: an id with "/",
// "?", "#", "%" or spaces stays one part and leads to its own page.
export function href(...parts) {
  return "#/" + parts.map((part) => encodeURIComponent(String(part))).join("/");
}

// Most characters of a value shown before "show all".
export const LIMIT = 2000;

// A run of this many characters without a space may be broken anywhere.
const UNBROKEN = /\S{30}/;

// Characters of a text that would hide what it says: controls (C0 but tab
// and line ends, DEL, C1; a task's message may hold an ESC or a NUL) and the
// bidirectional embeddings, overrides and isolates, which show "evil" as
// "live". Shown as \u escapes, which every font can draw.
const HIDDEN = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;

function escaped(c) {
  return `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`;
}

// A value or message of any size and content, as text: what would hide
// what it says escaped; isolated (<bdi>), so that right-to-left text in it
// cannot reorder the text around it; broken anywhere when it has a long
// run without spaces (a 200-character id), so that it wraps rather than
// widens the page; and cut at `limit` characters with a button for the
// rest, so that a 1 MB value does not make the page hundreds of thousands
// of pixels long.
export function show(value, limit = LIMIT) {
  const text = String(value ?? "").replace(HIDDEN, escaped);
  const element = h(UNBROKEN.test(text) ? "bdi.value.unbroken" : "bdi.value");
  if (text.length <= limit) {
    element.textContent = text;
    return element;
  }
  let end = limit;
  const last = text.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end -= 1;  // not between the two halves of an emoji
  const all = h("button.link.show-all", { type: "button", onclick: () => element.replaceChildren(text) },
    `show all ${text.length.toLocaleString("en")} characters`);
  element.append(text.slice(0, end), "… ", all);
  return element;
}

// Characters that change how text around them is shown without being seen:
// bidirectional embeddings, overrides, isolates and marks, zero-width space,
// byte order mark, line and paragraph separators (not the zero-width
// joiners, which emoji and Persian need).
const INVISIBLE = /[\u061c\u200b\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]/g;

// A value as JSON to show: what JSON.stringify gives, with the invisible
// characters written as \u escapes (still the same JSON), so that a value
// looks like what it holds.
export function json(value) {
  const text = JSON.stringify(value) ?? "null";
  return text.replace(INVISIBLE, escaped);
}

// A label cut to `max` characters with "…" (for SVG text, which does not wrap).
export function cut(text, max) {
  const value = String(text ?? "");
  return value.length <= max ? value : `${value.slice(0, max - 1)}…`;
}

export function when(iso) {
  if (!iso) return "";
  const date = new Date(iso);
  return date.toLocaleString(undefined, { dateStyle: "short", timeStyle: "medium" });
}

export function statusBadge(status) {
  return h(`span.badge.s-${String(status).toLowerCase()}`, { text: status });
}

export function message(kind, text) {
  return h(`p.msg.${kind}`, { role: kind === "error" ? "alert" : "status" }, show(text));
}

// How long ago: "40 s", "5 min", "3 h", "2 d".
export function age(iso, now = Date.now()) {
  if (!iso) return "";
  const seconds = Math.max(0, Math.round((now - new Date(iso).getTime()) / 1000));
  if (seconds < 60) return `${seconds} s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)} h`;
  return `${Math.floor(seconds / 86400)} d`;
}
