"""Rate limits per provider and model: token buckets on the clock, shared by every run."""

from __future__ import annotations

import asyncio

import pytest

from podium import Agent, ConfigError, Plan, Task
from podium.events import ModelCalled
from podium.models import ModelRequest, UserMessage
from podium.reliability import (
    RateLimit,
    RateLimitedModel,
    RateLimits,
    Reliability,
    TokenBucket,
    rate_limits,
)
from podium.testing import FakeClock, FunctionModel, TestModel

from .helpers import of, run_plan

pytestmark = pytest.mark.anyio


def test_bucket_reserves_ahead_and_says_how_long_to_wait() -> None:
    clock = FakeClock()
    bucket = TokenBucket(60, clock)  # one a second, bursts of 60
    assert [bucket.reserve(30) for _ in range(2)] == [0.0, 0.0]
    assert bucket.reserve(2) == pytest.approx(2.0)  # two more than it holds
    clock.advance(2)
    assert bucket.reserve(1) == pytest.approx(1.0)
    bucket.give_back(5)
    assert bucket.reserve(4) == 0.0
    with pytest.raises(ConfigError):
        TokenBucket(0, clock)


async def test_requests_per_minute_space_calls_out_in_arrival_order() -> None:
    clock = FakeClock()
    limits = RateLimits(clock)
    limits.set("test", RateLimit(requests_per_minute=2))
    model = RateLimitedModel(TestModel(output_text="ok"), limits)
    done: list[tuple[int, float]] = []

    async def call(i: int) -> None:
        await model.request(ModelRequest(messages=(UserMessage(content="hi"),)))
        done.append((i, clock.time()))

    async with asyncio.TaskGroup() as tg:
        for i in range(5):
            tg.create_task(call(i))
    assert done == [(0, 0.0), (1, 0.0), (2, 30.0), (3, 60.0), (4, 90.0)]
    assert (model.name, model.provider) == ("test:test", "test")


async def test_tokens_per_minute_settle_with_what_was_used() -> None:
    clock = FakeClock()
    limits = RateLimits(clock)
    limits.set("test:function", RateLimit(tokens_per_minute=1000))
    model = RateLimitedModel(FunctionModel(lambda r: "x" * 2000), limits, output_estimate=100)
    request = ModelRequest(messages=(UserMessage(content="y" * 400),))
    await model.request(request)  # estimated 200 (100 in + 100 out), used 600 (100 + 500)
    assert clock.time() == 0
    await model.request(request)  # 400 left: the 200 estimate fits
    assert clock.time() == 0
    await model.request(request)  # -200 left: 400 short, at 1000 a minute
    assert clock.time() == pytest.approx(24.0)


async def test_cancelled_waiters_give_their_reservation_back() -> None:
    clock = FakeClock(autojump=False)
    limits = RateLimits(clock)
    limits.set("p", RateLimit(requests_per_minute=1))
    [buckets] = [limits.buckets(_Named("p:m"))]
    await limits.acquire(buckets, 0)
    waiter = asyncio.create_task(limits.acquire(buckets, 0))
    await asyncio.sleep(0)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    clock.advance(60)
    await asyncio.wait_for(limits.acquire(buckets, 0), 1)  # no queue left behind


class _Named:
    def __init__(self, name: str) -> None:
        self.name = name
        self.provider = name.partition(":")[0]


async def test_limits_are_shared_by_every_run_of_the_process() -> None:
    clock = FakeClock()
    registry = RateLimits(clock)
    registry.set("test", RateLimit(requests_per_minute=1))
    reliability = Reliability(rate_limits=registry)
    agent = Agent(name="m", model=TestModel(output_text="ok"))
    times = []
    for _ in range(3):
        _, journal = await run_plan(
            Plan([Task(id="t", agent="m")]), agent, clock=clock, reliability=reliability
        )
        times.append(of(journal, ModelCalled)[0].ts)
    assert times == [0.0, 60.0, 120.0]


def test_the_process_wide_registry_is_one_object() -> None:
    assert rate_limits() is rate_limits()
    registry = RateLimits()
    registry.set("a", RateLimit(requests_per_minute=1))
    assert registry.buckets(_Named("a:x"))
    registry.remove("a")
    assert not registry.buckets(_Named("a:x"))
    registry.set("a", RateLimit(tokens_per_minute=1))
    registry.clear()
    assert not registry.buckets(_Named("a:x"))
