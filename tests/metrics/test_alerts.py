"""Drift alerts: rules from YAML, fired once, journaled, posted to a real local HTTP server."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from podium.cli._session import list_runs
from podium.events import ContextWritten
from podium.exceptions import ConfigError
from podium.metrics import (
    ALERTS_RUN_ID,
    AlertRule,
    compute_metrics,
    evaluate_alerts,
    load_alert_rules,
    parse_alert_rules,
)
from podium.store._sqlite import SQLiteStore
from tests.metrics.conftest import Lab

pytestmark = pytest.mark.anyio


class Hook:
    """A real HTTP server on 127.0.0.1 that records the JSON posted to it; it answers each
    request with the next of `statuses` (the last one thereafter)."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.statuses = [200]
        self.delay = threading.Event()
        """While not set, requests wait up to 5 s before they are answered (a slow hook)."""
        self.delay.set()
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                size = int(self.headers["Content-Length"])
                hook.bodies.append(json.loads(self.rfile.read(size)))
                hook.delay.wait(5)
                status = hook.statuses.pop(0) if len(hook.statuses) > 1 else hook.statuses[0]
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def states(self) -> list[str]:
        return [b["state"] for b in self.bodies]


@pytest.fixture
def hook() -> Iterator[Hook]:
    made = Hook()
    made.thread.start()
    yield made
    made.server.shutdown()
    made.server.server_close()


