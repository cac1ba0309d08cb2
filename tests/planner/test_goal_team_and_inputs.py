"""A goal run with an agents file: the planner is shown that file's team, and its plan may use the
run's inputs — but no input the run does not have.

(`test_goal_runs.py::test_the_planner_sees_the_team_of_an_agents_file_and_its_inputs` collects
the requests but never looks at them.)
"""

from __future__ import annotations

import pytest

from podium import Orchestrator, Plan, Planner, Workflow
from podium.events import PlanAccepted, PlanProposed
from podium.models import ModelRequest, SystemMessage
from podium.testing import ScriptedModel

from .helpers import of, plan_answer, task, team

pytestmark = pytest.mark.anyio

GOAL = "Find facts about coral reefs and write a short report"


async def test_the_planner_sees_the_files_team_and_plans_with_its_inputs() -> None:
    bad = plan_answer(task("t1", "writer", "Write about {{ inputs.subject }}"))
    good = plan_answer(task("t1", "writer", "Write about {{ inputs.topic }}"))
    model = ScriptedModel([bad, good])
    workflow = Workflow(name="team", plan=Plan([]), agents=team())
    async with Orchestrator(store="memory://") as orch:
        result = await orch.run(
            workflow,
            goal=GOAL,
            inputs={"topic": "reefs"},
            planner=Planner(assign="model", model=model),
        )
        journal = await orch.events(result.run_id)
    assert (result.status, result.output["did"]) == ("succeeded", "Write about reefs")
    first: ModelRequest = model.requests[0]
    system = first.messages[0]
    assert isinstance(system, SystemMessage)
    for agent in team():
        assert f"- {agent.name}: {agent.description}" in system.content
    assert first.output_schema is not None
    assert set(first.output_schema["$defs"]["agent"]["enum"]) == {a.name for a in team()}
    rejected, accepted = of(journal, PlanProposed)
    assert any("unbound input 'subject'" in p for p in rejected.problems)
    assert accepted.problems == []
    assert of(journal, PlanAccepted)[0].source == "repair"
