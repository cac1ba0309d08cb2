"""The planner prompt's example reply is made of the goal's own clauses, so no fixed example text
can reach a plan (a fixed one once put "Write a short article about bees" into a bug-fix plan)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from podium.events import PlanAccepted, PlanProposed
from podium.models import ModelRequest, SystemMessage
from podium.plan._proposal import PLACEHOLDER_AGENT, goal_steps, parse_proposal
from podium.testing import FunctionModel, ScriptedModel

from .helpers import of, plan_answer, run_goal, task, team

pytestmark = pytest.mark.anyio

GOALS = [
    "Fix the crash in the CSV parser when a line is empty, and add a regression test",
    "Find facts about coral reefs and write a short report",
    "Translate the release notes into German; then email them to the Berlin office.",
    "What is the tallest mountain in Africa?",
]


def example_of(request: ModelRequest) -> dict[str, Any]:
    """The example reply the system prompt shows."""
    system = request.messages[0]
    assert isinstance(system, SystemMessage)
    [line] = [ln for ln in system.content.splitlines() if ln.startswith('{"tasks"')]
    example: dict[str, Any] = json.loads(line)
    return example


def copy_the_example(request: ModelRequest) -> str:
    """A model that copies the prompt's example, naming the first agent it may name."""
    assert request.output_schema is not None
    agent = request.output_schema["$defs"]["agent"]["enum"][0]
    example = example_of(request)
    for shown in example["tasks"]:
        shown["agent"] = agent
    return json.dumps(example)


@pytest.mark.parametrize("goal", GOALS)
def test_the_goals_clauses_are_the_example_steps(goal: str) -> None:
    steps = goal_steps(goal, limit=5)
    at = 0
    for step in steps:  # each step is the goal's own words, in the goal's order
        found = goal.lower().find(step.lower(), at)
        assert found >= at, (step, goal)
        at = found + len(step)


def test_a_step_after_a_semicolon_drops_its_then() -> None:
    assert goal_steps(GOALS[2], limit=5) == [
        "Translate the release notes into German",
        "Email them to the Berlin office.",
    ]


def test_steps_past_the_limit_join_the_last_and_long_ones_fit_an_instruction() -> None:
    many = "Find the facts, and write the report, and translate it, and send it"
    assert goal_steps(many, limit=2) == [
        "Find the facts",
        "Write the report and translate it and send it",
    ]
    assert goal_steps("Compare Python and Rust for web servers", limit=5) == [
        "Compare Python and Rust for web servers"
    ]
    [long] = goal_steps("word " * 100, limit=3)
    assert len(long) <= 160
    assert goal_steps("Report on {{ inputs.x }}", limit=1) == ["Report on { { inputs.x } }"]


@pytest.mark.parametrize("goal", GOALS)
async def test_the_prompt_shows_no_instruction_but_the_goals(goal: str) -> None:
    model = FunctionModel(copy_the_example)
    result, journal = await run_goal(goal, model, answers=False)
    example = example_of(model.requests[0])
    for shown in example["tasks"]:
        assert shown["instruction"][1:] in goal
        assert shown["agent"] == PLACEHOLDER_AGENT
    # a model that copies the example plans the goal's own steps, nothing else
    [accepted] = of(journal, PlanAccepted)
    assert accepted.source == "planner"
    assert [t["instruction"] for t in accepted.tasks] == goal_steps(goal, limit=5)
    assert result.status == "succeeded"


@pytest.mark.parametrize("placeholder", [PLACEHOLDER_AGENT, "...", " Instruction ", "?!"])
async def test_a_placeholder_instruction_is_rejected_and_repaired(placeholder: str) -> None:
    copied = plan_answer(task("t1", "researcher", "Find facts"), task("t2", "writer", placeholder))
    good = plan_answer(task("t1", "researcher", "Find facts"), task("t2", "writer", "Write"))
    model = ScriptedModel([copied, good])
    result, journal = await run_goal(GOALS[1], model)
    assert result.status == "succeeded"
    first, second = of(journal, PlanProposed)
    [problem] = first.problems
    assert problem.startswith("tasks.t2.instruction: ")
    assert "is a placeholder, not an instruction" in problem
    assert second.problems == []
    assert of(journal, PlanAccepted)[0].source == "repair"
    assert placeholder not in [t["instruction"] for t in of(journal, PlanAccepted)[0].tasks]


def test_real_instructions_are_not_placeholders() -> None:
    for instruction in ("Write", "Add a task to the board", "Review the agent's code"):
        text = plan_answer(task("t1", "writer", instruction))
        assert parse_proposal(text, answers=False).problems == ()


async def test_the_replan_example_is_the_failed_task() -> None:
    first = plan_answer(
        task("t1", "researcher", "Find facts"),
        task("t2", "translator", "Draft the report from {{ tasks.t1.output }}", "t1"),
    )
    replans: list[ModelRequest] = []

    def planner(request: ModelRequest) -> str:
        if request.messages[1].content.startswith("Goal:"):  # type: ignore[union-attr]
            return first
        replans.append(request)
        return copy_the_example(request)  # the failed task again, on another agent

    result, journal = await run_goal(
        GOALS[1], FunctionModel(planner), agents=team(failing="translator")
    )
    [request] = replans
    shown = [
        (t["id"], t["instruction"], t["agent"], t["needs"]) for t in example_of(request)["tasks"]
    ]
    assert shown == [
        ("t2-r1-1", "Draft the report from {{ tasks.t1.output }}", PLACEHOLDER_AGENT, ["t1"])
    ]
    system = request.messages[0].content  # type: ignore[union-attr]
    assert not re.search(r'"instruction": "\.\.\."', system)
    # a copy of the example is a valid replacement: the failed task, for an agent that works
    assert of(journal, PlanProposed)[-1].problems == []
    assert result.status == "succeeded"


def test_a_placeholder_answer_is_empty() -> None:
    assert parse_proposal('{"answer": "..."}', answers=True).problems == ("the answer is empty",)
    assert parse_proposal('{"answer": "4."}', answers=True).answer == "4."
