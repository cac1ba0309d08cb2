"""Fault injection: models, tools and agents that fail, slow down or talk nonsense on purpose.

Rates are per call and drawn from a seeded RNG, so a failing test fails the same way every time.
Slowness waits on the given clock (a `FakeClock` makes it free).

- transient: a retryable provider error (unavailable, rate limited, timed out) / a tool error;
- permanent: a provider error that is not retryable / a tool error;
- slow: the call waits `slow_s` first, then goes through;
- garbage: a model answers non-JSON text, nothing, a cut-off answer or a call of a tool that does
  not exist; a tool returns a megabyte of noise.

Example:
    ```python
    flaky = inject_faults(agent, Faults(transient=0.3, seed=7))
    ```
"""

from __future__ import annotations

import dataclasses
import inspect
import random
from dataclasses import dataclass, field
from typing import Any, overload

from podium._sync import run_sync
from podium.agents import Agent, TaskCall
from podium.exceptions import ConfigError, TaskError
from podium.models._base import (
    Model,
    ModelRequest,
    ModelResponse,
    ModelWrapper,
    TokenUsage,
    ToolCall,
)
from podium.models._errors import ProviderError, ProviderTimeout, ProviderUnavailable, RateLimited
from podium.models._registry import resolve_model
from podium.reliability._clock import SYSTEM_CLOCK, Clock
from podium.tools._tool import Tool

JSON = Any
GARBAGE_TOOL_CHARS = 1_000_000


@dataclass(frozen=True, slots=True, kw_only=True)
class Faults:
    """How often each kind of fault happens (shares of calls, in [0, 1], summing to ≤ 1).

    Args:
        transient: retryable failures.
        permanent: failures that are not worth retrying.
        slow: calls delayed by `slow_s` seconds.
        garbage: unusable answers.
        slow_s: the delay of a slow call.
        seed: seeds the RNG that decides each call's fate.
    """

    transient: float = 0.0
    permanent: float = 0.0
    slow: float = 0.0
    garbage: float = 0.0
    slow_s: float = 5.0
    seed: int = 0

    def __post_init__(self) -> None:
        rates = (self.transient, self.permanent, self.slow, self.garbage)
        if any(not 0 <= r <= 1 for r in rates) or sum(rates) > 1 + 1e-9:
            raise ConfigError("fault rates must each be in [0, 1] and sum to at most 1")

    def draw(self, rng: random.Random) -> str:
        """``transient``, ``permanent``, ``slow``, ``garbage`` or ``ok`` for one call."""
        r = rng.random()
        for kind in ("transient", "permanent", "slow", "garbage"):
            rate: float = getattr(self, kind)
            if r < rate:
                return kind
            r -= rate
        return "ok"


@dataclass(slots=True)
class FaultStats:
    """How many calls met each fate."""

    calls: int = 0
    counts: dict[str, int] = field(default_factory=dict)

    def count(self, fate: str) -> None:
        self.calls += 1
        self.counts[fate] = self.counts.get(fate, 0) + 1


class FaultyModel(ModelWrapper):
    """A model that fails, slows down or answers garbage at the rates of `faults`.

    Args:
        model: the model that answers when no fault is drawn.
        faults: the rates.
        clock: what slow calls wait on.
        rng: the RNG (default: one seeded with `faults.seed`).
    """

    def __init__(
        self,
        model: Model | str,
        faults: Faults,
        *,
        clock: Clock = SYSTEM_CLOCK,
        rng: random.Random | None = None,
    ) -> None:
        super().__init__(resolve_model(model))
        self.faults = faults
        self.clock = clock
        self.rng = rng or random.Random(faults.seed)
        self.stats = FaultStats()

    async def request(self, request: ModelRequest) -> ModelResponse:
        fate = self.faults.draw(self.rng)
        self.stats.count(fate)
        provider = self.inner.provider
        if fate == "transient":
            kind = self.rng.randrange(3)
            if kind == 0:
                raise ProviderUnavailable("injected fault: service unavailable", provider=provider)
            if kind == 1:
                raise RateLimited("injected fault: rate limited", provider=provider)
            raise ProviderTimeout("injected fault: timed out", provider=provider)
        if fate == "permanent":
            raise ProviderError(
                "injected fault: permanent failure", provider=provider, retryable=False
            )
        if fate == "garbage":
            return self._garbage(request)
        if fate == "slow":
            await self.clock.sleep(self.faults.slow_s)
        return await self.inner.request(request)

    def _garbage(self, request: ModelRequest) -> ModelResponse:
        usage = TokenUsage(input_tokens=1, output_tokens=1)
        kind = self.rng.randrange(4)
        if kind == 0:
            return ModelResponse(text="}{ not json at all", usage=usage, model=self.name)
        if kind == 1:
            return ModelResponse(text="", usage=usage, model=self.name)
        if kind == 2:
            return ModelResponse(
                text='{"answer": "cut off he', usage=usage, model=self.name, finish_reason="length"
            )
        call = ToolCall(id="garbage", name="no_such_tool", arguments={"x": 1})
        return ModelResponse(
            tool_calls=(call,), usage=usage, model=self.name, finish_reason="tool_calls"
        )


