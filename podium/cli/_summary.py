"""What `podium show` prints: the timeline, then the run's time, tokens and cost, in all and
per agent, its status, and how to go on."""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field

from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

from podium.cli._hints import command, decide_lines
from podium.cli._render import (
    cost,
    details,
    duration,
    inert,
    plain,
    status_text,
    timeline_table,
    tokens,
    tracebacks,
)
from podium.cli._store import store_flag
from podium.events import (
    AnyEvent,
    ModelCalled,
    PlanProposed,
    TaskFailed,
    TaskStarted,
    TaskSucceeded,
    Usage,
)
from podium.runtime import RunState
from podium.runtime._state import rollback_status, run_confidence

PLANNER = "(planner)"
"""The row of the planner's model calls (they belong to no agent)."""


@dataclass
class AgentTotals:
    """What one agent did in a run."""

    tasks: set[str] = field(default_factory=set)
    attempts: int = 0
    busy_s: float = 0.0
    """The time its attempts took, summed (attempts in parallel each count)."""
    usage: Usage = field(default_factory=Usage)


def agent_totals(events: Iterable[AnyEvent], *, now: float) -> dict[str, AgentTotals]:
    """Per agent: its tasks, attempts, busy time (to `now` for attempts still running) and
    usage, in the order agents first appear."""
    totals: dict[str, AgentTotals] = {}
    running: dict[tuple[str, int], tuple[str, float]] = {}
    for ev in events:
        if isinstance(ev, TaskStarted):
            row = totals.setdefault(ev.agent, AgentTotals())
            row.tasks.add(ev.task)
            row.attempts += 1
            running[(ev.task, ev.attempt)] = (ev.agent, ev.ts)
        elif isinstance(ev, TaskSucceeded | TaskFailed):
            started = running.pop((ev.task, ev.attempt), None)
            if started is not None:
                totals[started[0]].busy_s += max(0.0, ev.ts - started[1])
        elif isinstance(ev, ModelCalled):
            used = Usage(
                input_tokens=ev.input_tokens, output_tokens=ev.output_tokens, cost_usd=ev.cost_usd
            )
            totals.setdefault(ev.agent, AgentTotals()).usage.add(used)
        elif isinstance(ev, PlanProposed):
            used = Usage(input_tokens=ev.input_tokens, output_tokens=ev.output_tokens)
            totals.setdefault(PLANNER, AgentTotals()).usage.add(used)
    for agent, since in running.values():
        totals[agent].busy_s += max(0.0, now - since)
    return totals


def run_line(state: RunState, *, now: float) -> Text:
    """``took 1.20s · 1,234 tokens (1,000 in, 234 out) · $0.0012`` (so far, for a run that has
    not ended), the run's measured confidence when a task measured one, and how far undoing
    it got when anything was undone."""
    end = state.ended_ts if state.ended_ts is not None else now
    usage = state.usage
    total = usage.input_tokens + usage.output_tokens
    so_far = "" if state.finished else " so far"
    parts = [
        f"took {duration(max(0.0, end - state.created_ts))}{so_far}",
        f"{total:,} tokens ({usage.input_tokens:,} in, {usage.output_tokens:,} out)",
        f"${usage.cost_usd:.4f}",
    ]
    confidence = run_confidence(state)
    if confidence is not None:
        parts.append(f"confidence {confidence:.2f} (weakest step)")
    undone = sum(1 for c in state.compensations.values() if c.phase == "succeeded")
    rollback = rollback_status(state)
    if rollback in ("complete", "incomplete") or undone:
        parts.append(f"rollback {rollback}: {undone} of {len(state.compensable)} undone")
    return Text(" · ".join(parts))


def summary(state: RunState, events: Iterable[AnyEvent], *, now: float | None = None) -> Group:
    """The run's time, tokens and cost, then a table of them per agent."""
    now = time.time() if now is None else now
    parts: list[RenderableType] = [run_line(state, now=now)]
    totals = agent_totals(events, now=now)
    if totals:
        table = Table(box=None, pad_edge=False, header_style="bold")
        table.add_column("agent", overflow="fold")
        for column in ("tasks", "attempts", "busy", "tokens", "cost"):
            table.add_column(column, justify="right", overflow="fold")
        for agent, row in totals.items():
            table.add_row(
                plain(agent),
                str(len(row.tasks)),
                str(row.attempts),
                duration(row.busy_s),
                tokens(row.usage),
                cost(row.usage),
            )
        parts.append(table)
    return Group(*parts)


def print_run(
    console: Console,
    state: RunState,
    events: list[AnyEvent],
    *,
    given_store: str | None,
) -> None:
    """The whole of `podium show RUN` without ``--json``: nothing is cut at the terminal's
    width (long cells wrap); what the timeline shortens, ``--json`` gives whole."""
    run_id = state.run_id
    flag = store_flag(given_store)
    console.print(timeline_table(events))
    if any("…" in details(ev) for ev in events):
        hint = f"details are shortened (…): `{command('show', run_id, flag=flag)} --json`"
        console.print(Text(hint + " gives every event whole", style="dim"), soft_wrap=True)
    for part in tracebacks(events):
        console.print(part, soft_wrap=True)  # a traceback's lines stay whole, to be copied
    console.print(summary(state, events))
    why = ": ".join(p for p in (state.reason, state.message) if p)
    line = Text.assemble("run ", (run_id, "bold"), " ", status_text(state.status))
    if why:
        line.append(f" ({inert(why)})")
    if not state.finished:
        resume = command("resume", run_id, flag=flag)
        line.append(f"  — continue it with `{resume}`", style="dim")
    console.print(line, soft_wrap=True)
    for approval in state.approvals.pending():
        console.print(plain(f"waits for approval to {approval.describe()}", "cyan"))
        for decide in decide_lines(approval, given_store):
            console.print(decide, soft_wrap=True)


__all__ = ["AgentTotals", "agent_totals", "print_run", "run_line", "summary"]
