"""The report exported: Prometheus text (parsed back) and OpenTelemetry gauges (read back)."""

from __future__ import annotations

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from prometheus_client.parser import text_string_to_metric_families

from podium.metrics import MetricsReport, compute_metrics, observe_metrics, prometheus_text
from tests.metrics.conftest import Lab, run_scenario

pytestmark = pytest.mark.anyio


async def scenario_report(lab: Lab) -> MetricsReport:
    await run_scenario(lab)
    assert lab.orch is not None
    return await compute_metrics(lab.orch.store, buckets=1)


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        assert family.type == "gauge"
        assert family.documentation
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


async def test_prometheus_text_parses_with_every_scope(lab: Lab) -> None:
    report = await scenario_report(lab)
    got = samples(prometheus_text(report))
    assert got[("podium_runs", ())] == 9
    assert got[("podium_completion_rate", ())] == pytest.approx(3 / 9)
    assert got[("podium_step_latency_p95_seconds", ())] == 2.0
    assert got[("podium_approval_wait_mean_seconds", ())] == 45.0
    assert got[("podium_cost_usd", ())] == pytest.approx(0.06)
    assert got[("podium_workflow_runs", (("workflow", "doomed"),))] == 2
    assert got[("podium_workflow_loop_stops", (("workflow", "loopy"),))] == 1
    assert got[("podium_agent_attempts", (("agent", "quick"),))] == 6
    assert got[("podium_agent_breaker_openings", (("agent", "broken"),))] == 1
    assert got[("podium_target_met", (("metric", "step_latency"),))] == 1
    assert got[("podium_target_met", (("metric", "error_rate"),))] == 0
    # no data is left out, not exported as 0
    assert ("podium_target_met", (("metric", "cost_per_run"),)) not in got
    assert ("podium_workflow_satisfaction", (("workflow", "doomed"),)) not in got


async def test_prometheus_text_of_an_empty_store(lab: Lab) -> None:
    assert lab.orch is not None
    got = samples(prometheus_text(await compute_metrics(lab.orch.store)))
    assert got[("podium_runs", ())] == 0
    assert ("podium_completion_rate", ()) not in got
    assert not [key for key in got if key[0] == "podium_target_met"]


async def test_names_with_odd_characters_are_escaped(lab: Lab) -> None:
    report = await scenario_report(lab)
    report.workflows['we"ird\nname'] = report.workflows.pop("steady")
    got = samples(prometheus_text(report))
    assert got[("podium_workflow_runs", (("workflow", 'we"ird\nname'),))] == 1


def points(reader: InMemoryMetricReader) -> dict[str, list[tuple[dict[str, str], float]]]:
    data = reader.get_metrics_data()
    assert data is not None
    out: dict[str, list[tuple[dict[str, str], float]]] = {}
    for resource in data.resource_metrics:
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                out[metric.name] = [
                    (dict(p.attributes or {}), p.value)  # type: ignore[union-attr]
                    for p in metric.data.data_points
                ]
    return out


async def test_opentelemetry_gauges_read_the_latest_report(lab: Lab) -> None:
    assert lab.orch is not None
    latest = [await compute_metrics(lab.orch.store)]
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    made = observe_metrics(provider, lambda: latest[-1])
    assert len(made) > 20
    first = points(reader)
    assert first["podium.runs"] == [({"podium.scope": "all"}, 0)]
    assert "podium.completion_rate" not in first  # no data: no point
    latest.append(await scenario_report(lab))
    second = points(reader)
    assert ({"podium.scope": "all"}, 9) in second["podium.runs"]
    doomed = {"podium.scope": "workflow", "podium.workflow": "doomed"}
    assert (doomed, 2) in second["podium.runs"]
    quick = {"podium.scope": "agent", "podium.agent": "quick"}
    assert (quick, 6) in second["podium.attempts"]
    assert ({"podium.metric": "error_rate"}, 0) in second["podium.target_met"]
    provider.shutdown()


async def test_opentelemetry_with_a_fixed_report(lab: Lab) -> None:
    report = await scenario_report(lab)
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    observe_metrics(provider, report)
    got = points(reader)
    rates = got["podium.completion_rate"]
    assert ({"podium.scope": "all"}, pytest.approx(3 / 9)) in rates
    assert len(rates) == 1 + 7  # every run, and each of the seven workflows
    provider.shutdown()
