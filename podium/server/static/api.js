// The HTTP API, as the dashboard uses it. A bearer token (when the server has auth switched on)
// is kept in this tab's sessionStorage and sent with every request, the live stream included:
// the stream is read with fetch rather than EventSource, which cannot send headers.

const TOKEN_KEY = "podium.token";

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

export function token() {
  return sessionStorage.getItem(TOKEN_KEY) || "";
}

export function setToken(value) {
  if (value) sessionStorage.setItem(TOKEN_KEY, value);
  else sessionStorage.removeItem(TOKEN_KEY);
}

function headers(extra) {
  const out = { Accept: "application/json", ...extra };
  if (token()) out.Authorization = `Bearer ${token()}`;
  return out;
}

async function errorOf(resp) {
  let message = `${resp.status} ${resp.statusText}`;
  try {
    const body = await resp.json();
    const error = body && body.error;
    if (error && error.message) message = error.field ? `${error.field}: ${error.message}` : error.message;
  } catch {
    // not JSON: keep the status line
  }
  return new ApiError(resp.status, message);
}

/** GET a JSON resource; `params` become the query string (empty values are left out). */
export async function get(path, params) {
  const url = new URL(path, location.origin);
  for (const [k, v] of Object.entries(params || {})) {
    if (v !== undefined && v !== null && v !== "") url.searchParams.set(k, v);
  }
  const resp = await fetch(url, { headers: headers() });
  if (!resp.ok) throw await errorOf(resp);
  return resp.json();
}

/** POST a JSON body; returns the decoded answer (or null when there is none). */
export async function post(path, body) {
  const resp = await fetch(new URL(path, location.origin), {
    method: "POST",
    headers: headers({ "Content-Type": "application/json" }),
    body: JSON.stringify(body ?? {}),
  });
  if (!resp.ok) throw await errorOf(resp);
  const text = await resp.text();
  return text ? JSON.parse(text) : null;
}

export const enc = encodeURIComponent;

function parseBlock(block) {
  let data = "";
  for (const line of block.split("\n")) {
    if (line.startsWith("data:")) data += line.slice(5).replace(/^ /, "") + "\n";
  }
  if (!data) return null;
  try {
    return JSON.parse(data);
  } catch {
    return null;
  }
}

async function readStream(url, onEvent, signal) {
  const resp = await fetch(url, { headers: headers({ Accept: "text/event-stream" }), signal });
  if (!resp.ok || !resp.body) throw await errorOf(resp);
  const reader = resp.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value.replace(/\r\n?/g, "\n");
    let cut;
    while ((cut = buffer.indexOf("\n\n")) >= 0) {
      const event = parseBlock(buffer.slice(0, cut));
      buffer = buffer.slice(cut + 2);
      if (event && typeof event === "object") onEvent(event);
    }
  }
}

/**
 * Follow a run's events from `after` (a journal sequence number): the SSE stream, reconnecting
 * from the last event seen; polling `/events` when the stream is unavailable. `onEvent` gets each
 * event once, in order. Returns a function that stops following.
 */
export function follow(runId, after, onEvent, { isDone = () => false } = {}) {
  const ctrl = new AbortController();
  let last = after;
  const deliver = (ev) => {
    if (typeof ev.seq === "number" && ev.seq <= last) return;
    if (typeof ev.seq === "number") last = ev.seq;
    onEvent(ev);
  };
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  (async () => {
    let failures = 0;
    while (!ctrl.signal.aborted && !isDone()) {
      const before = last;
      try {
        await readStream(`/api/runs/${enc(runId)}/stream?after=${last}`, deliver, ctrl.signal);
      } catch {
        // a broken stream: read what it missed below, then connect again
      }
      if (ctrl.signal.aborted || isDone()) return;
      if (last > before) {
        failures = 0;
      } else {
        // the stream gave nothing (it failed, or keeps failing on one event): poll instead
        failures += 1;
        try {
          (await get(`/api/runs/${enc(runId)}/events`, { after: last })).events.forEach(deliver);
        } catch {
          // the server is away: try again after a pause
        }
      }
      await sleep(Math.min(4000, 250 * 2 ** Math.min(failures, 4)));
    }
  })();
  return () => ctrl.abort();
}
