"""Task outcomes and their per (task kind, agent) statistics, kept by every store.

The router learns from these: each final task outcome (did the task succeed, did its checks pass,
what did it cost, how long did it take) is added to the statistics of its (kind, agent) pair. A
store keeps only the sums, never the individual outcomes, so the table stays as small as the
number of pairs however many runs feed it; the sums are all a Beta posterior and mean cost and
latency need.
"""

from __future__ import annotations

from collections.abc import Iterable

import msgspec


class Outcome(msgspec.Struct, frozen=True, kw_only=True):
    """The final outcome of one task on one agent.

    Attributes:
        kind: the task kind (see `podium.routing.task_kind`).
        agent: the agent that made the final attempt.
        success: the task succeeded.
        checks_passed: the output passed the task's checks; ``None`` when there were none or
            they did not run.
        cost_usd: what the task cost over all its attempts; ``None`` when the agent reports no
            usage (a Python agent), so that an unknown cost is not mistaken for a free one.
        latency_s: wall time of the final attempt.
        ts: when the outcome was known.
    """

    kind: str
    agent: str
    success: bool
    checks_passed: bool | None = None
    cost_usd: float | None = None
    latency_s: float = 0.0
    ts: float = 0.0


class OutcomeStats(msgspec.Struct, frozen=True, kw_only=True):
    """Sums over the outcomes of one (kind, agent) pair.

    Attributes:
        runs: outcomes counted.
        successes: of which succeeded.
        checked: outcomes whose checks ran; `checks_passed` of them passed.
        cost_usd: total cost of the `cost_runs` outcomes that reported one.
        latency_s: total latency of all `runs` outcomes.
        updated_at: the latest outcome's `ts`.
    """

    kind: str
    agent: str
    runs: int = 0
    successes: int = 0
    checked: int = 0
    checks_passed: int = 0
    cost_usd: float = 0.0
    cost_runs: int = 0
    latency_s: float = 0.0
    updated_at: float = 0.0

    @property
    def key(self) -> tuple[str, str]:
        return (self.kind, self.agent)

    @property
    def failures(self) -> int:
        return self.runs - self.successes

    @property
    def mean_cost_usd(self) -> float | None:
        return self.cost_usd / self.cost_runs if self.cost_runs else None

    @property
    def mean_latency_s(self) -> float | None:
        return self.latency_s / self.runs if self.runs else None

    @classmethod
    def of(cls, outcome: Outcome) -> OutcomeStats:
        """The statistics of a single outcome."""
        return cls(
            kind=outcome.kind,
            agent=outcome.agent,
            runs=1,
            successes=int(outcome.success),
            checked=int(outcome.checks_passed is not None),
            checks_passed=int(bool(outcome.checks_passed)),
            cost_usd=outcome.cost_usd or 0.0,
            cost_runs=int(outcome.cost_usd is not None),
            latency_s=outcome.latency_s,
            updated_at=outcome.ts,
        )

    def plus(self, other: OutcomeStats, *, kind: str | None = None) -> OutcomeStats:
        """Both sums together, under this pair's key (or under `kind`)."""
        return OutcomeStats(
            kind=self.kind if kind is None else kind,
            agent=self.agent,
            runs=self.runs + other.runs,
            successes=self.successes + other.successes,
            checked=self.checked + other.checked,
            checks_passed=self.checks_passed + other.checks_passed,
            cost_usd=self.cost_usd + other.cost_usd,
            cost_runs=self.cost_runs + other.cost_runs,
            latency_s=self.latency_s + other.latency_s,
            updated_at=max(self.updated_at, other.updated_at),
        )


class OutcomeSums:
    """Running sums that grow in place: cheap to add an outcome to (once per task)."""

    __slots__ = (
        "checked",
        "checks_passed",
        "cost_runs",
        "cost_usd",
        "latency_s",
        "runs",
        "successes",
        "updated_at",
    )

    def __init__(self) -> None:
        self.runs = self.successes = self.checked = self.checks_passed = self.cost_runs = 0
        self.cost_usd = self.latency_s = self.updated_at = 0.0

    def add(self, outcome: Outcome) -> None:
        self.count(
            outcome.success, outcome.checks_passed, outcome.cost_usd, outcome.latency_s, outcome.ts
        )

    def count(
        self,
        success: bool,
        checks_passed: bool | None,
        cost_usd: float | None,
        latency_s: float,
        ts: float,
    ) -> None:
        """Add one outcome, given by its fields."""
        self.runs += 1
        self.successes += success
        if checks_passed is not None:
            self.checked += 1
            self.checks_passed += checks_passed
        if cost_usd is not None:
            self.cost_usd += cost_usd
            self.cost_runs += 1
        self.latency_s += latency_s
        self.updated_at = max(self.updated_at, ts)

    def add_stats(self, stats: OutcomeStats) -> None:
        self.runs += stats.runs
        self.successes += stats.successes
        self.checked += stats.checked
        self.checks_passed += stats.checks_passed
        self.cost_usd += stats.cost_usd
        self.cost_runs += stats.cost_runs
        self.latency_s += stats.latency_s
        self.updated_at = max(self.updated_at, stats.updated_at)

    @property
    def mean_cost_usd(self) -> float | None:
        return self.cost_usd / self.cost_runs if self.cost_runs else None

    @property
    def mean_latency_s(self) -> float | None:
        return self.latency_s / self.runs if self.runs else None

    def freeze(self, kind: str, agent: str) -> OutcomeStats:
        return OutcomeStats(
            kind=kind,
            agent=agent,
            runs=self.runs,
            successes=self.successes,
            checked=self.checked,
            checks_passed=self.checks_passed,
            cost_usd=self.cost_usd,
            cost_runs=self.cost_runs,
            latency_s=self.latency_s,
            updated_at=self.updated_at,
        )


def aggregate(
    outcomes: Iterable[Outcome | OutcomeStats],
) -> dict[tuple[str, str], OutcomeStats]:
    """Outcomes (and sums of them) summed per (kind, agent), in the order the pairs first
    appear."""
    sums: dict[tuple[str, str], OutcomeSums] = {}
    for outcome in outcomes:
        key = (outcome.kind, outcome.agent)
        found = sums.get(key)
        if found is None:
            found = sums[key] = OutcomeSums()
        if isinstance(outcome, OutcomeStats):
            found.add_stats(outcome)
        else:
            found.add(outcome)
    return {key: s.freeze(*key) for key, s in sums.items()}


__all__ = ["Outcome", "OutcomeStats", "OutcomeSums", "aggregate"]
