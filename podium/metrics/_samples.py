"""The report as flat samples: one number, its key and whose it is (every run, a workflow or an
agent). Prometheus and OpenTelemetry export the same samples under their own naming rules."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Literal, NamedTuple

from podium.metrics._report import MetricsReport
from podium.metrics._totals import agent_numbers

Scope = Literal["all", "workflow", "agent"]

HELP = {
    "runs": "Runs created in the window.",
    "finished_runs": "Runs that ended (succeeded, partially succeeded, failed or cancelled).",
    "unassisted_runs": "Runs that succeeded with no approval asked of a person.",
    "completion_rate": "Unassisted runs over finished runs (target >= 0.98).",
    "attempts": "Task attempts started (steps).",
    "step_latency_p50_s": "Median seconds from TaskStarted to the attempt's end.",
    "step_latency_p95_s": "95th percentile of seconds from TaskStarted to the attempt's end.",
    "step_latency_mean_s": "Mean seconds from TaskStarted to the attempt's end (target <= 5).",
    "errors": "Failed attempts plus answers rejected and asked again.",
    "error_rate": "Errors over answers (attempts plus repaired rejections; target <= 0.01).",
    "grounding_rejections": "Outputs rejected by a grounding check (error type 'grounding').",
    "hallucination_rate": "Grounding rejections over outputs offered (target <= 0.005).",
    "breaker_openings": "Circuit breakers opened.",
    "input_tokens": "Model input tokens.",
    "output_tokens": "Model output tokens.",
    "cost_usd": "Model cost in US dollars.",
    "satisfaction": "Mean feedback score, 1 to 5 (target >= 4).",
    "feedback_count": "Feedback scores given (the latest per person and run).",
    "cost_per_run_usd": "Model cost per run in US dollars (target: not increasing).",
    "retries": "Task retries (TaskRetrying).",
    "loop_stops": "Runs stopped by the loop guard.",
    "stall_stops": "Runs stopped by the stall guard.",
    "approvals_requested": "Approvals asked of a person.",
    "approvals_granted": "Approvals granted.",
    "approvals_rejected": "Approvals rejected (or expired).",
    "approval_wait_mean_s": "Mean seconds from ApprovalRequested to its decision.",
    "approval_wait_p95_s": "95th percentile of seconds from ApprovalRequested to its decision.",
}


class Sample(NamedTuple):
    """One number of the report: `key` (see `HELP`) for `scope` (and the workflow or agent
    `name`)."""

    key: str
    scope: Scope
    name: str
    value: float


def samples(report: MetricsReport) -> Iterator[Sample]:
    """Every known number of the report (a number with no data is left out)."""
    scopes: list[tuple[Scope, str, dict[str, float | int | None]]] = [("all", "", report.numbers())]
    scopes += [("workflow", w, t.numbers()) for w, t in sorted(report.workflows.items())]
    scopes += [("agent", a, agent_numbers(f)) for a, f in sorted(report.agents.items())]
    for scope, name, numbers in scopes:
        for key, value in numbers.items():
            if value is not None:
                yield Sample(key, scope, name, float(value))


def target_samples(report: MetricsReport) -> Iterator[tuple[str, float]]:
    """``(metric, 1.0 or 0.0)``: whether each of the six with data meets its target."""
    for check in report.checks():
        if check.status != "no data":
            yield check.metric, 1.0 if check.status == "met" else 0.0


__all__ = ["HELP", "Sample", "Scope", "samples", "target_samples"]
