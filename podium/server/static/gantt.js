// A timeline per agent, built from the run's journal: one bar per attempt (TaskStarted → its
// outcome), and a hatched bar before it for the wait (ready or parked on an approval → started).
// Overlapping attempts of one agent go on separate sub-lanes, so parallelism is visible.

import { h, s, fmtDuration } from "./dom.js";

const LANE_H = 22;
const LABEL_W = 130;
const WIDTH = 760;
const END_KINDS = { TaskSucceeded: "succeeded", TaskFailed: "failed", TaskSkipped: "skipped" };

/** Attempts and waits from events: [{task, agent, attempt, start, end, status, kind}]. */
export function spans(events, now) {
  const out = [];
  const open = new Map(); // task -> running bar
  const ready = new Map(); // task -> {ts, why}
  const agentOf = new Map();
  const close = (ev, status) => {
    const bar = open.get(ev.task);
    if (bar) {
      bar.end = ev.ts;
      bar.status = status;
      open.delete(ev.task);
    }
  };
  for (const ev of events) {
    const k = ev.kind;
    if (k === "TaskReady") {
      if (!ready.has(ev.task)) ready.set(ev.task, { ts: ev.ts, why: "waiting to start" });
    } else if (k === "ApprovalRequested") {
      close(ev, "parked");
      if (ev.agent) agentOf.set(ev.task, ev.agent);
      ready.set(ev.task, { ts: ev.ts, why: "waiting for approval" });
    } else if (k === "TaskAssigned") agentOf.set(ev.task, ev.agent);
    else if (k === "TaskStarted") {
      close(ev, "interrupted");
      agentOf.set(ev.task, ev.agent);
      const w = ready.get(ev.task);
      if (w && ev.ts > w.ts) {
        out.push({ task: ev.task, agent: ev.agent, start: w.ts, end: ev.ts, kind: "wait", status: w.why });
      }
      ready.delete(ev.task);
      const bar = { task: ev.task, agent: ev.agent, attempt: ev.attempt || 1, start: ev.ts, end: null, kind: "run", status: "running" };
      open.set(ev.task, bar);
      out.push(bar);
    } else if (k in END_KINDS || k === "TaskRetrying") {
      close(ev, k === "TaskRetrying" ? "failed" : END_KINDS[k]);
    }
  }
  for (const [task, w] of ready) {
    out.push({ task, agent: agentOf.get(task) || "(unassigned)", start: w.ts, end: null, kind: "wait", status: w.why });
  }
  for (const bar of out) if (bar.end === null) bar.end = now;
  return out;
}

function lanes(bars) {
  const byAgent = new Map();
  for (const bar of [...bars].sort((a, b) => a.start - b.start)) {
    const agentLanes = byAgent.get(bar.agent) || [];
    let lane = agentLanes.findIndex((end) => end <= bar.start);
    if (lane < 0) {
      lane = agentLanes.length;
      agentLanes.push(0);
    }
    agentLanes[lane] = bar.end;
    bar.lane = lane;
    byAgent.set(bar.agent, agentLanes);
  }
  return byAgent;
}

/** The timeline of a run's `events` as an <svg>, or a note when nothing has started yet. */
export function ganttSvg(events, now) {
  const bars = spans(events, now);
  if (!bars.length) return h("p", { class: "muted" }, "No task has started yet.");
  const byAgent = lanes(bars);
  // reduce, not Math.min(...xs): a spread of a very long run's bars would overflow the stack
  const t0 = bars.reduce((m, b) => Math.min(m, b.start), Infinity);
  const t1 = bars.reduce((m, b) => Math.max(m, b.end), t0 + 1e-3);
  const scale = (WIDTH - LABEL_W - 10) / (t1 - t0);
  const rows = [];
  const laneTop = new Map();
  let y = 20;
  for (const [agent, agentLanes] of byAgent) {
    laneTop.set(agent, y);
    rows.push(s("text", { x: 4, y: y + 15, class: "gantt-agent" }, agent));
    rows.push(s("line", { x1: 0, x2: WIDTH, y1: y - 2, y2: y - 2, class: "gantt-rule" }));
    y += agentLanes.length * LANE_H + 6;
  }
  const rects = bars.map((b) => {
    const x = LABEL_W + (b.start - t0) * scale;
    const w = Math.max(2, (b.end - b.start) * scale);
    const top = laneTop.get(b.agent) + b.lane * LANE_H;
    const label = `${b.task}${b.kind === "run" ? ` #${b.attempt}` : ""}: ${b.status}, ${fmtDuration(b.end - b.start)}`;
    return s(
      "g",
      { class: `bar bar-${b.kind} status-${b.status.replace(/[^a-z]/g, "")}`, dataset: { task: b.task } },
      s("title", null, label),
      s("rect", { x, y: top, width: w, height: LANE_H - 4, rx: 3 }),
      w > 40 ? s("text", { x: x + 4, y: top + 13, class: "bar-label" }, b.task) : null,
    );
  });
  const axis = [0, 0.25, 0.5, 0.75, 1].map((f) =>
    s("text", { x: LABEL_W + f * (WIDTH - LABEL_W - 10), y: 12, class: "gantt-tick", "text-anchor": f === 1 ? "end" : "middle" }, `+${fmtDuration(f * (t1 - t0)) || "0 ms"}`),
  );
  return s(
    "svg",
    { class: "gantt", width: WIDTH, height: y, viewBox: `0 0 ${WIDTH} ${y}`, role: "img", "aria-label": "timeline per agent" },
    axis,
    rows,
    rects,
  );
}
