"""`Scored`: one candidate's score in `ScoringRouter`, and the helpers that explain it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from podium.routing._learning import Estimate

JSON = Any


@dataclass(frozen=True, slots=True)
class Scored:
    """One candidate's score and its components."""

    agent: str
    estimate: Estimate
    relevance: float
    success: float
    cost_norm: float
    latency_norm: float
    score: float
    has_room: bool
    imputed_cost: float | None  # the expected cost, or the candidates' average if unknown

    def to_json(self) -> dict[str, JSON]:
        est = self.estimate
        return {
            "agent": self.agent,
            "score": _round(self.score),
            "relevance": _round(self.relevance),
            "success": _round(self.success),
            "success_mean": _round(est.mean),
            "runs": est.runs,
            "cost": _round(est.cost_usd),
            "cost_source": est.cost_source,
            "latency": _round(est.latency_s),
            "latency_source": est.latency_source,
            "has_room": self.has_room,
        }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 6 if abs(value) < 0.01 else 4)


def money(value: float | None) -> str:
    return "unknown" if value is None else f"${value:.4g}"


def _seconds(value: float | None) -> str:
    return "unknown" if value is None else f"{value:.3g}s"


def imputed(values: list[float | None]) -> list[float | None]:
    """Unknown values replaced by the average of the known ones (all ``None`` if none is)."""
    known = [v for v in values if v is not None]
    if not known:
        return values
    average = sum(known) / len(known)
    return [average if v is None else v for v in values]


def cost_rank(c: Scored) -> float:
    return c.imputed_cost if c.imputed_cost is not None else 0.0


def components(c: Scored) -> str:
    est = c.estimate
    return (
        f"relevance {c.relevance:.2f}, success {c.success:.2f} (mean {est.mean:.2f} over"
        f" {est.runs} runs), cost {money(est.cost_usd)}, latency {_seconds(est.latency_s)}"
    )


__all__ = ["Scored", "components", "cost_rank", "imputed", "money"]
