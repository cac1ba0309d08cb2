// Approvals: the exact action a person is asked to allow (tool and arguments, the instruction,
// or the draft result), and approve / reject with a comment. The inbox lists every run's.

import { get, post, enc } from "./api.js";
import { h, fill, pre, fmtTime, flash, busy } from "./dom.js";

const REFRESH_MS = 3000;

const WHAT = {
  tool: "call a tool",
  task: "run a task",
  result: "accept a result",
};

function field(label, value) {
  return [h("dt", null, label), h("dd", null, value)];
}

/** One pending approval with its decision form; `onDecided(answer)` after approve or reject. */
export function approvalCard(a, onDecided) {
  const id = `comment-${a.run_id}-${a.task}`.replace(/[^A-Za-z0-9_-]/g, "_");
  const comment = h("textarea", { id, rows: 2, cols: 50, name: "comment" });
  const decide = (verb) => (e) =>
    busy(e.currentTarget, async () => {
      const path = `/api/runs/${enc(a.run_id)}/approvals/${enc(a.task)}/${verb}`;
      const answer = await post(path, { comment: comment.value.trim() || undefined });
      flash(`${verb === "approve" ? "Approved" : "Rejected"} ${a.task} of ${a.run_id}`);
      onDecided(answer);
    });
  const details = [
    field("run", h("a", { href: `#/runs/${enc(a.run_id)}` }, a.run_id)),
    a.workflow ? field("workflow", a.workflow) : null,
    field("task", a.task),
    field("action", `${a.action}: ${WHAT[a.action] || a.action}`),
    a.reason ? field("why asked", a.reason) : null,
    a.agent ? field("agent", `${a.agent}${a.attempt ? ` (attempt ${a.attempt})` : ""}`) : null,
    a.tool ? field("tool", h("code", { class: "approval-tool" }, a.tool)) : null,
    a.tool || Object.keys(a.arguments || {}).length ? field("arguments", pre(a.arguments || {}, "value approval-arguments")) : null,
    a.instruction ? field("instruction", pre(a.instruction, "value approval-instruction")) : null,
    a.action === "result" || (a.result !== null && a.result !== undefined) ? field("draft", pre(a.result, "value approval-draft")) : null,
    field("requested", fmtTime(a.requested_at)),
    a.expires_at ? field("expires", fmtTime(a.expires_at)) : null,
    field("action hash", h("code", null, a.action_hash)),
  ];
  return h(
    "section",
    { class: "card approval", dataset: { run: a.run_id, task: a.task }, "aria-label": `approval for ${a.task}` },
    h("h3", null, a.tool ? `Task ${a.task} wants to call ${a.tool}` : `Task ${a.task} asks to ${WHAT[a.action] || a.action}`),
    h("dl", { class: "fields" }, details),
    h("label", { for: id }, "Comment (optional)"),
    comment,
    h(
      "div",
      { class: "actions" },
      h("button", { type: "button", class: "approve", onclick: decide("approve") }, "Approve"),
      h("button", { type: "button", class: "reject danger", onclick: decide("reject") }, "Reject"),
    ),
  );
}

export async function render(main) {
  const list = h("div", { id: "approvals-list" });
  let shown = "";
  const load = async () => {
    const { approvals } = await get("/api/approvals");
    const key = JSON.stringify(approvals.map((a) => [a.run_id, a.task, a.action_hash]));
    if (key === shown) return; // keep a comment being typed
    shown = key;
    fill(
      list,
      approvals.length
        ? approvals.map((a) => approvalCard(a, () => load()))
        : h("p", { class: "muted" }, "Nothing is waiting for approval."),
    );
  };
  await load();
  fill(main, h("h1", null, "Approvals"), h("p", null, "Pending approvals of every run, oldest first."), list);
  const timer = setInterval(() => load().catch(() => {}), REFRESH_MS);
  return () => clearInterval(timer);
}
