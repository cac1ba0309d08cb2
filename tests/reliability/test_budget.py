"""Budgets of tokens, dollars, wall time and steps, for runs and task subtrees."""

from __future__ import annotations

import msgspec
import pytest

import podium
from podium import Agent, Budget, ConfigError, Limits, Orchestrator, Plan, Task, TaskCall, tool
from podium.events import ModelCalled, RunFailed, RunSubmitted, TaskFailed
from podium.models import (
    ModelRequest,
    ModelResponse,
    TokenUsage,
    ToolCall,
    UserMessage,
    register_provider,
)
from podium.reliability import CallEstimate, Spend, check_budget, estimate_call
from podium.store import MemoryStore
from podium.testing import FakeClock, Faults, FaultyModel, FunctionModel
from tests.helpers import ProcessDeath

from .helpers import of, run_plan

pytestmark = pytest.mark.anyio


@tool
def ping() -> str:
    """Ping."""
    return "pong"


class Fixed:
    """A model with a name of our choosing that uses a fixed number of tokens per call and asks
    for the `ping` tool `loops` times before it answers."""

    def __init__(self, name: str, *, tokens: int = 100, loops: int = 0) -> None:
        self._name = name
        self.tokens = tokens
        self.loops = loops
        self.calls = 0

    @property
    def name(self) -> str:
        return self._name

    @property
    def provider(self) -> str:
        return self._name.partition(":")[0]

    async def request(self, request: ModelRequest) -> ModelResponse:
        self.calls += 1
        usage = TokenUsage(input_tokens=self.tokens // 2, output_tokens=self.tokens // 2)
        if self.calls <= self.loops:
            call = ToolCall(id=str(self.calls), name="ping")
            return ModelResponse(tool_calls=(call,), usage=usage, model=self.name)
        return ModelResponse(text=f"answer from {self.name}", usage=usage, model=self.name)


def test_budget_is_public_and_validated() -> None:
    assert podium.Budget is Budget
    with pytest.raises(ConfigError, match="tokens"):
        Budget(tokens=-1)
    with pytest.raises(ConfigError, match="fallback_below"):
        Budget(fallback_below=2)
    assert not Budget().limits_spend
    assert Budget(steps=3).limits_spend


def test_estimate_is_chars_over_four_plus_max_tokens() -> None:
    request = ModelRequest(messages=(UserMessage(content="x" * 400),), max_tokens=50)
    estimate = estimate_call(request, "openai:gpt-4o", output_estimate=999)
    assert estimate.tokens == 100 + 50
    assert estimate.usd == pytest.approx((100 * 2.5 + 50 * 10) / 1e6)
    unbounded = estimate_call(ModelRequest(messages=()), "test:x", output_estimate=256)
    assert (unbounded.tokens, unbounded.usd) == (256, 0.0)


def test_check_names_the_budget_it_would_exceed() -> None:
    budget = Budget(tokens=1000, usd=1.0, steps=5, wall_s=10)
    ok = Spend(tokens=100, usd=0.1, steps=1, started=0)
    check_budget(budget, "run", ok, CallEstimate(tokens=100, usd=0.1), now=5)
    cases = [
        (Spend(tokens=950), CallEstimate(tokens=100, usd=0), 0, "run tokens"),
        (Spend(usd=0.95), CallEstimate(tokens=1, usd=0.1), 0, "run usd"),
        (Spend(steps=5), None, 0, "run steps"),
        (Spend(started=0), None, 11, "run wall_s"),
    ]
    for spend, call, now, name in cases:
        with pytest.raises(podium.exceptions.BudgetExceeded) as caught:
            check_budget(budget, "run", spend, call, now=now)
        assert caught.value.budget == name


async def test_a_run_that_would_go_over_its_token_budget_stops_with_reason_budget() -> None:
    model = Fixed("test:fixed", tokens=100, loops=10)
    agent = Agent(name="m", model=model, tools=(ping,), max_rounds=20)
    budget = Budget(tokens=450, output_estimate=50)
    result, journal = await run_plan(
        Plan([Task(id="t", agent="m")]), agent, limits=Limits(budget=budget)
    )
    assert result.status == "failed"
    assert result.reason == "budget"
    assert "run token budget (450) would be exceeded" in result.message
    assert len(of(journal, ModelCalled)) == 4  # the 5th call (400 used + ~50+) was not made
    assert result.usage.input_tokens + result.usage.output_tokens == 400
    assert of(journal, TaskFailed)[0].error.type == "budget"
    assert of(journal, RunFailed)[0].reason == "budget"


async def test_dollar_budget_uses_the_price_table() -> None:
    model = Fixed("openai:gpt-4o", tokens=200_000, loops=5)  # $1.25 a call
    agent = Agent(name="m", model=model, tools=(ping,))
    result, journal = await run_plan(
        Plan([Task(id="t", agent="m")]), agent, run_kw={"budget": Budget(usd=3.0)}
    )
    assert (result.status, result.reason) == ("failed", "budget")
    assert "run dollar budget ($3) would be exceeded: $3.7500 spent" in result.message
    calls = of(journal, ModelCalled)
    # the estimate (a short prompt, 256 tokens out) undershoots these calls: the third one
    # still fitted, the fourth did not
    assert len(calls) == 3
    assert [c.cost_usd for c in calls] == [1.25, 1.25, 1.25]
    assert result.usage.cost_usd == pytest.approx(3.75)


async def test_steps_count_model_and_tool_calls() -> None:
    agent = Agent(name="m", model=Fixed("test:f", loops=10), tools=(ping,), max_rounds=20)
    result, journal = await run_plan(
        Plan([Task(id="t", agent="m")]), agent, limits=Limits(budget=Budget(steps=5))
    )
    assert (result.status, result.reason) == ("failed", "budget")
    assert "run step budget (5)" in result.message
    assert len(of(journal, ModelCalled)) == 3  # call, tool, call, tool, call: 5 steps


async def test_wall_time_budget_on_the_fake_clock() -> None:
    clock = FakeClock()
    slow = FaultyModel(Fixed("test:f", loops=10), Faults(slow=1.0, slow_s=100), clock=clock)
    agent = Agent(name="m", model=slow, tools=(ping,), max_rounds=20)
    result, journal = await run_plan(
        Plan([Task(id="t", agent="m")]),
        agent,
        clock=clock,
        limits=Limits(budget=Budget(wall_s=250)),
    )
    assert (result.status, result.reason) == ("failed", "budget")
    assert "run wall-time budget (250s) is used up (300.0s elapsed)" in result.message
    assert len(of(journal, ModelCalled)) == 3


async def test_a_task_budget_covers_its_map_children() -> None:
    agent = Agent(name="m", model=Fixed("test:f", tokens=100))
    budget = Budget(tokens=210, output_estimate=10)
    plan = Plan(
        [Task(id="m", agent="m", map="inputs.xs", budget=budget), Task(id="free", agent="m")]
    )
    result, journal = await run_plan(
        plan, agent, limits=Limits(max_concurrency=1), run_kw={"inputs": {"xs": [1, 2, 3]}}
    )
    assert (result.status, result.reason) == ("failed", "budget")
    assert "task 'm' token budget (210) would be exceeded: 200 used" in result.message
    mapped = sorted(e.task for e in of(journal, ModelCalled) if e.task.startswith("m["))
    assert mapped == ["m[0]", "m[1]"]  # each child fitted alone; together they did not


register_provider("budgetcheap", lambda name: Fixed(f"budgetcheap:{name}", tokens=10))


async def test_switches_to_the_fallback_model_when_the_budget_runs_low() -> None:
    primary = Fixed("test:big", tokens=300, loops=3)
    agent = Agent(name="m", model=primary, tools=(ping,))
    budget = Budget(tokens=2000, fallback_model="budgetcheap:small", fallback_below=0.6)
    result, journal = await run_plan(
        Plan([Task(id="t", agent="m")]), agent, limits=Limits(budget=budget)
    )
    assert result.status == "succeeded"
    assert [c.model for c in of(journal, ModelCalled)] == [
        "test:big",
        "test:big",
        "test:big",  # 900 of 2000 used: 55% left, below 60%
        "budgetcheap:small",
    ]
    assert result.output == "answer from budgetcheap:small"


async def test_a_fallback_that_fits_is_used_when_the_primary_would_not() -> None:
    primary = Fixed("openai:gpt-4o", tokens=1000)
    agent = Agent(name="m", model=primary)
    budget = Budget(usd=0.001, fallback_model="budgetcheap:small", fallback_below=0)
    result, journal = await run_plan(
        Plan([Task(id="t", agent="m", instruction="x" * 4000)]), agent, limits=Limits(budget=budget)
    )
    assert result.status == "succeeded"
    assert [c.model for c in of(journal, ModelCalled)] == ["budgetcheap:small"]


async def test_the_budget_is_journaled_and_a_resumed_run_keeps_it() -> None:
    store = MemoryStore()
    model = Fixed("test:f", tokens=100, loops=10)
    budget = Budget(tokens=350, output_estimate=1)

    death = ProcessDeath()

    async def crash(call: TaskCall) -> str:
        death.now()

    plan = Plan([Task(id="boom", agent="crash"), Task(id="t", agent="m", needs=("boom",))])
    agents = [
        Agent(name="m", model=model, tools=(ping,), max_rounds=20),
        Agent(name="crash", function=crash),
    ]
    async with Orchestrator(agents=agents, store=store, limits=Limits(budget=budget)) as orch:
        await death.run(orch.run(plan, run_id="r"))
    submitted = (await store.load("r"))[0]
    assert isinstance(submitted, RunSubmitted)
    assert msgspec.convert(submitted.limits["budget"], Budget) == budget

    async def fine(call: TaskCall) -> str:
        return "ok"

    agents[1] = Agent(name="crash", function=fine)
    async with Orchestrator(agents=agents, store=store) as orch:  # no budget of its own
        # the crashing agent is replaced by another function: an upgrade, said so
        workflow = podium.Workflow(name="plan", plan=plan)
        result = await orch.resume("r", workflow=workflow, upgrade=True)
    assert (result.status, result.reason) == ("failed", "budget")
    assert len(of(await _events(store), ModelCalled)) == 4  # without the budget: 11


async def _events(store: MemoryStore) -> list[object]:
    return list(await store.load("r"))


async def test_function_models_without_budget_are_untouched() -> None:
    agent = Agent(name="m", model=FunctionModel(lambda r: "hi"))
    result, _ = await run_plan(Plan([Task(id="t", agent="m")]), agent)
    assert result.output == "hi"
