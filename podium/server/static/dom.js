// Building DOM nodes from data, safely: every value becomes a text node or an attribute, never
// markup. Agent outputs, tool arguments and error messages are hostile input; nothing here ever
// parses a string as HTML.

const SVG_NS = "http://www.w3.org/2000/svg";

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

function setAttrs(el, attrs) {
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") {
      el.addEventListener(key.slice(2), value);
    } else if (key === "dataset") {
      Object.assign(el.dataset, value);
    } else {
      el.setAttribute(key, value === true ? "" : String(value));
    }
  }
  return el;
}

/** An HTML element: h("a", {href: "#/runs"}, "Runs"). Children are text or nodes. */
export function h(tag, attrs, ...children) {
  return append(setAttrs(document.createElement(tag), attrs), children);
}

/** An SVG element, the same way. */
export function s(tag, attrs, ...children) {
  return append(setAttrs(document.createElementNS(SVG_NS, tag), attrs), children);
}

/** Replace everything inside `el` with `children`. */
export function fill(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

const MAX_SHOWN = 100_000;

function text(value) {
  if (value === null || value === undefined) return "";
  if (typeof value === "string") return value;
  try {
    return JSON.stringify(value, null, 2);
  } catch {
    return String(value);
  }
}

/** A JSON value as readable text (strings as they are, the rest pretty-printed); a huge one is
 * cut, saying so, so that one enormous output cannot freeze the page (the API has it whole). */
export function show(value) {
  const out = text(value);
  if (out.length <= MAX_SHOWN) return out;
  return `${out.slice(0, MAX_SHOWN)}\n… (${(out.length - MAX_SHOWN).toLocaleString()} more characters; the API has the whole value)`;
}

export function fmtTime(ts) {
  if (!ts) return "";
  const d = new Date(ts * 1000);
  return d.toLocaleString(undefined, { hour12: false });
}

export function fmtDuration(seconds) {
  if (seconds === null || seconds === undefined || Number.isNaN(seconds)) return "";
  if (seconds < 1) return `${Math.round(seconds * 1000)} ms`;
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  const m = Math.floor(seconds / 60);
  if (m < 60) return `${m} min ${Math.round(seconds % 60)} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

export function fmtCost(usd) {
  if (usd === null || usd === undefined) return "";
  return `$${Number(usd).toFixed(usd < 0.01 && usd > 0 ? 5 : 4)}`;
}

export function fmtInt(n) {
  return n === null || n === undefined ? "" : Number(n).toLocaleString();
}

/** A status as a badge: coloured, and always the word too (colour is never the only cue). */
export function badge(status) {
  const word = String(status || "unknown");
  return h("span", { class: `badge status-${word.replace(/[^a-z_]/g, "")}` }, word.replaceAll("_", " "));
}

/** A small table from headers and rows of cells (text or nodes). */
export function table(headers, rows, attrs) {
  return h(
    "table",
    attrs,
    h("thead", null, h("tr", null, headers.map((x) => h("th", { scope: "col" }, x)))),
    h("tbody", null, rows.map((r) => h("tr", null, r.map((c) => h("td", null, c))))),
  );
}

/** A preformatted block for values, outputs and tracebacks. */
export function pre(value, cls) {
  return h("pre", { class: cls || "value" }, show(value));
}

/** A message at the top of the page ("error" or "info"); it replaces the previous one. */
export function flash(message, kind = "info") {
  const box = document.getElementById("flash");
  if (box) fill(box, message ? h("p", { class: `flash flash-${kind}` }, message) : null);
}

/** Run `action` (async) for a button: disabled meanwhile, errors shown at the top. */
export async function busy(button, action) {
  button.disabled = true;
  try {
    return await action();
  } catch (err) {
    flash(String(err.message || err), "error");
    return undefined;
  } finally {
    button.disabled = false;
  }
}
