"""The examples of docs/architecture.md run: a new executor and a new interceptor, as written."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from podium import Agent, Orchestrator, Plan, Task, TaskCall, tool
from podium.events import TaskStarted, TaskSucceeded, ToolCalled
from podium.models import ModelResponse, ToolCall
from podium.testing import ScriptedModel

pytestmark = pytest.mark.anyio

DOC = Path(__file__).parent.parent / "docs" / "architecture.md"


def example(heading: str) -> dict[str, Any]:
    """Run the first Python block under `heading` and return what it defines."""
    text = DOC.read_text(encoding="utf-8")
    section = text.split(f"\n{heading}\n", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S)
    assert code is not None, f"no example under {heading!r}"
    names: dict[str, Any] = {"__name__": "docs_example"}
    exec(compile(code.group(1), f"{DOC}:{heading}", "exec"), names)
    return names


@tool
def add(a: int, b: int) -> int:
    """Add two numbers."""
    return a + b


def adding_agent() -> Agent:
    call = ToolCall(id="c1", name="add", arguments={"a": 2, "b": 3})
    model = ScriptedModel([ModelResponse(tool_calls=(call,)), "the sum is 5"])
    return Agent(name="calc", model=model, tools=[add])


def shout(call: TaskCall) -> str:  # a synchronous agent: on the executor's agent threads
    return call.instruction.upper()


async def test_the_executor_example_runs_a_workflow() -> None:
    executor = example("### Executors")["LoopPerThread"]()
    plan = Plan(
        [
            Task(id="sum", agent="calc", instruction="Add 2 and 3"),
            Task(
                id="loud",
                agent="shout",
                instruction="quiet {{ tasks.sum.output }}",
                needs=("sum",),
            ),
        ]
    )
    async with Orchestrator(
        agents=[adding_agent(), Agent(name="shout", function=shout)],
        store="memory://",
        executor=executor,
    ) as orch:
        result = await orch.run(plan)
        journal = await orch.events(result.run_id)
    assert result.status == "succeeded"
    assert result.output == "QUIET THE SUM IS 5"
    kinds = [type(e).__name__ for e in journal if getattr(e, "task", None) == "sum"]
    # the attempt's own events came back with its outcome and were journaled in order
    assert kinds == ["TaskStarted", "ModelCalled", "ToolCalled", "ModelCalled", "TaskSucceeded"]
    assert [e.seq for e in journal] == list(range(len(journal)))
    assert any(isinstance(e, ToolCalled) and e.result == 5 for e in journal)
    assert sum(isinstance(e, TaskStarted) for e in journal) == 2
    assert sum(isinstance(e, TaskSucceeded) for e in journal) == 2


async def test_the_interceptor_example_times_attempts_and_calls() -> None:
    timings = example("### Interceptors")["Timings"]()
    async with Orchestrator(
        agents=[adding_agent()], store="memory://", interceptors=[timings]
    ) as orch:
        result = await orch.run(Plan([Task(id="sum", agent="calc", instruction="Add 2 and 3")]))
    assert result.output == "the sum is 5"
    assert sorted((what, name) for what, name, _ in timings.took) == [
        ("attempt", "sum"),
        ("model", "test:scripted"),
        ("model", "test:scripted"),
        ("tool", "add"),
    ]
    assert all(took >= 0 for _, _, took in timings.took)
