// The task graph as a layered DAG in SVG: a task's column is its dependency depth (the longest
// chain of `needs` before it), so everything in one column could run in parallel.

import { s } from "./dom.js";

const COL_W = 190;
const ROW_H = 64;
const NODE_W = 160;
const NODE_H = 44;
const PAD = 12;

/** Each task's depth: 0 without needs, else 1 + the deepest need (unknown needs are ignored). */
export function layers(tasks) {
  const byId = new Map(tasks.map((t) => [t.id, t]));
  const depth = new Map();
  const visiting = new Set();
  const visit = (id) => {
    if (depth.has(id)) return depth.get(id);
    if (visiting.has(id)) return 0; // a cycle cannot be planned; never loop on bad data
    visiting.add(id);
    const needs = (byId.get(id)?.needs || []).filter((n) => byId.has(n));
    const d = needs.length ? 1 + Math.max(...needs.map(visit)) : 0;
    visiting.delete(id);
    depth.set(id, d);
    return d;
  };
  tasks.forEach((t) => visit(t.id));
  return depth;
}

function positions(tasks) {
  const depth = layers(tasks);
  const rows = new Map();
  const pos = new Map();
  for (const t of tasks) {
    const d = depth.get(t.id);
    const row = rows.get(d) || 0;
    rows.set(d, row + 1);
    pos.set(t.id, { x: PAD + d * COL_W, y: PAD + row * ROW_H });
  }
  const width = PAD * 2 + (Math.max(0, ...depth.values()) * COL_W + NODE_W);
  const height = PAD * 2 + (Math.max(1, ...rows.values()) - 1) * ROW_H + NODE_H;
  return { pos, width, height };
}

function clip(text, n) {
  return text.length > n ? `${text.slice(0, n - 1)}…` : text;
}

/**
 * The graph of `tasks` ({id, needs, status, agent}) as an <svg>. `onSelect(id)` is called when a
 * node is clicked or activated from the keyboard.
 */
export function dagSvg(tasks, onSelect) {
  const { pos, width, height } = positions(tasks);
  const edges = [];
  for (const t of tasks) {
    for (const need of t.needs || []) {
      const a = pos.get(need);
      const b = pos.get(t.id);
      if (!a || !b) continue;
      const x1 = a.x + NODE_W;
      const y1 = a.y + NODE_H / 2;
      const x2 = b.x;
      const y2 = b.y + NODE_H / 2;
      const mid = (x1 + x2) / 2;
      edges.push(
        s("path", {
          class: "edge",
          d: `M${x1},${y1} C${mid},${y1} ${mid},${y2} ${x2},${y2}`,
          "marker-end": "url(#arrow)",
        }),
      );
    }
  }
  const nodes = tasks.map((t) => {
    const p = pos.get(t.id);
    const status = t.status || "pending";
    const activate = () => onSelect && onSelect(t.id);
    return s(
      "g",
      {
        class: `node status-${status}`,
        transform: `translate(${p.x},${p.y})`,
        tabindex: "0",
        role: "button",
        "aria-label": `task ${t.id}: ${status}`,
        dataset: { task: t.id, status },
        onclick: activate,
        onkeydown: (e) => {
          if (e.key === "Enter" || e.key === " ") {
            e.preventDefault();
            activate();
          }
        },
      },
      s("title", null, `${t.id} — ${status}${t.agent ? ` — ${t.agent}` : ""}`),
      s("rect", { width: NODE_W, height: NODE_H, rx: 6 }),
      s("text", { x: 8, y: 18, class: "node-id" }, clip(t.id, 22)),
      s("text", { x: 8, y: 35, class: "node-status" }, clip(`${status}${t.agent ? ` · ${t.agent}` : ""}`, 26)),
    );
  });
  return s(
    "svg",
    {
      class: "dag",
      width,
      height,
      viewBox: `0 0 ${width} ${height}`,
      role: "group",
      "aria-label": "task graph",
    },
    s(
      "defs",
      null,
      s(
        "marker",
        { id: "arrow", viewBox: "0 0 10 10", refX: 10, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto" },
        s("path", { d: "M0,0 L10,5 L0,10 z", class: "arrowhead" }),
      ),
    ),
    edges,
    nodes,
  );
}
