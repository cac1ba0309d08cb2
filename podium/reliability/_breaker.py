"""Circuit breakers: stop calling an agent or a provider that keeps failing, for a while.

A breaker is *closed* while calls mostly succeed. When at least `min_calls` calls fall in its
sliding window and `failure_rate` of them failed, it *opens*: calls fail fast with `CircuitOpen`
(and the scheduler hands tasks to backup agents, fails the run, or pauses it, per the policy).
After `cooldown_s` it is *half-open*: `half_open_probes` calls go through; if they succeed it
closes, if one fails it opens again. Time is the injected clock's.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal

from podium.exceptions import ConfigError
from podium.reliability._clock import SYSTEM_CLOCK, Clock

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half_open"
OnOpen = Literal["reroute", "fail", "pause"]


@dataclass(frozen=True, slots=True, kw_only=True)
class BreakerAlert:
    """What an alert says about a breaker that opened."""

    run_id: str
    scope: str
    name: str
    failure_rate: float
    calls: int
    cooldown_s: float
    action: str
    task: str
    ts: float

    def to_json(self) -> dict[str, Any]:
        return {
            "event": "breaker_opened",
            "run_id": self.run_id,
            "scope": self.scope,
            "name": self.name,
            "failure_rate": round(self.failure_rate, 4),
            "calls": self.calls,
            "cooldown_s": self.cooldown_s,
            "action": self.action,
            "task": self.task,
            "ts": self.ts,
        }


AlertCallback = Callable[[BreakerAlert], Awaitable[None] | None]


@dataclass(frozen=True, slots=True, kw_only=True)
class BreakerPolicy:
    """When breakers open, what happens then, and who hears about it.

    Args:
        failure_rate: share of failed calls in the window that opens the breaker.
        window_s: the sliding window, in seconds.
        min_calls: calls the window must hold before the rate counts.
        cooldown_s: how long an open breaker rejects calls before a probe.
        half_open_probes: probe calls that must all succeed to close it again.
        on_open: ``reroute`` tasks to backup agents (and retry after the cooldown when there is
            none), ``fail`` the run (reason ``breaker``), or ``pause``: a task that would call
            the agent or provider asks a human (`ApprovalRequested`) and the run parks
            (``waiting``); once approved, the breaker lets a probe through and the task retries.
        scopes: which breakers to keep: per ``agent`` (task attempts) and per ``provider``
            (model calls).
        alert: called (and awaited, if async) with a `BreakerAlert` when a breaker opens.
        webhook_url: where to POST the alert as JSON.
        http_client: the ``httpx.AsyncClient`` for the webhook (default: a new one per alert).
        webhook_timeout_s: how long a webhook may take before it is given up (and logged).
        ignore: error types that say nothing about the agent's health and are not counted.
    """

    failure_rate: float = 0.5
    window_s: float = 60.0
    min_calls: int = 10
    cooldown_s: float = 30.0
    half_open_probes: int = 1
    on_open: OnOpen = "reroute"
    scopes: tuple[str, ...] = ("agent", "provider")
    alert: AlertCallback | None = None
    webhook_url: str | None = None
    http_client: Any = None
    webhook_timeout_s: float = 5.0
    ignore: tuple[str, ...] = ("budget", "loop", "stall", "context_conflict", "template")

    def __post_init__(self) -> None:
        if not 0 < self.failure_rate <= 1:
            raise ConfigError("BreakerPolicy.failure_rate must be in (0, 1]")
        if self.window_s <= 0 or self.cooldown_s < 0:
            raise ConfigError("BreakerPolicy.window_s must be positive, cooldown_s 0 or more")
        if self.min_calls < 1 or self.half_open_probes < 1:
            raise ConfigError("BreakerPolicy.min_calls and half_open_probes must be at least 1")
        if self.on_open not in ("reroute", "fail", "pause"):
            raise ConfigError(
                f"BreakerPolicy.on_open must be reroute, fail or pause, not {self.on_open!r}"
            )
        unknown = set(self.scopes) - {"agent", "provider"}
        if unknown:
            raise ConfigError(f"BreakerPolicy.scopes: unknown scope(s) {sorted(unknown)}")


class CircuitBreaker:
    """One breaker (see the module docstring); not thread-safe, owned by one event loop."""

    __slots__ = (
        "_calls",
        "_failures",
        "_in_flight",
        "_opened_at",
        "_successes",
        "clock",
        "name",
        "opened_calls",
        "opened_rate",
        "policy",
        "scope",
        "state",
    )

    def __init__(self, scope: str, name: str, policy: BreakerPolicy, clock: Clock) -> None:
        self.scope = scope
        self.name = name
        self.policy = policy
        self.clock = clock
        self.state = CLOSED
        self._calls: deque[tuple[float, bool]] = deque()
        self._failures = 0
        self._opened_at = 0.0
        self._in_flight = 0
        self._successes = 0
        self.opened_rate = 0.0
        self.opened_calls = 0

    def _refresh(self) -> str:
        if self.state == OPEN and self.clock.time() - self._opened_at >= self.policy.cooldown_s:
            self.state = HALF_OPEN
            self._in_flight = 0
            self._successes = 0
        return self.state

    def current(self) -> str:
        """``closed``, ``open`` or ``half_open``, as of now."""
        return self._refresh()

    def blocks(self) -> bool:
        """Whether a call now would be rejected (without using up a probe)."""
        state = self._refresh()
        return state == OPEN or (
            state == HALF_OPEN and self._in_flight >= self.policy.half_open_probes
        )

    def retry_after_s(self) -> float:
        """Seconds until an open breaker lets a probe through (0 when it would now)."""
        if self._refresh() != OPEN:
            return 0.0
        return max(0.0, self._opened_at + self.policy.cooldown_s - self.clock.time())

    def allow(self) -> bool:
        """Take a call slot: ``False`` when the call must fail fast."""
        state = self._refresh()
        if state == CLOSED:
            return True
        if state == OPEN or self._in_flight >= self.policy.half_open_probes:
            return False
        self._in_flight += 1
        return True

    def probe_now(self) -> None:
        """End an open breaker's cooldown now (a person said to try again): it goes half-open."""
        if self._refresh() == OPEN:
            self._opened_at = self.clock.time() - self.policy.cooldown_s
            self._refresh()

    def release(self) -> None:
        """Give back a call slot without a verdict (the call was cancelled, or its error says
        nothing about health)."""
        if self.state == HALF_OPEN:
            self._in_flight = max(0, self._in_flight - 1)

    def record(self, ok: bool) -> bool:
        """Count a finished call; ``True`` when this made the breaker open."""
        now = self.clock.time()
        state = self._refresh()
        if state == HALF_OPEN:
            self._in_flight = max(0, self._in_flight - 1)
            if not ok:
                return self._open(now, 1.0, 1)
            self._successes += 1
            if self._successes >= self.policy.half_open_probes:
                self.state = CLOSED
                self._calls.clear()
                self._failures = 0
            return False
        if state == OPEN:
            return False  # a call let through before it opened: already counted in
        self._calls.append((now, ok))
        self._failures += not ok
        horizon = now - self.policy.window_s
        while self._calls and self._calls[0][0] < horizon:
            self._failures -= not self._calls.popleft()[1]
        total = len(self._calls)
        if total >= self.policy.min_calls and self._failures / total >= self.policy.failure_rate:
            return self._open(now, self._failures / total, total)
        return False

    def _open(self, now: float, rate: float, calls: int) -> bool:
        self.state = OPEN
        self._opened_at = now
        self.opened_rate = rate
        self.opened_calls = calls
        self._calls.clear()
        self._failures = 0
        return True


