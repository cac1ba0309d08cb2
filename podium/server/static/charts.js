// Small SVG line charts: one metric over time buckets, with its target as a dashed line.

import { h, s } from "./dom.js";

const W = 360;
const H = 170;
const M = { left: 48, right: 10, top: 12, bottom: 26 };

function niceMax(values, target, ceiling) {
  const max = Math.max(...values, target ?? 0, 0);
  const top = max > 0 ? max * 1.1 : 1;
  return ceiling !== undefined && max <= ceiling ? Math.min(top, ceiling) : top;
}

/**
 * A chart of `points` ([{t, value}], value may be null for an empty bucket) against `target`.
 * `ceiling` caps the axis where values cannot go beyond (1 for a rate); `fmt` formats an axis value; the title and the values are text in the chart.
 */
export function lineChart({ title, points, target, ceiling, fmt = (v) => String(v) }) {
  const vals = points.map((p) => p.value).filter((v) => v !== null && v !== undefined && Number.isFinite(v));
  if (!points.length) return h("p", { class: "muted" }, `${title}: no data in this window.`);
  const top = niceMax(vals, target, ceiling);
  const ts = points.map((p) => p.t);
  const t0 = Math.min(...ts);
  const t1 = Math.max(...ts, t0 + 1);
  const x = (t) => M.left + ((t - t0) / (t1 - t0)) * (W - M.left - M.right);
  const y = (v) => H - M.bottom - (v / top) * (H - M.top - M.bottom);
  const segments = [];
  let current = [];
  for (const p of points) {
    if (p.value === null || p.value === undefined || !Number.isFinite(p.value)) {
      if (current.length) segments.push(current);
      current = [];
    } else current.push(p);
  }
  if (current.length) segments.push(current);
  const lines = segments.map((seg) =>
    s("polyline", { class: "series", points: seg.map((p) => `${x(p.t)},${y(p.value)}`).join(" ") }),
  );
  const dots = points
    .filter((p) => Number.isFinite(p.value))
    .map((p) => s("circle", { class: "dot", cx: x(p.t), cy: y(p.value), r: 3 }, s("title", null, `${new Date(p.t * 1000).toLocaleString()}: ${fmt(p.value)}`)));
  const grid = [0, 0.5, 1].map((f) => [
    s("line", { class: "grid", x1: M.left, x2: W - M.right, y1: y(f * top), y2: y(f * top) }),
    s("text", { class: "tick", x: M.left - 4, y: y(f * top) + 4, "text-anchor": "end" }, fmt(f * top)),
  ]);
  const ticks = [t0, t1].map((t, i) =>
    s("text", { class: "tick", x: x(t), y: H - 8, "text-anchor": i ? "end" : "start" }, new Date(t * 1000).toLocaleDateString(undefined, { month: "short", day: "numeric", hour: "2-digit" })),
  );
  const targetLine =
    target === null || target === undefined
      ? null
      : [
          s("line", { class: "target", x1: M.left, x2: W - M.right, y1: y(target), y2: y(target) }),
          s("text", { class: "target-label", x: W - M.right, y: y(target) - 4, "text-anchor": "end" }, `target ${fmt(target)}`),
        ];
  return s(
    "svg",
    { class: "chart", width: W, height: H, viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": `${title} over time` },
    grid,
    ticks,
    targetLine,
    lines,
    dots,
  );
}
