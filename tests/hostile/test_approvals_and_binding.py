"""One approval, one execution; a run bound to its workflow; a workflow that may tighten the
operator's policy but never loosen it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from podium import (
    Agent,
    ConfigError,
    Orchestrator,
    Plan,
    Policy,
    Task,
    TaskCall,
    ToolContext,
    Workflow,
    load_workflow,
    tool,
)
from podium.cli import app
from podium.events import ApprovalRequested, RunUpgraded, TaskFailed, ToolCalled
from podium.models import ModelRequest, ModelResponse, ToolCall, ToolResultMessage
from podium.store import MemoryStore
from podium.testing import FunctionModel

pytestmark = pytest.mark.anyio


class Bank:
    def __init__(self, *, fail_first: bool = False) -> None:
        self.transfers: list[tuple[str, int]] = []
        self.fail_first = fail_first

        @tool(effect="irreversible")
        def transfer(to: str, amount: int, ctx: ToolContext) -> str:
            """Move money."""
            if self.fail_first:
                self.fail_first = False
                raise RuntimeError("the bank timed out")
            self.transfers.append((to, amount))
            return f"sent {amount} to {to}"

        @tool(effect="write")
        def note(line: str) -> str:
            """Write a note."""
            return "noted"

        self.transfer = transfer
        self.note = note


def repeating(name: str, args: dict[str, Any], times: int) -> FunctionModel:
    """A model that calls `name(args)` once per round, `times` rounds, then answers."""

    def answer(request: ModelRequest) -> ModelResponse | str:
        done = sum(isinstance(m, ToolResultMessage) for m in request.messages)
        if done < times:
            return ModelResponse(tool_calls=(ToolCall(id=f"c{done}", name=name, arguments=args),))
        results = [m.content for m in request.messages if isinstance(m, ToolResultMessage)]
        return " | ".join(results)

    return FunctionModel(answer)


def pay(model: FunctionModel, bank: Bank) -> Workflow:
    agent = Agent(name="clerk", model=model, tools=(bank.transfer, bank.note), max_rounds=10)
    return Workflow(name="pay", plan=Plan([Task(id="pay", agent="clerk")]), agents=(agent,))


async def test_an_approved_call_that_the_model_repeats_is_made_once() -> None:
    bank = Bank()
    args = {"to": "ann", "amount": 500}
    wf = pay(repeating("transfer", args, times=3), bank)
    async with Orchestrator(store="memory://") as orch:
        parked = await orch.run(wf, run_id="r")
        assert parked.status == "waiting"
        result = await orch.approve("r", by="boss", workflow=wf)
        events = await orch.events("r")
    assert result.status == "succeeded"
    assert bank.transfers == [("ann", 500)]  # one approval, one transfer
    calls = [e for e in events if isinstance(e, ToolCalled) and e.tool == "transfer"]
    assert [c.replayed for c in calls] == [False, True, True]
    assert {c.result for c in calls} == {"sent 500 to ann"}  # the repeats got what it got
    assert result.output == " | ".join(["sent 500 to ann"] * 3)


async def test_an_approved_call_that_failed_needs_a_new_approval_to_be_tried_again() -> None:
    bank = Bank(fail_first=True)
    args = {"to": "ann", "amount": 500}
    wf = pay(repeating("transfer", args, times=2), bank)
    async with Orchestrator(store="memory://") as orch:
        await orch.run(wf, run_id="r")
        again = await orch.approve("r", by="boss", workflow=wf)  # fails; the model tries again
        assert again.status == "waiting"
        requests = [e for e in await orch.events("r") if isinstance(e, ApprovalRequested)]
        assert len(requests) == 2
        assert requests[0].action_hash == requests[1].action_hash
        done = await orch.approve("r", by="boss", workflow=wf)
    assert done.status == "succeeded"
    assert bank.transfers == [("ann", 500)]


async def test_a_task_approval_covers_one_attempt_and_a_retry_asks_again() -> None:
    runs: list[int] = []

    async def flaky(call: TaskCall) -> str:
        runs.append(call.attempt)
        if len(runs) == 1:
            raise RuntimeError("deploy failed")
        return "deployed"

    wf = Workflow(
        name="deploy",
        plan=Plan([Task(id="deploy", agent="ops", approval="required", retries=1)]),
        agents=(Agent(name="ops", function=flaky),),
    )
    async with Orchestrator(store="memory://") as orch:
        first = await orch.run(wf, run_id="r")
        assert first.status == "waiting"
        second = await orch.approve("r", by="boss", workflow=wf)
        assert second.status == "waiting"  # the retry is another execution: asked again
        assert runs == [1]
        done = await orch.approve("r", by="boss", workflow=wf)
        events = await orch.events("r")
    assert done.status == "succeeded"
    assert runs == [1, 2]
    assert len([e for e in events if isinstance(e, ApprovalRequested)]) == 2
    assert len([e for e in events if isinstance(e, TaskFailed)]) == 1


# -- a run is bound to its workflow -----------------------------------------------------------


GATED = """\
name: {name}
agents:
  w: {{python: "bound_agents:{fn}"}}
tasks:
  - {{id: a, agent: w}}
  - {{id: b, agent: w, needs: [a], approval: required}}
