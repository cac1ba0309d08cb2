"""`audit`: a run's events turned into attributed entries; `audit_run`: the same from a store.

One small function per kind of event that records an action; events that only record how the
scheduler got there (a task became ready, a model was called, a check passed) are left to
``podium show``, which lists every event.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from podium.audit._entry import SYSTEM_ACTOR, Action, AuditEntry, agent_actor, person_actor
from podium.events import (
    AnyEvent,
    ApprovalGranted,
    ApprovalRejected,
    ApprovalRequested,
    ContextWritten,
    Event,
    Handoff,
    PlanAccepted,
    PlanRevised,
    PolicyDecided,
    RunCancelled,
    RunFailed,
    RunFeedback,
    RunForked,
    RunInterrupted,
    RunPartiallySucceeded,
    RunResumed,
    RunSubmitted,
    RunSucceeded,
    RunUpgraded,
    RunWaiting,
    TaskCompensated,
    TaskFailed,
    TaskStarted,
    TaskSucceeded,
    ToolCalled,
)
from podium.exceptions import RunNotFound
from podium.store import Store

JSON = Any


def _entry(
    ev: Event, actor: str, action: Action, target: str = "run", /, **details: JSON
) -> AuditEntry:
    """An entry of `ev`; details that are ``None``, ``False`` or empty are left out."""
    kept = {k: v for k, v in details.items() if _given(v)}
    return AuditEntry(seq=ev.seq, ts=ev.ts, actor=actor, action=action, target=target, details=kept)


def _given(value: JSON) -> bool:
    if value is None or value is False:
        return False
    return not isinstance(value, str | list | dict) or bool(value)


def _submitted(ev: RunSubmitted) -> AuditEntry:
    workflow = ev.workflow.get("name") or ev.workflow.get("path")
    return _entry(ev, person_actor(ev.by), "submitted", workflow=workflow, goal=ev.goal)


def _forked(ev: RunForked) -> AuditEntry:
    return _entry(
        ev, person_actor(ev.by), "forked", f"run:{ev.parent}", task=ev.task, changes=ev.changes
    )


def _upgraded(ev: RunUpgraded) -> AuditEntry:
    return _entry(ev, person_actor(ev.by), "upgraded", digest=ev.digest, previous=ev.previous)


def _plan(ev: PlanAccepted) -> AuditEntry:
    return _entry(ev, SYSTEM_ACTOR, "plan accepted", tasks=len(ev.tasks), source=ev.source)


def _revised(ev: PlanRevised) -> AuditEntry:
    tasks = [str(t.get("id", "")) for t in ev.tasks]
    return _entry(ev, SYSTEM_ACTOR, "plan revised", replaced=ev.replaced, tasks=tasks)


def _started(ev: TaskStarted) -> AuditEntry:
    return _entry(ev, agent_actor(ev.agent), "task started", f"task:{ev.task}", attempt=ev.attempt)


def _succeeded(ev: TaskSucceeded) -> AuditEntry:
    # a copied or reused output was not an agent's doing in this run
    agent = None if ev.copied_from or ev.reused_from else ev.agent
    return _entry(
        ev,
        agent_actor(agent),
        "task succeeded",
        f"task:{ev.task}",
        attempt=ev.attempt,
        copied_from=ev.copied_from,
        reused_from=ev.reused_from,
    )


def _failed(ev: TaskFailed) -> AuditEntry:
    return _entry(
        ev,
        agent_actor(ev.agent),
        "task failed",
        f"task:{ev.task}",
        attempt=ev.attempt,
        error=f"{ev.error.type}: {ev.error.message}",
        final=ev.final,
    )


def _handoff(ev: Handoff) -> AuditEntry:
    return _entry(ev, agent_actor(ev.from_agent), "handed off", f"task:{ev.task}", to=ev.to_agent)


def _wrote(ev: ContextWritten) -> AuditEntry:
    return _entry(
        ev,
        agent_actor(ev.agent),
        "wrote context",
        f"context:{ev.key}",
        version=ev.version,
        task=ev.task,
    )


def _tool(ev: ToolCalled) -> AuditEntry:
    return _entry(
        ev,
        agent_actor(ev.agent),
        "tool call",
        f"tool:{ev.tool}",
        effect=ev.effect,
        task=ev.task,
        error=ev.error,
        replayed=ev.replayed,
    )


def _requested(ev: ApprovalRequested) -> AuditEntry:
    return _entry(
        ev,
        SYSTEM_ACTOR,
        "approval requested",
        f"task:{ev.task}",
        action=ev.action,
        tool=ev.tool,
        reason=ev.reason,
    )


def _granted(ev: ApprovalGranted) -> AuditEntry:
    return _entry(
        ev, person_actor(ev.by), "approval granted", f"task:{ev.task}", comment=ev.comment
    )


def _rejected(ev: ApprovalRejected) -> AuditEntry:
    return _entry(
        ev,
        person_actor(ev.by),
        "approval rejected",
        f"task:{ev.task}",
        reason=ev.reason,
        comment=ev.comment,
    )


def _policy(ev: PolicyDecided) -> AuditEntry:
    return _entry(
        ev,
        SYSTEM_ACTOR,
        "policy decided",
        f"tool:{ev.tool}",
        decision=ev.decision,
        effect=ev.effect,
        task=ev.task,
        agent=ev.agent,
        reason=ev.reason,
    )


def _compensated(ev: TaskCompensated) -> AuditEntry:
    actor = person_actor(ev.by) if ev.by else SYSTEM_ACTOR  # a rollback asked for, or the saga
    action: Action = (
        "compensation started"
        if ev.phase == "started"
        else "compensation succeeded"
        if ev.phase == "succeeded"
        else "compensation failed"
    )
    error = f"{ev.error.type}: {ev.error.message}" if ev.error is not None else None
    if ev.call:  # the undo of one tool call of the task
        return _entry(ev, actor, action, f"call:{ev.call}", task=ev.task, error=error)
    return _entry(ev, actor, action, f"task:{ev.task}", error=error)


def _waiting(ev: RunWaiting) -> AuditEntry:
    return _entry(ev, SYSTEM_ACTOR, "waiting", tasks=ev.tasks)


def _interrupted(ev: RunInterrupted) -> AuditEntry:
    return _entry(ev, SYSTEM_ACTOR, "interrupted", reason=ev.reason, tasks=ev.tasks)


def _resumed(ev: RunResumed) -> AuditEntry:
    return _entry(ev, person_actor(ev.by), "resumed")


def _cancelled(ev: RunCancelled) -> AuditEntry:
    return _entry(ev, person_actor(ev.by), "cancelled", reason=ev.reason)


def _feedback(ev: RunFeedback) -> AuditEntry:
    return _entry(ev, person_actor(ev.by), "feedback", score=ev.score, comment=ev.comment)


def _ended(ev: RunSucceeded | RunPartiallySucceeded | RunFailed) -> AuditEntry:
    if isinstance(ev, RunFailed):
        return _entry(
            ev, SYSTEM_ACTOR, "run ended", status="failed", reason=ev.reason, message=ev.message
        )
    if isinstance(ev, RunPartiallySucceeded):
        return _entry(
            ev, SYSTEM_ACTOR, "run ended", status="partially_succeeded", missing=ev.missing
        )
    return _entry(ev, SYSTEM_ACTOR, "run ended", status="succeeded")


_ENTRIES: dict[type[Event], Callable[[Any], AuditEntry]] = {
    RunSubmitted: _submitted,
    RunForked: _forked,
    RunUpgraded: _upgraded,
    PlanAccepted: _plan,
    PlanRevised: _revised,
    TaskStarted: _started,
    TaskSucceeded: _succeeded,
    TaskFailed: _failed,
    Handoff: _handoff,
    ContextWritten: _wrote,
    ToolCalled: _tool,
    ApprovalRequested: _requested,
    ApprovalGranted: _granted,
    ApprovalRejected: _rejected,
    PolicyDecided: _policy,
    TaskCompensated: _compensated,
    RunWaiting: _waiting,
    RunInterrupted: _interrupted,
    RunResumed: _resumed,
    RunCancelled: _cancelled,
    RunFeedback: _feedback,
    RunSucceeded: _ended,
    RunPartiallySucceeded: _ended,
    RunFailed: _ended,
}
"""Each kind of event that records an action, and how it becomes an entry."""


def audit(events: Iterable[AnyEvent]) -> list[AuditEntry]:
    """Who did what, when, in a run: one entry per event that records an action, in journal
    order (see `podium.audit.ACTIONS`)."""
    return [make(ev) for ev in events if (make := _ENTRIES.get(type(ev))) is not None]


async def audit_run(store: Store, run_id: str) -> list[AuditEntry]:
    """`audit` the run `run_id` of an open `store`.

    Raises:
        RunNotFound: the store has no such run.
    """
    events = await store.load(run_id)
    if not events:
        raise RunNotFound(f"no run {run_id!r} in this store")
    return audit(events)


__all__ = ["audit", "audit_run"]
