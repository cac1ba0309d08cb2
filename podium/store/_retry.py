"""Retrying a store operation through a transient failure, for a bounded time."""

from __future__ import annotations

import time

DEFAULT_RETRY_S = 15.0
"""How long a store keeps retrying a transient failure (a lock, a dropped connection, a server
restarting) before it gives up with `StoreError`."""


class Backoff:
    """Exponential delays between retries, within a time budget.

    Args:
        budget_s: total time to keep trying, from the first failure.
        first_s: the first delay; each next one doubles, up to `max_s`.
    """

    __slots__ = ("_deadline", "_delay", "max_s", "tries")

    def __init__(self, budget_s: float, *, first_s: float = 0.05, max_s: float = 1.0) -> None:
        self._deadline = time.monotonic() + budget_s
        self._delay = first_s
        self.max_s = max_s
        self.tries = 0

    def left(self) -> float:
        """Seconds of the budget not yet spent (never negative)."""
        return max(0.0, self._deadline - time.monotonic())

    def next_delay(self) -> float | None:
        """How long to wait before the next try; ``None`` once the budget is spent."""
        left = self._deadline - time.monotonic()
        if left <= 0:
            return None
        delay = min(self._delay, left)
        self._delay = min(self._delay * 2, self.max_s)
        self.tries += 1
        return delay


__all__ = ["DEFAULT_RETRY_S", "Backoff"]
