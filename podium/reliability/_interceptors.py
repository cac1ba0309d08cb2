"""Call timeouts, rate limits and provider circuit breakers, as call interceptors.

They hold no state of their own beyond the registries they are given (breakers, rate limits),
so one instance serves every call. The model and tool wrappers of this package
(`TimeoutModel`, `RateLimitedModel`, `BreakerModel`, `tool_with_timeout`) are these interceptors
around one model or tool.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from podium.exceptions import CircuitOpen, ConfigError, ToolError
from podium.models._base import Model, ModelResponse
from podium.models._calls import CallModel, InterceptedModel, ModelCallInput
from podium.models._errors import ProviderError, ProviderTimeout
from podium.reliability._breaker import Breakers, CircuitBreaker
from podium.reliability._budget import estimate_call
from podium.reliability._clock import SYSTEM_CLOCK, Clock
from podium.reliability._ratelimit import RateLimits
from podium.tools._calls import CallTool, ToolCallInput, ToolCallResult

OnOpened = Callable[[CircuitBreaker, ModelCallInput], Awaitable[None]]
"""Called when a failure of a call opens its breaker (to journal it and alert)."""


class CallTimeout:
    """Model calls fail with a retryable `ProviderTimeout`, tool calls with a `ToolError` the
    model reads, once they take longer than their limit (``None``: no limit). A synchronous
    tool keeps running on its thread after the timeout; only the wait ends."""

    def __init__(
        self,
        *,
        model_s: float | None = None,
        tool_s: float | None = None,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        for what, seconds in (("model", model_s), ("tool", tool_s)):
            if seconds is not None and seconds <= 0:
                raise ConfigError(f"a {what} call timeout must be positive, not {seconds}")
        self.model_s = model_s
        self.tool_s = tool_s
        self.clock = clock

    async def request(self, input: ModelCallInput, next: CallModel) -> ModelResponse:
        if self.model_s is None:
            return await next(input)
        try:
            async with self.clock.timeout(self.model_s):
                return await next(input)
        except TimeoutError:
            raise ProviderTimeout(
                f"{input.model.name} gave no answer within {self.model_s:g}s",
                provider=input.model.provider,
            ) from None

    async def call(self, input: ToolCallInput, next: CallTool) -> ToolCallResult:
        if self.tool_s is None:
            return await next(input)
        try:
            async with self.clock.timeout(self.tool_s):
                return await next(input)
        except TimeoutError:
            raise ToolError(f"tool {input.tool.name!r} took longer than {self.tool_s:g}s") from None


class RateLimiting:
    """Model calls wait for the rate limits of their provider and model (a `RateLimits`
    registry); the tokens a call reserves are its estimate, settled with what it used."""

    def __init__(self, limits: RateLimits, *, output_estimate: int = 256) -> None:
        self.limits = limits
        self.output_estimate = output_estimate

    async def request(self, input: ModelCallInput, next: CallModel) -> ModelResponse:
        buckets = self.limits.buckets(input.model)
        if not buckets:
            return await next(input)
        estimate = estimate_call(input.request, input.model.name, self.output_estimate).tokens
        await self.limits.acquire(buckets, estimate)
        response = await next(input)
        used = response.usage.input_tokens + response.usage.output_tokens
        for _, tokens in buckets:
            if tokens is not None:
                tokens.give_back(estimate - used)
        return response


class ProviderBreakers:
    """Model calls go through their provider's circuit breaker: they fail fast with
    `CircuitOpen` while it is open; a `ProviderError` counts as a failure, an answer as a
    success, anything else (cancellation, a budget) as neither.

    Args:
        breakers: the registry (a call to provider ``p`` uses its ``("provider", p)`` breaker),
            or a function giving the breaker of a call's model.
        on_opened: awaited when a failure opens a breaker.
    """

    def __init__(
        self,
        breakers: Breakers | Callable[[Model], CircuitBreaker],
        on_opened: OnOpened | None = None,
    ) -> None:
        if isinstance(breakers, Breakers):
            registry = breakers
            self.breaker_of: Callable[[Model], CircuitBreaker] = lambda model: registry.get(
                "provider", model.provider
            )
        else:
            self.breaker_of = breakers
        self.on_opened = on_opened

    async def request(self, input: ModelCallInput, next: CallModel) -> ModelResponse:
        breaker = self.breaker_of(input.model)
        if not breaker.allow():
            raise CircuitOpen(
                f"the circuit breaker of provider {breaker.name!r} is open",
                scope=breaker.scope,
                name=breaker.name,
                retry_after_s=breaker.retry_after_s(),
            )
        try:
            response = await next(input)
        except ProviderError:
            if breaker.record(False) and self.on_opened is not None:
                await self.on_opened(breaker, input)
            raise
        except BaseException:
            breaker.release()  # not the provider's fault (or cancelled): no verdict
            raise
        breaker.record(True)
        return response


class TimeoutModel(InterceptedModel):
    """A model whose calls fail with a retryable `ProviderTimeout` after `seconds`."""

    def __init__(self, model: Model, seconds: float, *, clock: Clock = SYSTEM_CLOCK) -> None:
        super().__init__(model, [CallTimeout(model_s=seconds, clock=clock)])
        self.seconds = seconds


class RateLimitedModel(InterceptedModel):
    """A model whose calls wait for the rate limits of a `RateLimits` registry."""

    def __init__(self, model: Model, limits: RateLimits, *, output_estimate: int = 256) -> None:
        super().__init__(model, [RateLimiting(limits, output_estimate=output_estimate)])


class BreakerModel(InterceptedModel):
    """A model behind one circuit breaker (see `ProviderBreakers`); `on_opened(breaker)` is
    awaited when a failure opens it."""

    def __init__(
        self,
        model: Model,
        breaker: CircuitBreaker,
        on_opened: Callable[[CircuitBreaker], Awaitable[None]],
    ) -> None:
        async def opened(breaker: CircuitBreaker, _input: ModelCallInput) -> None:
            await on_opened(breaker)

        super().__init__(model, [ProviderBreakers(lambda _model: breaker, opened)])


__all__ = [
    "BreakerModel",
    "CallTimeout",
    "OnOpened",
    "ProviderBreakers",
    "RateLimitedModel",
    "RateLimiting",
    "TimeoutModel",
]
