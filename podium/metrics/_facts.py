"""What one run's journal says for the metrics: a single pass over its events.

Only the facts the metrics need are kept (counts, durations, tokens, cost), so thousands of
journals can be read one after another without holding any of them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from podium.events import (
    AnyEvent,
    ApprovalGranted,
    ApprovalRejected,
    ApprovalRequested,
    BreakerOpened,
    ModelCalled,
    OutputRejected,
    PlanProposed,
    RunCancelled,
    RunFailed,
    RunFeedback,
    RunPartiallySucceeded,
    RunSucceeded,
    TaskFailed,
    TaskRetrying,
    TaskStarted,
    TaskSucceeded,
)

GROUNDING = "grounding"
"""The error type of an output rejected by a grounding check (`OutputRejected.error.type` or
`TaskFailed.error.type`): a claim its sources do not support. The metrics' hallucination rate
counts these; the grounding verifiers raise them."""

STOPS = ("loop", "stall")
"""`RunFailed.reason` words of runs stopped by the loop and stall guards."""


@dataclass(slots=True)
class AgentFacts:
    """What one agent did in one run (or, summed, in many)."""

    attempts: int = 0
    latencies: list[float] = field(default_factory=list)
    """Seconds from `TaskStarted` to the attempt's `TaskSucceeded` or `TaskFailed`."""
    outputs: int = 0
    """Attempts that produced an output (`TaskSucceeded` by this agent)."""
    failures: int = 0
    rejections: int = 0
    """Answers rejected and asked again within an attempt (`OutputRejected` with repair)."""
    grounding: int = 0
    """Outputs rejected by a grounding check."""
    breaker_openings: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0

    def add(self, other: AgentFacts) -> None:
        self.attempts += other.attempts
        self.latencies.extend(other.latencies)
        self.outputs += other.outputs
        self.failures += other.failures
        self.rejections += other.rejections
        self.grounding += other.grounding
        self.breaker_openings += other.breaker_openings
        self.input_tokens += other.input_tokens
        self.output_tokens += other.output_tokens
        self.cost_usd += other.cost_usd


@dataclass(slots=True)
class RunFacts:
    """What one run's journal says, for the metrics."""

    run_id: str
    workflow: str
    created_at: float
    status: str = "running"
    reason: str = ""
    human: bool = False
    """A person was asked to decide something (an approval was requested)."""
    retries: int = 0
    breaker_openings: int = 0
    approvals_requested: int = 0
    approvals_granted: int = 0
    approvals_rejected: int = 0
    approval_waits: list[float] = field(default_factory=list)
    scores: dict[str, int] = field(default_factory=dict)
    """The latest score each person gave the run."""
    planner_tokens: tuple[int, int] = (0, 0)
    """Input and output tokens of the planner's proposals (no agent's: counted in the run's)."""
    agents: dict[str, AgentFacts] = field(default_factory=dict)

    @property
    def finished(self) -> bool:
        return self.status in ("succeeded", "partially_succeeded", "failed", "cancelled")

    @property
    def unassisted(self) -> bool:
        """The run succeeded without asking a person for anything."""
        return self.status == "succeeded" and not self.human

    def agent(self, name: str | None) -> AgentFacts:
        key = name or "?"
        found = self.agents.get(key)
        if found is None:
            found = self.agents[key] = AgentFacts()
        return found


