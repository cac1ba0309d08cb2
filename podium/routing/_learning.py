"""What the router knows from past outcomes: success posteriors, expected cost and latency.

`OutcomeBook` keeps the store's sums per (kind, agent) and two coarser views of them, per (base,
agent) and per agent. An estimate for a kind backs off along them: the agent's record elsewhere
is the prior of its record on the base, which is the prior of its record on the kind.

Success is a Beta posterior. The prior mean starts at the agent's ``expected_success`` metadata
(else 0.5) and is updated, level by level, by the outcomes that level adds (each level without
the finer one's outcomes, so nothing is counted twice): with ``s`` the strength of a level's
prior, ``mean = (successes + s * parent_mean) / (runs + s)``. The kind's posterior is then
``Beta(successes + s_kind * mean, failures + s_kind * (1 - mean))``. A new kind thus starts from
what the agent showed on its base, and a new agent from its metadata.

Cost and latency are means of the finest level that has any, falling back to the agent's
metadata: ``expected_cost_usd``, else ``cost_tier`` (see `COST_TIERS`), and
``expected_latency_s``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from podium.agents import Agent
from podium.routing._kind import base_of
from podium.store import Outcome, OutcomeStats
from podium.store._outcomes import OutcomeSums

COST_TIERS: Mapping[str, float] = {"free": 0.0, "low": 0.0005, "medium": 0.005, "high": 0.05}
"""Expected USD per task of each ``cost_tier`` (also accepted as 0-3, in this order)."""

K = TypeVar("K")


@dataclass(frozen=True, slots=True)
class Estimate:
    """What is expected of an agent on a kind of task.

    Attributes:
        alpha, beta: the Beta posterior of its success.
        runs: outcomes of this kind on this agent.
        checks: share of its checked outcomes whose checks passed (``None``: none checked).
        cost_usd, latency_s: expected per task (``None``: unknown).
        cost_source, latency_source: where they come from: ``kind``, ``base``, ``agent``,
            ``metadata`` or ``unknown``.
    """

    alpha: float
    beta: float
    runs: int = 0
    checks: float | None = None
    cost_usd: float | None = None
    cost_source: str = "unknown"
    latency_s: float | None = None
    latency_source: str = "unknown"

    @property
    def mean(self) -> float:
        return self.alpha / (self.alpha + self.beta)

    @property
    def std(self) -> float:
        total = self.alpha + self.beta
        return math.sqrt(self.alpha * self.beta / (total * total * (total + 1)))


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def metadata_success(agent: Agent) -> float | None:
    """The agent's ``expected_success`` metadata, if it is a probability."""
    value = _number(agent.metadata.get("expected_success"))
    return value if value is not None and 0.0 < value < 1.0 else None


def metadata_cost(agent: Agent) -> float | None:
    """USD per task from ``expected_cost_usd``, else from ``cost_tier``."""
    cost = _number(agent.metadata.get("expected_cost_usd"))
    if cost is not None and cost >= 0:
        return cost
    tier = agent.metadata.get("cost_tier")
    if isinstance(tier, str):
        return COST_TIERS.get(tier.lower())
    index = _number(tier)
    if index is not None and index == int(index) and 0 <= index < len(COST_TIERS):
        return list(COST_TIERS.values())[int(index)]
    return None


def metadata_latency(agent: Agent) -> float | None:
    """Seconds per task from ``expected_latency_s``."""
    latency = _number(agent.metadata.get("expected_latency_s"))
    return latency if latency is not None and latency >= 0 else None


def _sums(table: dict[K, OutcomeSums], key: K) -> OutcomeSums:
    found = table.get(key)
    if found is None:
        found = table[key] = OutcomeSums()
    return found


def _minus(total: OutcomeSums | None, part: OutcomeSums | None) -> tuple[int, int]:
    """(runs, successes) of `total` without those of `part`."""
    runs = (total.runs if total else 0) - (part.runs if part else 0)
    successes = (total.successes if total else 0) - (part.successes if part else 0)
    return max(runs, 0), max(successes, 0)


