// The dashboard's entry point: a router by URL hash. Each page is a module exporting
// `render(main, params)`, which may return a function that stops its live updates.

import { get, setToken, ApiError } from "./api.js";
import { h, fill, flash } from "./dom.js";
import * as runs from "./runs.js";
import * as run from "./run.js";
import * as approvals from "./approvals.js";
import * as agents from "./agents.js";
import * as metrics from "./metrics.js";
import * as compare from "./compare.js";

const ROUTES = [
  [/^#\/runs\/([^/?]+)$/, run, "runs"],
  [/^#\/compare$/, compare, "runs"],
  [/^#\/approvals$/, approvals, "approvals"],
  [/^#\/agents$/, agents, "agents"],
  [/^#\/metrics$/, metrics, "metrics"],
  [/^#\/runs$/, runs, "runs"],
];

let stop = null;

function signIn(main) {
  const input = h("input", { id: "token", type: "password", autocomplete: "off", required: true });
  const form = h(
    "form",
    { class: "card", onsubmit: (e) => { e.preventDefault(); setToken(input.value.trim()); route(); } },
    h("h1", null, "Sign in"),
    h("p", null, "This server needs a bearer token."),
    h("label", { for: "token" }, "Token "),
    input,
    " ",
    h("button", { type: "submit" }, "Sign in"),
  );
  fill(main, form);
}

export async function route() {
  if (stop) stop();
  stop = null;
  const hash = location.hash.split("?")[0] || "#/runs";
  const params = new URLSearchParams(location.hash.split("?")[1] || "");
  const main = document.getElementById("view");
  const found = ROUTES.map(([re, mod, nav]) => [hash.match(re), mod, nav]).find(([m]) => m);
  flash("");
  for (const a of document.querySelectorAll("nav a")) {
    a.toggleAttribute("aria-current", !!found && a.dataset.nav === found[2]);
  }
  if (!found) {
    fill(main, h("h1", null, "Not found"), h("p", null, h("a", { href: "#/runs" }, "Back to the runs")));
    return;
  }
  const [match, mod] = found;
  fill(main, h("p", { class: "muted" }, "Loading…"));
  try {
    stop = (await mod.render(main, { id: match[1] && decodeURIComponent(match[1]), params })) || null;
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) return signIn(main);
    fill(main, h("h1", null, "Could not load this page"), h("p", { class: "error" }, String(err.message || err)));
  }
}

async function whoAmI() {
  try {
    const me = await get("/api/me");
    fill(document.getElementById("me"), `${me.user} (${(me.roles || []).join(", ")})`);
  } catch {
    fill(document.getElementById("me"), "");
  }
}

window.addEventListener("hashchange", route);
if (!location.hash) history.replaceState(null, "", "#/runs");
whoAmI();
route();
