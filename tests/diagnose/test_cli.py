"""`podium diagnose`, in-process as a user would run it, on runs journaled in a SQLite file."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from podium import Agent, Orchestrator, Plan, Task, TaskCall, Workflow
from podium.cli import app
from podium.models import AssistantMessage, ModelRequest, ModelResponse, ToolCall
from podium.reliability import Guards
from podium.runtime import Limits
from podium.testing import FunctionModel
from podium.tools import tool


@tool
def lookup(term: str) -> str:
    """Look a term up."""
    return f"{term}: documented"


def _same_call(request: ModelRequest) -> ModelResponse:
    n = sum(isinstance(m, AssistantMessage) for m in request.messages)
    call = ToolCall(id=f"c{n}", name="lookup", arguments={"term": "reefs"})
    return ModelResponse(tool_calls=(call,), finish_reason="tool_calls")


async def _notes(call: TaskCall) -> str:
    return f"Notes on {call.instruction}"


def _runs(path: Path) -> dict[str, str]:
    """A clean run, a looping one and one parked on an approval; their ids by name."""
    agents = [
        Agent(name="notes", function=_notes),
        Agent(name="looper", model=FunctionModel(_same_call), tools=(lookup,), max_rounds=20),
    ]
    flows = {
        "clean": Task(id="a", agent="notes", instruction="Collect facts about coral reefs"),
        "loop": Task(id="a", agent="looper", instruction="Look up reefs"),
        "parked": Task(id="a", agent="notes", instruction="Deploy", approval="required"),
    }

    async def go() -> dict[str, str]:
        limits = Limits(guards=Guards(max_repeats=3))
        async with Orchestrator(agents=agents, store=f"sqlite:///{path}", limits=limits) as orch:
            return {
                name: (await orch.run(Workflow(name=name, plan=Plan([task])))).run_id
                for name, task in flows.items()
            }

    return asyncio.run(go())


def invoke(*args: object) -> Result:
    result = CliRunner().invoke(app, ["diagnose", *(str(a) for a in args)])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict[str, str]]:
    path = tmp_path_factory.mktemp("diagnose") / "runs.db"
    return str(path), _runs(path)


def test_json_lists_the_findings_with_their_evidence(runs: tuple[str, dict[str, str]]) -> None:
    store, ids = runs
    result = invoke(ids["loop"], "--store", store, "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert (data["status"], data["finished"]) == ("failed", True)
    assert data["labels"] == ["step_repetition", "loop"]
    loop = data["findings"][1]
    assert (loop["mast"], loop["confidence"]) == ("FM-1.3", 0.95)
    assert [e["kind"] for e in loop["evidence"]] == ["TaskFailed", "RunFailed"]
    assert all(isinstance(e["seq"], int) for e in loop["evidence"])


def test_a_clean_run_has_nothing_to_report(runs: tuple[str, dict[str, str]]) -> None:
    store, ids = runs
    result = invoke(ids["clean"], "--store", store)
    assert result.exit_code == 0, result.output
    assert "succeeded" in result.output
    assert "no failure mode found" in result.output
    assert json.loads(invoke(ids["clean"], "--store", store, "--json").output)["labels"] == []


def test_the_table_shows_labels_and_sequence_numbers(runs: tuple[str, dict[str, str]]) -> None:
    store, ids = runs
    result = invoke(ids["loop"], "--store", store)
    assert result.exit_code == 0, result.output
    assert result.output.count("FM-1.3") == 2
    assert "TaskFailed a:" in result.output
    assert "not finished" not in result.output


def test_an_unfinished_run_says_so_and_still_reports(runs: tuple[str, dict[str, str]]) -> None:
    store, ids = runs
    result = invoke(ids["parked"], "--store", store)
    assert result.exit_code == 0, result.output
    assert "not finished (waiting)" in result.output
    assert "no failure mode found" in result.output
    data = json.loads(invoke(ids["parked"], "--store", store, "--json").output)
    assert (data["status"], data["finished"], data["labels"]) == ("waiting", False, [])


def test_an_unknown_run_exits_2(runs: tuple[str, dict[str, str]]) -> None:
    store, _ = runs
    result = invoke("no-such-run", "--store", store, "--json")
    assert result.exit_code == 2
    assert "no-such-run" in result.output
    assert result.output.count("{") == 0  # no JSON for a run that is not there
