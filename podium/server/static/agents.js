// Agents: what each one is, whether it is healthy (its breakers), what it has learned about
// its success per kind of task, and what it has cost.

import { get } from "./api.js";
import { h, fill, table, fmtCost, fmtInt, fmtDuration } from "./dom.js";

function health(breaker) {
  const states = Object.entries(breaker || {});
  const open = states.filter(([, st]) => st === "open").map(([scope]) => scope);
  const half = states.filter(([, st]) => st === "half_open").map(([scope]) => scope);
  if (open.length) return h("span", { class: "badge status-failed" }, `breaker open (${open.join(", ")})`);
  if (half.length) return h("span", { class: "badge status-waiting" }, `recovering (${half.join(", ")})`);
  return h("span", { class: "badge status-succeeded" }, states.length ? "healthy (breakers closed)" : "healthy");
}

function learned(rows) {
  if (!rows || !rows.length) return h("span", { class: "muted" }, "nothing learned yet");
  return table(
    ["task kind", "runs", "success", "cost", "mean time"],
    rows.map((r) => [r.kind, fmtInt(r.runs), r.success_rate === null || r.success_rate === undefined ? "" : `${(r.success_rate * 100).toFixed(0)}% (${r.successes}/${r.runs})`, fmtCost(r.cost_usd), fmtDuration(r.latency_s_mean)]),
    { class: "compact" },
  );
}

export async function render(main) {
  const { agents } = await get("/api/agents");
  const rows = agents.map((a) => [
    h("strong", null, a.name),
    a.description || "",
    (a.capabilities || []).join(", "),
    a.model || "",
    (a.workflows || []).join(", "),
    health(a.breaker),
    fmtInt(a.runs),
    fmtCost(a.cost_usd),
    learned(a.learned),
  ]);
  fill(
    main,
    h("h1", null, "Agents"),
    agents.length
      ? table(["agent", "description", "capabilities", "model", "workflows", "health", "runs", "cost", "learned success by task kind"], rows, { class: "agents" })
      : h("p", { class: "muted" }, "No agents known: register workflows with the server."),
  );
  return null;
}
