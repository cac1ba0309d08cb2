"""Drift alert rules: thresholds on the metrics, read from a YAML file.

```yaml
alerts:
  - metric: completion_rate      # a key of MetricsReport.numbers()
    below: 0.98                  # or `above:`
    over_last: 50                # the last 50 runs (default), or `within: 7d`
    workflow: nightly-report     # optional: only this workflow's runs
    webhook: https://hooks.example.com/podium   # optional: POST the alert here
    name: completion             # optional: the rule's id in the alerts journal
```
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from podium.exceptions import ConfigError
from podium.metrics._totals import Totals

METRICS = frozenset(Totals().numbers())
"""What a rule may watch: the keys of `MetricsReport.numbers`."""
FIELDS = frozenset(
    {"metric", "below", "above", "over_last", "within", "workflow", "webhook", "name"}
)
DEFAULT_OVER_LAST = 50

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str) -> float:
    """``30s``, ``15m``, ``12h``, ``7d`` or ``2w`` in seconds.

    Raises:
        ConfigError: not such a duration.
    """
    match = _DURATION.match(text)
    if match is None or float(match.group(1)) <= 0:
        raise ConfigError(
            f"{text!r} is not a duration: write a positive number and a unit, like 30m, 12h, 7d"
        )
    return float(match.group(1)) * _UNIT_S[match.group(2)]


@dataclass(frozen=True, kw_only=True)
class AlertRule:
    """Fire when `metric` goes below `below` (or above `above`) over the `over_last` most
    recent runs (or those created `within_s` seconds back), of `workflow` or of all.

    Attributes:
        webhook: where a firing (and its resolution) is POSTed as JSON.
        name: the rule's id in the alerts journal (default: made from the rule).
    """

    metric: str
    below: float | None = None
    above: float | None = None
    over_last: int | None = DEFAULT_OVER_LAST
    within_s: float | None = None
    workflow: str | None = None
    webhook: str | None = None
    name: str = ""

    @property
    def id(self) -> str:
        if self.name:
            return self.name
        bound = f"<{self.below}" if self.below is not None else f">{self.above}"
        span = f"last {self.over_last}" if self.over_last is not None else f"{self.within_s:g}s"
        return f"{self.metric}{bound} over {span}" + (
            f" of {self.workflow}" if self.workflow else ""
        )

    @property
    def threshold(self) -> float:
        value = self.below if self.below is not None else self.above
        assert value is not None
        return value

    @property
    def comparison(self) -> str:
        return "below" if self.below is not None else "above"

    def breached(self, value: float | None) -> bool:
        """Whether `value` (``None``: no data, never a breach) crosses the threshold."""
        if value is None:
            return False
        return value < self.threshold if self.below is not None else value > self.threshold


def _number(raw: Any, field: str, where: str) -> float:
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        raise ConfigError(f"{where}: `{field}` must be a number, not {raw!r}")
    return float(raw)


def _rule(raw: Any, where: str) -> AlertRule:
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: a rule is a mapping (metric:, below: or above:, …)")
    unknown = sorted(set(map(str, raw)) - FIELDS)
    if unknown:
        raise ConfigError(
            f"{where}: unknown field {unknown[0]!r}; known: {', '.join(sorted(FIELDS))}"
        )
    metric = raw.get("metric")
    if metric not in METRICS:
        raise ConfigError(
            f"{where}: unknown metric {metric!r}; known: {', '.join(sorted(METRICS))}"
        )
    if ("below" in raw) == ("above" in raw):
        raise ConfigError(f"{where}: give exactly one of `below` and `above`")
    over_last = raw.get("over_last", None if "within" in raw else DEFAULT_OVER_LAST)
    if over_last is not None and (type(over_last) is not int or over_last < 1):
        raise ConfigError(
            f"{where}: `over_last` counts runs: a whole number from 1, not {over_last!r}"
        )
    webhook = raw.get("webhook")
    if webhook is not None and not (
        isinstance(webhook, str) and webhook.startswith(("http://", "https://"))
    ):
        raise ConfigError(f"{where}: `webhook` must be an http:// or https:// URL, not {webhook!r}")
    within = raw.get("within")
    return AlertRule(
        metric=metric,
        below=_number(raw["below"], "below", where) if "below" in raw else None,
        above=_number(raw["above"], "above", where) if "above" in raw else None,
        over_last=over_last,
        within_s=parse_duration(str(within)) if within is not None else None,
        workflow=None if raw.get("workflow") is None else str(raw["workflow"]),
        webhook=webhook,
        name=str(raw.get("name") or ""),
    )


def parse_alert_rules(text: str, *, file: str = "<alerts>") -> list[AlertRule]:
    """The rules of an alerts YAML text (see the module docstring).

    Raises:
        ConfigError: bad YAML or a bad rule, with the file and line.
    """
    try:
        root = yaml.compose(text)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise ConfigError(
            f"not valid YAML: {exc}", file=file, line=mark.line + 1 if mark else None
        ) from None
    if not isinstance(data, dict) or not isinstance(data.get("alerts"), list):
        raise ConfigError("expected `alerts:` with a list of rules", file=file, line=1)
    assert isinstance(root, yaml.MappingNode)
    items = next(v for k, v in root.value if k.value == "alerts").value
    rules = []
    for i, (raw, node) in enumerate(zip(data["alerts"], items, strict=True), 1):
        try:
            rules.append(_rule(raw, f"alert {i}"))
        except ConfigError as exc:
            raise ConfigError(str(exc), file=file, line=node.start_mark.line + 1) from None
    ids = [r.id for r in rules]
    dup = next((x for x in ids if ids.count(x) > 1), None)
    if dup is not None:
        raise ConfigError(f"two alert rules have the id {dup!r}: give one a `name`", file=file)
    return rules


def load_alert_rules(path: str | Path) -> list[AlertRule]:
    """The rules of an alerts YAML file (see `parse_alert_rules`)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read the alerts file {str(p)!r}: {exc}") from None
    return parse_alert_rules(text, file=str(p))


__all__ = ["METRICS", "AlertRule", "load_alert_rules", "parse_alert_rules", "parse_duration"]