class OutcomeBook:
    """Outcome sums per (kind, agent), per (base, agent) and per agent.

    Args:
        stats: sums to start from (what `Store.outcome_stats` returned).
        agent_strength, base_strength, kind_strength: weight, in outcomes, of each level's prior.
    """

    def __init__(
        self,
        stats: Iterable[OutcomeStats] = (),
        *,
        agent_strength: float = 2.0,
        base_strength: float = 4.0,
        kind_strength: float = 4.0,
    ) -> None:
        self.strengths = (agent_strength, base_strength, kind_strength)
        self._kinds: dict[tuple[str, str], OutcomeSums] = {}
        self._bases: dict[tuple[str, str], OutcomeSums] = {}
        self._agents: dict[str, OutcomeSums] = {}
        # estimates until the next outcome; keyed by the agent object too: its metadata counts
        self._estimates: dict[tuple[str, str, int], Estimate] = {}
        self.load(stats)

    def load(self, stats: Iterable[OutcomeStats]) -> None:
        """Replace everything known with `stats`."""
        self._kinds.clear()
        self._bases.clear()
        self._agents.clear()
        self._estimates.clear()
        for s in stats:
            self.add(s)

    def add(self, item: Outcome | OutcomeStats) -> None:
        """Count one outcome (or a pair's sums) in."""
        self._estimates.clear()
        kind, agent = item.kind, item.agent
        for sums in (
            _sums(self._kinds, (kind, agent)),
            _sums(self._bases, (base_of(kind), agent)),
            _sums(self._agents, agent),
        ):
            if isinstance(item, Outcome):
                sums.add(item)
            else:
                sums.add_stats(item)

    def stats(self, kind: str, agent: str) -> OutcomeStats | None:
        """The sums of one (kind, agent) pair."""
        found = self._kinds.get((kind, agent))
        return None if found is None else found.freeze(kind, agent)

    def all_stats(self) -> list[OutcomeStats]:
        """Every (kind, agent) pair's sums, by kind then agent."""
        return [self._kinds[key].freeze(*key) for key in sorted(self._kinds)]

    def estimate(self, kind: str, agent: Agent) -> Estimate:
        """The success posterior and the expected cost and latency of `agent` on `kind`."""
        key = (kind, agent.name, id(agent))
        found = self._estimates.get(key)
        if found is None:
            found = self._estimates[key] = self._estimate(kind, agent)
        return found

    def _estimate(self, kind: str, agent: Agent) -> Estimate:
        name = agent.name
        levels = (
            self._agents.get(name),
            self._bases.get((base_of(kind), name)),
            self._kinds.get((kind, name)),
        )
        overall, base, exact = levels
        mean = metadata_success(agent) or 0.5
        agent_strength, base_strength, kind_strength = self.strengths
        for (runs, successes), strength in (
            (_minus(overall, base), agent_strength),
            (_minus(base, exact), base_strength),
        ):
            mean = (successes + strength * mean) / (runs + strength)
        runs, successes = _minus(exact, None)
        checked = exact.checked if exact else 0
        cost, cost_source = metadata_cost(agent), "metadata"
        latency, latency_source = metadata_latency(agent), "metadata"
        cost_found = latency_found = False
        for level, label in zip(reversed(levels), ("kind", "base", "agent"), strict=True):
            if level is None:
                continue
            if not cost_found and level.mean_cost_usd is not None:
                cost, cost_source, cost_found = level.mean_cost_usd, label, True
            if not latency_found and level.mean_latency_s is not None:
                latency, latency_source, latency_found = level.mean_latency_s, label, True
        return Estimate(
            alpha=successes + kind_strength * mean,
            beta=runs - successes + kind_strength * (1 - mean),
            runs=runs,
            checks=(exact.checks_passed / checked) if exact and checked else None,
            cost_usd=cost,
            cost_source=cost_source if cost is not None else "unknown",
            latency_s=latency,
            latency_source=latency_source if latency is not None else "unknown",
        )


__all__ = [
    "COST_TIERS",
    "Estimate",
    "OutcomeBook",
    "metadata_cost",
    "metadata_latency",
    "metadata_success",
]
