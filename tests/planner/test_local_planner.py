"""The planner on the embedded SmolLM2-135M: grammar-constrained proposals, end to end."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

import pytest

from podium import Agent, Planner
from podium.events import PlanProposed
from podium.plan._proposal import plan_schema
from tests.cli.helpers import invoke

from .helpers import team

pytestmark = [pytest.mark.slow, pytest.mark.model_requests]

DATA = Path(__file__).parent / "data"


def test_the_schema_compiles_to_a_llama_cpp_grammar() -> None:
    llama_grammar = pytest.importorskip("llama_cpp.llama_grammar")
    schema = plan_schema({a.name: a for a in team()}, ids=["t1", "t2", "t3"], answers=True)
    grammar = llama_grammar.json_schema_to_gbnf(json.dumps(schema))
    assert '"\\"researcher\\"" | "\\"writer\\"" | "\\"translator\\""' in grammar
    assert 't1-needs ::= "[]"' in grammar


def content_words(text: str) -> set[str]:
    return {w for w in re.findall(r"[a-z]+", text.lower()) if len(w) > 3}


def test_podium_run_goal_on_the_local_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The embedded model's own plan is accepted (no fallback) and run, task by task."""
    pytest.importorskip("llama_cpp")
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.chdir(tmp_path)
    store = f"sqlite:///{tmp_path / 'runs.db'}"
    goal = "Find facts about coral reefs and write a short report"
    result = invoke("run", DATA / "team.yaml", "--goal", goal, "--store", store, "--json")
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["status"] == "succeeded"

    shown = json.loads(invoke("show", data["run_id"], "--store", store, "--json").stdout)
    events = shown["events"]
    proposals = [e for e in events if e["kind"] == "PlanProposed"]
    assert proposals
    assert all(p["model"] == "local:smollm2" for p in proposals)
    assert proposals[0]["input_tokens"] > 0
    assert not [e for e in events if e["kind"] == "PlanFallback"]
    [accepted] = [e for e in events if e["kind"] == "PlanAccepted"]
    assert accepted["source"] in ("planner", "repair")
    assert proposals[-1].get("problems", []) == []
    # the model proposed the steps; code assigned their agents, and journaled why
    kept = {t["id"] for t in accepted["tasks"]}
    steps = [(t["id"], t["instruction"]) for t in proposals[-1]["plan"]["tasks"] if t["id"] in kept]
    assert [(t["id"], t["instruction"]) for t in accepted["tasks"]] == steps
    assigned = {a["task"]: a["agent"] for a in proposals[-1]["assignments"]}
    # a step left with a capability is routed when it runs; the others were assigned here
    planned = {t["id"]: t["agent"] for t in accepted["tasks"] if "agent" in t}
    assert {k: v for k, v in assigned.items() if k in planned} == planned
    assert all(a["reason"] for a in proposals[-1]["assignments"])
    assert set(planned.values()) <= {"researcher", "writer", "translator"}
    for t in accepted["tasks"]:  # the goal's own steps, not text from the prompt
        assert content_words(t["instruction"]) & content_words(goal), t
    ran = {e["task"]: e["agent"] for e in events if e["kind"] == "TaskSucceeded"}
    assert set(ran) == kept
    assert {k: ran[k] for k in planned} == planned
    assert set(ran.values()) <= {"researcher", "writer", "translator"}


CODE_TEAM = [
    Agent(name="coder", description="Writes and fixes Python code.", function=len),
    Agent(name="reviewer", description="Reviews code changes for bugs and style.", function=len),
    Agent(name="tester", description="Writes and runs unit tests.", function=len),
]
OFFICE_TEAM = [
    Agent(name="analyst", description="Analyses sales data and spreadsheets.", function=len),
    Agent(name="writer", description="Writes reports, emails and summaries.", function=len),
    Agent(name="scheduler", description="Books meetings and manages calendars.", function=len),
]


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("agents", "goal"),
    [
        (
            CODE_TEAM,
            "Fix the crash in the CSV parser when a line is empty, and add a regression test",
        ),
        (CODE_TEAM, "Review the new login code for security bugs"),
        (OFFICE_TEAM, "Analyse last quarter's sales and email a summary to the team"),
        (OFFICE_TEAM, "Book a meeting with the finance team next week"),
    ],
)
async def test_local_plans_carry_the_goals_steps_and_no_prompt_text(
    agents: list[Agent], goal: str
) -> None:
    """The prompt's example is made of the goal's clauses: a plan for any goal is that goal's
    (a fixed example once put "Write a short article about bees" into plans for bug fixes)."""
    pytest.importorskip("llama_cpp")
    proposed: list[dict[str, Any]] = []

    async def emit(kind: type[Any], **fields: Any) -> None:
        if kind is PlanProposed:
            proposed.append(fields)

    planner = Planner(max_repairs=1, fallback=None)
    team = {a.name: a for a in agents}
    outcome = await planner.plan(goal, agents=team, input_names=["goal"], emit=emit)
    assert outcome.plan is not None, proposed
    assert outcome.source in ("planner", "repair")
    for task in outcome.plan:
        assert content_words(task.instruction) & content_words(goal), task
        assert not content_words(task.instruction) & {"bees", "article"}, task
