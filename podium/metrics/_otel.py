"""The report as OpenTelemetry observable gauges (the ``otel`` extra, imported on use)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from podium.metrics._report import MetricsReport
from podium.metrics._samples import HELP, Sample, samples, target_samples

ReportSource = MetricsReport | Callable[[], MetricsReport]
"""A report, or what returns the latest one at each collection (it must be quick: keep a
report computed elsewhere, say after each run ends, and return it)."""


def _attributes(s: Sample) -> dict[str, str]:
    if s.scope == "all":
        return {"podium.scope": "all"}
    return {"podium.scope": s.scope, f"podium.{s.scope}": s.name}


def _unit(key: str) -> str:
    if key.endswith("_s"):
        return "s"
    if key.endswith("_usd"):
        return "USD"
    return "1"


def observe_metrics(meter_provider: Any, source: ReportSource) -> list[Any]:
    """Register an observable gauge per metric on `meter_provider`, reading `source`.

    Instruments are named ``podium.<key>`` (the keys of `MetricsReport.numbers`) plus
    ``podium.target_met``; attributes say whose number it is: ``podium.scope`` (``all``,
    ``workflow`` or ``agent``) and ``podium.workflow`` or ``podium.agent``.

    Args:
        meter_provider: an OpenTelemetry ``MeterProvider`` (the SDK's, or any).
        source: the report, or a function returning the latest report.

    Returns:
        The instruments created.
    """
    from opentelemetry.metrics import CallbackOptions, Observation

    def current() -> MetricsReport:
        return source if isinstance(source, MetricsReport) else source()

    def gauge(key: str) -> Callable[[CallbackOptions], Iterable[Observation]]:
        def observe(_options: CallbackOptions) -> Iterable[Observation]:
            return [
                Observation(s.value, _attributes(s)) for s in samples(current()) if s.key == key
            ]

        return observe

    def targets(_options: CallbackOptions) -> Iterable[Observation]:
        return [Observation(v, {"podium.metric": m}) for m, v in target_samples(current())]

    meter = meter_provider.get_meter("podium.metrics")
    made = [
        meter.create_observable_gauge(
            f"podium.{key}", callbacks=[gauge(key)], unit=_unit(key), description=text
        )
        for key, text in HELP.items()
    ]
    made.append(
        meter.create_observable_gauge(
            "podium.target_met",
            callbacks=[targets],
            description="1 when the metric meets its target, 0 when not.",
        )
    )
    return made


__all__ = ["ReportSource", "observe_metrics"]
