"""Confidence at run time: samples of an attempt, and the measured confidence acted on.

The `Verifier` uses these: `sampled` runs an attempt k times when a task's (or its agent's)
`Confidence` asks for samples and keeps the medoid output; `measure` turns the samples'
agreement, the checks' verdicts, the grounding scores and the routing margin into one
confidence (see `podium.verify._confidence`); `confident` journals it and, below the task's
`Confidence.min`, asks a person or fails the task.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import msgspec

from podium.agents import Agent
from podium.events import ConfidenceMeasured, ErrorInfo, Usage
from podium.exceptions import ConfigError
from podium.policy import ApprovalRequest, ResultReview
from podium.runtime._attempt import AttemptOutcome
from podium.runtime._interceptors import AttemptCall, ExecuteAttempt
from podium.runtime._supervise import FailureDecision
from podium.verify import Check, Verdict
from podium.verify._confidence import (
    Agreement,
    Confidence,
    Similarity,
    agreement,
    checks_signal,
    combine,
    grounding_signal,
    routing_signal,
)

JSON = Any


def confidence_of(
    call: AttemptCall, agents: Mapping[str, Agent], default: Confidence | None = None
) -> Confidence | None:
    """The task's `Confidence`, or else its agent's, or else the workflow's `default`."""
    if call.input.task.confidence is not None:
        return call.input.task.confidence
    spec = agents.get(call.input.agent)
    if spec is not None and spec.confidence is not None:
        return spec.confidence
    return default


async def sampled(
    call: AttemptCall,
    next: ExecuteAttempt,
    k: int,
    agent: Agent | None,
    similarity: Similarity | None = None,
) -> tuple[AttemptOutcome, Agreement | None]:
    """Run the attempt `k` times and keep the output that agrees most with the others.

    The kept outcome carries the usage and the events of every sample. An approval a sample
    stops at (or a failure already decided upon) ends the sampling there; when every sample
    fails, the first failure is returned.

    Raises:
        ConfigError: the agent has tools with side effects (k runs would repeat them).
    """
    if agent is not None:
        acting = sorted(t.name for t in agent.tools if t.effect != "read")
        if acting:
            raise ConfigError(
                f"task {call.input.task.id!r}: confidence samples run agent {agent.name!r}"
                f" {k} times, and its tools {acting} have side effects; sample an agent whose"
                " tools only read, or drop `samples`"
            )
    outcomes: list[AttemptOutcome] = []
    for _ in range(k):
        outcome = await next(call)
        outcomes.append(outcome)
        if outcome.approval is not None or outcome.decision is not None:
            return _merged(outcome, outcomes), None  # a person, or a decided stop: no more
    good = [o for o in outcomes if o.error is None]
    if not good:
        return _merged(outcomes[0], outcomes), None
    agreed = agreement(
        [o.output for o in good], failed=len(outcomes) - len(good), similarity=similarity
    )
    return _merged(good[agreed.kept], outcomes), agreed


def _merged(kept: AttemptOutcome, outcomes: Sequence[AttemptOutcome]) -> AttemptOutcome:
    """`kept` with the usage and the events of all `outcomes` (every sample was paid for)."""
    if len(outcomes) == 1:
        return kept
    usage = Usage()
    for o in outcomes:
        if o.usage is not None:
            usage.add(o.usage)
    events = [e for o in outcomes for e in o.events]
    return msgspec.structs.replace(kept, usage=usage, events=events)


def measure(
    call: AttemptCall, checked: Sequence[tuple[Check, Verdict]], agreed: Agreement | None
) -> tuple[float | None, dict[str, float], dict[str, JSON]]:
    """(confidence, signals, evidence) of an output from what was measured about it."""
    evidence: dict[str, JSON] = {}
    found: dict[str, float | None] = {}
    if agreed is not None:
        found["samples"] = agreed.score
        evidence["samples"] = {
            "method": agreed.method,
            "kept": agreed.kept,
            "similarities": list(agreed.similarities),
        }
    results = [(v.score, c.min_score, v.passed) for c, v in checked]
    found["checks"] = checks_signal(results)
    if checked:
        evidence["checks"] = {
            v.check: {"passed": v.passed, "score": v.score, "threshold": c.min_score}
            for c, v in checked
        }
    grounded = [grounding_signal(v.evidence, v.score) for c, v in checked if c.kind == "grounding"]
    scores = [g for g in grounded if g is not None]
    found["grounding"] = sum(scores) / len(scores) if scores else None
    st = call.state.tasks.get(call.input.task.id)
    candidates = st.candidates if st is not None else []
    found["routing"] = routing_signal(candidates, call.input.agent)
    if found["routing"] is not None:
        evidence["routing"] = {
            "agent": call.input.agent,
            "scores": {c["agent"]: c["score"] for c in candidates if "score" in c},
        }
    signals = {k: round(v, 4) for k, v in found.items() if v is not None}
    return combine(signals), signals, evidence


async def confident(
    call: AttemptCall,
    agent: str,
    outcome: AttemptOutcome,
    *,
    spec: Confidence | None,
    checked: Sequence[tuple[Check, Verdict]],
    agreed: Agreement | None,
) -> AttemptOutcome:
    """Measure the confidence of an output its checks pass, journal it (`ConfidenceMeasured`)
    and act on it: below the `Confidence.min`, ask a person (a ``result`` approval showing the
    signals) or fail the task, as `Confidence.on_low` says."""
    confidence, signals, evidence = measure(call, checked, agreed)
    floor = spec.min if spec is not None else None
    low = confidence is not None and floor is not None and confidence < floor
    action = spec.on_low if low and spec is not None else "accept"
    review = ResultReview(
        task=call.input.task, agent=agent, output=outcome.output, writes=outcome.writes
    )
    if action == "ask" and call.state.approvals.granted(review.task.id, review.digest()):
        action = "accept"  # a person accepted this very output already
    await call.emit(
        ConfidenceMeasured,
        task=call.input.task.id,
        agent=agent,
        attempt=call.input.attempt,
        confidence=confidence,
        signals=signals,
        min=floor,
        action=action,
        evidence=evidence,
    )
    if action == "accept":
        return outcome
    listed = ", ".join(f"{k} {v:.2f}" for k, v in signals.items())
    why = f"confidence {confidence or 0:.2f} is below {floor or 0:.2f} ({listed})"
    if action == "fail":
        error = ErrorInfo(type="low_confidence", message=why, raw_output=outcome.output)
        return AttemptOutcome(
            error=error,
            usage=outcome.usage,
            events=outcome.events,
            decision=FailureDecision(final=True),
        )
    data = review.data()
    data["confidence"] = {"value": confidence, "min": floor, "signals": signals, **evidence}
    request = ApprovalRequest(action="result", action_hash=review.digest(), reason=why, result=data)
    return msgspec.structs.replace(outcome, approval=request)


__all__ = [
    "confidence_of",
    "confident",
    "measure",
    "sampled",
]
