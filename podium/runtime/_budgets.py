"""Budgets and step guards, as a model- and tool-call interceptor.

Before each model call of an attempt, the run's and the task's budgets (tokens, dollars, wall
time, steps) and the loop and stall guards are checked against what their scopes had spent when
the attempt started (`AttemptLimits.allowances`) plus what the attempt has spent since; a call
that would go over raises `BudgetExceeded` (or `LoopDetected`, `StallDetected`), which ends the
run with that reason. When a budget runs low, the call goes to its cheaper ``fallback_model``
instead — through the rest of the chain, so breakers, rate limits and timeouts apply to it too.
"""

from __future__ import annotations

from typing import Any

from podium.exceptions import BudgetExceeded, ToolError
from podium.models._base import Model, ModelResponse, TokenUsage
from podium.models._calls import CallModel, ModelCallInput
from podium.models._prices import PriceTable, cost_usd
from podium.models._registry import resolve_model
from podium.reliability._budget import Spend, check_budget, estimate_call, left_share
from podium.reliability._clock import Clock
from podium.reliability._guards import Guards, check_steps
from podium.runtime._attempt import Allowance
from podium.runtime._interceptors import AttemptScope
from podium.tools._calls import CallTool, ToolCallInput, ToolCallResult

JSON = Any
DEFAULT_OUTPUT_ESTIMATE = 256
"""Output tokens assumed for a call that sets no ``max_tokens``, when no budget says."""


class Budgets:
    """Keeps every attempt within its budgets and guards (see the module docstring)."""

    def for_attempt(self, scope: AttemptScope) -> _AttemptBudgets | None:
        limits = scope.input.limits
        guards = limits.guards
        if not limits.allowances and guards.max_steps is None and guards.stall_steps is None:
            return None
        return _AttemptBudgets(scope, limits.allowances, guards)

    async def request(self, input: ModelCallInput, next: CallModel) -> ModelResponse:
        return await next(input)  # no attempt: nothing to keep

    async def call(self, input: ToolCallInput, next: CallTool) -> ToolCallResult:
        return await next(input)


def output_estimate(allowances: tuple[Allowance, ...]) -> int:
    """The output tokens a call without ``max_tokens`` is assumed to take."""
    return allowances[0].budget.output_estimate if allowances else DEFAULT_OUTPUT_ESTIMATE


class _AttemptBudgets:
    """One attempt's budgets: what its scopes had spent, and what it spent since."""

    __slots__ = (
        "_fallbacks",
        "_output_estimate",
        "allowances",
        "clock",
        "guards",
        "prices",
        "since_progress",
        "spent",
        "steps",
    )

    def __init__(
        self, scope: AttemptScope, allowances: tuple[Allowance, ...], guards: Guards
    ) -> None:
        self.allowances = allowances
        self.guards = guards
        self.clock: Clock = scope.clock
        self.prices: PriceTable | None = scope.prices
        self.steps = scope.input.limits.steps
        self.since_progress = scope.input.limits.since_progress
        self.spent = Spend()  # by this attempt
        self._output_estimate = output_estimate(allowances)
        self._fallbacks: dict[str, Model] = {}

    def _spends(self) -> list[Spend]:
        mine = self.spent
        return [
            Spend(
                tokens=a.spent.tokens + mine.tokens,
                usd=a.spent.usd + mine.usd,
                steps=a.spent.steps + mine.steps,
                started=a.spent.started,
            )
            for a in self.allowances
        ]

    def _check(self, spends: list[Spend], input: ModelCallInput, model: Model) -> None:
        call = estimate_call(input.request, model.name, self._output_estimate)
        now = self.clock.time()
        for allowance, spend in zip(self.allowances, spends, strict=True):
            check_budget(allowance.budget, allowance.label, spend, call, now)

    def _fallback(self, name: str) -> Model:
        model = self._fallbacks.get(name)
        if model is None:
            model = self._fallbacks[name] = resolve_model(name)
        return model

    def choose(self, input: ModelCallInput) -> Model:
        """The model for the call; raises when a guard or a budget forbids it."""
        check_steps(self.guards, self.steps + 1, self.since_progress + 1)
        primary = input.model
        if not self.allowances:
            return primary
        spends = self._spends()
        low = [
            a.budget.fallback_model
            for a, s in zip(self.allowances, spends, strict=True)
            if a.budget.fallback_model is not None
            and left_share(a.budget, s) < a.budget.fallback_below
        ]
        model = self._fallback(low[0]) if low else primary
        try:
            self._check(spends, input, model)
        except BudgetExceeded:
            spare = next(
                (a.budget.fallback_model for a in self.allowances if a.budget.fallback_model), None
            )
            if model is not primary or spare is None:
                raise
            model = self._fallback(spare)
            self._check(spends, input, model)  # a cheaper model that fits, or the error
        return model

    async def request(self, input: ModelCallInput, next: CallModel) -> ModelResponse:
        model = self.choose(input)
        response = await next(input if model is input.model else input.with_model(model))
        used = response.usage
        self._count(model.name, used)
        return response

    def _count(self, name: str, used: TokenUsage) -> None:
        self._step()
        self.spent.tokens += used.input_tokens + used.output_tokens
        self.spent.usd += cost_usd(name, used, self.prices)

    async def call(self, input: ToolCallInput, next: CallTool) -> ToolCallResult:
        try:
            result = await next(input)
        except ToolError:
            self._step()  # a failed call is a step too (the model read its error)
            raise
        self._step()
        return result

    def _step(self) -> None:
        self.steps += 1
        self.since_progress += 1
        self.spent.steps += 1


__all__ = ["Budgets", "output_estimate"]
