// Two runs side by side (typically a run and its fork): per task, status, agent, output, time
// and cost of each.

import { get, enc } from "./api.js";
import { h, fill, pre, badge, table, fmtDuration, fmtCost, fmtInt } from "./dom.js";

function side(r) {
  return h(
    "div",
    { class: "card" },
    h("h2", null, h("a", { href: `#/runs/${enc(r.run_id)}` }, r.run_id), " ", badge(r.status)),
    h("p", null, `${r.workflow} · ${fmtDuration(r.duration_s)} · ${fmtInt((r.tokens_in || 0) + (r.tokens_out || 0))} tokens · ${fmtCost(r.cost_usd)}`),
  );
}

function pair(values, fmt = (v) => v ?? "") {
  return h("div", { class: "pair" }, values.map((v) => h("span", null, fmt(v))));
}

export async function render(main, { params }) {
  const a = params.get("a") || "";
  const b = params.get("b") || "";
  const inA = h("input", { id: "cmp-a", value: a, size: 24 });
  const inB = h("input", { id: "cmp-b", value: b, size: 24 });
  const form = h(
    "form",
    { class: "filters", onsubmit: (e) => { e.preventDefault(); location.hash = `#/compare?a=${enc(inA.value.trim())}&b=${enc(inB.value.trim())}`; } },
    h("label", { for: "cmp-a" }, "Run A "), inA, " ", h("label", { for: "cmp-b" }, "Run B "), inB, " ",
    h("button", { type: "submit" }, "Compare"),
  );
  if (!a || !b) {
    fill(main, h("h1", null, "Compare two runs"), form);
    return null;
  }
  const cmp = await get("/api/compare", { a, b });
  const rows = cmp.tasks.map((t) => [
    h("code", null, t.task),
    h("div", { class: "pair" }, t.status.map((st) => (st ? badge(st) : h("span", null, "absent")))),
    pair(t.agent),
    pair(t.seconds, fmtDuration),
    pair(t.cost_usd, fmtCost),
    t.same_output ? "same" : h("strong", null, "different"),
    h("div", { class: "pair outputs" }, t.output.map((o, i) => h("div", null, t.copied[i] ? h("p", { class: "muted" }, "(copied)") : null, o === null || o === undefined ? h("p", { class: "muted" }, "no output") : pre(o)))),
  ]);
  fill(
    main,
    h("h1", null, "Compare two runs"),
    form,
    h("div", { class: "side-by-side" }, side(cmp.a), side(cmp.b)),
    table(["task", "status (A | B)", "agent", "time", "cost", "output", "outputs (A | B)"], rows, { class: "compare" }),
  );
  return null;
}