"""
AGENTS = """\
def honest(call):
    return "honest " + call.task_id

def other(call):
    return "other " + call.task_id
"""


@pytest.fixture
def files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    import sys

    monkeypatch.setattr(sys, "path", [str(tmp_path), *sys.path])
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PODIUM_STORE", raising=False)
    (tmp_path / "bound_agents.py").write_text(AGENTS)
    (tmp_path / "mine.yaml").write_text(GATED.format(name="mine", fn="honest"))
    (tmp_path / "other.yaml").write_text(GATED.format(name="other", fn="other"))
    (tmp_path / "same_plan.yaml").write_text(GATED.format(name="mine", fn="other"))
    return tmp_path


async def test_a_different_workflow_cannot_take_a_run_over(files: Path) -> None:
    store = MemoryStore()
    async with Orchestrator(store=store) as orch:
        parked = await orch.run(load_workflow(files / "mine.yaml"), run_id="r")
        assert parked.status == "waiting"
        for other in ("other.yaml", "same_plan.yaml"):  # another file; same plan, other code
            with pytest.raises(ConfigError, match="submitted with another workflow"):
                await orch.run(load_workflow(files / other), run_id="r")
            with pytest.raises(ConfigError, match="upgrade"):
                await orch.resume("r", workflow=load_workflow(files / other))
        with pytest.raises(ConfigError, match="submitted with another workflow"):
            await orch.approve("r", by="ann", workflow=load_workflow(files / "other.yaml"))
        # its own workflow is welcome
        done = await orch.approve("r", by="ann", workflow=load_workflow(files / "mine.yaml"))
    assert done.status == "succeeded"
    assert done.output == "honest b"


async def test_an_upgrade_on_purpose_is_journaled_and_sticks(files: Path) -> None:
    store = MemoryStore()
    async with Orchestrator(store=store) as orch:
        await orch.run(load_workflow(files / "mine.yaml"), run_id="r")
        await orch.approve("r", by="ann", resume=False)
        upgraded = await orch.resume(
            "r", workflow=load_workflow(files / "other.yaml"), upgrade=True
        )
        events = await orch.events("r")
    assert upgraded.status == "succeeded"
    assert upgraded.tasks["a"]["output"] == "honest a"  # what was done stays done
    assert upgraded.output == "other b"
    [event] = [e for e in events if isinstance(e, RunUpgraded)]
    assert event.previous
    assert event.digest != event.previous
    assert event.workflow["path"].endswith("other.yaml")


def test_podium_run_under_an_existing_id_with_another_file_is_refused(files: Path) -> None:
    runner = CliRunner()
    first = runner.invoke(app, ["run", "mine.yaml", "--run-id", "r1"])
    assert first.exit_code == 1  # parked on the approval
    refused = runner.invoke(app, ["run", "other.yaml", "--run-id", "r1"])
    assert refused.exit_code == 2
    assert "submitted with another workflow" in refused.stderr
    assert "Traceback" not in refused.stderr
    approved = runner.invoke(app, ["approve", "r1", "--as", "ann", "--no-resume"])
    assert approved.exit_code == 0, approved.stderr
    upgraded = runner.invoke(app, ["resume", "r1", "--upgrade", "other.yaml", "--json"])
    assert upgraded.exit_code == 0, upgraded.stderr
    assert '"output": "other b"' in upgraded.stdout


# -- a workflow may tighten the operator's policy, never loosen it ------------------------------


async def test_a_workflow_policy_cannot_loosen_the_operators() -> None:
    bank = Bank()
    model = repeating("note", {"line": "hi"}, times=1)
    agent = Agent(name="clerk", model=model, tools=(bank.note,))
    loose = Workflow(
        name="loose",
        plan=Plan([Task(id="t", agent="clerk")]),
        agents=(agent,),
        policy=Policy(approve_effects=(), approve_risks=()),
    )
    strict = Policy(approve_effects=("write", "irreversible"))
    async with Orchestrator(store="memory://", policy=strict) as orch:
        result = await orch.run(loose)
    assert result.status == "waiting"  # the write still waits for a person
    assert "tool 'note' is write" in result.message


async def test_a_workflow_policy_can_tighten_the_operators() -> None:
    bank = Bank()
    agent = Agent(
        name="clerk", model=repeating("note", {"line": "hi"}, times=1), tools=(bank.note,)
    )
    tight = Workflow(
        name="tight",
        plan=Plan([Task(id="t", agent="clerk")]),
        agents=(agent,),
        policy=Policy(approve_effects=("write",), min_confidence=0.9),
    )
    async with Orchestrator(store="memory://", policy=Policy(min_confidence=0.5)) as orch:
        result = await orch.run(tight)
    assert result.status == "waiting"


def test_policy_tightening_keeps_the_strictest_of_both() -> None:
    operator = Policy(approve_effects=("irreversible",), min_confidence=0.7, approval_ttl_s=600)
    workflow = Policy(approve_effects=(), approve_risks=("medium",), min_confidence=0.5)
    merged = operator.tightened(workflow)
    assert set(merged.approve_effects) == {"irreversible"}
    assert set(merged.approve_risks) == {"high", "medium"}
    assert merged.min_confidence == 0.7
    assert merged.approval_ttl_s == 600
    assert operator.tightened(None) is operator
