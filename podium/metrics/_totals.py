"""Sums of many runs' facts, and the numbers computed from them.

Every rate keeps its denominator: a rate over nothing is ``None`` ("no data"), never 0.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from podium.metrics._facts import STOPS, AgentFacts, RunFacts

Number = float | int | None


def ratio(part: float, whole: float) -> float | None:
    """`part` / `whole`, or ``None`` when `whole` is 0."""
    return part / whole if whole else None


def percentile(values: Sequence[float], q: float) -> float | None:
    """The `q`-quantile (0..1) of `values` by the nearest-rank method; ``None`` when empty."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q * len(ordered)))
    return ordered[rank - 1]


def mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def agent_numbers(a: AgentFacts) -> dict[str, Number]:
    """The numbers of an agent's attempts (or of every agent's, summed)."""
    answers = a.attempts + a.rejections
    errors = a.failures + a.rejections
    return {
        "attempts": a.attempts,
        "step_latency_p50_s": percentile(a.latencies, 0.5),
        "step_latency_p95_s": percentile(a.latencies, 0.95),
        "step_latency_mean_s": mean(a.latencies),
        "errors": errors,
        "error_rate": ratio(errors, answers),
        "grounding_rejections": a.grounding,
        "hallucination_rate": ratio(a.grounding, a.outputs + a.grounding),
        "breaker_openings": a.breaker_openings,
        "input_tokens": a.input_tokens,
        "output_tokens": a.output_tokens,
        "cost_usd": a.cost_usd,
    }


@dataclass(slots=True)
class Totals:
    """The facts of a set of runs, summed."""

    runs: int = 0
    finished: int = 0
    unassisted: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    retries: int = 0
    breaker_openings: int = 0
    stops: dict[str, int] = field(default_factory=lambda: dict.fromkeys(STOPS, 0))
    approvals_requested: int = 0
    approvals_granted: int = 0
    approvals_rejected: int = 0
    approval_waits: list[float] = field(default_factory=list)
    scores: list[int] = field(default_factory=list)
    attempts: AgentFacts = field(default_factory=AgentFacts)
    planner_tokens: list[int] = field(default_factory=lambda: [0, 0])

    def add(self, run: RunFacts) -> None:
        self.runs += 1
        self.statuses[run.status] = self.statuses.get(run.status, 0) + 1
        if run.finished:
            self.finished += 1
            self.unassisted += run.unassisted
        if run.status == "failed" and run.reason in self.stops:
            self.stops[run.reason] += 1
        self.retries += run.retries
        self.breaker_openings += run.breaker_openings
        self.approvals_requested += run.approvals_requested
        self.approvals_granted += run.approvals_granted
        self.approvals_rejected += run.approvals_rejected
        self.approval_waits.extend(run.approval_waits)
        self.scores.extend(run.scores.values())
        for agent in run.agents.values():
            self.attempts.add(agent)
        self.planner_tokens[0] += run.planner_tokens[0]
        self.planner_tokens[1] += run.planner_tokens[1]

    @property
    def cost_usd(self) -> float:
        return self.attempts.cost_usd

    def numbers(self) -> dict[str, Number]:
        """Every number of these runs, by stable key (the JSON, Prometheus and OTel names)."""
        out: dict[str, Number] = {
            "runs": self.runs,
            "finished_runs": self.finished,
            "unassisted_runs": self.unassisted,
            "completion_rate": ratio(self.unassisted, self.finished),
        }
        out.update(agent_numbers(self.attempts))
        out.update(
            {
                "satisfaction": mean(self.scores),
                "feedback_count": len(self.scores),
                "cost_per_run_usd": ratio(self.cost_usd, self.runs),
                "retries": self.retries,
                "loop_stops": self.stops["loop"],
                "stall_stops": self.stops["stall"],
                "approvals_requested": self.approvals_requested,
                "approvals_granted": self.approvals_granted,
                "approvals_rejected": self.approvals_rejected,
                "approval_wait_mean_s": mean(self.approval_waits),
                "approval_wait_p95_s": percentile(self.approval_waits, 0.95),
            }
        )
        out["breaker_openings"] = self.breaker_openings  # every scope, not only agents'
        out["input_tokens"] = self.attempts.input_tokens + self.planner_tokens[0]  # as RunState
        out["output_tokens"] = self.attempts.output_tokens + self.planner_tokens[1]
        return out


def slope(points: Sequence[tuple[float, float]]) -> float | None:
    """The least-squares slope of ``(x, y)`` points; ``None`` with fewer than two x values."""
    if len({x for x, _ in points}) < 2:
        return None
    mx = sum(x for x, _ in points) / len(points)
    my = sum(y for _, y in points) / len(points)
    num = sum((x - mx) * (y - my) for x, y in points)
    den = sum((x - mx) ** 2 for x, _ in points)
    return num / den


__all__ = ["Number", "Totals", "agent_numbers", "mean", "percentile", "ratio", "slope"]
