"""Rich renderables and JSON for the commands: task tables, results, runs, timelines.

Everything a run holds may come from an agent, a model or a file, so it is untrusted text: it
reaches the terminal only through `plain` (a `Text`, never parsed as rich markup) with its
control characters made visible by `inert` — an output cannot set the terminal's title, write
to the clipboard, move the cursor or reorder text with bidi overrides.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import msgspec
from rich.console import Group, RenderableType
from rich.json import JSON as RichJSON
from rich.table import Table
from rich.text import Text

from podium.events import AnyEvent, TaskFailed, Usage
from podium.runtime import RunResult, RunState, TaskState
from podium.store import RunInfo
from podium.store._lease import describe_owner

JSON = Any

STYLES = {
    "succeeded": "green",
    "failed": "red",
    "partially_succeeded": "yellow",
    "cancelled": "magenta",
    "running": "cyan",
    "waiting": "cyan",
    "ready": "blue",
    "pending": "dim",
    "skipped": "dim",
}


_INERT = {
    code: f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"
    for code in (
        *range(0x00, 0x20),
        *range(0x7F, 0xA0),
        *range(0x202A, 0x202F),  # bidi embeddings and overrides
        *range(0x2066, 0x206A),  # bidi isolates
    )
    if chr(code) not in "\n\t"
}


def inert(text: str) -> str:
    """`text` with every control character (escape sequences, bells, carriage returns, bidi
    overrides) spelled out as ``\\x1b`` or ``\\u202e``, so a terminal shows it instead of
    obeying it."""
    return text.translate(_INERT)


def plain(value: JSON, style: str = "") -> Text:
    """Untrusted text as a renderable: inert, and never parsed as rich markup."""
    return Text(inert(value if isinstance(value, str) else str(value)), style=style)


def dump_json(value: JSON) -> str:
    """Indented JSON as the commands print it with ``--json``, encoded as the journal encodes
    (one rule: no ``NaN`` or ``Infinity``, which are not JSON, can ever be printed)."""
    return msgspec.json.format(msgspec.json.encode(value), indent=2).decode()


def status_text(status: str) -> Text:
    return Text(status.replace("_", " "), style=STYLES.get(status, ""))


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.2f}s"
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes}m{secs:02d}s" if minutes < 60 else f"{minutes // 60}h{minutes % 60:02d}m"


def tokens(usage: Usage) -> str:
    total = usage.input_tokens + usage.output_tokens
    return f"{total:,}" if total else "-"


def ordered_tasks(state: RunState) -> list[TaskState]:
    """Tasks in plan order, the sub-tasks of a mapped task right under it."""
    children: dict[str, list[TaskState]] = {}
    top: list[TaskState] = []
    for ts in state.tasks.values():
        parent = ts.task.parent
        if parent is not None and parent in state.tasks:
            children.setdefault(parent, []).append(ts)
        else:
            top.append(ts)
    ordered: list[TaskState] = []
    for ts in top:
        ordered.append(ts)
        ordered.extend(sorted(children.get(ts.task.id, ()), key=lambda c: c.task.index or 0))
    return ordered


def task_table(state: RunState, *, now: float | None = None) -> Table:
    """One row per task: state, agent, attempts, elapsed, tokens."""
    now = time.time() if now is None else now
    table = Table(box=None, pad_edge=False, header_style="bold")
    table.add_column("task", overflow="fold")  # every cell folds: nothing is cut
    table.add_column("state", overflow="fold")
    table.add_column("agent", overflow="fold")
    table.add_column("attempts", justify="right", overflow="fold")
    table.add_column("elapsed", justify="right", overflow="fold")
    table.add_column("tokens", justify="right", overflow="fold")
    for ts in ordered_tasks(state):
        name = f"  └ {ts.task.id}" if ts.task.parent is not None else ts.task.id
        elapsed = None
        if ts.started_ts is not None:
            end = ts.ended_ts if ts.ended_ts is not None else now
            elapsed = max(0.0, end - ts.started_ts)
        table.add_row(
            plain(name),
            status_text(ts.status),
            plain(ts.agent or "-"),
            str(ts.attempts or "-"),
            duration(elapsed),
            tokens(ts.usage),
        )
    return table


def summary_line(result: RunResult) -> Text:
    """``3 tasks · 1.20s · 1,234 tokens (1,000 in, 234 out) · $0.0012``."""
    usage = result.usage
    total = usage.input_tokens + usage.output_tokens
    parts = [
        f"{len(result.tasks)} task{'s' if len(result.tasks) != 1 else ''}",
        duration(result.elapsed_s),
        f"{total:,} tokens ({usage.input_tokens:,} in, {usage.output_tokens:,} out)",
        f"${usage.cost_usd:.4f}",
    ]
    if result.confidence is not None:
        parts.append(f"confidence {result.confidence:.2f}")
    if result.rollback != "none":
        parts.append(f"rollback {result.rollback}")
    return Text(" · ".join(parts), style="dim")


def output_renderable(output: JSON) -> RenderableType:
    if isinstance(output, str):
        return plain(output)
    rendered = RichJSON(dump_json(output))  # JSON escapes control characters
    rendered.text.no_wrap = False  # rich crops JSON at the terminal's edge: wrap it instead
    rendered.text.overflow = "fold"
    return rendered


def error_text(error: dict[str, JSON]) -> str:
    """``type: message``, without repeating a type the message already starts with."""
    kind, message = str(error.get("type", "error")), str(error.get("message", ""))
    return message if message.startswith(kind) else f"{kind}: {message}"


def result_renderable(result: RunResult) -> RenderableType:
    """The end of `podium run`: status and why, the output, the summary line."""
    head = Text.assemble("run ", (result.run_id, "bold"), " ", status_text(result.status))
    parts: list[RenderableType] = [head]
    why = ": ".join(p for p in (result.reason, result.message) if p)
    if why and result.status != "succeeded":
        parts.append(plain(why, STYLES.get(result.status, "")))
    if result.status == "interrupted":  # the command that continues it comes last
        parts.append(Text("interrupted, not ended: it can be continued", style="dim"))
    for tid, task in result.tasks.items():
        error = task.get("error")
        if task.get("status") == "failed" and isinstance(error, dict):
            parts.append(plain(f"  {tid}: {error_text(error)}", "red"))
    if result.output is not None:
        parts += [Text("output:", style="bold"), output_renderable(result.output)]
    parts.append(summary_line(result))
    return Group(*parts)


def run_duration(info: RunInfo, *, now: float) -> float:
    """How long a run has taken: to its last event, or until `now` while it runs."""
    end = now if info.status == "running" else info.updated_at
    return max(0.0, end - info.created_at)


def usage_json(usage: Usage) -> dict[str, JSON]:
    """Every field of `usage`, zeros too (the struct itself leaves defaults out)."""
    return {
        "input_tokens": usage.input_tokens,
        "output_tokens": usage.output_tokens,
        "cost_usd": usage.cost_usd,
    }


def cost(usage: Usage | None) -> str:
    return "-" if usage is None or not usage.cost_usd else f"${usage.cost_usd:.4f}"


def when(ts: float, *, now: float) -> str:
    """A moment, short: its time today, else its date and minute (as `ls -l` does)."""
    moment, today = time.localtime(ts), time.localtime(now)
    if moment[:3] == today[:3]:
        return time.strftime("%H:%M:%S", moment)
    return time.strftime("%Y-%m-%d %H:%M", moment)


def runs_table(
    runs: Sequence[RunInfo], usage: Mapping[str, Usage], *, now: float | None = None
) -> Table:
    """One row per run: when it was created, its time, tokens and cost so far, and which
    process drives it (its lease's holder), if one does. ``--json`` adds its event count."""
    now = time.time() if now is None else now
    table = Table(box=None, pad_edge=False, header_style="bold")
    right = {"duration", "tokens", "cost"}
    for column in ("run", "name", "status", "created", "duration", "tokens", "cost", "driven by"):
        table.add_column(column, justify="right" if column in right else "left", overflow="fold")
    for info in runs:
        driver = "-"
        if info.lease_owner is not None and (info.lease_expires_at or 0) >= now:
            driver = describe_owner(info.lease_owner)
        used = usage.get(info.run_id)
        table.add_row(
            plain(info.run_id),
            plain(info.name),
            status_text(info.status),
            when(info.created_at, now=now),
            duration(run_duration(info, now=now)),
            tokens(used or Usage()),
            cost(used),
            plain(driver),
        )
    return table


def timeline_table(events: Iterable[AnyEvent]) -> Table:
    """seq, offset from submission, kind, task, agent, short details."""
    table = Table(box=None, pad_edge=False, header_style="bold")
    table.add_column("seq", justify="right", overflow="fold")
    table.add_column("time", justify="right", overflow="fold")
    table.add_column("kind", overflow="fold")
    table.add_column("task", overflow="fold")
    table.add_column("agent", overflow="fold")
    table.add_column("details", overflow="fold")
    start: float | None = None
    for ev in events:
        start = ev.ts if start is None else start
        data = msgspec.to_builtins(ev)
        table.add_row(
            str(ev.seq),
            f"+{ev.ts - start:.3f}s",
            event_kind(ev),
            plain(data.get("task", "")),
            plain(data.get("agent") or ""),
            plain(details(ev)),
        )
    return table


def tracebacks(events: Iterable[AnyEvent]) -> list[RenderableType]:
    """The tracebacks failed attempts recorded (an agent's own code raised), one per attempt."""
    out: list[RenderableType] = []
    for ev in events:
        if isinstance(ev, TaskFailed) and ev.error.traceback:
            head = f"task {ev.task} attempt {ev.attempt}: {ev.error.type}"
            out += [plain(head, "bold red"), plain(ev.error.traceback.rstrip(), "red")]
    return out


def event_kind(event: AnyEvent) -> str:
    return str(type(event).__struct_config__.tag)


def short(value: JSON, width: int = 60) -> str:
    text = (
        value
        if isinstance(value, str)
        else json.dumps(msgspec.to_builtins(value), ensure_ascii=False)
    )
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


_DETAIL_FIELDS: dict[str, tuple[str, ...]] = {
    "RunSubmitted": ("inputs",),
    "TaskAssigned": ("reason",),
    "TaskStarted": ("attempt",),
    "Handoff": ("from_agent", "to_agent", "reason"),
    "ContextWritten": ("key", "version", "value"),
    "TaskSucceeded": ("output",),
    "TaskRetrying": ("attempt", "delay_s", "reason"),
    "TaskSkipped": ("reason",),
    "RunSucceeded": ("output",),
    "RunPartiallySucceeded": ("missing", "reason"),
    "RunFailed": ("reason", "message"),
    "RunCancelled": ("reason",),
    "ApprovalRequested": ("action", "tool", "arguments", "reason"),
    "ApprovalGranted": ("by", "comment"),
    "ApprovalRejected": ("by", "reason", "comment"),
    "RunWaiting": ("tasks",),
    "BreakerOpened": ("scope", "name", "failure_rate", "action"),
    "OutputRejected": ("check", "error", "repair"),
    "OutputChecked": ("check", "score", "reason"),
    "ConfidenceMeasured": ("confidence", "signals", "min", "action"),
    "GuardrailDecided": ("guardrail", "stage", "direction", "decision", "findings", "tool"),
    "PlanProposed": ("purpose", "task", "attempt", "problems", "plan"),
    "PlanFallback": ("purpose", "task", "fallback", "reason"),
    "PlanRevised": ("replaced", "output_task"),
    "AccessDenied": ("access", "target", "tool", "reason"),
    "TaskCompensated": ("phase", "call", "by", "error"),
    "PolicyDecided": ("tool", "decision", "sources", "matched"),
    "ProvenanceTainted": ("source",),
    "ContextDrifted": ("key", "read_version", "version", "by_task", "action"),
}


def details(event: AnyEvent) -> str:
    data = msgspec.to_builtins(event)
    kind = event_kind(event)
    if kind == "PlanAccepted":
        source = data.get("source", "workflow")
        return f"{len(data['tasks'])} tasks" + ("" if source == "workflow" else f" ({source})")
    if kind == "PlanExtended":
        return f"{len(data['tasks'])} sub-tasks of {data['parent']}"
    if kind == "ModelCalled":
        cost = data.get("cost_usd", 0.0)
        return (
            f"{data['model']} {data.get('input_tokens', 0)}+{data.get('output_tokens', 0)} "
            f"tokens {data.get('latency_s', 0.0):.2f}s" + (f" ${cost:.4f}" if cost else "")
        )
    if kind == "ToolCalled":
        outcome = f"error: {data['error']}" if data.get("error") else short(data.get("result"))
        return f"{data['tool']}({short(data.get('arguments', {}), 30)}) → {outcome}"
    if kind == "TaskFailed":
        error = data["error"]
        final = "" if data.get("final", True) else " (will retry)"
        return short(error_text(error)) + final
    values = ((f, getattr(event, f, None)) for f in _DETAIL_FIELDS.get(kind, ()))
    return " ".join(f"{f}={short(v)}" for f, v in values if v not in (None, "", [], {}))