def faulty_tool(
    tool: Tool,
    faults: Faults,
    *,
    clock: Clock = SYSTEM_CLOCK,
    rng: random.Random | None = None,
) -> Tool:
    """The same tool, failing, slowing down or returning a megabyte of noise at `faults` rates.

    Its failures are `ToolError`s, which the model sees and may react to.
    """
    function = tool.function
    is_async = inspect.iscoroutinefunction(function)
    draw = rng or random.Random(faults.seed)

    async def faulty(**kwargs: Any) -> Any:
        fate = faults.draw(draw)
        if fate in ("transient", "permanent"):
            raise RuntimeError(f"injected {fate} fault")
        if fate == "garbage":
            return "".join(draw.choice("#@!%&") for _ in range(64)) * (GARBAGE_TOOL_CHARS // 64)
        if fate == "slow":
            await clock.sleep(faults.slow_s)
        if is_async:
            return await function(**kwargs)
        return await run_sync(function, **kwargs)

    return dataclasses.replace(tool, function=faulty)


def _faulty_function(agent: Agent, faults: Faults, clock: Clock, rng: random.Random) -> Any:
    function = agent.function
    assert function is not None

    async def faulty(call: TaskCall) -> Any:
        fate = faults.draw(rng)
        if fate == "transient":
            raise TaskError("injected transient fault", kind="injected", retryable=True)
        if fate == "permanent":
            raise TaskError("injected permanent fault", kind="injected", retryable=False)
        if fate == "garbage":
            return {"garbage": "".join(rng.choice("#@!%&") for _ in range(32))}
        if fate == "slow":
            await clock.sleep(faults.slow_s)
        if inspect.iscoroutinefunction(function):
            return await function(call)
        return await run_sync(function, call)

    return faulty


@overload
def inject_faults(
    target: Agent, faults: Faults, *, clock: Clock = ..., rng: random.Random | None = ...
) -> Agent: ...


@overload
def inject_faults(
    target: Tool, faults: Faults, *, clock: Clock = ..., rng: random.Random | None = ...
) -> Tool: ...


@overload
def inject_faults(
    target: Model, faults: Faults, *, clock: Clock = ..., rng: random.Random | None = ...
) -> FaultyModel: ...


def inject_faults(
    target: Agent | Tool | Model,
    faults: Faults,
    *,
    clock: Clock = SYSTEM_CLOCK,
    rng: random.Random | None = None,
) -> Agent | Tool | FaultyModel:
    """Wrap a model, a tool or an agent (its model and tools, or its function) with faults."""
    rng = rng or random.Random(faults.seed)
    if isinstance(target, Tool):
        return faulty_tool(target, faults, clock=clock, rng=rng)
    if isinstance(target, Agent):
        if target.function is not None:
            return dataclasses.replace(
                target, function=_faulty_function(target, faults, clock, rng)
            )
        assert target.model is not None
        return dataclasses.replace(
            target,
            model=FaultyModel(target.model, faults, clock=clock, rng=rng),
            tools=tuple(faulty_tool(t, faults, clock=clock, rng=rng) for t in target.tools),
        )
    return FaultyModel(target, faults, clock=clock, rng=rng)


__all__ = ["FaultStats", "Faults", "FaultyModel", "faulty_tool", "inject_faults"]
