"""Free-text answers cut off at the output token limit: continued, joined, or kept with a note —
never a failed task. (A cut-off answer to an output schema is repaired: test_bad_output.py.)"""

from __future__ import annotations

from typing import Any

import pytest

from podium import Agent, Plan, Task, tool
from podium.events import ModelCalled, OutputRejected, TaskFailed, TaskSucceeded
from podium.models import (
    AssistantMessage,
    ModelRequest,
    ModelResponse,
    ToolCall,
    UserMessage,
)
from podium.reliability._output import CONTINUE_PROMPT, CONTINUE_ROUNDS, join_continued
from podium.testing import FunctionModel, ScriptedModel
from podium.testing._models import Scripted
from tests.planner.helpers import plan_answer, run_goal, task, team

from .helpers import of, run_plan

pytestmark = pytest.mark.anyio


def cut(text: str) -> ModelResponse:
    return ModelResponse(text=text, finish_reason="length")


@tool
def look(where: str) -> str:
    """Look somewhere."""
    return f"nothing at {where}"


async def run_script(script: list[Scripted], **agent_kw: Any) -> tuple[Any, list[Any], Any]:
    model = ScriptedModel(script)
    agent = Agent(name="m", model=model, tools=(look,), **agent_kw)
    result, journal = await run_plan(Plan([Task(id="t", agent="m")]), agent)
    return result, journal, model


async def test_a_cut_off_answer_is_continued_and_joined() -> None:
    result, journal, model = await run_script(
        [cut("Spring tides happen when the Sun, the Moon"), " and the Earth line up."]
    )
    assert (result.status, result.output) == (
        "succeeded",
        "Spring tides happen when the Sun, the Moon and the Earth line up.",
    )
    [rejected] = of(journal, OutputRejected)
    assert (rejected.error.type, rejected.repair) == ("output_truncated", True)
    assert rejected.error.raw_output == "Spring tides happen when the Sun, the Moon"
    asked = model.requests[1].messages
    assert asked[-2] == AssistantMessage(content="Spring tides happen when the Sun, the Moon")
    assert asked[-1] == UserMessage(content=CONTINUE_PROMPT)
    assert len(of(journal, ModelCalled)) == 2


async def test_an_answer_still_cut_off_is_kept_with_a_note() -> None:
    pieces = ["One, ", "two, ", "three, ", "four"]
    result, journal, model = await run_script([cut(p) for p in pieces])
    assert result.status == "succeeded"
    kept = pieces[: CONTINUE_ROUNDS + 1]
    assert result.output.startswith("".join(kept).rstrip())
    assert result.output.endswith(
        f"[cut off: the answer reached the output token limit {len(kept)} time(s) "
        "and was not finished]"
    )
    assert model.remaining == len(pieces) - len(kept)  # continuations are bounded
    assert [r.repair for r in of(journal, OutputRejected)] == [True] * CONTINUE_ROUNDS
    assert not of(journal, TaskFailed)


async def test_without_rounds_left_the_cut_off_answer_is_kept_at_once() -> None:
    result, journal, _ = await run_script([cut("A long answer")], max_rounds=1)
    assert result.status == "succeeded"
    assert result.output.startswith("A long answer\n\n[cut off:")
    assert not of(journal, OutputRejected)


async def test_an_empty_continuation_keeps_what_was_written() -> None:
    result, _, model = await run_script([cut("Half an answer"), cut("")])
    assert result.status == "succeeded"
    assert result.output.startswith("Half an answer\n\n[cut off:")
    assert model.remaining == 0


async def test_a_tool_call_after_a_cut_starts_the_answer_afresh() -> None:
    call = ToolCall(id="1", name="look", arguments={"where": "notes"})
    result, _, _ = await run_script(
        [cut("Let me first"), ModelResponse(tool_calls=(call,)), "The notes say nothing."]
    )
    assert result.output == "The notes say nothing."


async def test_an_empty_cut_off_answer_is_repaired_like_before() -> None:
    result, journal, model = await run_script([cut(""), "fine"])
    assert result.output == "fine"
    [rejected] = of(journal, OutputRejected)
    assert rejected.error.type == "output_truncated"
    assert "Reply again with a complete, shorter answer" in str(model.requests[1].messages[-1])


def test_continuations_join_once_and_restarts_replace() -> None:
    assert join_continued(["The Moon pulls the", " oceans."]) == "The Moon pulls the oceans."
    repeated = ["The Moon pulls the oceans towards", "pulls the oceans towards it."]
    assert join_continued(repeated) == "The Moon pulls the oceans towards it."
    start = "Tides are the regular rise and fall of the sea, caused by"
    restarted = [start, start + " the Moon and the Sun."]
    assert join_continued(restarted) == start + " the Moon and the Sun."


async def test_a_goal_run_survives_a_long_free_text_answer() -> None:
    """The incident: one free-text task of a planned run hit the token limit and failed the run."""

    def long_writer(request: ModelRequest) -> ModelResponse:
        return cut("A report of facts that goes on and on ")  # about the goal: its checks pass

    writer = Agent(name="writer", description="Writes reports.", model=FunctionModel(long_writer))
    others = [a for a in team() if a.name != "writer"]
    planner = ScriptedModel(
        [plan_answer(task("t1", "researcher", "Find facts"), task("t2", "writer", "Write", "t1"))]
    )
    result, journal = await run_goal(
        "Find facts and write a report", planner, agents=[*others, writer]
    )
    assert result.status == "succeeded"
    assert "[cut off:" in result.output
    assert [e.task for e in of(journal, TaskSucceeded)] == ["t1", "t2"]
