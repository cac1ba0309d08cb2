// The runs list: filters, newest first, cursor pagination, refreshed every few seconds.

import { get, post, enc } from "./api.js";
import { h, fill, badge, table, fmtTime, fmtDuration, fmtCost, fmtInt, flash, busy } from "./dom.js";

const STATUSES = ["", "running", "waiting", "interrupted", "succeeded", "partially_succeeded", "failed", "cancelled"];
const SINCE = [["", "any time"], [3600, "last hour"], [86400, "last day"], [7 * 86400, "last 7 days"], [30 * 86400, "last 30 days"]];
const REFRESH_MS = 3000;

function row(r) {
  return [
    h("a", { href: `#/runs/${enc(r.run_id)}`, class: "run-link" }, r.run_id),
    badge(r.status),
    r.workflow || "",
    fmtTime(r.started_ts),
    fmtDuration(r.duration_s),
    fmtInt((r.tokens_in || 0) + (r.tokens_out || 0)),
    fmtCost(r.cost_usd),
    r.forked_from ? h("a", { href: `#/runs/${enc(r.forked_from.run_id)}` }, `fork of ${r.forked_from.run_id}`) : "",
  ];
}

function select(id, options, value) {
  return h("select", { id, name: id }, options.map(([v, label]) => h("option", { value: v, selected: String(v) === value }, label)));
}

async function startForm(onStarted) {
  let workflows = [];
  try {
    workflows = (await get("/api/workflows")).workflows.filter((w) => !w.error);
  } catch {
    return null; // the list is optional: a server without registered workflows has none
  }
  if (!workflows.length) return null;
  const wf = select("start-workflow", workflows.map((w) => [w.name, w.name]), "");
  const inputs = h("textarea", { id: "start-inputs", rows: 2, cols: 40, placeholder: '{"topic": "…"}' });
  const button = h("button", { type: "submit" }, "Start run");
  return h(
    "details",
    { class: "card" },
    h("summary", null, "Start a run"),
    h(
      "form",
      {
        onsubmit: (e) => {
          e.preventDefault();
          busy(button, async () => {
            const body = { workflow: wf.value, inputs: inputs.value.trim() ? JSON.parse(inputs.value) : {} };
            const r = await post("/api/runs", body);
            flash(`Started ${r.run_id}`);
            onStarted(r);
          });
        },
      },
      h("label", { for: "start-workflow" }, "Workflow "), wf, " ",
      h("label", { for: "start-inputs" }, "Inputs (JSON) "), inputs, " ", button,
    ),
  );
}

export async function render(main, { params }) {
  const filters = {
    status: params.get("status") || "",
    workflow: params.get("workflow") || "",
    since: params.get("since") || "",
  };
  const status = select("f-status", STATUSES.map((x) => [x, x ? x.replaceAll("_", " ") : "any status"]), filters.status);
  const workflow = h("input", { id: "f-workflow", name: "workflow", value: filters.workflow, size: 16 });
  const since = select("f-since", SINCE, filters.since);
  const form = h(
    "form",
    {
      class: "filters",
      onsubmit: (e) => {
        e.preventDefault();
        const q = new URLSearchParams({ status: status.value, workflow: workflow.value.trim(), since: since.value });
        for (const [k, v] of [...q]) if (!v) q.delete(k);
        location.hash = `#/runs${q.toString() ? `?${q}` : ""}`;
      },
    },
    h("label", { for: "f-status" }, "Status "), status, " ",
    h("label", { for: "f-workflow" }, "Workflow "), workflow, " ",
    h("label", { for: "f-since" }, "Started "), since, " ",
    h("button", { type: "submit" }, "Filter"),
  );
  const body = h("div", { id: "runs-table", "aria-live": "polite" });
  const more = h("div");
  let pages = 1;
  const query = (cursor) => ({
    status: filters.status,
    workflow: filters.workflow,
    since: filters.since ? Date.now() / 1000 - Number(filters.since) : "",
    cursor,
  });
  let busyLoading = false;
  let failing = false;
  const load = async () => {
    if (busyLoading) return;
    busyLoading = true;
    try {
      await loadPages();
      if (failing) flash("");
      failing = false;
    } catch (err) {
      failing = true;
      flash(`Could not refresh the runs: ${err.message || err}`, "error");
    } finally {
      busyLoading = false;
    }
  };
  const loadPages = async () => {
    let cursor = "";
    const all = [];
    for (let i = 0; i < pages; i++) {
      const page = await get("/api/runs", query(cursor));
      all.push(...page.runs);
      cursor = page.next_cursor;
      if (!cursor) break;
    }
    fill(
      body,
      all.length
        ? table(["run", "status", "workflow", "started", "duration", "tokens", "cost", ""], all.map(row), { class: "runs" })
        : h("p", { class: "muted" }, "No runs match."),
    );
    fill(more, cursor ? h("button", { type: "button", onclick: () => { pages += 1; load(); } }, "More") : null);
  };
  await loadPages();
  fill(main, h("h1", null, "Runs"), await startForm((r) => { location.hash = `#/runs/${enc(r.run_id)}`; }), form, body, more);
  const timer = setInterval(load, REFRESH_MS);
  return () => clearInterval(timer);
}
