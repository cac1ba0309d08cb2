"""Drift alerts: evaluate threshold rules on the metrics, journal their changes, POST them.

The alerts journal is a journal of its own in the store, under the run id `ALERTS_RUN_ID`
(named ``podium:alerts``, cancelled at birth so that nothing ever tries to drive it). Each change
of a rule is one `ContextWritten` event in it (task ``alerts``, key: the rule's id, value: the
alert), so every backend keeps it with no schema of its own, and ``podium show podium-alerts``
prints the history. A rule fires once: while its last entry says ``firing`` and delivered, later
evaluations post nothing; an undelivered firing is posted again at the next evaluation. Two
evaluators racing for the same change collide on the journal's sequence number, and the loser
posts nothing.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from podium.events import ContextWritten, RunCancelled, RunSubmitted
from podium.exceptions import JournalConflict, PodiumError
from podium.metrics._compute import ALERTS_RUN_ID, compute_metrics
from podium.metrics._rules import AlertRule
from podium.reliability import post_webhook
from podium.store import Store

log = logging.getLogger(__name__)
JSON = Any
TASK = "alerts"

AlertState = Literal["firing", "ok", "no data", "error"]


@dataclass(frozen=True, slots=True)
class AlertOutcome:
    """What one evaluation of a rule found and did.

    Attributes:
        state: ``firing`` (past its threshold), ``ok``, ``no data`` or ``error`` (the metrics
            could not be computed: `error` says why).
        change: ``fired`` or ``resolved`` when this evaluation journaled a change, else ``""``.
        posted: a webhook POST was made; `delivered` says whether it was answered 2xx.
    """

    rule: AlertRule
    state: AlertState
    value: float | None = None
    runs: int = 0
    change: str = ""
    posted: bool = False
    delivered: bool | None = None
    error: str | None = None

    def to_json(self) -> dict[str, JSON]:
        return {
            "rule": self.rule.id,
            "metric": self.rule.metric,
            "comparison": self.rule.comparison,
            "threshold": self.rule.threshold,
            "state": self.state,
            "value": self.value,
            "runs": self.runs,
            "change": self.change,
            "posted": self.posted,
            "delivered": self.delivered,
            "error": self.error,
        }


class AlertJournal:
    """The store's journal of alert changes (created on first use)."""

    def __init__(self, store: Store, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.clock = clock
        self.seq = -1
        self.latest: dict[str, ContextWritten] = {}

    async def load(self) -> None:
        """Read the journal back, creating it if the store has none."""
        submitted = RunSubmitted(
            run_id=ALERTS_RUN_ID, seq=0, ts=self.clock(), workflow={"kind": "alerts"}
        )
        if await self.store.create_run(ALERTS_RUN_ID, submitted, name="podium:alerts"):
            ended = RunCancelled(
                run_id=ALERTS_RUN_ID, seq=1, ts=self.clock(), reason="not a run: drift alerts"
            )
            with contextlib.suppress(JournalConflict):  # another evaluator wrote it first
                await self.store.append(ALERTS_RUN_ID, [ended])
        self.latest.clear()
        for ev in await self.store.load(ALERTS_RUN_ID):
            self.seq = ev.seq
            if isinstance(ev, ContextWritten):
                self.latest[ev.key] = ev

    def entry(self, rule_id: str) -> dict[str, JSON]:
        """The rule's last recorded alert (empty when it never fired)."""
        found = self.latest.get(rule_id)
        return dict(found.value) if found is not None and isinstance(found.value, dict) else {}

    async def record(self, rule_id: str, value: dict[str, JSON]) -> None:
        """Append one change of a rule (`JournalConflict` if another evaluator appended
        first)."""
        prev = self.latest.get(rule_id)
        event = ContextWritten(
            run_id=ALERTS_RUN_ID,
            seq=self.seq + 1,
            ts=self.clock(),
            task=TASK,
            key=rule_id,
            value=value,
            version=(prev.version + 1) if prev is not None else 1,
            agent="podium stats",
        )
        await self.store.append(ALERTS_RUN_ID, [event])
        self.seq = event.seq
        self.latest[rule_id] = event


def _payload(
    rule: AlertRule, state: str, value: float | None, runs: int, ts: float
) -> dict[str, JSON]:
    return {
        "alert": rule.id,
        "state": state,
        "metric": rule.metric,
        "value": value,
        "comparison": rule.comparison,
        "threshold": rule.threshold,
        "workflow": rule.workflow,
        "over_last": rule.over_last,
        "within_s": rule.within_s,
        "runs": runs,
        "ts": ts,
        "journal": ALERTS_RUN_ID,
    }


@dataclass
class _Evaluator:
    store: Store
    journal: AlertJournal
    client: Any
    timeout_s: float

    async def value_of(self, rule: AlertRule, now: float) -> tuple[float | None, int]:
        since = now - rule.within_s if rule.within_s is not None else None
        report = await compute_metrics(
            self.store, since=since, workflow=rule.workflow, last=rule.over_last, buckets=1
        )
        value = report.numbers()[rule.metric]
        return (None if value is None else float(value)), report.totals.runs

    async def deliver(self, rule: AlertRule, payload: dict[str, JSON]) -> tuple[bool, str | None]:
        if rule.webhook is None:
            return False, None
        error = await post_webhook(
            rule.webhook, payload, client=self.client, timeout_s=self.timeout_s
        )
        if error is not None:
            # the outcome carries the error to the caller, who reports it
            log.info("alert %r: webhook %s failed: %s", rule.id, rule.webhook, error)
        return True, error

    async def change(
        self, rule: AlertRule, state: str, value: float | None, runs: int
    ) -> AlertOutcome:
        """Journal the change first (so two evaluators never both post it), then post."""
        payload = _payload(rule, state, value, runs, self.journal.clock())
        await self.journal.record(rule.id, {**payload, "delivered": None})
        return await self.post(rule, payload, "fired" if state == "firing" else "resolved")

    async def post(self, rule: AlertRule, payload: dict[str, JSON], change: str) -> AlertOutcome:
        posted, error = await self.deliver(rule, payload)
        if posted:
            await self.journal.record(
                rule.id, {**payload, "delivered": error is None, "error": error}
            )
        state: AlertState = "firing" if payload["state"] == "firing" else "ok"
        return AlertOutcome(
            rule,
            state,
            payload["value"],
            payload["runs"],
            change,
            posted,
            (error is None) if posted else None,
            error,
        )

    async def evaluate(self, rule: AlertRule, now: float) -> AlertOutcome:
        value, runs = await self.value_of(rule, now)
        last = self.journal.entry(rule.id)
        was_firing = last.get("state") == "firing"
        if rule.breached(value):
            if not was_firing:
                return await self.change(rule, "firing", value, runs)
            if last.get("delivered") is False:  # the webhook was down: try it again
                payload = _payload(rule, "firing", value, runs, self.journal.clock())
                return await self.post(rule, payload, "")
            return AlertOutcome(rule, "firing", value, runs)
        if was_firing and value is not None:
            return await self.change(rule, "resolved", value, runs)
        return AlertOutcome(rule, "no data" if value is None else "ok", value, runs)


async def evaluate_alerts(
    store: Store,
    rules: Sequence[AlertRule],
    *,
    client: Any = None,
    timeout_s: float = 5.0,
    clock: Callable[[], float] = time.time,
) -> list[AlertOutcome]:
    """Evaluate `rules` on the store's runs; journal and post what changed.

    Never raises for a rule: a store or webhook failure is logged and reported in that rule's
    outcome (``error``), so a caller (``podium stats``, the server after a run ends) goes on.

    Args:
        store: an opened store.
        rules: the rules (see `load_alert_rules`).
        client: an ``httpx.AsyncClient`` to post with (default: one per post).
        timeout_s: how long a webhook may take.
        clock: the time of journal entries and alerts.
    """
    journal = AlertJournal(store, clock)
    evaluator = _Evaluator(store, journal, client, timeout_s)
    outcomes: list[AlertOutcome] = []
    for rule in rules:
        outcomes.append(await _evaluate_one(evaluator, rule, clock()))
    return outcomes


async def _evaluate_one(evaluator: _Evaluator, rule: AlertRule, now: float) -> AlertOutcome:
    for _ in range(3):  # a conflict means another evaluator wrote: read again and decide again
        try:
            await evaluator.journal.load()
            return await evaluator.evaluate(rule, now)
        except JournalConflict:
            continue
        except PodiumError as exc:
            log.warning("alert %r could not be evaluated: %s", rule.id, exc)
            return AlertOutcome(rule, "error", error=str(exc))
    return AlertOutcome(
        rule, "error", error="the alerts journal kept changing under this evaluation"
    )


__all__ = ["ALERTS_RUN_ID", "AlertJournal", "AlertOutcome", "evaluate_alerts"]
