"""Reliability: retries, backups, circuit breakers, budgets, rate limits, timeouts, loop guards.

Each is a policy (data, journaled where a run depends on it) or a wrapper around a model or a
tool; the scheduler consults them at a few fixed points (see `podium.runtime`), never through
flags of its own.
"""

from podium.reliability._alerts import post_webhook, send_alert
from podium.reliability._breaker import (
    BreakerAlert,
    BreakerPolicy,
    Breakers,
    CircuitBreaker,
)
from podium.reliability._budget import Budget, CallEstimate, Spend, check_budget, estimate_call
from podium.reliability._clock import SYSTEM_CLOCK, Clock, SystemClock, as_clock
from podium.reliability._guards import Guards, HandoffGuard, RepeatGuard, check_steps, find_cycle
from podium.reliability._interceptors import (
    BreakerModel,
    CallTimeout,
    ProviderBreakers,
    RateLimitedModel,
    RateLimiting,
    TimeoutModel,
)
from podium.reliability._ratelimit import RateLimit, RateLimits, TokenBucket, rate_limits
from podium.reliability._retry import RetryPolicy, retry_note
from podium.reliability._settings import Reliability
from podium.reliability._timeouts import tool_with_timeout

__all__ = [
    "SYSTEM_CLOCK",
    "BreakerAlert",
    "BreakerModel",
    "BreakerPolicy",
    "Breakers",
    "Budget",
    "CallEstimate",
    "CallTimeout",
    "CircuitBreaker",
    "Clock",
    "Guards",
    "HandoffGuard",
    "ProviderBreakers",
    "RateLimit",
    "RateLimitedModel",
    "RateLimiting",
    "RateLimits",
    "Reliability",
    "RepeatGuard",
    "RetryPolicy",
    "Spend",
    "SystemClock",
    "TimeoutModel",
    "TokenBucket",
    "as_clock",
    "check_budget",
    "check_steps",
    "estimate_call",
    "find_cycle",
    "post_webhook",
    "rate_limits",
    "retry_note",
    "send_alert",
    "tool_with_timeout",
]
