"""Circles: steps done again, loops, and agents that do not stop (MAST FM-1.3 and FM-1.5)."""

from __future__ import annotations

import json
from collections import defaultdict

from podium.diagnose._journal import Journal
from podium.diagnose._model import Evidence, Finding
from podium.events import Handoff, RunFailed, TaskFailed, TaskStarted, ToolCalled
from podium.reliability import find_cycle

LIMIT_PHRASES = ("steps (model and tool calls)", "handoffs:", "model rounds")
"""Words of the guards' messages for a step, handoff or round limit (`podium.reliability`,
`podium.agents`): a limit hit is a run unaware of its end, not a circle."""
LOOP_CALLS = 3
"""Identical calls in one attempt that make a loop even when no guard stopped it."""


def _is_limit(message: str) -> bool:
    return any(p in message for p in LIMIT_PHRASES)


def repeated_calls(j: Journal) -> dict[tuple[str, int, str, str], list[ToolCalled]]:
    """Successful tool calls with the same arguments, by task attempt; only those seen twice+."""
    attempt: dict[str, int] = {}
    seen: dict[tuple[str, int, str, str], list[ToolCalled]] = defaultdict(list)
    for ev in j.of(TaskStarted, ToolCalled):
        if isinstance(ev, TaskStarted):
            attempt[ev.task] = ev.attempt
        elif ev.error is None:
            args = json.dumps(ev.arguments, sort_keys=True, default=str)
            seen[(ev.task, attempt.get(ev.task, 1), ev.tool, args)].append(ev)
    return {k: v for k, v in seen.items() if len(v) >= 2}


def step_repetition(j: Journal) -> Finding | None:
    """A tool called again with the same arguments in one attempt, or a step planned twice."""
    evidence: list[Evidence] = []
    for (task, attempt, tool, args), calls in repeated_calls(j).items():
        seqs = ", ".join(str(c.seq) for c in calls)
        note = f"{tool}({args}) called {len(calls)} times in attempt {attempt} (seq {seqs})"
        evidence.extend(Evidence(c.seq, "ToolCalled", note, task) for c in calls[1:2])
    first: dict[tuple[str, str], str] = {}
    for t in j.tasks.values():
        done = t.succeeded
        if done is None or not t.instruction.strip() or t.spec.get("parent"):
            continue  # items of a mapped task share one instruction by design
        step = (" ".join(t.instruction.lower().split()), done.agent or "")
        if step in first:
            note = f"same instruction as {first[step]!r}, done again by {step[1]!r}"
            evidence.append(Evidence(done.seq, "TaskSucceeded", note, t.id))
        else:
            first[step] = t.id
    if not evidence:
        return None
    return Finding("step_repetition", 0.7, f"{len(evidence)} step(s) repeated", evidence)


def loop(j: Journal) -> Finding | None:
    """A loop guard stopped a task, a handoff cycle, or ≥ `LOOP_CALLS` identical calls."""
    evidence: list[Evidence] = []
    for ev in j.of(TaskFailed, RunFailed):
        if isinstance(ev, TaskFailed) and ev.error.type == "loop":
            if not _is_limit(ev.error.message):
                evidence.append(Evidence(ev.seq, "TaskFailed", ev.error.message, ev.task))
        elif isinstance(ev, RunFailed) and ev.reason == "loop" and not _is_limit(ev.message):
            evidence.append(Evidence(ev.seq, "RunFailed", f"run stopped: {ev.message}"))
    confidence = 0.95 if evidence else 0.7
    path: dict[str, list[Handoff]] = defaultdict(list)
    for h in j.of(Handoff):
        path[h.task].append(h)
    for task, hops in path.items():
        agents = [hops[0].from_agent, *(h.to_agent for h in hops)]
        cycle = find_cycle(agents, 2)
        if cycle is not None:
            note = "handoffs go round: " + " → ".join([*cycle, cycle[0]])
            evidence.append(Evidence(hops[-1].seq, "Handoff", note, task))
    for (task, attempt, tool, _), calls in repeated_calls(j).items():
        if len(calls) >= LOOP_CALLS:
            note = f"{tool} called {len(calls)} times alike in attempt {attempt}"
            evidence.append(Evidence(calls[-1].seq, "ToolCalled", note, task))
    if not evidence:
        return None
    return Finding("loop", confidence, "the run went round in circles", evidence)


def unaware_of_termination(j: Journal) -> Finding | None:
    """A step, round or handoff limit, or the stall guard, ended work that did not stop."""
    evidence: list[Evidence] = []
    for ev in j.of(TaskFailed, RunFailed):
        if isinstance(ev, TaskFailed):
            kind, message = ev.error.type, ev.error.message
            if kind in ("max_rounds", "stall") or (kind == "loop" and _is_limit(message)):
                evidence.append(Evidence(ev.seq, "TaskFailed", f"{kind}: {message}", ev.task))
        elif ev.reason == "loop" and _is_limit(ev.message):
            evidence.append(Evidence(ev.seq, "RunFailed", f"run stopped: {ev.message}"))
    if not evidence:
        return None
    return Finding("unaware_of_termination", 0.9, "work went on until a limit stopped it", evidence)


__all__ = ["loop", "repeated_calls", "step_repetition", "unaware_of_termination"]
