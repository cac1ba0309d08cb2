"""Re-planning the branch of a task that failed for good, and the bound on a plan's growth."""

from __future__ import annotations

import json

import pytest

from podium import (
    Agent,
    ConfigError,
    Limits,
    Orchestrator,
    Plan,
    Planner,
    Task,
    TaskCall,
    Workflow,
)
from podium.events import (
    PlanExtended,
    PlanFallback,
    PlanProposed,
    PlanRevised,
    RunFailed,
    TaskFailed,
    TaskSucceeded,
)
from podium.runtime import RunState
from podium.store import open_store
from podium.testing import ScriptedModel

from .helpers import CALLS, of, plan_answer, run_goal, task, team

pytestmark = pytest.mark.anyio

GOAL = "Find facts about coral reefs and write a short report"
FIRST = plan_answer(
    task("t1", "researcher", "Find facts"),
    task("t2", "translator", "Draft the report", "t1"),
    task("t3", "writer", "Polish the report", "t2"),
)


async def test_a_failed_branch_is_replanned_and_completed_outputs_are_kept() -> None:
    replacement = plan_answer(task("t2-r1-1", "writer", "Draft the report instead", "t1"))
    model = ScriptedModel([FIRST, replacement])
    result, journal = await run_goal(GOAL, model, agents=team(failing="translator"))
    assert result.status == "succeeded"
    # t1 ran once and its output was kept; the failed t2 was replaced; t3 ran on the new output
    assert CALLS == ["researcher:t1", "translator:t2", "writer:t2-r1-1", "writer:t3"]
    [revised] = of(journal, PlanRevised)
    assert revised.replaced == ["t2"]
    assert revised.output_task == "t2-r1-1"
    assert [t["id"] for t in revised.tasks] == ["t2-r1-1"]
    assert list(revised.tasks[0]["needs"]) == ["t1"]
    replan = of(journal, PlanProposed)[1]
    assert (replan.purpose, replan.task, replan.problems) == ("replan", "t2", [])
    assert [e.task for e in of(journal, TaskFailed)] == ["t2"]
    joined = [e for e in of(journal, TaskSucceeded) if e.task == "t2"]
    assert [e.reused_from for e in joined] == ["t2-r1-1"]  # its output is the replacement's
    assert result.tasks["t2"]["output"] == result.tasks["t2-r1-1"]["output"]
    assert result.tasks["t2"]["output"]["by"] == "writer"
    assert result.output["from"]["t2"]["did"] == "Draft the report instead"
    assert result.tasks["t2"]["status"] == "succeeded"
    # the replan request says what failed and what may be used
    request = model.requests[1]
    report = request.messages[1].content  # type: ignore[union-attr]
    assert "Failed task 't2': Draft the report" in report
    assert "translator is broken" in report
    assert "Finished tasks you may list in needs: t1" in report
    schema = json.dumps(request.output_schema)
    assert '"const": "t2-r1-1"' in schema
    assert '"enum": ["t1"]' in schema  # t2-r1-1 may need only the finished t1


async def test_a_replacement_must_lead_to_its_last_task_and_use_finished_tasks() -> None:
    bad = plan_answer(
        task("t2-r1-1", "researcher", "More facts", "t3"),
        task("t2-r1-2", "writer", "Draft"),
    )
    good = plan_answer(task("t2-r1-1", "writer", "Draft", "t1"))
    model = ScriptedModel([FIRST, bad, good])
    result, journal = await run_goal(GOAL, model, agents=team(failing="translator"))
    assert result.status == "succeeded"
    problems = of(journal, PlanProposed)[1].problems
    assert any("'t3' has not finished" in p for p in problems)
    assert any("no later task needs 't2-r1-1'" in p for p in problems)


async def test_without_a_valid_replacement_another_agent_takes_the_task() -> None:
    model = ScriptedModel([FIRST, "nonsense", "nonsense"])
    result, journal = await run_goal(GOAL, model, agents=team(failing="translator"), max_repairs=1)
    assert result.status == "succeeded"
    [fallback] = of(journal, PlanFallback)
    assert (fallback.purpose, fallback.task, fallback.fallback) == ("replan", "t2", "agent")
    [revised] = of(journal, PlanRevised)
    new = revised.tasks[0]
    assert new["agent"] != "translator"
    assert (new["instruction"], list(new["needs"])) == ("Draft the report", ["t1"])


async def test_replans_are_bounded_then_the_failure_stands() -> None:
    again = plan_answer(task("t2-r1-1", "translator", "Try again", "t1"))
    model = ScriptedModel([FIRST, again])
    result, journal = await run_goal(GOAL, model, agents=team(failing="translator"))
    assert (result.status, result.reason) == ("failed", "error")
    assert len(of(journal, PlanRevised)) == 1  # max_replans=1
    assert "replacement 't2-r1-1' did not succeed" in (result.tasks["t2"]["error"]["message"])
    assert "writer:t3" not in CALLS


