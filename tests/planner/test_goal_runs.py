"""Runs from a goal: propose, validate, repair, fall back, fail clearly — all in the journal."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from podium import Agent, ConfigError, Orchestrator, Plan, Planner, Task, TaskCall, Workflow
from podium.events import (
    PlanAccepted,
    PlanFallback,
    PlanProposed,
    RunFailed,
    RunSubmitted,
    RunSucceeded,
    TaskFailed,
    TaskStarted,
    TaskSucceeded,
)
from podium.models import ModelRequest, UserMessage
from podium.models._errors import InvalidResponse
from podium.testing import FunctionModel, ScriptedModel

from .helpers import CALLS, of, plan_answer, run_goal, task, team

pytestmark = pytest.mark.anyio

GOAL = "Find facts about coral reefs and write a short report"


async def test_a_valid_plan_first_time_runs() -> None:
    model = ScriptedModel(
        [
            plan_answer(
                task("t1", "researcher", "Find facts about coral reefs"),
                task("t2", "writer", "Write a short report", "t1"),
            )
        ]
    )
    result, journal = await run_goal(GOAL, model)
    assert result.status == "succeeded"
    assert CALLS == ["researcher:t1", "writer:t2"]
    assert result.output["by"] == "writer"
    assert result.output["from"]["t1"]["by"] == "researcher"
    [proposed] = of(journal, PlanProposed)
    assert (proposed.attempt, proposed.problems, proposed.model) == (1, [], "test:scripted")
    assert proposed.plan["tasks"][0]["agent"] == "researcher"
    [accepted] = of(journal, PlanAccepted)
    assert accepted.source == "planner"
    assert [t["id"] for t in accepted.tasks] == ["t1", "t2"]
    submitted = journal[0]
    assert isinstance(submitted, RunSubmitted)
    assert submitted.goal == GOAL
    assert submitted.inputs == {"goal": GOAL}


async def test_the_request_lists_the_team_and_constrains_the_answer() -> None:
    model = ScriptedModel([plan_answer(task("t1", "writer", "Write it"))])
    await run_goal(GOAL, model)
    [request] = model.requests
    system = request.messages[0].content  # type: ignore[union-attr]
    assert "- researcher: Finds facts and sources about a topic." in system
    assert isinstance(request.messages[1], UserMessage)
    assert request.messages[1].content == f"Goal: {GOAL}"
    schema = request.output_schema
    assert schema is not None
    # the likeliest agents come first; ids avoid the first letter of `translator`
    assert schema["$defs"]["agent"] == {"enum": ["writer", "researcher", "translator"]}
    assert system.index("- writer:") < system.index("- researcher:")
    assert schema["$defs"]["t1"]["properties"]["id"] == {"const": "s1"}
    assert "answer" not in json.dumps(schema)  # not a short question: no direct answer offered


async def test_an_invalid_plan_is_repaired_with_its_problems() -> None:
    bad = plan_answer(
        task("t1", "researcher", "Find facts", "t2"),
        task("t2", "writer", "Write {{ tasks.t9.output }}", "t1"),
    )
    good = plan_answer(task("t1", "researcher", "Find facts"), task("t2", "writer", "Write", "t1"))
    model = ScriptedModel([bad, good])
    result, journal = await run_goal(GOAL, model)
    assert result.status == "succeeded"
    first, second = of(journal, PlanProposed)
    assert first.attempt == 1
    assert any("dependency cycle" in p for p in first.problems)
    assert any("unknown task 't9'" in p for p in first.problems)
    assert (second.attempt, second.problems) == (2, [])
    assert of(journal, PlanAccepted)[0].source == "repair"
    repair = model.requests[1].messages
    assert repair[-2].content == bad  # type: ignore[union-attr]
    for problem in first.problems:
        assert problem in repair[-1].content  # type: ignore[union-attr]


async def test_a_proposal_that_is_not_json_or_misshapen_is_repaired() -> None:
    model = ScriptedModel(
        [
            "here is my plan: research, then write",
            {"tasks": [{"id": "t1", "agent": "writer", "steps": 3}]},
            InvalidResponse("the answer was cut at max_tokens", provider="test"),
            plan_answer(task("t1", "writer", "Write")),
        ]
    )
    result, journal = await run_goal(GOAL, model, max_repairs=3)
    assert result.status == "succeeded"
    proposals = of(journal, PlanProposed)
    assert [p.attempt for p in proposals] == [1, 2, 3, 4]
    assert proposals[0].plan is None
    assert proposals[0].raw == "here is my plan: research, then write"
    assert "not JSON" in proposals[0].problems[0]
    assert "unknown field `steps`" in proposals[1].problems[0]
    assert "cut at max_tokens" in proposals[2].problems[0]
    assert of(journal, PlanAccepted)[0].source == "repair"


async def test_repairs_exhausted_fall_back_to_the_best_matching_agent() -> None:
    bad = plan_answer(task("t1", "researcher", "Find {{ inputs.topic }}"))
    model = ScriptedModel([bad, bad, bad])
    goal = "Translate this paragraph into French"
    result, journal = await run_goal(goal, model, max_repairs=2)
    assert result.status == "succeeded"
    assert len(of(journal, PlanProposed)) == 3
    [fallback] = of(journal, PlanFallback)
    assert (fallback.fallback, fallback.reason) == ("agent", "no valid proposal")
    [accepted] = of(journal, PlanAccepted)
    assert accepted.source == "fallback"
    assert accepted.tasks == [{"id": "goal", "instruction": goal, "agent": "translator"}]
    assert CALLS == ["translator:goal"]


async def test_a_configured_default_plan_is_the_fallback() -> None:
    default = Plan(
        [
            Task(id="facts", agent="researcher", instruction="{{ inputs.goal }}"),
            Task(id="report", agent="writer", instruction="Report", needs=("facts",)),
        ],
        output="{{ tasks.report.output }}",
    )
    model = ScriptedModel(["nonsense"])
    result, journal = await run_goal(GOAL, model, max_repairs=0, fallback=default)
    assert result.status == "succeeded"
    assert of(journal, PlanFallback)[0].fallback == "workflow"
    assert CALLS == ["researcher:facts", "writer:report"]
    assert result.output["by"] == "writer"


async def test_without_a_fallback_planning_fails_clearly() -> None:
    model = ScriptedModel(["nonsense", "still nonsense"])
    result, journal = await run_goal(GOAL, model, max_repairs=1, fallback=None)
    assert (result.status, result.reason) == ("failed", "plan")
    assert "no plan for the goal: no valid proposal" in result.message
    assert len(of(journal, PlanProposed)) == 2
    assert not of(journal, PlanAccepted)
    assert isinstance(journal[-1], RunFailed)
    assert CALLS == []


async def test_an_invalid_fallback_plan_fails_clearly() -> None:
    default = Plan([Task(id="x", agent="nobody")])
    model = ScriptedModel(["nonsense"])
    result, _ = await run_goal(GOAL, model, max_repairs=0, fallback=default)
    assert (result.status, result.reason) == ("failed", "plan")
    assert "the fallback plan is invalid" in result.message
    assert "unknown agent 'nobody'" in result.message


async def test_a_short_question_may_be_answered_directly() -> None:
    model = ScriptedModel([{"answer": "Four."}])
    result, journal = await run_goal("What is two plus two?", model)
    assert (result.status, result.output) == ("succeeded", "Four.")
    assert CALLS == []
    [accepted] = of(journal, PlanAccepted)
    assert (accepted.tasks, accepted.source) == ([], "planner")
    assert isinstance(journal[-1], RunSucceeded)
    schema = model.requests[0].output_schema
    assert schema is not None
    assert schema["anyOf"][1]["required"] == ["answer"]


async def test_a_direct_answer_to_a_task_goal_is_refused_and_repaired() -> None:
    model = ScriptedModel([{"answer": "Reefs are nice."}, plan_answer(task("t1", "writer", "W"))])
    result, journal = await run_goal(GOAL, model)
    assert result.status == "succeeded"
    first = of(journal, PlanProposed)[0]
    assert "a direct answer is not allowed here" in first.problems[0]
    assert CALLS == ["writer:t1"]


async def test_answers_can_be_turned_off() -> None:
    model = ScriptedModel([plan_answer(task("t1", "writer", "Answer it"))])
    result, _ = await run_goal("What is two plus two?", model, answers=False)
    assert result.status == "succeeded"
    assert "anyOf" not in (model.requests[0].output_schema or {})


async def test_a_proposal_may_name_a_capability_when_allowed() -> None:
    agents = [
        Agent(name="w", capabilities=("writing",), function=lambda call: "text"),
        Agent(name="r", capabilities=("research",), function=lambda call: "facts"),
    ]
    answer = {"tasks": [{"id": "t1", "instruction": "Write", "capability": "writing", "needs": []}]}
    model = ScriptedModel([answer])
    result, _ = await run_goal(GOAL, model, agents=agents, by_capability=True)
    assert (result.status, result.output) == ("succeeded", "text")
    schema = model.requests[0].output_schema
    assert schema is not None
    assert schema["$defs"]["capability"] == {"enum": ["research", "writing"]}


async def test_identical_tasks_reuse_the_first_answer() -> None:
    model = ScriptedModel(
        [
            plan_answer(
                task("t1", "researcher", "Find facts about reefs"),
                task("t2", "researcher", "  find FACTS about reefs "),
                task("t3", "writer", "Write", "t1", "t2"),
            )
        ]
    )
    result, journal = await run_goal(GOAL, model)
    assert result.status == "succeeded"
    assert sorted(CALLS) == ["researcher:t1", "writer:t3"]
    reused = {e.task: e.reused_from for e in of(journal, TaskSucceeded)}
    assert reused == {"t1": None, "t2": "t1", "t3": None}
    assert result.output["from"]["t1"] == result.output["from"]["t2"]


async def test_an_identical_task_waits_for_the_answer_in_flight() -> None:
    asked: list[str] = []

    async def slow(call: TaskCall) -> str:
        asked.append(call.task_id)
        await asyncio.sleep(0.01)  # still asking when its twin is ready
        return "facts"

    async def write(call: TaskCall) -> dict[str, Any]:
        return dict(call.task_outputs)

    agents = [Agent(name="researcher", function=slow), Agent(name="writer", function=write)]
    model = ScriptedModel(
        [
            plan_answer(
                task("t1", "researcher", "Find facts about reefs"),
                task("t2", "researcher", "find facts about REEFS"),
                task("t3", "writer", "Write", "t1", "t2"),
            )
        ]
    )
    result, journal = await run_goal(GOAL, model, agents=agents)
    assert result.status == "succeeded"
    assert asked == ["t1"]
    reused = {e.task: e.reused_from for e in of(journal, TaskSucceeded)}
    assert reused == {"t1": None, "t2": "t1", "t3": None}


async def test_a_twin_whose_answer_failed_asks_itself() -> None:
    asked: list[str] = []

    async def fails_first(call: TaskCall) -> str:
        asked.append(call.task_id)
        await asyncio.sleep(0.01)
        if call.task_id == "t1":
            raise RuntimeError("no facts today")
        return "facts"

    agents = [Agent(name="researcher", function=fails_first)]
    model = ScriptedModel(
        [
            plan_answer(
                task("t1", "researcher", "Find facts about reefs"),
                task("t2", "researcher", "Find facts about reefs"),
            )
        ]
    )
    result, journal = await run_goal(GOAL, model, agents=agents)
    assert asked == ["t1", "t2"]  # t2 waited for t1, which failed: then it asked itself
    assert result.tasks["t2"]["status"] == "succeeded"
    failed = next(e.seq for e in of(journal, TaskFailed) if e.task == "t1" and e.final)
    started = next(e.seq for e in of(journal, TaskStarted) if e.task == "t2")
    assert started > failed


async def test_tasks_that_differ_in_inputs_are_not_reused() -> None:
    model = ScriptedModel(
        [
            plan_answer(
                task("t1", "researcher", "Find facts"),
                task("t2", "researcher", "Check"),
                task("t3", "researcher", "Check", "t1"),
            )
        ]
    )
    result, journal = await run_goal(GOAL, model)
    assert result.status == "succeeded"
    assert sorted(CALLS) == ["researcher:t1", "researcher:t2", "researcher:t3"]
    assert all(e.reused_from is None for e in of(journal, TaskSucceeded))


async def test_workflow_runs_never_reuse_answers() -> None:
    calls: list[str] = []

    def roll(call: TaskCall) -> str:
        calls.append(call.task_id)
        return call.task_id

    plan = Plan([Task(id="a", agent="dice"), Task(id="b", agent="dice")])
    async with Orchestrator(agents=[Agent(name="dice", function=roll)], store="memory://") as orch:
        result = await orch.run(plan)
    assert result.status == "succeeded"
    assert sorted(calls) == ["a", "b"]


async def test_the_planner_sees_the_team_of_an_agents_file_and_its_inputs() -> None:
    seen: list[ModelRequest] = []

    def model(request: ModelRequest) -> str:
        seen.append(request)
        return plan_answer(task("t1", "writer", "Write about {{ inputs.topic }}"))

    workflow = Workflow(name="team", plan=Plan([]), agents=team())
    async with Orchestrator(store="memory://") as orch:
        result = await orch.run(
            workflow,
            goal=GOAL,
            inputs={"topic": "reefs"},
            planner=Planner(assign="model", model=FunctionModel(model)),
        )
    assert result.status == "succeeded"
    assert result.output["did"] == "Write about reefs"
    assert result.tasks["t1"]["status"] == "succeeded"


async def test_goal_arguments_are_checked() -> None:
    async with Orchestrator(agents=team(), store="memory://") as orch:
        with pytest.raises(ConfigError, match="goal is empty"):
            await orch.run("  ")
        with pytest.raises(ConfigError, match="give the goal once"):
            await orch.run("a", goal="b")
        with pytest.raises(ConfigError, match="has tasks already"):
            await orch.run(Plan([Task(id="a", agent="writer")]), goal="b")
    with pytest.raises(ConfigError, match="max_repairs"):
        Planner(max_repairs=-1)
    with pytest.raises(ConfigError, match="max_plan_tasks"):
        Planner(max_plan_tasks=0)


async def test_a_planner_that_cannot_be_had_fails_before_submitting() -> None:
    async with Orchestrator(agents=team(), store="memory://") as orch:
        with pytest.raises(ConfigError, match="unknown model provider"):
            await orch.run(GOAL, planner=Planner(assign="model", model="nope:x"))
        assert await orch.store.list_runs() == []


async def test_a_planned_run_resumes_from_its_journal_without_planning_again() -> None:
    model = ScriptedModel([plan_answer(task("t1", "writer", "Write"))])
    agents = team()
    async with Orchestrator(agents=agents, store="memory://") as orch:
        planner = Planner(assign="model", model=model)
        result = await orch.run(GOAL, planner=planner, run_id="r1")
        again = await orch.run(GOAL, planner=planner, run_id="r1")
        resumed = await orch.resume("r1")
    assert result.status == again.status == resumed.status == "succeeded"
    assert len(model.requests) == 1