class Breakers:
    """The breakers of an orchestrator, by scope and name, created on first use.

    Shared by every run the orchestrator drives: a provider that is down is down for all of them.
    """

    def __init__(self, policy: BreakerPolicy, clock: Clock = SYSTEM_CLOCK) -> None:
        self.policy = policy
        self.clock = clock
        self._breakers: dict[tuple[str, str], CircuitBreaker] = {}

    def enabled(self, scope: str) -> bool:
        return scope in self.policy.scopes

    def get(self, scope: str, name: str) -> CircuitBreaker:
        key = (scope, name)
        breaker = self._breakers.get(key)
        if breaker is None:
            breaker = self._breakers[key] = CircuitBreaker(scope, name, self.policy, self.clock)
        return breaker

    def blocks(self, scope: str, name: str) -> bool:
        """Whether the breaker (if there is one yet) would reject a call now."""
        breaker = self._breakers.get((scope, name))
        return breaker is not None and breaker.blocks()

    def states(self) -> dict[str, str]:
        """``scope:name`` → state, for every breaker created so far."""
        return {f"{s}:{n}": b.current() for (s, n), b in sorted(self._breakers.items())}


__all__ = [
    "CLOSED",
    "HALF_OPEN",
    "OPEN",
    "AlertCallback",
    "BreakerAlert",
    "BreakerPolicy",
    "Breakers",
    "CircuitBreaker",
    "OnOpen",
]
