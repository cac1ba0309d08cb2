"""`Reliability`: how an orchestrator copes with failing agents, models and tools."""

from __future__ import annotations

from dataclasses import dataclass

from podium.exceptions import ConfigError
from podium.reliability._breaker import BreakerPolicy
from podium.reliability._ratelimit import RateLimits
from podium.reliability._retry import RetryPolicy


@dataclass(frozen=True, slots=True, kw_only=True)
class Reliability:
    """Failure handling for every run of an orchestrator.

    Tasks and agents may bring their own `RetryPolicy` and backups; this sets the defaults and
    what is shared.

    Args:
        retry: the retry policy of tasks and agents that set none (and have no ``retries``).
        breakers: circuit breakers per agent and per provider; ``None`` keeps none.
        model_timeout_s: time limit of one model call (a retryable `ProviderTimeout`).
        tool_timeout_s: time limit of one tool call (a tool error the model sees).
        rate_limits: the rate-limit registry; ``None`` uses the process-wide one.
        seed: seeds the jitter of retry delays (``None``: unseeded).

    Example:
        ```python
        Orchestrator(
            agents=[...],
            reliability=Reliability(
                retry=RetryPolicy(attempts=3, backoff_s=1.0),
                breakers=BreakerPolicy(failure_rate=0.5, min_calls=10, webhook_url=URL),
                model_timeout_s=60,
            ),
        )
        ```
    """

    retry: RetryPolicy | None = None
    breakers: BreakerPolicy | None = None
    model_timeout_s: float | None = None
    tool_timeout_s: float | None = None
    rate_limits: RateLimits | None = None
    seed: int | None = None

    def __post_init__(self) -> None:
        for name in ("model_timeout_s", "tool_timeout_s"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise ConfigError(f"Reliability.{name} must be positive, not {value}")


__all__ = ["Reliability"]
