// Who is using the dashboard: a user name and the groups they belong to,
// remembered in this browser (localStorage). The server does not check it:
// it is the name sent with a claim or a completion, and what the inbox
// lists, the way the CLI's --user is.
import { h } from "./dom.js";

export function me() {
  let groups = [];
  try { groups = JSON.parse(localStorage.getItem("wfc-groups") || "[]"); } catch (error) { groups = []; }
  return { user: localStorage.getItem("wfc-user") || "", groups: Array.isArray(groups) ? groups : [] };
}

export function remember(user, groups) {
  localStorage.setItem("wfc-user", user);
  localStorage.setItem("wfc-groups", JSON.stringify(groups));
}

export function splitGroups(text) {
  return [...new Set(text.split(",").map((g) => g.trim()).filter(Boolean))];
}

// The "who am I" form; onchange(me) after each save.
export function whoAmI(onchange) {
  const current = me();
  const user = h("input", { id: "me-user", autocomplete: "username", placeholder: "ann", value: current.user });
  const groups = h("input", { id: "me-groups", placeholder: "support, finance", value: current.groups.join(", ") });
  const saved = h("span.muted", { role: "status" });
  return h("form.filters.whoami", { "aria-labelledby": "me-title", onsubmit: (e) => {
    e.preventDefault();
    remember(user.value.trim(), splitGroups(groups.value));
    groups.value = me().groups.join(", ");
    saved.textContent = me().user ? `Acting as ${me().user}.` : "Acting as an operator (no user name).";
    onchange(me());
  } },
  h("h2.sr", { id: "me-title", text: "Who are you?" }),
  h("label", {}, "Your user name", user),
  h("label", {}, "Your groups (comma-separated)", groups),
  h("button", { type: "submit" }, "Remember me"), saved);
}
