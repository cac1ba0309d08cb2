"""Circuit breakers per agent and per provider: open, reroute or fail, probe, close, alert."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from podium import Agent, ConfigError, Limits, Orchestrator, Plan, Task, TaskCall, Workflow
from podium.events import ApprovalRequested, BreakerOpened, RunFailed, TaskAssigned, TaskStarted
from podium.exceptions import CircuitOpen, TaskError
from podium.models import Model, ModelRequest, ModelResponse
from podium.models._errors import ProviderUnavailable
from podium.reliability import (
    BreakerAlert,
    BreakerModel,
    BreakerPolicy,
    Breakers,
    CircuitBreaker,
    Reliability,
    RetryPolicy,
    post_webhook,
)
from podium.testing import FakeClock, FunctionModel

from .helpers import of, run_plan

pytestmark = pytest.mark.anyio


def breaker(clock: FakeClock, **kw: Any) -> CircuitBreaker:
    options = {"min_calls": 4, "failure_rate": 0.5, "window_s": 60, "cooldown_s": 30} | kw
    return CircuitBreaker("agent", "a", BreakerPolicy(**options), clock)


def test_opens_on_the_failure_rate_once_the_window_has_enough_calls() -> None:
    clock = FakeClock()
    b = breaker(clock)
    assert [b.record(False) for _ in range(3)] == [False, False, False]  # < min_calls
    assert b.current() == "closed"
    assert b.record(True) is True  # 3 of 4 failed
    assert (b.current(), b.opened_rate, b.opened_calls) == ("open", 0.75, 4)
    assert b.blocks()
    assert not b.allow()
    assert b.record(True) is False  # a call let through before it opened changes nothing


def test_stays_closed_below_the_failure_rate() -> None:
    clock = FakeClock()
    b = breaker(clock)
    assert [b.record(ok) for ok in (True, True, True, False, True, False)] == [False] * 6
    assert b.current() == "closed"
    assert b.record(False) is False  # 3 of 7
    assert b.record(False) is True  # 4 of 8: half of them


def test_the_window_slides() -> None:
    clock = FakeClock()
    b = breaker(clock)
    for _ in range(3):
        b.record(False)
    clock.advance(61)  # those failures leave the window
    for _ in range(3):
        assert b.record(True) is False
    assert b.record(False) is False  # 1 of 4 in the window
    assert b.current() == "closed"


def test_half_open_probe_closes_or_reopens() -> None:
    clock = FakeClock()
    b = breaker(clock, min_calls=1, half_open_probes=1)
    assert b.record(False)
    assert b.retry_after_s() == 30
    clock.advance(20)
    assert b.retry_after_s() == 10
    assert not b.allow()
    clock.advance(10)
    assert b.current() == "half_open"
    assert b.retry_after_s() == 0
    assert b.allow()  # the probe
    assert not b.allow()  # only one at a time
    assert b.blocks()
    assert b.record(False)  # the probe failed: open again, for another cooldown
    assert b.current() == "open"
    clock.advance(30)
    assert b.allow()
    b.release()  # a cancelled probe gives its slot back
    assert b.allow()
    assert b.record(True) is False
    assert b.current() == "closed"


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"failure_rate": 0}, "failure_rate"),
        ({"window_s": 0}, "window_s"),
        ({"min_calls": 0}, "min_calls"),
        ({"on_open": "explode"}, "on_open"),
        ({"scopes": ("planet",)}, "planet"),
    ],
)
def test_bad_policies_are_config_errors(kw: dict[str, Any], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        BreakerPolicy(**kw)


def flaky_agent(name: str, calls: list[str], *, fails: bool, **kw: Any) -> Agent:
    async def work(call: TaskCall) -> str:
        calls.append(f"{name}:{call.task_id}")
        if fails:
            raise TaskError(f"{name} is down", kind="down")
        return name

    return Agent(name=name, function=work, **kw)


def chain(n: int) -> Plan:
    return Plan([Task(id=f"t{i}", agent="a", needs=(f"t{i - 1}",) if i else ()) for i in range(n)])


async def test_an_open_agent_breaker_reroutes_to_the_backup_and_alerts() -> None:
    clock = FakeClock()
    calls: list[str] = []
    alerts: list[BreakerAlert] = []
    policy = BreakerPolicy(min_calls=2, failure_rate=1.0, cooldown_s=60, alert=alerts.append)
    a = flaky_agent("a", calls, fails=True, backups=("b",), retry=RetryPolicy(attempts=1))
    b = flaky_agent("b", calls, fails=False)
    result, journal = await run_plan(
        chain(4), a, b, clock=clock, reliability=Reliability(breakers=policy)
    )
    assert result.status == "succeeded"
    assert calls == ["a:t0", "b:t0", "a:t1", "b:t1", "b:t2", "b:t3"]  # a is skipped once open
    [opened] = of(journal, BreakerOpened)
    assert (opened.scope, opened.name, opened.task, opened.action) == (
        "agent",
        "a",
        "t1",
        "reroute",
    )
    assert (opened.failure_rate, opened.calls, opened.cooldown_s) == (1.0, 2, 60)
    reasons = [e.reason for e in of(journal, TaskAssigned, "t2")]
    assert reasons == ["backup for a: the circuit breaker of agent 'a' is open"]
    assert [(x.scope, x.name, x.run_id) for x in alerts] == [("agent", "a", result.run_id)]


async def test_after_the_cooldown_a_probe_goes_to_the_primary_again() -> None:
    clock = FakeClock()
    calls: list[str] = []
    policy = BreakerPolicy(min_calls=1, failure_rate=1.0, cooldown_s=60)
    fixed = {"a": False}

    async def work(call: TaskCall) -> str:
        calls.append(f"a:{call.task_id}")
        if not fixed["a"]:
            raise TaskError("a is down", kind="down")
        return "a"

    async def slow_b(call: TaskCall) -> str:
        calls.append(f"b:{call.task_id}")
        fixed["a"] = True
        await clock.sleep(120)  # long enough for a's cooldown to pass
        return "b"

    a = Agent(name="a", function=work, backups=("b",), retry=RetryPolicy(attempts=1))
    b = Agent(name="b", function=slow_b)
    reliability = Reliability(breakers=policy)
    orch_kw = {"clock": clock, "reliability": reliability}
    result, _ = await run_plan(chain(3), a, b, **orch_kw)
    assert result.status == "succeeded"
    assert calls == ["a:t0", "b:t0", "a:t1", "a:t2"]  # t1 was the probe; it closed the breaker


async def test_fail_policy_stops_the_run() -> None:
    calls: list[str] = []
    policy = BreakerPolicy(min_calls=1, failure_rate=1.0, on_open="fail")
    a = flaky_agent("a", calls, fails=True, backups=("b",))
    b = flaky_agent("b", calls, fails=False)
    result, journal = await run_plan(chain(3), a, b, reliability=Reliability(breakers=policy))
    assert result.status == "failed"
    assert result.reason == "breaker"
    assert "the circuit breaker of agent 'a' is open" in result.message
    assert of(journal, RunFailed)[0].reason == "breaker"
    assert calls == ["a:t0"]


async def test_pause_policy_parks_the_run_until_a_person_says_try_again() -> None:
    calls: list[str] = []
    broken = {"a": True}

    async def work(call: TaskCall) -> str:
        calls.append(call.task_id)
        if broken["a"]:
            raise TaskError("a is down", kind="down")
        return "a"

    policy = BreakerPolicy(min_calls=1, failure_rate=1.0, cooldown_s=3600, on_open="pause")
    a = Agent(name="a", function=work, backups=("b",))
    b = flaky_agent("b", calls, fails=False)
    async with Orchestrator(
        agents=[a, b], store="memory://", reliability=Reliability(breakers=policy)
    ) as orch:
        wf = Workflow(name="chain", plan=chain(2))
        parked = await orch.run(wf)
        journal = await orch.events(parked.run_id)
        assert parked.status == "waiting"
        [opened] = of(journal, BreakerOpened)
        assert opened.action == "pause"
        [asked] = of(journal, ApprovalRequested)
        assert asked.task == "t0"
        assert "the circuit breaker of agent 'a' is open: approve to let task 't0' try" in (
            asked.reason
        )
        assert calls == ["t0"]  # no backup: a person decides

        broken["a"] = False  # someone fixed it
        result = await orch.approve(parked.run_id, by="ops", workflow=wf)
    assert result.status == "succeeded"
    assert calls == ["t0", "t0", "t1"]  # the approved attempt was the probe; it closed


class Named:
    """A model under another provider name."""

    def __init__(self, model: Model, provider: str) -> None:
        self.inner = model
        self._provider = provider

    @property
    def name(self) -> str:
        return f"{self._provider}:m"

    @property
    def provider(self) -> str:
        return self._provider

    async def request(self, request: ModelRequest) -> ModelResponse:
        return await self.inner.request(request)


async def test_provider_breaker_fails_fast_and_reroutes_to_another_provider() -> None:
    down: list[int] = []

    def outage(request: ModelRequest) -> ModelResponse:
        down.append(1)
        raise ProviderUnavailable("503", provider="acme")

    acme = Named(FunctionModel(outage), "acme")
    other = Named(FunctionModel(lambda r: "fine"), "other")
    policy = BreakerPolicy(min_calls=2, failure_rate=1.0, scopes=("provider",))
    agents = [
        Agent(name="a1", model=acme, backups=("b",), retry=RetryPolicy(attempts=1)),
        Agent(name="a2", model=acme, backups=("b",), retry=RetryPolicy(attempts=1)),
        Agent(name="b", model=other),
    ]
    plan = Plan(
        [
            Task(id="t0", agent="a1"),
            Task(id="t1", agent="a2", needs=("t0",)),
            Task(id="t2", agent="a1", needs=("t1",)),
        ]
    )
    result, journal = await run_plan(
        plan, *agents, reliability=Reliability(breakers=policy), limits=Limits(max_concurrency=1)
    )
    assert result.status == "succeeded"
    assert len(down) == 2  # t2 never called acme: its agent's provider breaker was open
    [opened] = of(journal, BreakerOpened)
    assert (opened.scope, opened.name, opened.task) == ("provider", "acme", "t1")
    assert [e.agent for e in of(journal, TaskStarted, "t2")] == ["b"]


async def test_breaker_model_counts_only_provider_errors() -> None:
    clock = FakeClock()
    b = CircuitBreaker("provider", "test", BreakerPolicy(min_calls=1, failure_rate=1.0), clock)
    opened: list[str] = []

    async def on_opened(br: CircuitBreaker) -> None:
        opened.append(br.name)

    def bug(request: ModelRequest) -> ModelResponse:
        raise ValueError("our bug, not the provider's")

    model = BreakerModel(FunctionModel(bug), b, on_opened)
    request = ModelRequest(messages=())
    with pytest.raises(ValueError, match="our bug"):
        await model.request(request)
    assert b.current() == "closed"
    failing = BreakerModel(
        FunctionModel(lambda r: (_ for _ in ()).throw(ProviderUnavailable("x", provider="t"))),
        b,
        on_opened,
    )
    with pytest.raises(ProviderUnavailable):
        await failing.request(request)
    assert opened == ["test"]
    with pytest.raises(CircuitOpen) as caught:
        await failing.request(request)
    assert (caught.value.scope, caught.value.kind, caught.value.retryable) == (
        "provider",
        "breaker_open",
        True,
    )
    assert model.name == "test:function"


def test_registry_shares_breakers_by_scope_and_name() -> None:
    breakers = Breakers(BreakerPolicy(scopes=("agent",)))
    assert breakers.get("agent", "a") is breakers.get("agent", "a")
    assert breakers.enabled("agent")
    assert not breakers.enabled("provider")
    assert not breakers.blocks("agent", "never-seen")
    assert breakers.states() == {"agent:a": "closed"}


# -- webhooks, against a real HTTP server on 127.0.0.1 ------------------------------------------


class _Hook(BaseHTTPRequestHandler):
    received: list[dict[str, Any]]
    status = 204

    def do_POST(self) -> None:
        length = int(self.headers["content-length"])
        type(self).received.append(json.loads(self.rfile.read(length)))
        self.send_response(self.status)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def webhook() -> Iterator[tuple[str, type[_Hook]]]:
    handler = type("Hook", (_Hook,), {"received": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/alerts", handler
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


async def test_an_opening_breaker_posts_to_the_webhook(
    webhook: tuple[str, type[_Hook]],
) -> None:
    url, hook = webhook
    calls: list[str] = []
    policy = BreakerPolicy(min_calls=1, failure_rate=1.0, webhook_url=url)
    a = flaky_agent("a", calls, fails=True, backups=("b",))
    result, _ = await run_plan(
        chain(2), a, flaky_agent("b", calls, fails=False), reliability=Reliability(breakers=policy)
    )
    assert result.status == "succeeded"
    [payload] = hook.received
    assert payload["event"] == "breaker_opened"
    assert (payload["scope"], payload["name"], payload["run_id"]) == ("agent", "a", result.run_id)
    assert (payload["task"], payload["action"], payload["failure_rate"]) == ("t0", "reroute", 1.0)


async def test_a_failing_webhook_or_callback_never_fails_the_run(
    webhook: tuple[str, type[_Hook]], caplog: pytest.LogCaptureFixture
) -> None:
    url, hook = webhook
    hook.status = 500

    def broken(alert: BreakerAlert) -> None:
        raise RuntimeError("pager is down")

    calls: list[str] = []
    policy = BreakerPolicy(min_calls=1, failure_rate=1.0, webhook_url=url, alert=broken)
    a = flaky_agent("a", calls, fails=True, backups=("b",))
    with caplog.at_level(logging.WARNING, logger="podium.reliability._alerts"):
        result, _ = await run_plan(
            chain(1),
            a,
            flaky_agent("b", calls, fails=False),
            reliability=Reliability(breakers=policy),
        )
    assert result.status == "succeeded"
    assert len(hook.received) == 1
    assert "answered 500" in caplog.text
    assert "alert callback failed" in caplog.text
    problem = await post_webhook("http://127.0.0.1:9/nothing-listens", {}, timeout_s=2)
    assert problem is not None
    assert problem.startswith("ConnectError")


async def test_async_alert_callbacks_are_awaited() -> None:
    got: list[str] = []

    async def alert(a: BreakerAlert) -> None:
        got.append(a.name)

    calls: list[str] = []
    policy = BreakerPolicy(min_calls=1, failure_rate=1.0, alert=alert)
    a = flaky_agent("a", calls, fails=True, backups=("b",))
    await run_plan(
        chain(1), a, flaky_agent("b", calls, fails=False), reliability=Reliability(breakers=policy)
    )
    assert got == ["a"]
