"""Results that state a low confidence (or that a review rule flags) wait before they commit."""

from __future__ import annotations

from typing import Any

import pytest

from podium import Agent, Orchestrator, Plan, Task, TaskCall, Workflow
from podium.events import ApprovalRequested, ContextWritten
from podium.policy import Policy, ResultReview

pytestmark = pytest.mark.anyio


class Analyst:
    """Writes a finding with a confidence; counts how often it ran."""

    def __init__(self, confidence: float) -> None:
        self.confidence = confidence
        self.calls = 0

    async def __call__(self, call: TaskCall) -> Any:
        self.calls += 1
        call.context.write(
            "finding", {"n": self.calls}, sources=("doc",), confidence=self.confidence
        )
        return {"summary": f"run {self.calls}"}


def workflow() -> Workflow:
    plan = Plan(
        [
            Task(id="analyse", agent="analyst"),
            Task(id="report", agent="reader", needs=("analyse",), reads=("finding",)),
        ],
        output="{{ tasks.report.output }}",
    )
    return Workflow(name="r", plan=plan)


async def read(call: TaskCall) -> Any:
    return call.context.get("finding")


async def test_a_low_confidence_result_is_committed_as_approved() -> None:
    analyst = Analyst(confidence=0.3)
    agents = [Agent(name="analyst", function=analyst), Agent(name="reader", function=read)]
    wf = workflow()
    async with Orchestrator(
        agents=agents, store="memory://", policy=Policy(min_confidence=0.5)
    ) as orch:
        parked = await orch.run(wf)
        assert parked.status == "waiting"
        assert parked.tasks["analyse"]["status"] == "waiting"
        [pending] = await orch.approvals()
        assert pending.action == "result"
        assert pending.reason == "confidence 0.3 is below 0.5"
        assert pending.result["output"] == {"summary": "run 1"}
        assert pending.result["writes"][0]["key"] == "finding"
        done = await orch.approve(parked.run_id, by="rev", workflow=wf)
        events = await orch.events(parked.run_id)
    assert done.status == "succeeded"
    assert analyst.calls == 1  # committed as it was approved, not produced again
    assert done.output == {"n": 1}
    assert done.tasks["analyse"]["output"] == {"summary": "run 1"}
    [written] = [e for e in events if isinstance(e, ContextWritten)]
    assert (written.confidence, written.sources, written.agent) == (0.3, ["doc"], "analyst")


async def test_a_confident_result_is_committed_at_once() -> None:
    analyst = Analyst(confidence=0.9)
    agents = [Agent(name="analyst", function=analyst), Agent(name="reader", function=read)]
    async with Orchestrator(
        agents=agents, store="memory://", policy=Policy(min_confidence=0.5)
    ) as orch:
        result = await orch.run(workflow())
        events = await orch.events(result.run_id)
    assert result.status == "succeeded"
    assert not any(isinstance(e, ApprovalRequested) for e in events)


async def test_a_rejected_result_fails_the_task() -> None:
    analyst = Analyst(confidence=0.1)
    agents = [Agent(name="analyst", function=analyst), Agent(name="reader", function=read)]
    wf = workflow()
    async with Orchestrator(
        agents=agents, store="memory://", policy=Policy(min_confidence=0.5)
    ) as orch:
        parked = await orch.run(wf)
        failed = await orch.reject(parked.run_id, by="rev", comment="unsupported", workflow=wf)
        events = await orch.events(parked.run_id)
    assert failed.status == "failed"
    assert failed.tasks["analyse"]["error"]["type"] == "approval_rejected"
    assert "commit the result of task 'analyse'" in failed.tasks["analyse"]["error"]["message"]
    assert not any(isinstance(e, ContextWritten) for e in events)


async def test_a_review_rule_can_hold_any_result() -> None:
    async def judged(call: TaskCall) -> Any:
        return {"answer": 42, "checks": {"schema": True, "judge": False}}

    def checks_disagree(review: ResultReview) -> str | None:
        checks = review.output.get("checks", {}) if isinstance(review.output, dict) else {}
        return "the checks disagree" if len(set(checks.values())) > 1 else None

    wf = Workflow(name="j", plan=Plan([Task(id="t", agent="j")]))
    policy = Policy(review=(checks_disagree,))
    async with Orchestrator(
        agents=[Agent(name="j", function=judged)], store="memory://", policy=policy
    ) as orch:
        parked = await orch.run(wf)
        [pending] = await orch.approvals()
        assert pending.reason == "the checks disagree"
        done = await orch.approve(parked.run_id, by="rev", workflow=wf)
    assert done.output["answer"] == 42
