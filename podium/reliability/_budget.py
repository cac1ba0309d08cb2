"""Budgets: tokens, dollars, wall time and steps, for a run or a task and its map children.

A budget is checked before every model call against what was spent so far plus an estimate of the
call (prompt ≈ characters / 4, plus the request's ``max_tokens``): a call that would go over is not
made, and the run stops with reason ``budget``. With a `fallback_model`, calls switch to that
(cheaper) model once less than `fallback_below` of a token or dollar budget is left.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import msgspec

from podium.exceptions import BudgetExceeded, ConfigError
from podium.models._base import AssistantMessage, ModelRequest, TokenUsage
from podium.models._prices import cost_usd


class Budget(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """Limits on what a run (`Limits.budget`) or a task and its map children (`Task.budget`) spend.

    Attributes:
        tokens: input + output tokens of every model call.
        usd: dollars, at the prices of `podium.models` (a model without a price costs 0).
        wall_s: seconds from the run's submission (for a task: from the start of its latest
            attempt, or of its earliest map child's).
        steps: model calls + tool calls.
        fallback_model: a ``provider:model`` to switch to when the budget runs low.
        fallback_below: switch once less than this share of the token or dollar budget is left.
        output_estimate: output tokens assumed for a request that sets no ``max_tokens``.

    Example:
        ```python
        Limits(budget=Budget(usd=2.0, fallback_model="openai:gpt-5-nano"))
        ```
    """

    tokens: int | None = None
    usd: float | None = None
    wall_s: float | None = None
    steps: int | None = None
    fallback_model: str | None = None
    fallback_below: float = 0.2
    output_estimate: int = 256

    def __post_init__(self) -> None:
        for name in ("tokens", "usd", "wall_s", "steps"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise ConfigError(f"Budget.{name} must be 0 or more, not {value}")
        if not 0 <= self.fallback_below <= 1:
            raise ConfigError("Budget.fallback_below must be between 0 and 1")
        if self.output_estimate < 0:
            raise ConfigError("Budget.output_estimate must be 0 or more")

    @property
    def limits_spend(self) -> bool:
        return any(v is not None for v in (self.tokens, self.usd, self.wall_s, self.steps))


@dataclass(slots=True)
class Spend:
    """What a run or a task subtree has spent so far."""

    tokens: int = 0
    usd: float = 0.0
    steps: int = 0
    started: float | None = None


@dataclass(frozen=True, slots=True)
class CallEstimate:
    """What one model call is expected to cost."""

    tokens: int
    usd: float


def estimate_call(request: ModelRequest, model_name: str, output_estimate: int) -> CallEstimate:
    """Prompt tokens ≈ characters / 4, plus `max_tokens` (or `output_estimate`) to generate."""
    chars = 0
    for m in request.messages:
        chars += len(m.content or "")
        if isinstance(m, AssistantMessage):
            for tc in m.tool_calls:
                chars += len(tc.name) + len(json.dumps(tc.arguments, default=str))
    for t in request.tools:
        chars += len(t.name) + len(t.description) + len(json.dumps(t.parameters, default=str))
    if request.output_schema is not None:
        chars += len(json.dumps(request.output_schema, default=str))
    prompt = (chars + 3) // 4
    output = request.max_tokens if request.max_tokens is not None else output_estimate
    usage = TokenUsage(input_tokens=prompt, output_tokens=output)
    return CallEstimate(tokens=prompt + output, usd=cost_usd(model_name, usage))


def check_budget(
    budget: Budget, label: str, spend: Spend, call: CallEstimate | None, now: float
) -> None:
    """Raise `BudgetExceeded` if one more step (a model call when `call` is given) goes over."""
    if budget.steps is not None and spend.steps + 1 > budget.steps:
        raise BudgetExceeded(
            f"the {label} step budget ({budget.steps}) is used up", budget=f"{label} steps"
        )
    if budget.wall_s is not None and spend.started is not None:
        elapsed = now - spend.started
        if elapsed > budget.wall_s:
            raise BudgetExceeded(
                f"the {label} wall-time budget ({budget.wall_s:g}s) is used up "
                f"({elapsed:.1f}s elapsed)",
                budget=f"{label} wall_s",
            )
    if call is None:
        return
    if budget.tokens is not None and spend.tokens + call.tokens > budget.tokens:
        raise BudgetExceeded(
            f"the {label} token budget ({budget.tokens}) would be exceeded: {spend.tokens} used, "
            f"the next model call needs about {call.tokens}",
            budget=f"{label} tokens",
        )
    if budget.usd is not None and spend.usd + call.usd > budget.usd:
        raise BudgetExceeded(
            f"the {label} dollar budget (${budget.usd:g}) would be exceeded: ${spend.usd:.4f} "
            f"spent, the next model call costs about ${call.usd:.4f}",
            budget=f"{label} usd",
        )


def left_share(budget: Budget, spend: Spend) -> float:
    """The smallest share (0..1) of the token and dollar budgets still left; 1 without them."""
    shares = [1.0]
    if budget.tokens:
        shares.append(max(0.0, 1 - spend.tokens / budget.tokens))
    if budget.usd:
        shares.append(max(0.0, 1 - spend.usd / budget.usd))
    return min(shares)


__all__ = ["Budget", "CallEstimate", "Spend", "check_budget", "estimate_call", "left_share"]
