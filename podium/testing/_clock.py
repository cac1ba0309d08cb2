"""`FakeClock`: a clock for tests that never really sleep.

Time moves only when the test calls `advance`, or, with ``autojump`` (the default), whenever
every task of the event loop is waiting: the clock then jumps straight to the next deadline, like
Trio's ``MockClock(autojump_threshold=0)``. A retry backoff of an hour takes no real time, and
what the run journals (timestamps, `TaskRetrying.delay_s`) is exactly what the clock said.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import Callable
from types import TracebackType

_IDLE_HOPS = 16
"""Loop iterations to wait before jumping when the loop's ready queue cannot be inspected."""


class _Timer:
    __slots__ = ("action", "cancelled")

    def __init__(self, action: Callable[[], None]) -> None:
        self.action = action
        self.cancelled = False


class FakeClock:
    """A `podium.reliability.Clock` whose time moves only when told to.

    Args:
        start: the time it starts at (seconds since the epoch).
        autojump: jump to the next deadline whenever the event loop has nothing else to run.
        autojump_threshold_s: real seconds the loop must stay idle before a jump (give threads
            and sockets time to answer); 0 jumps at once.

    It is also a plain ``() -> float`` function, so it can be passed as any ``clock=``.

    Example:
        ```python
        clock = FakeClock()
        await clock.sleep(3600)  # returns at once
        assert clock.time() == 3600
        ```
    """

    def __init__(
        self, start: float = 0.0, *, autojump: bool = True, autojump_threshold_s: float = 0.0
    ) -> None:
        self._now = float(start)
        self.autojump = autojump
        self.autojump_threshold_s = autojump_threshold_s
        self._timers: list[tuple[float, int, _Timer]] = []
        self._order = itertools.count()
        self._check_pending: asyncio.AbstractEventLoop | None = None
        self.jumps = 0
        """How many times autojump moved the clock (tests may assert on it)."""

    def time(self) -> float:
        return self._now

    def __call__(self) -> float:
        return self._now

    def advance(self, seconds: float) -> None:
        """Move time forward, waking every sleeper and timeout that is due."""
        if seconds < 0:
            raise ValueError("time cannot go backwards")
        self._now += seconds
        self._fire_due()

    async def sleep(self, delay: float) -> None:
        """Wait until the clock has moved `delay` seconds."""
        if delay <= 0:
            await asyncio.sleep(0)
            return
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()

        def wake() -> None:
            if not done.done():
                done.set_result(None)

        timer = self._call_at(self._now + delay, wake)
        try:
            await done
        finally:
            timer.cancelled = True

    def timeout(self, delay: float | None) -> _FakeTimeout:
        """Like `asyncio.timeout`, on this clock: raises `TimeoutError` when `delay` passes."""
        return _FakeTimeout(self, delay)

    # -- timers -------------------------------------------------------------------------------

    def _call_at(self, when: float, action: Callable[[], None]) -> _Timer:
        timer = _Timer(action)
        heapq.heappush(self._timers, (when, next(self._order), timer))
        self._schedule_check()
        return timer

    def _fire_due(self) -> None:
        while self._timers and self._timers[0][0] <= self._now:
            _, _, timer = heapq.heappop(self._timers)
            if not timer.cancelled:
                timer.cancelled = True
                timer.action()

    def _next_deadline(self) -> float | None:
        while self._timers and self._timers[0][2].cancelled:
            heapq.heappop(self._timers)
        return self._timers[0][0] if self._timers else None

    # -- autojump -----------------------------------------------------------------------------

    def _schedule_check(self) -> None:
        if not self.autojump:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        if self._check_pending is loop:
            return
        self._check_pending = loop  # per loop: a check left on a closed loop never runs
        if self.autojump_threshold_s > 0:
            loop.call_later(self.autojump_threshold_s, self._check, loop, 0)
        else:
            loop.call_soon(self._check, loop, 0)

    def _check(self, loop: asyncio.AbstractEventLoop, hops: int) -> None:
        ready = getattr(loop, "_ready", None)  # CPython's queue of runnable callbacks
        busy = bool(ready) if ready is not None else hops < _IDLE_HOPS
        if busy:
            loop.call_soon(self._check, loop, hops + 1)
            return
        self._check_pending = None
        deadline = self._next_deadline()
        if deadline is None:
            return
        if deadline > self._now:
            self._now = deadline
            self.jumps += 1
        self._fire_due()
        if self._next_deadline() is not None:
            self._schedule_check()


class _FakeTimeout:
    """`asyncio.timeout` whose deadline is on a `FakeClock`."""

    def __init__(self, clock: FakeClock, delay: float | None) -> None:
        self._clock = clock
        self._delay = delay
        self._inner = asyncio.timeout(None)
        self._timer: _Timer | None = None

    async def __aenter__(self) -> _FakeTimeout:
        await self._inner.__aenter__()
        if self._delay is not None:
            if self._delay <= 0:
                self._expire()
            else:
                self._timer = self._clock._call_at(self._clock.time() + self._delay, self._expire)
        return self

    def _expire(self) -> None:
        if self._inner.expired():
            return
        self._inner.reschedule(asyncio.get_running_loop().time())

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._timer is not None:
            self._timer.cancelled = True
        await self._inner.__aexit__(exc_type, exc, tb)

    def expired(self) -> bool:
        return self._inner.expired()


__all__ = ["FakeClock"]
