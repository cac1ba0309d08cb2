"""Runs as the API shows them, read from their journals (never from a second source of truth)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec

from podium.events import (
    AnyEvent,
    ApprovalGranted,
    ApprovalRejected,
    ContextWritten,
    ModelCalled,
    TaskAssigned,
    TaskFailed,
    TaskStarted,
    TaskSucceeded,
    ToolCalled,
    to_builtins,
)
from podium.policy import Approval
from podium.runtime import RunState
from podium.runtime._state import run_confidence
from podium.server._attempts import attempts_by_task, error_out
from podium.server._models import (
    ApprovalOut,
    Attempt,
    BoardEntry,
    Decision,
    EntryVersion,
    EventOut,
    FeedbackOut,
    ForkedFrom,
    RunDetail,
    RunSummary,
    TaskOut,
    UsageRow,
)
from podium.store import RunInfo

JSON = Any


def summary(state: RunState, info: RunInfo | None, *, now: float) -> RunSummary:
    """The run's row in a list."""
    end = state.ended_ts
    forked = state.forked_from
    name = info.name if info is not None and info.name else str(state.workflow.get("name", ""))
    live = info is not None and info.lease_expires_at is not None and info.lease_expires_at >= now
    return RunSummary(
        run_id=state.run_id,
        workflow=name,
        status=state.status,
        reason=state.reason,
        message=state.message,
        started_ts=state.created_ts,
        ended_ts=end,
        duration_s=max(0.0, (end if end is not None else now) - state.created_ts),
        tokens_in=state.usage.input_tokens,
        tokens_out=state.usage.output_tokens,
        cost_usd=round(state.usage.cost_usd, 6),
        forked_from=None if forked is None else ForkedFrom(run_id=forked.parent, task=forked.task),
        driven_by=info.lease_owner if live and info is not None else None,
        events=state.seq + 1,
    )


def event_out(event: AnyEvent) -> EventOut:
    return EventOut.model_validate(to_builtins(event))


def approval_out(approval: Approval, workflow: str = "") -> ApprovalOut:
    data = msgspec.to_builtins(approval)
    status = data.get("status", "pending")
    return ApprovalOut(
        **{k: v for k, v in data.items() if k in ApprovalOut.model_fields and k != "status"},
        workflow=workflow,
        status=status if status in ("pending", "granted", "rejected") else "pending",
    )


def detail(
    state: RunState,
    info: RunInfo | None,
    events: Sequence[AnyEvent],
    pending: Sequence[Approval],
    *,
    now: float,
) -> RunDetail:
    """Everything about one run: its tasks and their attempts, the blackboard, usage."""
    head = summary(state, info, now=now)
    submitted = state.submitted
    return RunDetail(
        **head.model_dump(),
        inputs=dict(submitted.inputs) if submitted is not None else {},
        goal=submitted.goal if submitted is not None else None,
        output=state.output,
        missing=list(state.missing),
        confidence=run_confidence(state),
        tasks=_tasks(state, events),
        blackboard=_board(events),
        usage=_usage(events),
        approvals=[approval_out(a, head.workflow) for a in pending],
        decisions=_decisions(events),
        feedback=[
            FeedbackOut(
                run_id=f.run_id, seq=f.seq, score=f.score, comment=f.comment, by=f.by, ts=f.ts
            )
            for f in state.feedback
        ],
    )


def _tasks(state: RunState, events: Sequence[AnyEvent]) -> list[TaskOut]:
    attempts = attempts_by_task(
        ev
        for ev in events
        if isinstance(
            ev, TaskAssigned | TaskStarted | TaskSucceeded | TaskFailed | ModelCalled | ToolCalled
        )
    )
    out = []
    for tid, ts in state.tasks.items():
        task = ts.task
        duration = None
        if ts.started_ts is not None and ts.ended_ts is not None:
            duration = max(0.0, ts.ended_ts - ts.started_ts)
        out.append(
            TaskOut(
                id=tid,
                instruction=task.instruction,
                needs=list(task.needs),
                agent=task.agent,
                capability=task.capability,
                optional=task.optional,
                status=ts.status,
                assigned=ts.agent,
                started_ts=ts.started_ts,
                ended_ts=ts.ended_ts,
                duration_s=duration,
                output=ts.output,
                error=error_out(ts.error),
                tokens_in=ts.usage.input_tokens,
                tokens_out=ts.usage.output_tokens,
                cost_usd=round(ts.usage.cost_usd, 6),
                copied=tid in state.copied,
                attempts=_settled(attempts.get(tid, []), running=ts.status == "running"),
            )
        )
    return out


def _settled(attempts: list[Attempt], *, running: bool) -> list[Attempt]:
    """An attempt left without an outcome by a task that no longer runs was cut short (the run
    ended, was interrupted, or parked on an approval)."""
    if not running:
        for attempt in attempts:
            if attempt.status == "running":
                attempt.status = "cancelled"
    return attempts


def _board(events: Sequence[AnyEvent]) -> list[BoardEntry]:
    keys: dict[str, list[EntryVersion]] = {}
    for ev in events:
        if isinstance(ev, ContextWritten):
            keys.setdefault(ev.key, []).append(
                EntryVersion(
                    version=ev.version,
                    value=ev.value,
                    task=ev.task,
                    agent=ev.agent,
                    sources=list(ev.sources),
                    confidence=ev.confidence,
                    ts=ev.ts,
                    seq=ev.seq,
                )
            )
    return [BoardEntry(key=k, versions=v) for k, v in keys.items()]


def _usage(events: Sequence[AnyEvent]) -> list[UsageRow]:
    rows: dict[tuple[str, str], list[float]] = {}
    for ev in events:
        if isinstance(ev, ModelCalled):
            row = rows.setdefault((ev.agent, ev.model), [0, 0, 0, 0.0])
            row[0] += 1
            row[1] += ev.input_tokens
            row[2] += ev.output_tokens
            row[3] += ev.cost_usd
    return [
        UsageRow(
            agent=agent,
            model=model,
            calls=int(r[0]),
            tokens_in=int(r[1]),
            tokens_out=int(r[2]),
            cost_usd=round(r[3], 6),
        )
        for (agent, model), r in sorted(rows.items())
    ]


def _decisions(events: Sequence[AnyEvent]) -> list[Decision]:
    return [
        Decision(
            task=ev.task,
            granted=isinstance(ev, ApprovalGranted),
            by=ev.by,
            comment=ev.comment,
            ts=ev.ts,
        )
        for ev in events
        if isinstance(ev, ApprovalGranted | ApprovalRejected)
    ]


__all__ = ["approval_out", "detail", "event_out", "summary"]
