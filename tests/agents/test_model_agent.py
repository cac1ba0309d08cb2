"""Model-driven agents with the fakes of `podium.testing`: tools, structured output, repair."""

from __future__ import annotations

import json
from typing import Any

import pytest

from podium import Agent, Orchestrator, Plan, Task, ToolContext, tool
from podium.events import ModelCalled, ToolCalled
from podium.models import ModelRequest, ModelResponse, ToolCall, ToolResultMessage, UserMessage
from podium.testing import FunctionModel, ScriptedModel, TestModel
from podium.tools import action_hash

pytestmark = pytest.mark.anyio

ledger: list[str] = []


@tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@tool(effect="write")
def record(note: str, ctx: ToolContext) -> str:
    """Record a note."""
    ledger.append(f"{ctx.idempotency_key}:{note}")
    return "recorded"


@tool
def explode() -> None:
    """Always fails."""
    raise RuntimeError("kaboom")


SCHEMA = {"type": "object", "properties": {"answer": {"type": "integer"}}, "required": ["answer"]}


async def run_one(agent: Agent, task: Task) -> tuple[Any, list[Any]]:
    async with Orchestrator(agents=[agent], store="memory://") as orch:
        result = await orch.run(Plan([task]))
        return result, await orch.events(result.run_id)


async def test_test_model_calls_every_tool_then_answers_schema_json() -> None:
    model = TestModel()
    agent = Agent(name="llm", model=model, tools=(add, record))
    result, journal = await run_one(
        agent, Task(id="t", agent="llm", instruction="go", output_schema=SCHEMA)
    )
    assert result.status == "succeeded"
    assert result.output == {"answer": 0}
    calls = [e for e in journal if isinstance(e, ToolCalled)]
    assert [(c.tool, c.effect, c.error) for c in calls] == [
        ("add", "read", None),
        ("record", "write", None),
    ]
    assert calls[0].result == 0
    # the key names the first side-effecting call and what it does, not the model's call id
    digest = action_hash("record", {"note": "a"})[:16]
    assert ledger[-1] == f"{result.run_id}/t/1:{digest}:a"
    models = [e for e in journal if isinstance(e, ModelCalled)]
    assert len(models) == 2
    assert all(m.model == "test:test" and m.input_tokens > 0 for m in models)
    assert result.usage.input_tokens == sum(m.input_tokens for m in models)
    assert result.tasks["t"]["output"] == {"answer": 0}
    first = model.requests[0]
    assert {t.name for t in first.tools} == {"add", "record"}
    assert first.tools[0].parameters["required"] == ["a", "b"]


async def test_tool_errors_and_unknown_tools_go_back_to_the_model() -> None:
    def script(request: ModelRequest) -> ModelResponse | str:
        results = [m for m in request.messages if isinstance(m, ToolResultMessage)]
        if not results:
            return ModelResponse(
                tool_calls=(
                    ToolCall(id="1", name="add", arguments={"a": "x", "b": 1}),
                    ToolCall(id="2", name="explode"),
                    ToolCall(id="3", name="nope"),
                )
            )
        return json.dumps([r.content for r in results if r.is_error])

    agent = Agent(name="llm", model=FunctionModel(script), tools=(add, explode))
    result, journal = await run_one(agent, Task(id="t", agent="llm", instruction="go"))
    assert result.status == "succeeded"
    errors = json.loads(result.output)
    assert "invalid arguments for tool 'add'" in errors[0]
    assert "a:" in errors[0]
    assert "kaboom" in errors[1]
    assert "unknown tool 'nope'" in errors[2]
    assert [e.error is not None for e in journal if isinstance(e, ToolCalled)] == [True] * 3


async def test_invalid_structured_output_is_repaired_once() -> None:
    model = ScriptedModel(["not json", {"answer": 42}])
    result, _ = await run_one(
        Agent(name="llm", model=model), Task(id="t", agent="llm", output_schema=SCHEMA)
    )
    assert result.output == {"answer": 42}
    repair = model.requests[1].messages[-1]
    assert isinstance(repair, UserMessage)
    assert "not JSON" in repair.content


async def test_output_still_invalid_after_repair_fails_with_raw_output() -> None:
    model = ScriptedModel([{"answer": "x"}, {"wrong": 1}])
    result, _ = await run_one(
        Agent(name="llm", model=model), Task(id="t", agent="llm", output_schema=SCHEMA)
    )
    assert result.status == "failed"
    error = result.tasks["t"]["error"]
    assert error["type"] == "output_invalid"
    assert json.loads(error["raw_output"]) == {"wrong": 1}


async def test_rounds_are_bounded() -> None:
    looping = FunctionModel(
        lambda r: ModelResponse(
            tool_calls=(ToolCall(id="x", name="add", arguments={"a": 1, "b": 1}),)
        )
    )
    result, journal = await run_one(
        Agent(name="llm", model=looping, tools=(add,), max_rounds=3), Task(id="t", agent="llm")
    )
    assert result.tasks["t"]["error"]["type"] == "max_rounds"
    assert sum(isinstance(e, ModelCalled) for e in journal) == 3


async def test_scripted_model_runs_out() -> None:
    result, _ = await run_one(Agent(name="llm", model=ScriptedModel([])), Task(id="t", agent="llm"))
    assert "no answer for request #1" in result.tasks["t"]["error"]["message"]


async def test_model_by_name_and_context_in_prompt() -> None:
    result, _ = await run_one(Agent(name="llm", model="test"), Task(id="t", agent="llm"))
    assert result.output == "success (no tool calls)"
