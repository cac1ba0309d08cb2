// One run: header and actions, pending approvals, the task graph and the timeline (both live
// from the event stream), each task's attempts, the blackboard, usage, and time travel (fork from
// a task, compare with another run).

import { get, post, follow, enc } from "./api.js";
import { h, fill, pre, badge, fmtTime, fmtDuration, fmtCost, fmtInt, flash, busy } from "./dom.js";
import { dagSvg } from "./dag.js";
import { ganttSvg } from "./gantt.js";
import { approvalCard } from "./approvals.js";
import { taskBlock, blackboard, usage } from "./tasks.js";

const FINISHED = new Set(["succeeded", "partially_succeeded", "failed", "cancelled"]);
const TERMINAL_KINDS = new Set(["RunSucceeded", "RunPartiallySucceeded", "RunFailed", "RunCancelled"]);

function summary(r) {
  const facts = [
    ["workflow", r.workflow],
    ["started", fmtTime(r.started_ts)],
    ["duration", fmtDuration(r.duration_s)],
    ["tokens", `${fmtInt(r.tokens_in)} in / ${fmtInt(r.tokens_out)} out`],
    ["cost", fmtCost(r.cost_usd)],
    ["events", fmtInt(r.events)],
  ];
  if (r.driven_by) facts.push(["driven by", r.driven_by]);
  if (r.reason) facts.push(["reason", `${r.reason}${r.message ? `: ${r.message}` : ""}`]);
  return h(
    "dl",
    { class: "fields inline" },
    facts.map(([k, v]) => [h("dt", null, k), h("dd", null, v ?? "")]),
    r.forked_from
      ? [h("dt", null, "forked from"), h("dd", null, h("a", { href: `#/runs/${enc(r.forked_from.run_id)}` }, r.forked_from.run_id), ` at ${r.forked_from.task}`)]
      : null,
  );
}

function forkForm(run, holder) {
  const tasks = run.tasks;
  const pick = h("select", { id: "fork-task" }, tasks.map((t) => h("option", { value: t.id }, t.id)));
  const inputs = h("textarea", { id: "fork-inputs", rows: 3, cols: 50 }, JSON.stringify(run.inputs || {}, null, 2));
  const instruction = h("textarea", { id: "fork-instruction", rows: 3, cols: 50 });
  const agent = h("input", { id: "fork-agent", size: 20, placeholder: "unchanged" });
  const fillTask = () => {
    const t = tasks.find((x) => x.id === pick.value);
    instruction.value = (t && t.instruction) || "";
    agent.value = "";
  };
  pick.addEventListener("change", fillTask);
  fillTask();
  const button = h("button", { type: "submit" }, "Fork");
  const form = h(
    "form",
    {
      class: "fork",
      onsubmit: (e) => {
        e.preventDefault();
        busy(button, async () => {
          const t = tasks.find((x) => x.id === pick.value);
          const body = { task: pick.value, inputs: JSON.parse(inputs.value || "{}") };
          if (instruction.value !== ((t && t.instruction) || "")) body.instruction = instruction.value;
          if (agent.value.trim()) body.agent = agent.value.trim();
          const child = await post(`/api/runs/${enc(run.run_id)}/fork`, body);
          location.hash = `#/runs/${enc(child.run_id)}`;
        });
      },
    },
    h("p", null, "A new run: this run's journal up to the task, then the task and everything after it again, with your changes."),
    h("label", { for: "fork-task" }, "From task "), pick, h("br"),
    h("label", { for: "fork-inputs" }, "Inputs (JSON)"), h("br"), inputs, h("br"),
    h("label", { for: "fork-instruction" }, "Instruction"), h("br"), instruction, h("br"),
    h("label", { for: "fork-agent" }, "Agent "), agent, " ", button,
  );
  holder.open = false;
  fill(holder, h("summary", null, "Fork from a task"), form);
  return (taskId) => {
    pick.value = taskId;
    fillTask();
    holder.open = true;
    holder.scrollIntoView({ block: "nearest" });
    pick.focus();
  };
}

function actions(run, reload) {
  const cancel = h("button", { type: "button", class: "danger", disabled: FINISHED.has(run.status), onclick: (e) =>
    busy(e.currentTarget, async () => { await post(`/api/runs/${enc(run.run_id)}/cancel`, { reason: "cancelled from the dashboard" }); await reload(); }) }, "Cancel run");
  const resume = h("button", { type: "button", disabled: FINISHED.has(run.status) || !!run.driven_by, onclick: (e) =>
    busy(e.currentTarget, async () => { await post(`/api/runs/${enc(run.run_id)}/resume`, {}); flash("Resumed"); await reload(); }) }, "Resume");
  const other = h("input", { id: "compare-with", size: 22, placeholder: "another run id" });
  const compare = h("form", { class: "inline", onsubmit: (e) => {
    e.preventDefault();
    if (other.value.trim()) location.hash = `#/compare?a=${enc(run.run_id)}&b=${enc(other.value.trim())}`;
  } }, h("label", { for: "compare-with" }, "Compare with "), other, " ", h("button", { type: "submit" }, "Compare"));
  const score = h("select", { id: "feedback-score" }, [5, 4, 3, 2, 1].map((n) => h("option", { value: n }, String(n))));
  const note = h("input", { id: "feedback-comment", size: 24 });
  const rate = h("form", { class: "inline", onsubmit: (e) => {
    e.preventDefault();
    busy(e.submitter, async () => {
      await post(`/api/runs/${enc(run.run_id)}/feedback`, { score: Number(score.value), comment: note.value.trim() || undefined });
      flash("Thank you: feedback recorded");
      note.value = "";
    });
  } }, h("label", { for: "feedback-score" }, "Rate "), score, " ", h("label", { for: "feedback-comment" }, "comment "), note, " ", h("button", { type: "submit" }, "Send"));
  return h("div", { class: "actions" }, resume, cancel, compare, rate);
}

