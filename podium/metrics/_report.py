"""`MetricsReport`: the metrics of a set of runs, against the seed's targets, over time."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from podium.metrics._facts import AgentFacts, RunFacts
from podium.metrics._totals import Number, Totals, agent_numbers, slope

JSON = Any
Status = Literal["met", "not met", "no data"]

SERIES_KEYS = (
    "runs",
    "completion_rate",
    "step_latency_mean_s",
    "step_latency_p95_s",
    "error_rate",
    "hallucination_rate",
    "satisfaction",
    "cost_per_run_usd",
)
"""The numbers of each time bucket (what the dashboard charts)."""


@dataclass(frozen=True, kw_only=True)
class Targets:
    """What the metrics should be (the seed's targets; satisfaction's is Podium's own).

    Attributes:
        completion_rate: at least this share of finished runs succeed with no person asked.
        step_latency_s: the mean step (attempt) takes at most this many seconds.
        error_rate: at most this share of answers fail or are rejected.
        hallucination_rate: at most this share of outputs fail a grounding check.
        satisfaction: the mean feedback score (1 to 5) is at least this.
    The cost per run should not grow: its trend over the window's buckets is not upward.
    """

    completion_rate: float = 0.98
    step_latency_s: float = 5.0
    error_rate: float = 0.01
    hallucination_rate: float = 0.005
    satisfaction: float = 4.0


@dataclass(frozen=True, slots=True)
class TargetCheck:
    """One of the six metrics against its target."""

    metric: str
    value: float | None
    target: float | None
    comparison: Literal[">=", "<=", "trend"]
    status: Status
    unit: str

    def to_json(self) -> dict[str, JSON]:
        return {
            "metric": self.metric,
            "value": self.value,
            "target": self.target,
            "comparison": self.comparison,
            "status": self.status,
            "unit": self.unit,
        }


def _check(metric: str, value: Number, target: float, at_least: bool, unit: str) -> TargetCheck:
    status: Status = "no data"
    if value is not None:
        met = value >= target if at_least else value <= target
        status = "met" if met else "not met"
    value_f = None if value is None else float(value)
    return TargetCheck(metric, value_f, target, ">=" if at_least else "<=", status, unit)


def trend_direction(points: Sequence[tuple[float, float]]) -> tuple[float | None, str]:
    """The slope of cost per run over bucket index and its direction (``flat`` within 1% of
    the mean per bucket); ``(None, "no data")`` with fewer than two buckets holding runs."""
    s = slope(points)
    if s is None:
        return None, "no data"
    level = sum(y for _, y in points) / len(points)
    if abs(s) <= 0.01 * abs(level) or s == 0:
        return s, "flat"
    return s, "decreasing" if s < 0 else "increasing"


@dataclass(slots=True)
class Bucket:
    """The runs created in ``[start, end)`` (the last bucket includes its end)."""

    start: float
    end: float
    totals: Totals = field(default_factory=Totals)
    workflows: dict[str, Totals] = field(default_factory=dict)


@dataclass(kw_only=True)
class MetricsReport:
    """The metrics of the runs of a window (see `compute_metrics`).

    Attributes:
        since, until: the window the runs were created in (``None``: open).
        workflow, last: the filters applied.
        totals: every selected run, summed.
        workflows: per workflow name.
        agents: per agent, their attempts.
        buckets: the window cut into equal spans of time, for charts.
        targets: what the six metrics are checked against.
    """

    since: float | None
    until: float | None
    workflow: str | None
    last: int | None
    totals: Totals
    workflows: dict[str, Totals]
    agents: dict[str, AgentFacts]
    buckets: list[Bucket]
    targets: Targets = field(default_factory=Targets)

    def numbers(self) -> dict[str, Number]:
        """Every number of the selected runs together."""
        return self.totals.numbers()

    def cost_trend(self, workflow: str | None = None) -> tuple[float | None, str]:
        """The trend of cost per run (slope in USD per bucket, direction), of one workflow or
        of all."""
        points: list[tuple[float, float]] = []
        for i, bucket in enumerate(self.buckets):
            totals = bucket.totals if workflow is None else bucket.workflows.get(workflow)
            if totals is not None and totals.runs:
                points.append((float(i), totals.cost_usd / totals.runs))
        return trend_direction(points)

    def checks(self) -> list[TargetCheck]:
        """The six metrics of the seed against their targets."""
        n, t = self.numbers(), self.targets
        s, direction = self.cost_trend()
        trend: Status = (
            "no data" if s is None else "not met" if direction == "increasing" else "met"
        )
        return [
            _check("completion_rate", n["completion_rate"], t.completion_rate, True, "ratio"),
            _check("step_latency", n["step_latency_mean_s"], t.step_latency_s, False, "s"),
            _check("error_rate", n["error_rate"], t.error_rate, False, "ratio"),
            _check(
                "hallucination_rate", n["hallucination_rate"], t.hallucination_rate, False, "ratio"
            ),
            _check("satisfaction", n["satisfaction"], t.satisfaction, True, "score"),
            TargetCheck("cost_per_run", n["cost_per_run_usd"], None, "trend", trend, "usd"),
        ]

    def series(self) -> list[dict[str, JSON]]:
        """Per bucket: its span and the charted numbers."""
        out = []
        for bucket in self.buckets:
            numbers = bucket.totals.numbers()
            row: dict[str, JSON] = {"start": bucket.start, "end": bucket.end}
            row.update({key: numbers[key] for key in SERIES_KEYS})
            out.append(row)
        return out

    def to_json(self) -> dict[str, JSON]:
        """The report as JSON-ready data with stable keys."""
        slope_all, direction = self.cost_trend()
        workflows = {}
        for name, totals in sorted(self.workflows.items()):
            w_slope, w_direction = self.cost_trend(name)
            workflows[name] = {
                **totals.numbers(),
                "cost_trend": {"slope_usd_per_bucket": w_slope, "direction": w_direction},
            }
        return {
            "window": {
                "since": self.since,
                "until": self.until,
                "workflow": self.workflow,
                "last": self.last,
                "buckets": len(self.buckets),
            },
            "runs": self.totals.runs,
            "targets": [check.to_json() for check in self.checks()],
            "totals": self.numbers(),
            "statuses": dict(sorted(self.totals.statuses.items())),
            "cost_trend": {"slope_usd_per_bucket": slope_all, "direction": direction},
            "workflows": workflows,
            "agents": {name: agent_numbers(a) for name, a in sorted(self.agents.items())},
            "series": self.series(),
        }


def _buckets(
    runs: Sequence[RunFacts], since: float | None, until: float | None, n: int
) -> list[Bucket]:
    times = [r.created_at for r in runs]
    start = since if since is not None else min(times, default=0.0)
    end = until if until is not None else max(times, default=start)
    end = max(end, start)
    width = (end - start) / n
    return [
        Bucket(start + i * width, start + (i + 1) * width if i < n - 1 else end) for i in range(n)
    ]


def build_report(
    runs: Sequence[RunFacts],
    *,
    since: float | None,
    until: float | None,
    workflow: str | None,
    last: int | None,
    buckets: int,
    targets: Targets,
) -> MetricsReport:
    """Sum the runs' facts overall, per workflow, per agent and per time bucket."""
    spans = _buckets(runs, since, until, buckets)
    totals = Totals()
    workflows: dict[str, Totals] = {}
    agents: dict[str, AgentFacts] = {}
    start, end = (spans[0].start, spans[-1].end) if spans else (0.0, 0.0)
    width = (end - start) / len(spans) if spans else 0.0
    for run in runs:
        totals.add(run)
        workflows.setdefault(run.workflow, Totals()).add(run)
        for name, facts in run.agents.items():
            agents.setdefault(name, AgentFacts()).add(facts)
        i = min(int((run.created_at - start) / width), len(spans) - 1) if width > 0 else 0
        bucket = spans[max(i, 0)]
        bucket.totals.add(run)
        bucket.workflows.setdefault(run.workflow, Totals()).add(run)
    return MetricsReport(
        since=since,
        until=until,
        workflow=workflow,
        last=last,
        totals=totals,
        workflows=workflows,
        agents=agents,
        buckets=spans,
        targets=targets,
    )


__all__ = ["SERIES_KEYS", "Bucket", "MetricsReport", "TargetCheck", "Targets", "build_report"]
