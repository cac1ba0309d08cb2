"""Loop and stall guards: the run ends with reason loop or stall instead of spinning."""

from __future__ import annotations

import pytest

from podium import Agent, ConfigError, Limits, Plan, Task, TaskCall, tool
from podium.events import Handoff, ModelCalled, RunFailed, ToolCalled
from podium.exceptions import LoopDetected
from podium.models import ModelRequest, ModelResponse, ToolCall
from podium.reliability import Guards, HandoffGuard, RepeatGuard, find_cycle
from podium.testing import FunctionModel

from .helpers import of, run_plan

pytestmark = pytest.mark.anyio


@tool
def look(where: str) -> str:
    """Look somewhere."""
    return f"nothing at {where}"


def looping(args: list[dict[str, str]]) -> FunctionModel:
    """A model that keeps calling `look` (with the next arguments from `args`, cycling)."""
    n = {"i": 0}

    def answer(request: ModelRequest) -> ModelResponse:
        n["i"] += 1
        call = ToolCall(id=str(n["i"]), name="look", arguments=args[n["i"] % len(args)])
        return ModelResponse(tool_calls=(call,))

    return FunctionModel(answer)


async def test_max_steps_ends_the_run_with_reason_loop() -> None:
    places = [{"where": str(i)} for i in range(100)]
    agent = Agent(name="m", model=looping(places), tools=(look,), max_rounds=50)
    result, journal = await run_plan(
        Plan([Task(id="t", agent="m")]), agent, limits=Limits(guards=Guards(max_steps=7))
    )
    assert (result.status, result.reason) == ("failed", "loop")
    assert "more than 7 steps" in result.message
    assert len(of(journal, ModelCalled)) + len(of(journal, ToolCalled)) == 8


async def test_the_same_tool_call_repeated_ends_the_run_with_reason_loop() -> None:
    agent = Agent(name="m", model=looping([{"where": "x"}]), tools=(look,), max_rounds=50)
    result, journal = await run_plan(Plan([Task(id="t", agent="m")]), agent)  # default: 5
    assert (result.status, result.reason) == ("failed", "loop")
    assert "tool 'look' was called 5 times with the same arguments" in result.message
    assert len(of(journal, ToolCalled)) == 4  # the fifth identical call is not made
    assert of(journal, RunFailed)[0].reason == "loop"


async def test_no_new_context_for_too_many_steps_is_a_stall() -> None:
    async def writes(call: TaskCall) -> str:
        call.context.write("notes", "found something")
        return "done"

    places = [{"where": str(i)} for i in range(100)]
    plan = Plan(
        [
            Task(id="w", agent="writer"),
            Task(id="t", agent="m", needs=("w",)),
        ]
    )
    agents = [
        Agent(name="writer", function=writes),
        Agent(name="m", model=looping(places), tools=(look,), max_rounds=50),
    ]
    result, _journal = await run_plan(plan, *agents, limits=Limits(guards=Guards(stall_steps=6)))
    assert (result.status, result.reason) == ("failed", "stall")
    assert "7 steps in a row wrote no context and finished no task" in result.message
    assert result.tasks["w"]["status"] == "succeeded"


def test_find_cycle() -> None:
    assert find_cycle(["a", "b", "a", "b"], 2) == ["a", "b"]
    assert find_cycle(["x", "a", "b", "c", "a", "b", "c"], 2) == ["a", "b", "c"]
    assert find_cycle(["a", "b", "a"], 2) is None
    assert find_cycle(["a", "a", "a", "a"], 2) is None  # one agent going on is no cycle
    assert find_cycle(["a", "b", "c", "a", "b"], 2) is None


def test_handoff_guard_over_a_sequence_of_agents() -> None:
    guard = HandoffGuard(Guards(cycle_repeats=3))
    for agent in ["a", "b", "a", "b", "a"]:
        guard.observe(agent)
    guard.observe("a")  # staying is not a handoff
    assert guard.handoffs == 4
    with pytest.raises(LoopDetected, match=r"a → b → a\) 3 times"):
        guard.observe("b")
    limited = HandoffGuard(Guards(max_handoffs=2), start=["a"])
    limited.observe("b")
    limited.observe("c")
    with pytest.raises(LoopDetected, match="more than 2 handoffs"):
        limited.observe("d")


def test_repeat_guard_and_validation() -> None:
    guard = RepeatGuard(2)
    guard.observe("t", {"a": 1, "b": 2})
    with pytest.raises(LoopDetected):
        guard.observe("t", {"b": 2, "a": 1})  # same arguments, other order
    RepeatGuard(None).observe("t", {})
    with pytest.raises(ConfigError):
        Guards(max_steps=0)
    with pytest.raises(ConfigError):
        Guards(cycle_repeats=1)


async def test_agents_handing_a_task_back_and_forth_end_the_run_with_reason_loop() -> None:
    def ping_pong(target: str) -> FunctionModel:
        def answer(request: ModelRequest) -> ModelResponse:
            call = ToolCall(id="h", name=f"handoff_to_{target}", arguments={"reason": "yours"})
            return ModelResponse(tool_calls=(call,))

        return FunctionModel(answer)

    agents = [
        Agent(name="a", model=ping_pong("b"), handoffs=("b",), max_handoffs=20),
        Agent(name="b", model=ping_pong("a"), handoffs=("a",)),
    ]
    result, journal = await run_plan(
        Plan([Task(id="t", agent="a")]), *agents, limits=Limits(guards=Guards(cycle_repeats=2))
    )
    assert (result.status, result.reason) == ("failed", "loop")
    assert "hand work round in a cycle (a → b → a) 2 times" in result.message
    assert [(h.from_agent, h.to_agent) for h in of(journal, Handoff)] == [
        ("a", "b"),
        ("b", "a"),
        ("a", "b"),
    ]
