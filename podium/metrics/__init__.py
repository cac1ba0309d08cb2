"""Metrics of runs, computed from their journals: the seed's six against their targets, and
the counts around them; exported to Prometheus and OpenTelemetry; drift alerts on thresholds.

```python
from podium.metrics import compute_metrics, prometheus_text

report = await compute_metrics(store, since=time.time() - 7 * 86400, workflow="nightly")
report.to_json()          # JSON-ready, stable keys
prometheus_text(report)   # the text a Prometheus scrape reads
```
"""

from podium.metrics._alerts import ALERTS_RUN_ID, AlertOutcome, evaluate_alerts
from podium.metrics._compute import compute_metrics
from podium.metrics._facts import GROUNDING
from podium.metrics._otel import observe_metrics
from podium.metrics._prometheus import prometheus_text
from podium.metrics._report import MetricsReport, TargetCheck, Targets
from podium.metrics._rules import AlertRule, load_alert_rules, parse_alert_rules, parse_duration

__all__ = [
    "ALERTS_RUN_ID",
    "GROUNDING",
    "AlertOutcome",
    "AlertRule",
    "MetricsReport",
    "TargetCheck",
    "Targets",
    "compute_metrics",
    "evaluate_alerts",
    "load_alert_rules",
    "observe_metrics",
    "parse_alert_rules",
    "parse_duration",
    "prometheus_text",
]
