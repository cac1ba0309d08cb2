"""FakeClock: time moves only when told to, or (autojump) when every task waits."""

from __future__ import annotations

import asyncio

import pytest

from podium.reliability import SYSTEM_CLOCK, Clock, SystemClock, as_clock
from podium.testing import FakeClock

pytestmark = pytest.mark.anyio


async def test_autojump_wakes_sleepers_in_deadline_order_without_real_waiting() -> None:
    clock = FakeClock(100.0)
    woke: list[tuple[str, float]] = []

    async def nap(name: str, seconds: float) -> None:
        await clock.sleep(seconds)
        woke.append((name, clock.time()))

    loop = asyncio.get_running_loop()
    started = loop.time()
    async with asyncio.TaskGroup() as tg:
        tg.create_task(nap("hour", 3600))
        tg.create_task(nap("minute", 60))
        tg.create_task(nap("now", 0))
    assert woke == [("now", 100.0), ("minute", 160.0), ("hour", 3700.0)]
    assert loop.time() - started < 1.0
    assert clock.jumps == 2


async def test_without_autojump_only_advance_moves_time() -> None:
    clock = FakeClock(autojump=False)
    done = asyncio.Event()

    async def nap() -> None:
        await clock.sleep(10)
        done.set()

    async with asyncio.TaskGroup() as tg:
        tg.create_task(nap())
        await asyncio.sleep(0)
        clock.advance(9.5)
        await asyncio.sleep(0)
        assert not done.is_set()
        clock.advance(0.5)
    assert done.is_set()
    assert clock() == 10.0
    with pytest.raises(ValueError, match="backwards"):
        clock.advance(-1)


async def test_timeout_fires_on_the_fake_clock() -> None:
    clock = FakeClock()
    with pytest.raises(TimeoutError):
        async with clock.timeout(5):
            await clock.sleep(60)
    assert clock.time() == 5.0
    async with clock.timeout(5) as scope:
        await clock.sleep(1)
    assert not scope.expired()
    assert clock.time() == 6.0
    with pytest.raises(TimeoutError):
        async with clock.timeout(0):
            await clock.sleep(1)


async def test_a_cancelled_sleeper_does_not_hold_the_clock_back() -> None:
    clock = FakeClock()
    task = asyncio.create_task(clock.sleep(1000))
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await clock.sleep(1)
    assert clock.time() == 1.0


async def test_system_clock_and_plain_functions_are_clocks() -> None:
    assert isinstance(SYSTEM_CLOCK, Clock)
    assert isinstance(FakeClock(), Clock)
    assert as_clock(SYSTEM_CLOCK) is SYSTEM_CLOCK
    fixed = as_clock(lambda: 42.0)
    assert fixed.time() == 42.0
    await fixed.sleep(0)
    async with fixed.timeout(None):
        pass
    clock = SystemClock()
    assert abs(clock() - clock.time()) < 1.0
    await clock.sleep(-1)
    async with clock.timeout(10):
        pass
