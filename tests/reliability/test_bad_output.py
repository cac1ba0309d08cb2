"""Bad model output: each kind gets a bounded repair or a typed error, the raw output is kept in
the journal, a failed attempt changes no run state, and the run stays resumable."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest

from podium import Agent, Orchestrator, Plan, Task, Workflow, tool
from podium.events import (
    OutputRejected,
    TaskFailed,
    TaskRetrying,
    TaskSucceeded,
    ToolCalled,
    encode,
)
from podium.models import ModelRequest, ModelResponse, ToolCall, ToolResultMessage, UserMessage
from podium.store import MemoryStore
from podium.testing import FunctionModel, ScriptedModel
from podium.testing._models import Scripted
from tests.helpers import ProcessDeath

from .helpers import of, run_plan

pytestmark = pytest.mark.anyio

SCHEMA = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}


@tool
def look(where: str) -> str:
    """Look somewhere."""
    return f"nothing at {where}"


@tool
def dump() -> str:
    """Return a megabyte."""
    return "x" * 1_000_000


async def run_script(
    script: list[Scripted], *, schema: bool = True, **agent_kw: Any
) -> tuple[Any, list[Any], ScriptedModel]:
    model = ScriptedModel(script)
    agent = Agent(name="m", model=model, tools=(look, dump), **agent_kw)
    task = Task(id="t", agent="m", output_schema=SCHEMA if schema else None)
    result, journal = await run_plan(Plan([task]), agent)
    return result, journal, model


def last_user(request: ModelRequest) -> str:
    return [m.content for m in request.messages if isinstance(m, UserMessage)][-1]


async def test_invalid_json_is_repaired_once() -> None:
    result, journal, model = await run_script(["here you go: n=1", {"n": 1}])
    assert (result.status, result.output) == ("succeeded", {"n": 1})
    [rejected] = of(journal, OutputRejected)
    assert (rejected.error.type, rejected.error.raw_output, rejected.repair) == (
        "output_invalid",
        "here you go: n=1",
        True,
    )
    assert "the answer is not JSON" in last_user(model.requests[1])


async def test_invalid_json_twice_is_a_typed_error_with_the_raw_output() -> None:
    result, journal, _ = await run_script(["nope", "still nope"])
    assert result.status == "failed"
    [failed] = of(journal, TaskFailed)
    assert (failed.error.type, failed.error.raw_output) == ("output_invalid", "still nope")
    assert [(r.error.raw_output, r.repair) for r in of(journal, OutputRejected)] == [
        ("nope", True),
        ("still nope", False),
    ]
    assert not of(journal, TaskSucceeded)
    assert result.tasks["t"]["output"] is None


async def test_wrong_schema_is_repaired_or_rejected() -> None:
    result, journal, model = await run_script([{"n": "one"}, {"n": 1}])
    assert result.output == {"n": 1}
    assert of(journal, OutputRejected)[0].error.raw_output == '{"n": "one"}'
    assert "Reply again with only JSON" in last_user(model.requests[1])
    result, journal, _ = await run_script([{"m": 1}, {"n": "x"}])
    assert of(journal, TaskFailed)[0].error.type == "output_invalid"


async def test_empty_answers_are_repaired_then_a_typed_error() -> None:
    result, journal, model = await run_script(["", "fine"], schema=False)
    assert result.output == "fine"
    assert of(journal, OutputRejected)[0].error.type == "output_empty"
    assert last_user(model.requests[1]).startswith("Your answer was empty")
    result, journal, _ = await run_script([ModelResponse(text=None), "  "], schema=False)
    [failed] = of(journal, TaskFailed)
    assert (failed.error.type, failed.error.raw_output, failed.error.retryable) == (
        "output_empty",
        "  ",
        True,
    )


async def test_truncated_answers_are_repaired_then_a_typed_error() -> None:
    cut = ModelResponse(text='{"n": 12', finish_reason="length")
    result, journal, model = await run_script([cut, {"n": 12}])
    assert result.output == {"n": 12}
    assert of(journal, OutputRejected)[0].error.type == "output_truncated"
    assert "cut off at the output token limit" in last_user(model.requests[1])
    result, journal, _ = await run_script([cut, cut])
    [failed] = of(journal, TaskFailed)
    assert (failed.error.type, failed.error.raw_output) == ("output_truncated", '{"n": 12')


async def test_unknown_tools_and_invalid_arguments_go_back_to_the_model() -> None:
    script: list[Scripted] = [
        ModelResponse(tool_calls=(ToolCall(id="1", name="teleport", arguments={}),)),
        ModelResponse(tool_calls=(ToolCall(id="2", name="look", arguments={"there": 1}),)),
        {"n": 3},
    ]
    result, journal, model = await run_script(script)
    assert result.output == {"n": 3}
    errors = [c.error for c in of(journal, ToolCalled)]
    assert errors[0] == "unknown tool 'teleport'; available: ['dump', 'look']"
    assert errors[1] is not None
    assert errors[1].startswith("invalid arguments for tool 'look': where: Field required")
    results = [m for m in model.requests[2].messages if isinstance(m, ToolResultMessage)]
    assert [r.is_error for r in results] == [True, True]


async def test_an_agent_stuck_on_an_unknown_tool_is_bounded() -> None:
    def stuck(request: ModelRequest) -> ModelResponse:
        return ModelResponse(tool_calls=(ToolCall(id="x", name="teleport", arguments={}),))

    agent = Agent(name="m", model=FunctionModel(stuck), max_rounds=3)
    result, _ = await run_plan(Plan([Task(id="t", agent="m")]), agent)
    assert result.status == "failed"
    assert result.tasks["t"]["error"]["type"] == "max_rounds"


async def test_a_huge_tool_result_is_clipped_for_the_model_and_hashed_in_the_journal() -> None:
    script: list[Scripted] = [ModelResponse(tool_calls=(ToolCall(id="1", name="dump"),)), "ok"]
    result, journal, model = await run_script(script, schema=False, max_tool_result_chars=2000)
    assert result.output == "ok"
    [seen] = [m for m in model.requests[1].messages if isinstance(m, ToolResultMessage)]
    assert len(seen.content) < 2200
    assert "[clipped: showing 2000 of 1000000 characters" in seen.content
    [called] = of(journal, ToolCalled)
    assert called.result == seen.content
    assert called.result_chars == 1_000_000
    assert called.result_sha256 == hashlib.sha256(b"x" * 1_000_000).hexdigest()
    assert sum(len(encode(e)) for e in journal) < 20_000


async def test_small_tool_results_are_journaled_as_they_are() -> None:
    script: list[Scripted] = [
        ModelResponse(tool_calls=(ToolCall(id="1", name="look", arguments={"where": "a"}),)),
        "ok",
    ]
    _, journal, _ = await run_script(script, schema=False)
    [called] = of(journal, ToolCalled)
    assert (called.result, called.result_chars, called.result_sha256) == (
        "nothing at a",
        None,
        None,
    )


async def test_a_failed_attempt_changes_no_state_and_the_run_resumes() -> None:
    store = MemoryStore()
    death = ProcessDeath()

    def first(request: ModelRequest) -> ModelResponse:
        if len(broken.requests) > 2:
            death.now()  # dies in the second attempt
        return ModelResponse(text="garbage")

    broken = FunctionModel(first)
    task = Task(id="t", agent="m", output_schema=SCHEMA, retries=1)
    wf = Workflow(name="plan", plan=Plan([task, Task(id="u", agent="m", needs=("t",))]))
    async with Orchestrator(agents=[Agent(name="m", model=broken)], store=store) as orch:
        await death.run(orch.run(wf, run_id="r"))
        state = await orch.state("r")
    journal = await store.load("r")
    assert [type(e).__name__ for e in journal].count("OutputRejected") == 2
    assert of(journal, TaskRetrying)
    assert state.tasks["t"].output is None
    assert state.tasks["t"].status == "running"
    assert state.board.keys() == []
    assert not of(journal, TaskSucceeded)

    healthy = FunctionModel(lambda r: json.dumps({"n": 5}) if r.output_schema else "after t")
    async with Orchestrator(agents=[Agent(name="m", model=healthy)], store=store) as orch:
        result = await orch.resume("r", workflow=wf)
    assert result.status == "succeeded"
    assert result.tasks["t"]["output"] == {"n": 5}
    assert result.output == "after t"
