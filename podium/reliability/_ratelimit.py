"""Rate limits per provider and per model, shared by every run in the process.

Each limit is a pair of token buckets (requests and tokens per minute) on the injected clock. A
call reserves its share up front, so callers are served in arrival order without a lock, and
waits until the buckets have refilled enough; after the call, the token bucket is settled with
the tokens actually used.

`rate_limits()` is the process-wide registry that orchestrators use unless given their own:

```python
from podium.reliability import RateLimit, rate_limits

rate_limits().set("openai", RateLimit(requests_per_minute=500, tokens_per_minute=200_000))
rate_limits().set("openai:gpt-5", RateLimit(tokens_per_minute=30_000))
```
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from podium.exceptions import ConfigError
from podium.models._base import Model
from podium.reliability._clock import SYSTEM_CLOCK, Clock


class TokenBucket:
    """`per_minute` units a minute, refilled continuously, holding at most `burst` units."""

    __slots__ = ("burst", "clock", "level", "rate", "updated")

    def __init__(self, per_minute: float, clock: Clock, *, burst: float | None = None) -> None:
        if per_minute <= 0:
            raise ConfigError(f"a rate limit must be positive, not {per_minute}")
        self.rate = per_minute / 60.0
        self.burst = per_minute if burst is None else burst
        self.clock = clock
        self.level = self.burst
        self.updated = clock.time()

    def _refill(self) -> None:
        now = self.clock.time()
        if now > self.updated:
            self.level = min(self.burst, self.level + (now - self.updated) * self.rate)
        self.updated = now

    def reserve(self, amount: float) -> float:
        """Take `amount` now (the level may go below zero); the seconds to wait before using it."""
        self._refill()
        self.level -= amount
        return 0.0 if self.level >= 0 else -self.level / self.rate

    def give_back(self, amount: float) -> None:
        """Return units that were reserved but not used (a negative amount takes more)."""
        self._refill()
        self.level = min(self.burst, self.level + amount)


@dataclass(frozen=True, slots=True, kw_only=True)
class RateLimit:
    """Requests and tokens a minute (either may be ``None``: not limited)."""

    requests_per_minute: float | None = None
    tokens_per_minute: float | None = None


class RateLimits:
    """Rate limits by ``provider`` or ``provider:model``; a call waits for both that apply."""

    def __init__(self, clock: Clock = SYSTEM_CLOCK) -> None:
        self.clock = clock
        self._limits: dict[str, tuple[TokenBucket | None, TokenBucket | None]] = {}

    def set(self, key: str, limit: RateLimit) -> None:
        """Limit calls to a provider (``"openai"``) or a model (``"openai:gpt-5"``)."""
        requests = (
            TokenBucket(limit.requests_per_minute, self.clock)
            if limit.requests_per_minute is not None
            else None
        )
        tokens = (
            TokenBucket(limit.tokens_per_minute, self.clock)
            if limit.tokens_per_minute is not None
            else None
        )
        self._limits[key] = (requests, tokens)

    @property
    def configured(self) -> bool:
        """Whether any limit is set."""
        return bool(self._limits)

    def remove(self, key: str) -> None:
        self._limits.pop(key, None)

    def clear(self) -> None:
        self._limits.clear()

    def buckets(self, model: Model) -> list[tuple[TokenBucket | None, TokenBucket | None]]:
        """The limits that apply to calls of `model`."""
        if not self._limits:
            return []
        found = [self._limits.get(model.name), self._limits.get(model.provider)]
        return [b for b in found if b is not None]

    async def acquire(
        self, buckets: list[tuple[TokenBucket | None, TokenBucket | None]], tokens: int
    ) -> None:
        """Reserve one request and `tokens` tokens in every bucket, then wait for them."""
        taken: list[tuple[TokenBucket, float]] = []
        wait = 0.0
        for requests, token_bucket in buckets:
            for bucket, amount in ((requests, 1.0), (token_bucket, float(tokens))):
                if bucket is not None:
                    wait = max(wait, bucket.reserve(amount))
                    taken.append((bucket, amount))
        if wait <= 0:
            return
        try:
            await self.clock.sleep(wait)
        except asyncio.CancelledError:
            for bucket, amount in taken:
                bucket.give_back(amount)
            raise


_PROCESS_LIMITS = RateLimits()


def rate_limits() -> RateLimits:
    """The process-wide registry, shared by every orchestrator not given its own."""
    return _PROCESS_LIMITS


__all__ = ["RateLimit", "RateLimits", "TokenBucket", "rate_limits"]
