"""Stops by Podium's own limits: budgets, circuit breakers, approvals, timeouts."""

from __future__ import annotations

from podium.diagnose._journal import Journal
from podium.diagnose._model import Evidence, Finding
from podium.events import ApprovalRejected, BreakerOpened, RunFailed, TaskFailed


def _stops(j: Journal, *, reason: str, error: tuple[str, ...]) -> list[Evidence]:
    """Tasks that failed with one of the `error` types and a run that ended for `reason`."""
    evidence: list[Evidence] = []
    for ev in j.of(TaskFailed, RunFailed):
        if isinstance(ev, TaskFailed) and ev.error.type in error:
            retried = "" if ev.final else " (retried)"
            note = f"{ev.error.type}: {ev.error.message[:120]}{retried}"
            evidence.append(Evidence(ev.seq, "TaskFailed", note, ev.task))
        elif isinstance(ev, RunFailed) and ev.reason == reason:
            evidence.append(Evidence(ev.seq, "RunFailed", f"run stopped: {ev.message[:120]}"))
    return evidence


def budget_exhausted(j: Journal) -> Finding | None:
    evidence = _stops(j, reason="budget", error=("budget",))
    if not evidence:
        return None
    return Finding("budget_exhausted", 0.95, "a budget ran out", evidence)


def breaker_open(j: Journal) -> Finding | None:
    """An open breaker that failed work (not one that only rerouted it to a backup)."""
    evidence = _stops(j, reason="breaker", error=("breaker_open",))
    if not evidence:
        return None
    for ev in j.of(BreakerOpened):
        note = f"{ev.scope} {ev.name!r} breaker opened after {ev.calls} calls ({ev.action})"
        evidence.insert(0, Evidence(ev.seq, "BreakerOpened", note, ev.task))
    return Finding("breaker_open", 0.95, "an open circuit breaker stopped work", evidence)


def approval_rejected(j: Journal) -> Finding | None:
    evidence = [
        Evidence(ev.seq, "ApprovalRejected", f"{ev.reason} by {ev.by}", ev.task)
        for ev in j.of(ApprovalRejected)
    ]
    if not evidence:
        return None
    return Finding("approval_rejected", 0.95, "an action was not approved", evidence)


def timeout(j: Journal) -> Finding | None:
    """A task or a call that took too long (``timeout``, ``provider_timeout``), or the run."""
    evidence: list[Evidence] = []
    for ev in j.of(TaskFailed, RunFailed):
        if isinstance(ev, TaskFailed) and "timeout" in ev.error.type:
            retried = "" if ev.final else " (retried)"
            note = f"{ev.error.type}: {ev.error.message[:120]}{retried}"
            evidence.append(Evidence(ev.seq, "TaskFailed", note, ev.task))
        elif isinstance(ev, RunFailed) and ev.reason == "timeout":
            evidence.append(Evidence(ev.seq, "RunFailed", f"run stopped: {ev.message[:120]}"))
    if not evidence:
        return None
    return Finding("timeout", 0.9, "something took longer than allowed", evidence)


__all__ = ["approval_rejected", "breaker_open", "budget_exhausted", "timeout"]
