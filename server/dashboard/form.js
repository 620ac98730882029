// A user task's form, drawn from its definition (name, type, required,
// display name, description), and the checks of what was typed. The checks
// mirror the server's (specs/forms.py form_problems): a required field needs
// a value, and a value must be of its field's type. The server checks again
// and its 422 names fields the same way, shown by showProblems.
import { h } from "./dom.js";

const HINTS = { str: "text", int: "a whole number", float: "a number", bool: "yes or no", json: "JSON" };
const INT = /^[+-]?\d+$/;
const FLOAT = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

// What one field's control holds: { missing: true } (no value, like the
// server's None), { value }, or { problem } when it is not of the type.
function read(definition, control) {
  const text = control.value;
  switch (definition.type) {
    case "str":
      return text.trim() === "" ? { missing: true } : { value: text };
    case "int": {
      const t = text.trim();
      if (t === "") return { missing: true };
      if (!INT.test(t)) return { problem: `must be a whole number (int), not "${t}"` };
      const n = Number(t);
      return Number.isSafeInteger(n) ? { value: n } : { problem: "is too large a number" };
    }
    case "float": {
      const t = text.trim();
      if (t === "") return { missing: true };
      const n = Number(t);
      return FLOAT.test(t) && Number.isFinite(n) ? { value: n } : { problem: `must be a number (float), not "${t}"` };
    }
    case "bool":
      return text === "" ? { missing: true } : { value: text === "true" };
    default: {
      if (text.trim() === "") return { missing: true };
      try {
        const value = JSON.parse(text);
        return value === null ? { missing: true } : { value };
      } catch (error) {
        return { problem: `is not JSON: ${error.message}` };
      }
    }
  }
}

// Why the check refuses one field's control, or null.
function problemOf(definition, input) {
  const outcome = read(definition, input);
  if (outcome.problem) return outcome.problem;
  return outcome.missing && definition.required ? `required (${definition.type}): give a value` : null;
}

function control(definition, id, describedBy) {
  const common = { id, name: definition.name, "aria-describedby": describedBy,
    "aria-required": definition.required ? "true" : undefined, "data-type": definition.type };
  switch (definition.type) {
    case "bool":
      return h("select", common, h("option", { value: "" }, definition.required ? "Choose…" : "Not given"),
        h("option", { value: "true" }, "Yes"), h("option", { value: "false" }, "No"));
    case "json":
      return h("textarea", { ...common, rows: 4, spellcheck: "false" });
    case "int":
      return h("input", { ...common, inputmode: "numeric", autocomplete: "off" });
    case "float":
      return h("input", { ...common, inputmode: "decimal", autocomplete: "off" });
    default:
      return h("input", { ...common, autocomplete: "off" });
  }
}

// The form's fields, each with its label, help text and a place for its
// problem. Returns { element, values(), showProblems(problems) }.
export function taskForm(form) {
  const fields = form.fields.map((definition, i) => {
    const id = `field-${i}`;
    const help = h("p.help", { id: `${id}-help` }, definition.description || "",
      h("span.muted", { text: `${definition.description ? " · " : ""}${HINTS[definition.type] || definition.type}` }));
    const error = h("p.field-error", { id: `${id}-error`, hidden: true });
    const input = control(definition, id, `${id}-help`);
    const label = h("label", { for: id }, definition.display_name || definition.name,
      definition.required ? null : h("span.optional", { text: " (optional)" }));
    const element = h("div.field", { "data-field": definition.name }, label, input, help, error);
    return { definition, input, error, element };
  });
  const byName = new Map(fields.map((f) => [f.definition.name, f]));
  const general = h("div.field-error", { role: "alert", hidden: true });

  function show(field, problem) {
    field.error.hidden = !problem;
    field.error.textContent = problem ? problem[0].toUpperCase() + problem.slice(1) : "";
    // The problem is part of the field's description only while there is one.
    const id = field.input.id;
    field.input.setAttribute("aria-describedby", problem ? `${id}-help ${id}-error` : `${id}-help`);
    if (problem) field.input.setAttribute("aria-invalid", "true"); else field.input.removeAttribute("aria-invalid");
  }

  // Problems as the server gives them ({field, message}); a field the form
  // does not have goes into the general message. Focus moves to the first.
  function showProblems(problems, summary) {
    for (const field of fields) show(field, null);
    const others = [];
    for (const problem of problems) {
      const field = byName.get(problem.field);
      if (field) show(field, problem.message); else others.push(`${problem.field}: ${problem.message}`);
    }
    const count = problems.length;
    general.hidden = !count;
    general.textContent = count ? [summary || `${count} field${count > 1 ? "s need" : " needs"} attention.`, ...others].join(" ") : "";
    const first = fields.find((f) => !f.error.hidden);
    if (first) first.input.focus();
  }

  // { values, problems }: the values to send (fields without a value left
  // out, as the server reads them as None) and what the checks refuse.
  function values() {
    const found = {};
    const problems = [];
    for (const { definition, input } of fields) {
      const problem = problemOf(definition, input);
      const outcome = read(definition, input);
      if (problem) problems.push({ field: definition.name, message: problem });
      else if (!outcome.missing) found[definition.name] = outcome.value;
    }
    return { values: found, problems };
  }

  // A field showing a problem is checked again as it is typed in (not when
  // it is left: the layout must not move under a click on "Complete").
  for (const field of fields) field.input.addEventListener("input", () => {
    if (!field.error.hidden) show(field, problemOf(field.definition, field.input));
  });
  return { element: h("div.fields", {}, ...fields.map((f) => f.element), general), values, showProblems };
}
