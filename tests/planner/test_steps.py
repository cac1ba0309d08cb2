"""The model proposes steps, code assigns them: tidying, assignment and its journal."""

from __future__ import annotations

import json

import pytest

from podium import Plan, Planner, Task
from podium.agents._relevance import BM25Relevance
from podium.events import PlanProposed
from podium.exceptions import ConfigError
from podium.plan._planner_steps import assign_agents, is_empty, same_step, tidy_steps
from podium.testing import ScriptedModel

from .helpers import CALLS, of, plan_answer, run_goal, task, team

pytestmark = pytest.mark.anyio

GOAL = "Find facts about coral reefs and write a short report"


def step(tid: str, instruction: str, *needs: str, agent: str | None = None) -> Task:
    return Task(id=tid, instruction=instruction, agent=agent, needs=needs)


def test_empty_steps_are_dropped_and_duplicates_merged_with_needs_rewired() -> None:
    steps = [
        step("t1", "Find facts about coral reefs"),
        step("t2", "  TODO ", "t1"),
        step("t3", "find facts about coral reefs!", "t2"),
        step("t4", "Write a report from {{ tasks.t3.output }}", "t3"),
    ]
    kept, notes = tidy_steps(steps)
    assert [(t.id, t.needs) for t in kept] == [("t1", ()), ("t4", ("t1",))]
    assert kept[1].instruction == "Write a report from {{ tasks.t1.output }}"
    assert notes == [
        "dropped 't2': its instruction is empty",
        "merged 't3' into 't1': the same instruction",
    ]
    assert len(Plan(kept)) == 2  # a whole plan: nothing needs a removed step


def test_near_same_and_different_instructions() -> None:
    assert same_step("Write a short report on reefs", "write a short report on the reefs")
    assert not same_step("Write a report", "Review the report")
    assert is_empty("?!")
    assert is_empty("Instruction")
    assert not is_empty("Write it")


def test_the_router_overrules_a_poor_suggestion_and_keeps_a_close_one() -> None:
    agents = {a.name: a for a in team()}
    steps = [
        step("t1", "Find facts and sources about coral reefs", agent="translator"),
        step("t2", "Write a summary report", agent="writer"),
        step("t3", "Translate the report into German"),
    ]
    assigned, why = assign_agents(steps, agents, BM25Relevance())
    assert [t.agent for t in assigned] == ["researcher", "writer", "translator"]
    assert [d.suggested for d in why] == ["translator", "writer", None]
    assert "over the suggestion 'translator'" in why[0].reason
    assert "the suggestion is the router's choice" in why[1].reason
    # a wide margin keeps even a poor suggestion
    kept, why = assign_agents(steps[:1], agents, BM25Relevance(), margin=1.0)
    assert kept[0].agent == "translator"
    assert "kept the suggestion" in why[0].reason


def test_a_step_naming_a_capability_is_left_to_the_run_router() -> None:
    agents = {a.name: a for a in team()}
    capable = Task(id="t1", instruction="Find facts", capability="research")
    assigned, why = assign_agents([capable], agents, BM25Relevance())
    assert assigned == [capable]
    assert why == []


async def test_a_goal_run_uses_the_router_s_agents_and_journals_why() -> None:
    model = ScriptedModel(
        [
            plan_answer(
                task("t1", "writer", "Find facts about coral reefs"),
                task("t2", "writer", "Find facts about coral reefs", "t1"),
                {"id": "t3", "instruction": "Write a short report", "needs": ["t2"]},
            )
        ]
    )
    result, journal = await run_goal(GOAL, model, assign="router")
    assert result.status == "succeeded"
    assert CALLS == ["researcher:t1", "writer:t3"]
    [proposed] = of(journal, PlanProposed)
    assert proposed.tidied == ["merged 't2' into 't1': the same instruction"]
    assert [(a["task"], a["agent"], a["suggested"]) for a in proposed.assignments] == [
        ("t1", "researcher", "writer"),
        ("t3", "writer", None),
    ]


async def test_a_plan_of_only_empty_steps_goes_back_for_repair() -> None:
    model = ScriptedModel(
        [
            plan_answer(task("t1", "writer", "instruction")),
            plan_answer(task("t1", "writer", "Write a short report on coral reefs")),
        ]
    )
    result, journal = await run_goal(GOAL, model, assign="router", max_repairs=1)
    assert result.status == "succeeded"
    first, second = of(journal, PlanProposed)
    assert first.problems
    assert "empty" in first.problems[0]
    assert second.problems == []


def test_the_schema_makes_the_agent_a_suggestion() -> None:
    from podium.plan._proposal import plan_schema

    agents = {a.name: a for a in team()}
    schema = plan_schema(agents, ids=["t1"], suggest=True)
    assert schema["$defs"]["t1"]["required"] == ["id", "instruction", "needs"]
    assert json.dumps(schema).count('"agent"') >= 1
    with pytest.raises(ConfigError):
        Planner(assign="people")  # type: ignore[arg-type]
