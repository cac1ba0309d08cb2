"""The clock that retries, breakers, rate limits and timeouts wait on.

Waiting is slow, so it is injected: `SystemClock` is the real one, and tests pass
`podium.testing.FakeClock`, whose time only moves when the test (or its autojump) moves it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Protocol, runtime_checkable


@runtime_checkable
class Clock(Protocol):
    """A time source that can also wait.

    `time` is seconds since the epoch (what event timestamps use), `sleep` waits, and `timeout`
    is `asyncio.timeout` measured on this clock.
    """

    def time(self) -> float: ...

    async def sleep(self, delay: float) -> None: ...

    def timeout(self, delay: float | None) -> AbstractAsyncContextManager[object]: ...


class SystemClock:
    """The real clock: `time.time`, `asyncio.sleep` and `asyncio.timeout`."""

    __slots__ = ()

    def time(self) -> float:
        return time.time()

    def __call__(self) -> float:
        return time.time()

    async def sleep(self, delay: float) -> None:
        await asyncio.sleep(max(0.0, delay))

    def timeout(self, delay: float | None) -> AbstractAsyncContextManager[object]:
        return asyncio.timeout(delay)


SYSTEM_CLOCK = SystemClock()


class _CallableClock:
    """A `Clock` around a bare time function: it reads that function, and sleeps for real."""

    __slots__ = ("_now",)

    def __init__(self, now: Callable[[], float]) -> None:
        self._now = now

    def time(self) -> float:
        return self._now()

    def __call__(self) -> float:
        return self.time()

    async def sleep(self, delay: float) -> None:
        await asyncio.sleep(max(0.0, delay))

    def timeout(self, delay: float | None) -> AbstractAsyncContextManager[object]:
        return asyncio.timeout(delay)


def as_clock(clock: Clock | Callable[[], float]) -> Clock:
    """A `Clock` as given, or one around a bare ``() -> float`` time function."""
    if clock is time.time:
        return SYSTEM_CLOCK
    if isinstance(clock, Clock):
        return clock
    return _CallableClock(clock)


__all__ = ["SYSTEM_CLOCK", "Clock", "SystemClock", "as_clock"]
