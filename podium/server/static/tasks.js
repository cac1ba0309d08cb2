// The parts of a run page that show what happened: each task with its attempts, the
// blackboard with every version, and usage per agent and model.

import { h, pre, badge, table, fmtTime, fmtDuration, fmtCost, fmtInt } from "./dom.js";

function errorBlock(err) {
  if (!err) return null;
  return h(
    "div",
    { class: "error-block" },
    h("p", { class: "error" }, `${err.type}: ${err.message}${err.retryable ? " (retryable)" : ""}`),
    err.traceback ? h("details", null, h("summary", null, "Traceback"), pre(err.traceback, "value traceback")) : null,
  );
}

function routing(r) {
  if (!r) return null;
  const candidates = r.candidates || [];
  return h(
    "div",
    { class: "routing" },
    h("p", null, h("strong", null, "Routing: "), r.reason || "(no reason recorded)"),
    candidates.length
      ? h("details", null, h("summary", null, `${candidates.length} candidate(s)`), pre(candidates))
      : null,
  );
}

function modelCalls(calls) {
  if (!calls || !calls.length) return null;
  return table(
    ["model", "provider", "tokens in", "tokens out", "cost", "latency"],
    calls.map((c) => [c.model, c.provider || "", fmtInt(c.tokens_in), fmtInt(c.tokens_out), fmtCost(c.cost_usd), fmtDuration(c.latency_s)]),
    { class: "compact" },
  );
}

function toolCalls(calls) {
  if (!calls || !calls.length) return null;
  return h(
    "ol",
    { class: "tool-calls" },
    calls.map((c) =>
      h(
        "li",
        null,
        h("p", null, h("code", null, c.tool), ` (${c.effect || "read"}, ${fmtDuration(c.latency_s)})`),
        h("p", { class: "label" }, "arguments"),
        pre(c.arguments || {}),
        c.error ? h("p", { class: "error" }, `error: ${c.error}`) : [h("p", { class: "label" }, "result"), pre(c.result)],
      ),
    ),
  );
}

function attempt(a) {
  return h(
    "li",
    { class: "attempt" },
    h("p", null, h("strong", null, `Attempt ${a.attempt}`), " by ", h("code", null, a.agent), " ", badge(a.status),
      ` ${fmtTime(a.started_ts)}`, a.ended_ts ? ` (${fmtDuration(a.ended_ts - a.started_ts)})` : "",
      ` · ${fmtInt((a.tokens_in || 0) + (a.tokens_out || 0))} tokens · ${fmtCost(a.cost_usd)}`),
    routing(a.routing),
    modelCalls(a.model_calls),
    toolCalls(a.tool_calls),
    errorBlock(a.error),
  );
}

/** One task as a <details> block; `onFork(task)` offers the fork form for it. */
export function taskBlock(t, open, onFork) {
  const agent = t.assigned || t.agent || t.capability || "";
  return h(
    "details",
    { class: "task", id: `task-${t.id}`, open, dataset: { task: t.id } },
    h("summary", null, h("code", null, t.id), " ", badge(t.status), agent ? ` ${agent}` : "",
      t.duration_s !== null && t.duration_s !== undefined ? ` · ${fmtDuration(t.duration_s)}` : "",
      t.copied ? " · copied from the parent run" : "", t.optional ? " · optional" : ""),
    h("div", { class: "task-body" },
      t.needs && t.needs.length ? h("p", null, `Needs: ${t.needs.join(", ")}`) : null,
      t.instruction ? [h("p", { class: "label" }, "Instruction"), pre(t.instruction)] : null,
      t.attempts && t.attempts.length ? h("ol", { class: "attempts" }, t.attempts.map(attempt)) : h("p", { class: "muted" }, "No attempt yet."),
      errorBlock(t.error),
      t.output !== null && t.output !== undefined ? [h("p", { class: "label" }, "Output"), pre(t.output, "value task-output")] : null,
      onFork ? h("button", { type: "button", class: "fork-task", onclick: () => onFork(t) }, `Fork from ${t.id}…`) : null,
    ),
  );
}

/** The blackboard: every key with every version, its author, task and sources. */
export function blackboard(entries) {
  if (!entries || !entries.length) return h("p", { class: "muted" }, "Nothing written to the blackboard.");
  return entries.map((e) =>
    h(
      "section",
      { class: "board-entry" },
      h("h3", null, h("code", null, e.key), ` (${e.versions.length} version${e.versions.length === 1 ? "" : "s"})`),
      table(
        ["version", "value", "author", "task", "sources", "confidence", "written"],
        e.versions.map((v) => [
          String(v.version), pre(v.value), v.agent || "", v.task || "", (v.sources || []).join(", "),
          v.confidence === null || v.confidence === undefined ? "" : String(v.confidence), fmtTime(v.ts),
        ]),
        { class: "compact" },
      ),
    ),
  );
}

/** Tokens and cost per agent and model, with a total row. */
export function usage(rows) {
  if (!rows || !rows.length) return h("p", { class: "muted" }, "No model was called.");
  const sum = (k) => rows.reduce((acc, r) => acc + (r[k] || 0), 0);
  const body = rows.map((r) => [r.agent || "", r.model || "", fmtInt(r.calls), fmtInt(r.tokens_in), fmtInt(r.tokens_out), fmtCost(r.cost_usd)]);
  body.push([h("strong", null, "total"), "", fmtInt(sum("calls")), fmtInt(sum("tokens_in")), fmtInt(sum("tokens_out")), fmtCost(sum("cost_usd"))]);
  return table(["agent", "model", "calls", "tokens in", "tokens out", "cost"], body, { class: "usage" });
}
