"""The guard rails of one model-driven attempt: budget and step checks before each model call,
the fallback model, and an event sink that watches for repeated tool calls and handoff cycles.

`ReliableRunner` (`_supervise.py`) builds them for each attempt.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from podium.events import Handoff, ToolCalled
from podium.exceptions import BudgetExceeded
from podium.models._base import Model, ModelRequest, ModelResponse
from podium.models._registry import resolve_model
from podium.plan import Task
from podium.reliability._budget import Budget, Spend, check_budget, estimate_call, left_share
from podium.reliability._clock import Clock
from podium.reliability._guards import Guards, HandoffGuard, RepeatGuard, check_steps
from podium.runtime._execute import EmitNow
from podium.runtime._state import RunState


class BudgetGate:
    """Checks the budgets and step guards of one attempt before each of its model calls.

    Args:
        state: the run.
        task: the attempt's task (its budget, and its map parent's, apply).
        budget: the run's budget.
        guards: the run's loop and stall guards.
        clock: what wall-time budgets are measured on.
        subtree: a task id → it and its map children.
        wrap: what a fallback model is wrapped in (as the primary is).
    """

    def __init__(
        self,
        state: RunState,
        task: Task,
        *,
        budget: Budget | None,
        guards: Guards,
        clock: Clock,
        subtree: Callable[[str], list[str]],
        wrap: Callable[[Model], Model],
    ) -> None:
        self.state = state
        self.guards = guards
        self.clock = clock
        self.subtree = subtree
        self.wrap = wrap
        self.scopes: list[tuple[str, Budget, Callable[[], Spend]]] = []
        if budget is not None and budget.limits_spend:
            self.scopes.append(("run", budget, self._run_spend))
        owners = [task.id] if task.budget is not None else []
        parent = state.tasks.get(task.parent) if task.parent is not None else None
        if parent is not None and parent.task.budget is not None:
            owners.append(parent.task.id)
        for owner in owners:
            budget = state.tasks[owner].task.budget
            assert budget is not None
            self.scopes.append((f"task {owner!r}", budget, self._subtree_spend(owner)))
        self.output_estimate = self.scopes[0][1].output_estimate if self.scopes else 256
        self._fallbacks: dict[str, Model] = {}

    def _run_spend(self) -> Spend:
        u = self.state.usage
        return Spend(
            tokens=u.input_tokens + u.output_tokens,
            usd=u.cost_usd,
            steps=self.state.steps,
            started=self.state.created_ts,
        )

    def _subtree_spend(self, owner: str) -> Callable[[], Spend]:
        members = self.subtree(owner)

        def spend() -> Spend:
            total = Spend()
            for tid in members:
                ts = self.state.tasks[tid]
                total.tokens += ts.usage.input_tokens + ts.usage.output_tokens
                total.usd += ts.usage.cost_usd
                total.steps += ts.steps
                if ts.started_ts is not None and (
                    total.started is None or ts.started_ts < total.started
                ):
                    total.started = ts.started_ts
            return total

        return spend

    def _fallback(self, name: str) -> Model:
        model = self._fallbacks.get(name)
        if model is None:
            model = self._fallbacks[name] = self.wrap(resolve_model(name))
        return model

    def _check(self, spends: list[Spend], request: ModelRequest, model: Model) -> None:
        call = estimate_call(request, model.name, self.output_estimate)
        now = self.clock.time()
        for (label, budget, _), spend in zip(self.scopes, spends, strict=True):
            check_budget(budget, label, spend, call, now)

    def choose(self, request: ModelRequest, primary: Model) -> Model:
        """The model for the next call; raises when a guard or a budget forbids the call."""
        state = self.state
        check_steps(self.guards, state.steps + 1, state.steps + 1 - state.progress_step)
        if not self.scopes:
            return primary
        spends = [spend() for _, _, spend in self.scopes]
        low = [
            b.fallback_model
            for (_, b, _), s in zip(self.scopes, spends, strict=True)
            if b.fallback_model is not None and left_share(b, s) < b.fallback_below
        ]
        model = self._fallback(low[0]) if low else primary
        try:
            self._check(spends, request, model)
        except BudgetExceeded:
            spare = next((b.fallback_model for _, b, _ in self.scopes if b.fallback_model), None)
            if model is not primary or spare is None:
                raise
            model = self._fallback(spare)
            self._check(spends, request, model)  # a cheaper model that fits, or the error
        return model


class GatedModel:
    """The model an attempt sees: budget and guard checks, then the primary or fallback model.

    `name` and `provider` are those of the model that answered the latest call, so
    `ModelCalled` names the fallback when it was used.
    """

    def __init__(self, primary: Model, gate: BudgetGate) -> None:
        self.primary = primary
        self.gate = gate
        self._last = primary

    @property
    def name(self) -> str:
        return self._last.name

    @property
    def provider(self) -> str:
        return self._last.provider

    async def request(self, request: ModelRequest) -> ModelResponse:
        model = self.gate.choose(request, self.primary)
        self._last = model
        return await model.request(request)


class GuardedEmit:
    """The attempt's event sink, raising `LoopDetected` when a tool call repeats too often or
    the agents hand the task round in a cycle (or too often)."""

    __slots__ = ("emit", "handoffs", "repeats")

    def __init__(self, emit: EmitNow, guards: Guards) -> None:
        self.emit = emit
        self.repeats = RepeatGuard(guards.max_repeats)
        self.handoffs = HandoffGuard(guards)

    async def __call__(self, kind: Any, **fields: Any) -> None:
        await self.emit(kind, **fields)
        if kind is ToolCalled:
            self.repeats.observe(str(fields.get("tool", "")), fields.get("arguments") or {})
        elif kind is Handoff:
            if not self.handoffs.agents:
                self.handoffs.observe(str(fields.get("from_agent", "")))
            self.handoffs.observe(str(fields.get("to_agent", "")))


__all__ = ["BudgetGate", "GatedModel", "GuardedEmit"]
