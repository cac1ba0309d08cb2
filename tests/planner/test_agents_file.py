"""Agents files with a `planner` section, and `podium run --goal` on them."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from podium import Orchestrator, Plan, Planner, PlanValidationError, load_workflow
from podium.events import PlanAccepted, PlanFallback, PlanProposed
from podium.models import Model, register_provider
from podium.models._registry import _providers
from podium.store import open_store
from podium.testing import ScriptedModel
from tests.cli.helpers import invoke

from .helpers import plan_answer, task

DATA = Path(__file__).parent / "data"
TEAM = DATA / "team.yaml"
GOAL = "Find facts about coral reefs and write a short report"


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.delenv("PODIUM_STORE", raising=False)
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def scripted() -> Iterator[list[ScriptedModel]]:
    """``scripted:`` models answer a good plan; the ones made are listed."""
    made: list[ScriptedModel] = []

    def factory(_name: str) -> Model:
        made.append(
            ScriptedModel(
                [
                    plan_answer(
                        task("t1", "researcher", "Find facts about reefs"),
                        task("t2", "writer", "Write a short report", "t1"),
                    )
                ]
            )
        )
        return made[-1]

    register_provider("scripted", factory)
    yield made
    _providers.pop("scripted", None)


def test_an_agents_file_compiles_to_a_team_with_its_planner() -> None:
    team = load_workflow(TEAM, require_tasks=False)
    assert len(team.plan) == 0
    assert [a.name for a in team.agents] == ["researcher", "writer", "translator"]
    planner = team.planner
    assert isinstance(planner, Planner)
    assert (planner.model, planner.max_repairs, planner.max_replans) == ("local:smollm2", 1, 1)
    assert isinstance(planner.fallback, Plan)
    assert [t.id for t in planner.fallback] == ["facts", "report"]
    assert team.source()["agents_file"] is True
    with pytest.raises(PlanValidationError, match="the plan has no tasks"):
        load_workflow(TEAM)


def test_planner_section_problems_have_lines() -> None:
    with pytest.raises(PlanValidationError) as caught:
        load_workflow(DATA / "bad_planner.yaml", require_tasks=False)
    messages = [str(p) for p in caught.value.problems]
    assert any(
        "bad_planner.yaml:5: planner.max_repairs: should be greater than or equal to 0" in m
        for m in messages
    ), messages
    assert any(
        "bad_planner.yaml:8: planner.fallback.tasks.a.agent: unknown agent 'editor'" in m
        for m in messages
    ), messages
    assert any("unbound input 'topic'" in m for m in messages), messages


def test_planner_section_values(tmp_path: Path) -> None:
    path = tmp_path / "t.yaml"
    path.write_text(
        "agents: {w: {model: 'test:x'}}\n"
        "planner: {model: 'openai:gpt-4o-mini', answers: false, by_capability: true, "
        "max_plan_tasks: 3, fallback: none}\n",
        encoding="utf-8",
    )
    planner = load_workflow(path, require_tasks=False).planner
    assert planner is not None
    assert (planner.model, planner.answers, planner.by_capability) == (
        "openai:gpt-4o-mini",
        False,
        True,
    )
    assert (planner.max_plan_tasks, planner.fallback) == (3, None)


def test_podium_run_goal_plans_and_runs(scripted: list[ScriptedModel], tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path / 'runs.db'}"
    result = invoke(
        "run", TEAM, "--goal", GOAL, "--planner-model", "scripted:x", "--store", store, "--json"
    )
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["status"] == "succeeded"
    assert data["output"] == "Report: Write a short report (1 facts)"
    assert list(data["tasks"]) == ["t1", "t2"]
    model = scripted[-1]  # the one that planned (the first only checked the name resolves)
    assert "- translator: Translates text" in model.requests[0].messages[0].content  # type: ignore[union-attr]

    shown = invoke("show", data["run_id"], "--store", store, "--json")
    kinds = [e["kind"] for e in json.loads(shown.stdout)["events"]]
    assert kinds[:3] == ["RunSubmitted", "PlanProposed", "PlanAccepted"]

    resumed = invoke("resume", data["run_id"], "--store", store, "--json")
    assert json.loads(resumed.stdout)["status"] == "succeeded"


def test_podium_run_goal_falls_back_to_the_files_default_plan(tmp_path: Path) -> None:
    store_url = f"sqlite:///{tmp_path / 'runs.db'}"
    # the `test` model answers what the schema's first branches give: never a valid plan
    result = invoke(
        "run", TEAM, "--goal", GOAL, "--planner-model", "test:x", "--store", store_url, "--json"
    )
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["status"] == "succeeded"
    assert list(data["tasks"]) == ["facts", "report"]
    assert data["output"] == "Report: Write it up (1 facts)"

    async def journal() -> list[object]:
        store = open_store(store_url)
        await store.open()
        try:
            return list(await store.load(data["run_id"]))
        finally:
            await store.close()

    events = asyncio.run(journal())
    assert len([e for e in events if isinstance(e, PlanProposed)]) == 2  # max_repairs: 1
    assert [e.fallback for e in events if isinstance(e, PlanFallback)] == ["workflow"]
    assert [e.source for e in events if isinstance(e, PlanAccepted)] == ["fallback"]


def test_podium_run_goal_on_a_workflow_with_tasks_is_a_usage_error(tmp_path: Path) -> None:
    workflow = Path(__file__).parents[1] / "cli" / "data" / "report.yaml"
    result = invoke("run", workflow, "--goal", GOAL, "--store", f"sqlite:///{tmp_path}/r.db")
    assert result.exit_code == 2
    assert "has tasks already" in result.stderr


@pytest.mark.anyio
async def test_a_goal_run_from_an_agents_file_resumes_from_the_recorded_file() -> None:
    team = load_workflow(TEAM, require_tasks=False)
    model = ScriptedModel([plan_answer(task("t1", "writer", "Write"))])
    store = open_store("memory://")
    async with Orchestrator(store=store) as orch:
        await orch.run(team, goal=GOAL, planner=Planner(assign="model", model=model), run_id="r")
    events = await store.load("r")
    cut = next(i for i, e in enumerate(events) if isinstance(e, PlanAccepted)) + 1
    fresh = open_store("memory://")
    await fresh.open()
    await fresh.create_run("r", events[0])  # type: ignore[arg-type]
    await fresh.append("r", events[1:cut])
    async with Orchestrator(store=fresh) as orch:  # no workflow given: the file is compiled again
        result = await orch.resume("r")
    assert (result.status, result.output) == ("succeeded", "Report: Write (0 facts)")
    assert len(model.requests) == 1