def dead_url() -> str:
    """A local port nobody listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/hook"


def completion(webhook: str | None, over_last: int = 3) -> AlertRule:
    return AlertRule(metric="completion_rate", below=0.98, over_last=over_last, webhook=webhook)


async def entries(lab: Lab) -> list[dict[str, Any]]:
    assert lab.orch is not None
    events = await lab.orch.store.load(ALERTS_RUN_ID)
    return [e.value for e in events if isinstance(e, ContextWritten)]


async def test_fires_once_is_journaled_and_resolves(lab: Lab, hook: Hook) -> None:
    assert lab.orch is not None
    store = lab.orch.store
    rules = [completion(hook.url)]
    await lab.run("steady")
    await lab.run("doomed")
    [first] = await evaluate_alerts(store, rules)
    assert (first.state, first.change, first.posted, first.delivered) == (
        "firing",
        "fired",
        True,
        True,
    )
    assert first.value == 0.5
    assert first.runs == 2
    [again] = await evaluate_alerts(store, rules)
    assert (again.state, again.change, again.posted) == ("firing", "", False)
    assert hook.states() == ["firing"]  # posted once while it stays firing
    body = hook.bodies[0]
    assert (body["alert"], body["metric"], body["value"], body["threshold"]) == (
        rules[0].id,
        "completion_rate",
        0.5,
        0.98,
    )
    for _ in range(3):
        await lab.run("steady")  # the last 3 runs all complete
    [resolved] = await evaluate_alerts(store, rules)
    assert (resolved.state, resolved.change, resolved.value) == ("ok", "resolved", 1.0)
    await lab.run("doomed")
    [refired] = await evaluate_alerts(store, rules)
    assert refired.change == "fired"
    assert hook.states() == ["firing", "resolved", "firing"]
    journal = await entries(lab)
    assert [(e["state"], e["delivered"]) for e in journal] == [
        ("firing", None),  # claimed before posting
        ("firing", True),
        ("resolved", None),
        ("resolved", True),
        ("firing", None),
        ("firing", True),
    ]
    info = await store.get_run(ALERTS_RUN_ID)
    assert info is not None
    assert (info.name, info.status) == ("podium:alerts", "cancelled")
    # the alerts journal is not a run the metrics count, nor one `podium runs` lists
    assert (await compute_metrics(store)).totals.runs == 6
    listed, _ = await list_runs(store=lab.url, limit=6)
    assert len(listed) == 6
    assert ALERTS_RUN_ID not in {i.run_id for i in listed}


async def test_a_dead_webhook_is_reported_and_retried_never_raised(lab: Lab, hook: Hook) -> None:
    assert lab.orch is not None
    store = lab.orch.store
    await lab.run("doomed")
    [dead] = await evaluate_alerts(store, [completion(dead_url())], timeout_s=2)
    assert (dead.state, dead.posted, dead.delivered) == ("firing", True, False)
    assert dead.error is not None
    assert "Connect" in dead.error
    hook.statuses = [500, 200]
    rules = [completion(hook.url, over_last=1)]
    async with httpx.AsyncClient() as client:  # the caller's client is used when given
        [failed] = await evaluate_alerts(store, rules, client=client)
    assert (failed.delivered, failed.error) == (False, "the webhook answered 500")
    [retried] = await evaluate_alerts(store, rules)  # still firing, not delivered: again
    assert (retried.posted, retried.delivered, retried.change) == (True, True, "")
    [quiet] = await evaluate_alerts(store, rules)
    assert quiet.posted is False
    assert hook.states() == ["firing", "firing"]


async def test_a_slow_webhook_is_given_up(lab: Lab, hook: Hook) -> None:
    assert lab.orch is not None
    await lab.run("doomed")
    hook.delay.clear()
    try:
        [slow] = await evaluate_alerts(lab.orch.store, [completion(hook.url)], timeout_s=0.2)
    finally:
        hook.delay.set()
    assert (slow.state, slow.posted, slow.delivered, slow.error) == (
        "firing",
        True,
        False,
        "TimeoutError",
    )


async def test_two_evaluators_at_once_post_once(tmp_path: Path, lab: Lab, hook: Hook) -> None:
    await lab.run("doomed")
    stores = [SQLiteStore(str(lab.path)) for _ in range(2)]
    for s in stores:
        await s.open()
    try:
        rules = [completion(hook.url)]
        results = await asyncio.gather(*(evaluate_alerts(s, rules) for s in stores))
    finally:
        for s in stores:
            await s.close()
    changes = sorted(r[0].change for r in results)
    assert changes == ["", "fired"]
    assert hook.states() == ["firing"]


async def test_no_data_never_fires_and_no_webhook_still_journals(lab: Lab) -> None:
    assert lab.orch is not None
    rule = AlertRule(metric="satisfaction", below=4, over_last=10)
    [nothing] = await evaluate_alerts(lab.orch.store, [rule])
    assert (nothing.state, nothing.value, nothing.posted) == ("no data", None, False)
    run_id = await lab.run("steady")
    await lab.orch.feedback(run_id, 2, by="ann")
    [low] = await evaluate_alerts(lab.orch.store, [rule])
    assert (low.state, low.change, low.posted, low.value) == ("firing", "fired", False, 2.0)
    assert [e["state"] for e in await entries(lab)] == ["firing"]


async def test_within_and_above(lab: Lab) -> None:
    assert lab.orch is not None
    await lab.run("doomed")
    lab.clock.advance(7200)
    await lab.run("steady")
    rules = [
        AlertRule(metric="error_rate", above=0.1, over_last=None, within_s=3600, name="recent"),
        AlertRule(metric="error_rate", above=0.1, over_last=10, name="all"),
    ]
    recent, everything = await evaluate_alerts(lab.orch.store, rules, clock=lab.clock)
    assert (recent.state, recent.runs) == ("ok", 1)
    assert (everything.state, everything.runs) == ("firing", 2)


async def test_a_store_that_fails_is_an_error_outcome(tmp_path: Path) -> None:
    store = SQLiteStore(str(tmp_path / "ok.db"))
    await store.open()
    await store.close()  # closed: every query fails
    [outcome] = await evaluate_alerts(store, [completion(None)])
    assert outcome.state == "error"
    assert outcome.error


def test_rules_from_yaml(tmp_path: Path) -> None:
    path = tmp_path / "alerts.yaml"
    path.write_text(
        "alerts:\n"
        "  - metric: completion_rate\n"
        "    below: 0.98\n"
        "  - metric: step_latency_p95_s\n"
        "    above: 5\n"
        "    within: 7d\n"
        "    workflow: nightly\n"
        "    webhook: http://127.0.0.1:9/x\n"
        "    name: slow nightly\n",
        encoding="utf-8",
    )
    first, second = load_alert_rules(path)
    assert (first.metric, first.below, first.over_last, first.webhook) == (
        "completion_rate",
        0.98,
        50,
        None,
    )
    assert first.id == "completion_rate<0.98 over last 50"
    assert (second.above, second.over_last, second.within_s) == (5.0, None, 7 * 86400)
    assert (second.id, second.workflow) == ("slow nightly", "nightly")


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("alerts:\n  - metric: nope\n    below: 1\n", 2, "unknown metric 'nope'"),
        ("alerts:\n  - metric: error_rate\n", 2, "exactly one of"),
        ("alerts:\n  - metric: error_rate\n    below: 1\n    above: 2\n", 2, "exactly one of"),
        ("alerts:\n  - metric: error_rate\n    below: yes\n", 2, "must be a number"),
        ("alerts:\n  - {metric: error_rate, above: 1}\n  - x\n", 3, "a rule is a mapping"),
        ("alerts:\n  - metric: error_rate\n    above: 1\n    over_last: 0\n", 2, "over_last"),
        ("alerts:\n  - metric: error_rate\n    above: 1\n    within: soon\n", 2, "duration"),
        ("alerts:\n  - metric: error_rate\n    above: 1\n    webhook: ftp://x\n", 2, "http"),
        ("alerts:\n  - metric: error_rate\n    above: 1\n    wat: 1\n", 2, "unknown field 'wat'"),
        ("alerts: [\n", 2, "not valid YAML"),
        ("rules: []\n", 1, "expected `alerts:`"),
    ],
)
def test_bad_rules_say_where(text: str, line: int, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as caught:
        parse_alert_rules(text, file="a.yaml")
    assert (caught.value.file, caught.value.line) == ("a.yaml", line)


def test_two_rules_with_one_id_are_refused() -> None:
    text = "alerts:\n  - {metric: error_rate, above: 1}\n  - {metric: error_rate, above: 1}\n"
    with pytest.raises(ConfigError, match="give one a `name`"):
        parse_alert_rules(text)


def test_an_unreadable_rules_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_alert_rules(tmp_path / "missing.yaml")