const PAGE = 10000;

async function journal(id) {
  const out = [];
  for (;;) {
    const after = out.length ? out[out.length - 1].seq : -1;
    const page = (await get(`/api/runs/${enc(id)}/events`, { after, limit: PAGE })).events;
    out.push(...page);
    if (page.length < PAGE) return out;
  }
}

export async function render(main, { id }) {
  let run = await get(`/api/runs/${enc(id)}`);
  const events = await journal(id);
  const parts = {
    head: h("div"), actions: h("div"), approvals: h("div", { id: "run-approvals" }), dag: h("div", { class: "scroll", id: "dag" }),
    gantt: h("div", { class: "scroll", id: "gantt" }), tasks: h("div", { id: "tasks" }), board: h("div"), usage: h("div"), io: h("div"),
  };
  const forkHolder = h("details", { class: "card", id: "fork" });
  let openFork = () => {};
  let shownApprovals = null;
  let forkKey = null;
  const select = (taskId) => {
    const el = document.getElementById(`task-${taskId}`);
    if (el) { el.open = true; el.scrollIntoView({ block: "start" }); }
  };
  const update = () => {
    const open = new Set([...parts.tasks.querySelectorAll("details[open]")].map((d) => d.dataset.task));
    fill(parts.head, h("h1", null, "Run ", h("code", null, run.run_id), " ", h("span", { id: "run-status" }, badge(run.status))), summary(run));
    fill(parts.actions, actions(run, reload));
    const key = JSON.stringify(run.approvals.map((a) => a.action_hash));
    if (key !== shownApprovals) {
      shownApprovals = key;
      fill(parts.approvals, run.approvals.length ? [h("h2", null, "Waiting for approval"), run.approvals.map((a) => approvalCard(a, reload))] : null);
    }
    fill(parts.dag, run.tasks.length ? dagSvg(run.tasks.map((t) => ({ ...t, agent: t.assigned || t.agent })), select) : h("p", { class: "muted" }, "No plan yet."));
    fill(parts.gantt, ganttSvg(events, run.ended_ts || Math.max(Date.now() / 1000, events.length ? events[events.length - 1].ts : 0)));
    fill(parts.tasks, run.tasks.map((t) => taskBlock(t, open.has(t.id), FINISHED.has(run.status) ? (task) => openFork(task.id) : null)));
    fill(parts.board, blackboard(run.blackboard));
    fill(parts.usage, usage(run.usage));
    fill(parts.io, h("p", { class: "label" }, "Inputs"), pre(run.inputs || {}),
      run.output !== null && run.output !== undefined ? [h("p", { class: "label" }, "Output"), pre(run.output, "value run-output")] : null,
      run.missing && run.missing.length ? h("p", { class: "error" }, `Missing: ${run.missing.join(", ")}`) : null);
    const fk = JSON.stringify([run.status, run.tasks.map((t) => t.id)]);
    if (fk !== forkKey) {
      forkKey = fk;
      forkHolder.hidden = !FINISHED.has(run.status);
      if (!forkHolder.hidden) openFork = forkForm(run, forkHolder);
    }
  };
  let pending = null;
  const reload = async () => {
    try {
      run = await get(`/api/runs/${enc(id)}`);
      update();
    } catch (err) {
      flash(`Could not refresh: ${err.message || err}`, "error");
    }
  };
  const soon = () => {
    if (!pending) pending = setTimeout(() => { pending = null; reload(); }, 200);
  };
  update();
  fill(main, parts.head, parts.actions, parts.approvals,
    h("section", null, h("h2", null, "Task graph"), parts.dag),
    h("section", null, h("h2", null, "Timeline per agent"), parts.gantt),
    h("section", null, h("h2", null, "Tasks"), parts.tasks),
    forkHolder,
    h("section", null, h("h2", null, "Inputs and output"), parts.io),
    h("section", null, h("h2", null, "Blackboard"), parts.board),
    h("section", null, h("h2", null, "Cost and tokens per agent and model"), parts.usage));
  let ended = FINISHED.has(run.status);
  const last = events.length ? events[events.length - 1].seq : -1;
  const stop = follow(id, last, (ev) => {
    events.push(ev);
    if (TERMINAL_KINDS.has(ev.kind)) ended = true;
    soon();
  }, { isDone: () => ended });
  return () => { stop(); clearTimeout(pending); };
}
