"""Time limits of single model calls and tool calls, as wrappers on the injected clock."""

from __future__ import annotations

import asyncio

import pytest

from podium import Agent, ConfigError, Plan, Task, tool
from podium.events import TaskFailed, ToolCalled
from podium.exceptions import ToolError
from podium.models import ModelRequest, ModelResponse, ToolCall
from podium.models._errors import ProviderTimeout
from podium.reliability import Reliability, RetryPolicy, TimeoutModel, tool_with_timeout
from podium.testing import FakeClock, Faults, FaultyModel, FunctionModel, ScriptedModel, TestModel

from .helpers import of, run_plan

pytestmark = pytest.mark.anyio


async def test_a_hanging_model_call_becomes_a_retryable_provider_timeout() -> None:
    clock = FakeClock()
    slow = FaultyModel(TestModel(), Faults(slow=1.0, slow_s=600), clock=clock)
    model = TimeoutModel(slow, 30, clock=clock)
    with pytest.raises(ProviderTimeout, match="no answer within 30s") as caught:
        await model.request(ModelRequest(messages=()))
    assert caught.value.retryable
    assert clock.time() == 30
    assert (model.name, model.provider) == ("test:test", "test")
    with pytest.raises(ConfigError):
        TimeoutModel(slow, 0)


async def test_model_timeouts_apply_to_every_call_of_a_run_and_are_retried() -> None:
    clock = FakeClock()
    slow_once = FaultyModel(TestModel(output_text="done"), Faults(slow=0.5, slow_s=600, seed=3))
    slow_once.clock = clock
    agent = Agent(name="m", model=slow_once)
    task = Task(id="t", agent="m", retry=RetryPolicy(attempts=10, backoff_s=1, jitter=0))
    result, journal = await run_plan(
        Plan([task]), agent, clock=clock, reliability=Reliability(model_timeout_s=10)
    )
    assert result.status == "succeeded"
    errors = [e.error.type for e in of(journal, TaskFailed)]
    assert errors
    assert set(errors) == {"ProviderTimeout"}
    assert slow_once.stats.counts["slow"] == len(errors)


@tool
async def sleepy(seconds: float) -> str:
    """Sleep a while."""
    await CLOCK.sleep(seconds)
    return "rested"


@tool
def blocking() -> str:
    """Block a thread."""
    return "unblocked"


CLOCK = FakeClock()


async def test_a_tool_timeout_is_a_tool_error_the_model_sees() -> None:
    limited = tool_with_timeout(sleepy, 5, clock=CLOCK)
    with pytest.raises(ToolError, match="took longer than 5s"):
        await limited.call({"seconds": 60}, _ctx())
    assert await limited.call({"seconds": 1}, _ctx()) == "rested"
    assert await tool_with_timeout(blocking, 5).call({}, _ctx()) == "unblocked"
    with pytest.raises(ConfigError):
        tool_with_timeout(sleepy, -1)


async def test_tool_timeouts_in_a_run() -> None:
    model = ScriptedModel(
        [
            ModelResponse(tool_calls=(ToolCall(id="1", name="sleepy", arguments={"seconds": 99}),)),
            "gave up waiting",
        ]
    )
    agent = Agent(name="m", model=model, tools=(sleepy,))
    result, journal = await run_plan(
        Plan([Task(id="t", agent="m")]),
        agent,
        clock=CLOCK,
        reliability=Reliability(tool_timeout_s=3),
    )
    assert result.output == "gave up waiting"
    [called] = of(journal, ToolCalled)
    assert called.error == "tool 'sleepy' took longer than 3s"


def _ctx():  # type: ignore[no-untyped-def]
    from podium import ToolContext

    return ToolContext(run_id="r", task_id="t", agent="a", call_id="c", idempotency_key="k")


async def test_function_models_are_not_slowed_without_faults() -> None:
    model = TimeoutModel(FunctionModel(lambda r: "quick"), 1)
    response = await asyncio.wait_for(model.request(ModelRequest(messages=())), 5)
    assert response.text == "quick"
