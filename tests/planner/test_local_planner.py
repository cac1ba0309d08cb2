"""The planner on the embedded SmolLM2-135M: grammar-constrained proposals, end to end."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

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


def test_podium_run_goal_on_the_local_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
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
    [accepted] = [e for e in events if e["kind"] == "PlanAccepted"]
    assert accepted["source"] in ("planner", "repair", "fallback")
    if accepted["source"] == "fallback":
        assert [e for e in events if e["kind"] == "PlanFallback"]
    else:
        assert proposals[-1].get("problems", []) == []
        agents = {t.get("agent") for t in accepted["tasks"]}
        assert agents <= {"researcher", "writer", "translator"}
