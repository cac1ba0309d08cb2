"""The report in the Prometheus text exposition format (``prometheus-client``, in the
``server`` extra, is imported only here, on use)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from podium.metrics._report import MetricsReport
from podium.metrics._samples import HELP, Scope, samples, target_samples

_PREFIX: dict[Scope, tuple[str, list[str]]] = {
    "all": ("podium_", []),
    "workflow": ("podium_workflow_", ["workflow"]),
    "agent": ("podium_agent_", ["agent"]),
}


def prometheus_name(key: str, scope: Scope) -> str:
    """``step_latency_p95_s`` of a workflow → ``podium_workflow_step_latency_p95_seconds``."""
    base = key[: -len("_s")] + "_seconds" if key.endswith("_s") else key
    return _PREFIX[scope][0] + base


class ReportCollector:
    """A Prometheus collector that yields one report's numbers as gauges."""

    def __init__(self, report: MetricsReport) -> None:
        self.report = report

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import GaugeMetricFamily

        families: dict[str, Any] = {}
        for s in samples(self.report):
            name = prometheus_name(s.key, s.scope)
            family = families.get(name)
            if family is None:
                labels = _PREFIX[s.scope][1]
                family = GaugeMetricFamily(name, HELP.get(s.key, s.key), labels=labels)
                families[name] = family
            family.add_metric([s.name] if s.scope != "all" else [], s.value)
        met = GaugeMetricFamily(
            "podium_target_met",
            "1 when the metric meets its target, 0 when not (left out with no data).",
            labels=["metric"],
        )
        for metric, value in target_samples(self.report):
            met.add_metric([metric], value)
        yield from families.values()
        yield met


def prometheus_text(report: MetricsReport) -> str:
    """The report in the Prometheus text format (what ``/metrics`` serves).

    Gauges named ``podium_<key>`` for every selected run, ``podium_workflow_<key>{workflow}``
    and ``podium_agent_<key>{agent}``; seconds are ``_seconds``; ``podium_target_met{metric}``
    says which of the six metrics meet their targets. Needs ``prometheus-client`` (the
    ``server`` extra).
    """
    from prometheus_client import CollectorRegistry, generate_latest

    registry = CollectorRegistry(auto_describe=False)
    registry.register(ReportCollector(report))
    return generate_latest(registry).decode("utf-8")


__all__ = ["ReportCollector", "prometheus_name", "prometheus_text"]
