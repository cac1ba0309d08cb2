"""`RetryPolicy`: how often a failed task is attempted again, after how long, on which errors.

A policy is data: it is part of a `Task` (and so of the journaled plan) or of an `Agent`. The
scheduler asks it for a decision when an attempt fails and journals the delay it chose in
`TaskRetrying.delay_s`; the next attempt waits out that delay itself, so the scheduler goes on
with other tasks, and a resumed run waits only what is left of it.
"""

from __future__ import annotations

import json
import random
from typing import Any

import msgspec

from podium.events import ErrorInfo
from podium.exceptions import ConfigError

JSON = Any

NOTE_OUTPUT_CHARS = 2_000
"""How much of a rejected output a retry prompt shows."""


class RetryPolicy(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """Retries of one task on one agent.

    The delay before retry *n* (1 for the first) is ``backoff_s * multiplier ** (n - 1)``, capped
    at `max_backoff_s`, then shortened by a random fraction of at most `jitter` (0: exactly that
    delay; 1: anywhere between 0 and it, "full jitter"). A provider's ``Retry-After`` is a floor.

    Args:
        attempts: attempts on one agent, the first included (1: never retry).
        backoff_s: delay before the first retry.
        multiplier: growth of the delay from one retry to the next.
        max_backoff_s: cap on the delay.
        jitter: share of the delay drawn at random, in [0, 1].
        on: the error types (`ErrorInfo.type`) that are retried; empty: every error marked
            retryable.

    Example:
        ```python
        Task(id="t", agent="a", retry=RetryPolicy(attempts=4, backoff_s=0.5, on=("timeout",)))
        ```
    """

    attempts: int = 3
    backoff_s: float = 1.0
    multiplier: float = 2.0
    max_backoff_s: float = 60.0
    jitter: float = 0.2
    on: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ConfigError(f"RetryPolicy.attempts must be at least 1, not {self.attempts}")
        if self.backoff_s < 0 or self.max_backoff_s < 0:
            raise ConfigError("RetryPolicy.backoff_s and max_backoff_s must be 0 or more")
        if self.multiplier < 1:
            raise ConfigError(f"RetryPolicy.multiplier must be 1 or more, not {self.multiplier}")
        if not 0 <= self.jitter <= 1:
            raise ConfigError(f"RetryPolicy.jitter must be between 0 and 1, not {self.jitter}")

    @classmethod
    def from_retries(cls, retries: int) -> RetryPolicy:
        """What a task's plain ``retries: N`` means: N immediate retries of retryable errors."""
        return cls(attempts=retries + 1, backoff_s=0.0, jitter=0.0)

    def retries_error(self, error: ErrorInfo) -> bool:
        """Whether this kind of error is worth another attempt."""
        return error.type in self.on if self.on else error.retryable

    def delay_s(
        self, retry: int, error: ErrorInfo | None = None, rng: random.Random | None = None
    ) -> float:
        """The delay before retry number `retry` (1 for the first)."""
        delay = min(self.max_backoff_s, self.backoff_s * self.multiplier ** max(0, retry - 1))
        if self.jitter and delay:
            delay *= 1.0 - self.jitter * (rng or random).random()
        if error is not None and error.retry_after_s is not None:
            delay = max(delay, error.retry_after_s)
        return delay


_ADVICE = (
    "Fix what went wrong; do not repeat the same answer.",
    "Try a different approach from the previous attempts.",
    "Keep it simple and follow the instructions exactly.",
)


def retry_note(attempt: int, error: ErrorInfo | None) -> str:
    """What an agent is told on a retry: the previous error and output, and how to do better.

    The wording changes from one attempt to the next, so a retry is never the identical prompt
    that just failed (nor a cached answer to it).
    """
    if error is None:
        return ""
    lines = [f"(Attempt {attempt}. The previous attempt failed with {error.type}: {error.message}"]
    if error.raw_output is not None:
        raw = error.raw_output
        text = raw if isinstance(raw, str) else json.dumps(raw, ensure_ascii=False, default=str)
        if len(text) > NOTE_OUTPUT_CHARS:
            text = text[:NOTE_OUTPUT_CHARS] + f"… [{len(text) - NOTE_OUTPUT_CHARS} more chars]"
        lines.append(f"Its output was:\n{text}")
    lines.append(_ADVICE[(attempt - 2) % len(_ADVICE)] + ")")
    return "\n\n" + "\n".join(lines)


__all__ = ["RetryPolicy", "retry_note"]