async def test_no_replans_when_the_budget_is_zero() -> None:
    model = ScriptedModel([FIRST])
    result, journal = await run_goal(GOAL, model, agents=team(failing="translator"), max_replans=0)
    assert (result.status, result.reason) == ("failed", "error")
    assert not of(journal, PlanRevised)
    assert len(model.requests) == 1


async def test_a_workflow_run_replans_when_a_planner_is_configured() -> None:
    plan = Plan(
        [
            Task(id="facts", agent="researcher", instruction="Find facts"),
            Task(id="draft", agent="translator", instruction="Draft", needs=("facts",)),
        ],
        output="{{ tasks.draft.output }}",
    )
    model = ScriptedModel([plan_answer(task("draft-r1-1", "writer", "Draft", "facts"))])
    agents = team(failing="translator")
    async with Orchestrator(
        agents=agents, store="memory://", planner=Planner(assign="model", model=model)
    ) as orch:
        result = await orch.run(plan)
    assert result.status == "succeeded"
    assert result.output["by"] == "writer"
    async with Orchestrator(agents=agents, store="memory://") as orch:  # no planner: no replan
        result = await orch.run(plan)
    assert result.status == "failed"


async def test_a_replan_left_undone_by_a_crash_happens_on_resume() -> None:
    store = open_store("memory://")
    model = ScriptedModel([FIRST])
    agents = team(failing="translator")
    async with Orchestrator(agents=agents, store=store) as orch:
        first = await orch.run(
            GOAL, planner=Planner(assign="model", model=model, max_replans=0), run_id="r"
        )
    assert first.status == "failed"
    # cut the journal after t2's final failure, as if the process had died before re-planning
    events = await store.load("r")
    cut = next(i for i, e in enumerate(events) if isinstance(e, TaskFailed)) + 1
    fresh = open_store("memory://")
    await fresh.open()
    await fresh.create_run("r", events[0])  # type: ignore[arg-type]
    await fresh.append("r", events[1:cut])
    replacement = ScriptedModel([plan_answer(task("t2-r1-1", "writer", "Draft", "t1"))])
    async with Orchestrator(agents=agents, store=fresh) as orch:
        resumed = await orch.resume(
            "r",
            workflow=Workflow(name="goal", plan=Plan([])),
            planner=Planner(assign="model", model=replacement),
        )
        journal = await orch.events("r")
    assert resumed.status == "succeeded"
    assert len(of(journal, PlanRevised)) == 1
    state = RunState.from_events("r", journal)
    assert state.revised == {"t2": "t2-r1-1"}
    assert state.replans == 1


async def test_map_fan_out_is_bounded_by_max_tasks() -> None:
    def items(call: TaskCall) -> list[int]:
        return list(range(50))

    plan = Plan(
        [
            Task(id="list", agent="items"),
            Task(id="each", agent="echo", needs=("list",), map="tasks.list.output"),
        ]
    )
    agents = [Agent(name="items", function=items), Agent(name="echo", function=lambda c: c.item)]
    async with Orchestrator(agents=agents, store="memory://", limits=Limits(max_tasks=20)) as orch:
        result = await orch.run(plan)
        journal = await orch.events(result.run_id)
    assert (result.status, result.reason) == ("failed", "limit")
    assert result.message == (
        "mapping 'each' over 50 items would make 52 tasks, more than Limits.max_tasks=20"
    )
    assert not of(journal, PlanExtended)
    async with Orchestrator(agents=agents, store="memory://", limits=Limits(max_tasks=60)) as orch:
        result = await orch.run(plan)
    assert (result.status, result.output) == ("succeeded", list(range(50)))


async def test_a_plan_larger_than_max_tasks_is_refused_up_front() -> None:
    plan = Plan([Task(id=f"t{i}", agent="a") for i in range(5)])
    agents = [Agent(name="a", function=lambda c: 1)]
    async with Orchestrator(agents=agents, store="memory://", limits=Limits(max_tasks=4)) as orch:
        with pytest.raises(ConfigError, match=r"more than the limit of 4 \(Limits\.max_tasks\)"):
            await orch.run(plan)
    with pytest.raises(ConfigError, match="max_tasks"):
        Limits(max_tasks=0)


async def test_a_replan_past_max_tasks_fails_the_run_with_limit() -> None:
    replacement = plan_answer(
        task("t2-r1-1", "writer", "Draft", "t1"), task("t2-r1-2", "writer", "Polish", "t2-r1-1")
    )
    model = ScriptedModel([FIRST, replacement])
    agents = team(failing="translator")
    async with Orchestrator(agents=agents, store="memory://", limits=Limits(max_tasks=4)) as orch:
        result = await orch.run(GOAL, planner=Planner(assign="model", model=model))
        journal = await orch.events(result.run_id)
    assert (result.status, result.reason) == ("failed", "limit")
    assert "re-planning 't2' would make 5 tasks" in result.message
    assert isinstance(journal[-1], RunFailed)
