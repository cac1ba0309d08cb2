// Metrics: the seed's six metrics for a window, against their targets, and over time (the
// window cut into buckets), plus the counters behind them, per workflow and per agent.

import { get } from "./api.js";
import { h, fill, table, fmtCost, fmtInt, fmtDuration } from "./dom.js";
import { lineChart } from "./charts.js";

const WINDOWS = [["3600", "last hour"], ["86400", "last day"], ["604800", "last 7 days"], ["2592000", "last 30 days"], ["", "all time"]];

const pct = (v) => (v === null || v === undefined ? "no data" : `${(v * 100).toFixed(v < 0.1 ? 2 : 1)}%`);
const secs = (v) => (v === null || v === undefined ? "no data" : fmtDuration(v));
const score = (v) => (v === null || v === undefined ? "no data" : Number(v).toFixed(2));
const usd = (v) => (v === null || v === undefined ? "no data" : fmtCost(v));

const CHARTS = [
  { metric: "completion_rate", key: "completion_rate", title: "Completion rate (no person needed)", fmt: pct, ceiling: 1 },
  { metric: "step_latency", key: "step_latency_mean_s", title: "Mean step latency", fmt: secs },
  { metric: "error_rate", key: "error_rate", title: "Error rate", fmt: pct, ceiling: 1 },
  { metric: "hallucination_rate", key: "hallucination_rate", title: "Hallucination rate (grounding rejections)", fmt: pct, ceiling: 1 },
  { metric: "satisfaction", key: "satisfaction", title: "User satisfaction (1–5)", fmt: score, ceiling: 5 },
  { metric: "cost_per_run", key: "cost_per_run_usd", title: "Cost per workflow run", fmt: usd },
];

function targetText(check, fmt, trend) {
  if (check.comparison === "trend") return `trend: ${trend.direction} (should not increase)`;
  return `target ${check.comparison} ${fmt(check.target)}`;
}

function card(spec, check, report) {
  const points = report.series.map((b) => ({ t: (b.start + b.end) / 2, value: b.runs ? b[spec.key] : null }));
  const status = check ? check.status : "no data";
  return h(
    "section",
    { class: "card metric", dataset: { metric: spec.metric } },
    h("h3", null, spec.title),
    h("p", { class: "metric-value" }, spec.fmt(check ? check.value : null), " ",
      h("span", { class: `badge target-${status.replace(" ", "-")}` }, status), " ",
      h("span", { class: "muted" }, check ? targetText(check, spec.fmt, report.cost_trend) : "")),
    lineChart({ title: spec.title, points, target: check && check.comparison !== "trend" ? check.target : null, ceiling: spec.ceiling, fmt: spec.fmt }),
  );
}

function counters(t) {
  const rows = [
    ["runs (finished)", `${fmtInt(t.runs)} (${fmtInt(t.finished_runs)})`],
    ["step latency p50 / p95", `${secs(t.step_latency_p50_s)} / ${secs(t.step_latency_p95_s)}`],
    ["tokens in / out", `${fmtInt(t.input_tokens)} / ${fmtInt(t.output_tokens)}`],
    ["retries", fmtInt(t.retries)],
    ["breaker openings", fmtInt(t.breaker_openings)],
    ["loop / stall stops", `${fmtInt(t.loop_stops)} / ${fmtInt(t.stall_stops)}`],
    ["approvals asked / granted / rejected", `${fmtInt(t.approvals_requested)} / ${fmtInt(t.approvals_granted)} / ${fmtInt(t.approvals_rejected)}`],
    ["approval wait mean / p95", `${secs(t.approval_wait_mean_s)} / ${secs(t.approval_wait_p95_s)}`],
    ["feedback ratings", fmtInt(t.feedback_count)],
  ];
  return table(["counter", "value"], rows, { class: "compact" });
}

function breakdown(title, byName) {
  const names = Object.keys(byName || {});
  if (!names.length) return null;
  return h(
    "section",
    null,
    h("h2", null, title),
    table(
      ["name", "runs / attempts", "completion", "step p50", "error rate", "cost"],
      names.map((n) => {
        const x = byName[n];
        return [n, fmtInt(x.runs ?? x.attempts), x.completion_rate === undefined ? "" : pct(x.completion_rate), secs(x.step_latency_p50_s), pct(x.error_rate), fmtCost(x.cost_usd ?? (x.cost_per_run_usd ?? 0) * (x.runs ?? 0))];
      }),
      { class: "compact" },
    ),
  );
}

export async function render(main, { params }) {
  const since = params.has("since") ? params.get("since") : "604800";
  const workflow = params.get("workflow") || "";
  const report = await get("/api/metrics", { since: since ? Date.now() / 1000 - Number(since) : "", workflow, buckets: 12 });
  const win = h("select", { id: "m-since" }, WINDOWS.map(([v, label]) => h("option", { value: v, selected: v === since }, label)));
  const wf = h("input", { id: "m-workflow", value: workflow, size: 16 });
  const form = h(
    "form",
    { class: "filters", onsubmit: (e) => { e.preventDefault(); location.hash = `#/metrics?since=${win.value}&workflow=${encodeURIComponent(wf.value.trim())}`; } },
    h("label", { for: "m-since" }, "Window "), win, " ", h("label", { for: "m-workflow" }, "Workflow "), wf, " ",
    h("button", { type: "submit" }, "Show"),
  );
  const checks = new Map(report.targets.map((c) => [c.metric, c]));
  fill(
    main,
    h("h1", null, "Metrics"),
    form,
    h("p", null, `${fmtInt(report.runs)} run(s) in the window, ${report.series.length} time buckets.`),
    h("div", { class: "charts" }, CHARTS.map((spec) => card(spec, checks.get(spec.metric), report))),
    h("section", null, h("h2", null, "Counters"), counters(report.totals)),
    breakdown("Per workflow", report.workflows),
    breakdown("Per agent", report.agents),
  );
  return null;
}