class _Fold:
    """Folds a journal into `RunFacts`, matching attempts and approvals to their ends."""

    def __init__(self, facts: RunFacts) -> None:
        self.facts = facts
        self.started: dict[tuple[str, int], tuple[str, float]] = {}
        self.asked: dict[tuple[str, str], float] = {}

    def apply(self, ev: AnyEvent) -> None:
        handler = _HANDLERS.get(type(ev))
        if handler is not None:
            handler(self, ev)

    def started_attempt(self, ev: TaskStarted) -> None:
        self.started[(ev.task, ev.attempt)] = (ev.agent, ev.ts)
        self.facts.agent(ev.agent).attempts += 1

    def ended_attempt(self, ev: TaskSucceeded | TaskFailed) -> AgentFacts | None:
        begun = self.started.pop((ev.task, ev.attempt), None)
        if begun is None:  # no attempt ran: copied by a fork, reused, or refused before it
            return None  # (a rejected approval, an open breaker) — no step, no error of a step
        agent = self.facts.agent(ev.agent or begun[0])
        agent.latencies.append(max(0.0, ev.ts - begun[1]))
        return agent

    def succeeded(self, ev: TaskSucceeded) -> None:
        agent = self.ended_attempt(ev)
        if agent is not None:
            agent.outputs += 1

    def failed(self, ev: TaskFailed) -> None:
        agent = self.ended_attempt(ev)
        if agent is None:
            return
        agent.failures += 1
        if ev.error.type == GROUNDING:
            agent.grounding += 1

    def rejected(self, ev: OutputRejected) -> None:
        if not ev.repair:  # the attempt fails with it: its `TaskFailed` counts it
            return
        agent = self.facts.agent(ev.agent)
        agent.rejections += 1
        if ev.error.type == GROUNDING:
            agent.grounding += 1

    def model(self, ev: ModelCalled) -> None:
        agent = self.facts.agent(ev.agent)
        agent.input_tokens += ev.input_tokens
        agent.output_tokens += ev.output_tokens
        agent.cost_usd += ev.cost_usd

    def breaker(self, ev: BreakerOpened) -> None:
        self.facts.breaker_openings += 1
        if ev.scope == "agent":
            self.facts.agent(ev.name).breaker_openings += 1

    def retrying(self, _ev: TaskRetrying) -> None:
        self.facts.retries += 1

    def asked_person(self, ev: ApprovalRequested) -> None:
        self.facts.human = True
        self.facts.approvals_requested += 1
        self.asked[(ev.task, ev.action_hash)] = ev.ts

    def decided(self, ev: ApprovalGranted | ApprovalRejected) -> None:
        if isinstance(ev, ApprovalGranted):
            self.facts.approvals_granted += 1
        else:
            self.facts.approvals_rejected += 1
        asked = self.asked.pop((ev.task, ev.action_hash), None)
        if asked is not None:
            self.facts.approval_waits.append(max(0.0, ev.ts - asked))

    def planned(self, ev: PlanProposed) -> None:
        done_in, done_out = self.facts.planner_tokens
        self.facts.planner_tokens = (done_in + ev.input_tokens, done_out + ev.output_tokens)

    def feedback(self, ev: RunFeedback) -> None:
        self.facts.scores[ev.by] = ev.score

    def ended(self, ev: RunSucceeded | RunPartiallySucceeded | RunFailed | RunCancelled) -> None:
        self.facts.status = _END_STATUS[type(ev)]
        self.facts.reason = getattr(ev, "reason", "")


_END_STATUS: dict[type, str] = {
    RunSucceeded: "succeeded",
    RunPartiallySucceeded: "partially_succeeded",
    RunFailed: "failed",
    RunCancelled: "cancelled",
}

_HANDLERS: dict[type, Callable[[_Fold, Any], None]] = {
    TaskStarted: _Fold.started_attempt,
    TaskSucceeded: _Fold.succeeded,
    TaskFailed: _Fold.failed,
    OutputRejected: _Fold.rejected,
    ModelCalled: _Fold.model,
    BreakerOpened: _Fold.breaker,
    TaskRetrying: _Fold.retrying,
    ApprovalRequested: _Fold.asked_person,
    ApprovalGranted: _Fold.decided,
    ApprovalRejected: _Fold.decided,
    RunFeedback: _Fold.feedback,
    PlanProposed: _Fold.planned,
    **dict.fromkeys(_END_STATUS, _Fold.ended),
}


def fold_run(run_id: str, workflow: str, created_at: float, events: Iterable[AnyEvent]) -> RunFacts:
    """The metrics' facts of one run's journal."""
    fold = _Fold(RunFacts(run_id=run_id, workflow=workflow, created_at=created_at))
    for ev in events:
        fold.apply(ev)
    return fold.facts


__all__ = ["GROUNDING", "STOPS", "AgentFacts", "RunFacts", "fold_run"]
