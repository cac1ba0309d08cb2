"""Interceptors: the user's wrap every attempt, model call and tool call, outside Podium's own."""

from __future__ import annotations

from typing import Any

import pytest

from podium import Agent, ConfigError, Orchestrator, Plan, Task, TaskCall, tool
from podium.exceptions import ToolError
from podium.models import ModelResponse, ToolCall
from podium.models._calls import CallModel, ModelCallInput
from podium.reliability import RetryPolicy
from podium.runtime import AttemptCall, AttemptOutcome, AttemptScope
from podium.runtime._interceptors import ExecuteAttempt
from podium.testing import ScriptedModel
from podium.tools._calls import CallTool, ToolCallInput, ToolCallResult

pytestmark = pytest.mark.anyio


class Trace:
    """Records where each hook is entered and left."""

    def __init__(self, name: str, log: list[str]) -> None:
        self.name, self.log = name, log

    async def execute(self, call: AttemptCall, next: ExecuteAttempt) -> AttemptOutcome:
        self.log.append(f"{self.name}>{call.input.task.id}#{call.input.attempt}")
        outcome = await next(call)
        ok = "ok" if outcome.error is None else outcome.error.type
        self.log.append(f"{self.name}<{ok}")
        return outcome


async def test_user_interceptors_wrap_each_attempt_outermost_first() -> None:
    log: list[str] = []
    tries: list[int] = []

    async def flaky(call: TaskCall) -> str:
        tries.append(call.attempt)
        if call.attempt == 1:
            raise RuntimeError("transient")
        return "fine"

    agent = Agent(name="f", function=flaky, retry=RetryPolicy(attempts=2, backoff_s=0))
    async with Orchestrator(
        agents=[agent], store="memory://", interceptors=[Trace("A", log), Trace("B", log)]
    ) as orch:
        result = await orch.run(Plan([Task(id="t", agent="f")]))
    assert result.status == "succeeded"
    # each attempt, retries included, goes through A then B, and comes back through B then A
    assert log == [
        *("A>t#1", "B>t#1", "B<RuntimeError", "A<RuntimeError"),
        *("A>t#2", "B>t#2", "B<ok", "A<ok"),
    ]
    assert tries == [1, 2]


@tool
def add(a: int, b: int) -> int:
    """Add two numbers."""
    return a + b


def adding_model() -> ScriptedModel:
    call = ToolCall(id="c1", name="add", arguments={"a": 2, "b": 3})
    return ScriptedModel([ModelResponse(tool_calls=(call,)), "the sum is 5"])


class Cache:
    """A model interceptor that answers repeated requests itself."""

    def __init__(self) -> None:
        self.answers: dict[str, ModelResponse] = {}
        self.hits = 0

    async def request(self, input: ModelCallInput, next: CallModel) -> ModelResponse:
        key = repr(input.request.messages)
        if key in self.answers:
            self.hits += 1
            return self.answers[key]
        response = self.answers[key] = await next(input)
        return response


async def test_a_model_interceptor_may_answer_without_calling_the_model() -> None:
    cache = Cache()
    model = adding_model()
    agent = Agent(name="calc", model=model, tools=[add])
    plan = Plan([Task(id="sum", agent="calc", instruction="Add 2 and 3")])
    async with Orchestrator(agents=[agent], store="memory://", interceptors=[cache]) as orch:
        first = await orch.run(plan)
        second = await orch.run(plan)  # the same requests: answered from the cache
    assert first.output == second.output == "the sum is 5"
    assert len(model.requests) == 2
    assert cache.hits == 2


class NoNegatives:
    """A tool interceptor that refuses some calls: the model reads why and goes on."""

    def __init__(self) -> None:
        self.seen: list[dict[str, Any]] = []

    async def call(self, input: ToolCallInput, next: CallTool) -> ToolCallResult:
        self.seen.append(dict(input.arguments))
        if any(v < 0 for v in input.arguments.values()):
            raise ToolError("negative numbers are not allowed")
        return await next(input)


async def test_a_tool_interceptor_sees_every_call_and_may_refuse_one() -> None:
    refusal = ToolCall(id="c1", name="add", arguments={"a": -1, "b": 3})
    fine = ToolCall(id="c2", name="add", arguments={"a": 1, "b": 3})
    model = ScriptedModel(
        [ModelResponse(tool_calls=(refusal,)), ModelResponse(tool_calls=(fine,)), "it is 4"]
    )
    guard = NoNegatives()
    agent = Agent(name="calc", model=model, tools=[add])
    async with Orchestrator(agents=[agent], store="memory://", interceptors=[guard]) as orch:
        result = await orch.run(Plan([Task(id="sum", agent="calc", instruction="Add")]))
    assert result.output == "it is 4"
    assert guard.seen == [{"a": -1, "b": 3}, {"a": 1, "b": 3}]
    told = model.requests[1].messages[-1]
    assert "negative numbers are not allowed" in str(told)


class PerAttempt:
    """An interceptor with state for one attempt: `for_attempt` makes it, or leaves it out."""

    made: list[tuple[str, PerAttempt]] = []

    def __init__(self) -> None:
        self.calls = 0

    def for_attempt(self, scope: AttemptScope) -> PerAttempt | None:
        if scope.input.task.id == "skip":
            return None  # nothing to do here: it costs nothing in this attempt
        fresh = PerAttempt()
        self.made.append((scope.input.task.id, fresh))
        return fresh

    async def request(self, input: ModelCallInput, next: CallModel) -> ModelResponse:
        self.calls += 1
        return await next(input)


async def test_for_attempt_gives_each_attempt_its_own_instance_or_none() -> None:
    PerAttempt.made = []
    agent = Agent(name="calc", model=adding_model(), tools=[add])
    other = Agent(name="calc2", model=adding_model(), tools=[add])
    plan = Plan(
        [
            Task(id="sum", agent="calc", instruction="Add 2 and 3"),
            Task(id="skip", agent="calc2", instruction="Add 2 and 3"),
        ]
    )
    async with Orchestrator(
        agents=[agent, other], store="memory://", interceptors=[PerAttempt()]
    ) as orch:
        result = await orch.run(plan)
    assert result.status == "succeeded"
    assert [(task, made.calls) for task, made in PerAttempt.made] == [("sum", 2)]


def test_an_object_with_no_hook_is_refused() -> None:
    with pytest.raises(ConfigError, match="is not an interceptor"):
        Orchestrator(store="memory://", interceptors=[object()])
