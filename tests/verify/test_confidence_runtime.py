"""Confidence at run time: samples compared, low confidence and split checks asked of a person,
and the default checks of goal runs (an answer about something else never succeeds)."""

from __future__ import annotations

from typing import Any

import pytest

from podium import Agent, Orchestrator, Plan, Planner, Task, TaskCall, Workflow
from podium.events import (
    ApprovalRequested,
    ConfidenceMeasured,
    OutputChecked,
    OutputRejected,
    PlanAccepted,
    TaskFailed,
)
from podium.models import ModelRequest
from podium.plan import load_workflow_text
from podium.policy import Policy
from podium.testing import FunctionModel, ScriptedModel
from podium.tools import tool
from podium.verify import Check, Confidence
from tests.reliability.helpers import of, run_plan

pytestmark = pytest.mark.anyio

QUESTION = "What is the GDP of France?"
GOOD = "France's GDP was about 3 trillion dollars in 2023, the seventh largest economy."
ALSO_GOOD = "The GDP of France was about 3 trillion dollars in 2023."
OFF_TOPIC = "Coffee is brewed from roasted beans and drunk all over the world every day."
RELEVANT = Check(kind="relevance", embeddings=False, retries=0)
LEXICAL_GOAL = (Check(kind="relevance", name="goal-relevance", embeddings=False, retries=1),)


def answers(*texts: str) -> FunctionModel:
    """A model that gives `texts` in turn (the last one from then on)."""
    said = list(texts)

    def answer(request: ModelRequest) -> str:
        return said.pop(0) if len(said) > 1 else said[0]

    return FunctionModel(answer)


def question(**task: Any) -> Workflow:
    return Workflow(name="q", plan=Plan([Task(id="q", agent="w", instruction=QUESTION, **task)]))


async def test_samples_are_compared_and_the_medoid_is_kept() -> None:
    model = answers(OFF_TOPIC, GOOD, ALSO_GOOD)
    plan = question(confidence=Confidence(samples=3), checks=(RELEVANT,))
    result, journal = await run_plan(plan, Agent(name="w", model=model))
    assert result.status == "succeeded"
    assert result.output in (GOOD, ALSO_GOOD)
    assert len(model.requests) == 3  # one attempt, three samples
    [measured] = of(journal, ConfidenceMeasured)
    assert measured.evidence["samples"]["method"] == "lexical"
    assert 0 < measured.signals["samples"] < 0.6  # the off-topic sample disagrees
    assert set(measured.signals) == {"samples", "checks"}
    assert measured.action == "accept"
    assert measured.confidence is not None
    assert 0 < measured.confidence < 1


async def test_low_confidence_asks_a_person_showing_the_signals() -> None:
    model = answers(OFF_TOPIC, GOOD, "Bananas are yellow.")
    plan = question(confidence=Confidence(samples=3, min=0.9))
    async with Orchestrator(agents=[Agent(name="w", model=model)], store="memory://") as orch:
        parked = await orch.run(plan)
        assert parked.status == "waiting"
        [pending] = await orch.approvals()
        assert pending.action == "result"
        shown = pending.result["confidence"]
        assert shown["min"] == 0.9
        assert shown["value"] < 0.9
        assert shown["signals"]["samples"] < 0.5
        assert "below 0.90" in pending.reason
        done = await orch.approve(parked.run_id, by="rev", workflow=plan)
        events = await orch.events(parked.run_id)
    assert done.status == "succeeded"
    assert done.output == pending.result["output"]
    assert len(model.requests) == 3  # approved as it was: not run again
    assert [m.action for m in of(events, ConfidenceMeasured)] == ["ask"]


async def test_low_confidence_may_fail_the_task_or_be_accepted() -> None:
    texts = (OFF_TOPIC, GOOD, "Bananas are yellow.")
    failing = question(confidence=Confidence(samples=3, min=0.9, on_low="fail"))
    model = answers(*texts)
    result, journal = await run_plan(failing, Agent(name="w", model=model))
    assert result.status == "failed"
    [failed] = of(journal, TaskFailed)
    assert failed.error.type == "low_confidence"
    assert len(model.requests) == 3  # no retry of a verdict on confidence
    accepting = question(confidence=Confidence(samples=3, min=0.9, on_low="accept"))
    result, journal = await run_plan(accepting, Agent(name="w", model=answers(*texts)))
    assert result.status == "succeeded"
    [measured] = of(journal, ConfidenceMeasured)
    assert (measured.action, measured.min) == ("accept", 0.9)
    assert measured.confidence is not None
    assert measured.confidence < 0.9


async def test_a_failed_sample_counts_as_disagreement_and_all_failing_fail_the_attempt() -> None:
    calls: list[int] = []

    def flaky(call: TaskCall) -> str:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("no answer")
        return GOOD

    agent = Agent(name="w", function=flaky)
    result, journal = await run_plan(question(confidence=Confidence(samples=3)), agent)
    assert (result.status, result.output) == ("succeeded", GOOD)
    [measured] = of(journal, ConfidenceMeasured)
    assert measured.signals["samples"] == pytest.approx(0.5)  # one of the two others failed

    def broken(call: TaskCall) -> str:
        raise RuntimeError("no answer")

    result, journal = await run_plan(
        question(confidence=Confidence(samples=2)), Agent(name="w", function=broken)
    )
    assert result.status == "failed"
    assert not of(journal, ConfidenceMeasured)


async def test_an_agents_confidence_applies_to_its_tasks() -> None:
    model = answers(GOOD, OFF_TOPIC)
    agent = Agent(name="w", model=model, confidence=Confidence(samples=2, min=0.99, on_low="fail"))
    result, _ = await run_plan(question(), agent)
    assert result.status == "failed"
    assert len(model.requests) == 2


def split_rule(output: Any, call: Any) -> str | None:
    return "it gives no source"


async def test_checks_that_disagree_go_to_a_person_when_confidence_asks() -> None:
    rule = Check(kind="rule", rule=f"{__name__}:split_rule", retries=0)
    split = question(checks=(RELEVANT, rule), confidence=Confidence(min=0.5))
    async with Orchestrator(agents=[Agent(name="w", model=answers(GOOD))], store="memory://") as o:
        parked = await o.run(split)
        assert parked.status == "waiting"
        [pending] = await o.approvals()
        assert pending.reason.startswith("its checks disagree")
        assert [c["check"] for c in pending.result["failed_checks"]] == ["rule"]
    # the same checks without a confidence: the task fails, as it always did
    result, _ = await run_plan(
        question(checks=(RELEVANT, rule)), Agent(name="w", model=answers(GOOD))
    )
    assert result.status == "failed"
    # both checks rejecting it is no disagreement: it fails
    both = question(checks=(RELEVANT, rule), confidence=Confidence(min=0.5))
    result, _ = await run_plan(both, Agent(name="w", model=answers(OFF_TOPIC)))
    assert result.status == "failed"


async def test_samples_refuse_an_agent_whose_tools_act() -> None:
    @tool(effect="write")
    def save(text: str) -> str:
        """Save the text."""
        return "saved"

    agent = Agent(name="w", model=answers(GOOD), tools=(save,))
    result, _ = await run_plan(question(confidence=Confidence(samples=2)), agent)
    assert result.status == "failed"
    assert "side effects" in (result.message or "")


async def test_the_routing_margin_is_a_signal() -> None:
    agents = [
        Agent(
            name="economist",
            description="Answers questions about the GDP and economy of countries.",
            capabilities=("answers",),
            model=answers(GOOD),
        ),
        Agent(
            name="baker",
            description="Bakes bread and cakes.",
            capabilities=("answers",),
            model=answers("Bread."),
        ),
    ]
    task = Task(id="q", capability="answers", instruction=QUESTION, checks=(RELEVANT,))
    result, journal = await run_plan(Plan([task]), *agents)
    assert result.status == "succeeded"
    [measured] = of(journal, ConfidenceMeasured)
    assert measured.signals["routing"] > 0.5
    assert measured.evidence["routing"]["agent"] == "economist"
    scores = measured.evidence["routing"]["scores"]
    assert scores["economist"] > scores["baker"]


# -- goal runs ---------------------------------------------------------------------------------


def plan_for(agent: str) -> dict[str, Any]:
    return {"tasks": [{"id": "t1", "agent": agent, "instruction": "Answer it", "needs": []}]}


async def run_goal(goal: str, planner: Any, writer: FunctionModel, **policy: Any) -> Any:
    team = [Agent(name="writer", description="Answers questions.", model=writer)]
    planned = Planner(model=planner, answers=False)
    async with Orchestrator(agents=team, store="memory://", policy=Policy(**policy)) as orch:
        result = await orch.run(goal, planner=planned)
        return result, await orch.events(result.run_id)


async def test_a_goal_run_never_succeeds_with_an_answer_about_something_else() -> None:
    writer = answers(OFF_TOPIC)
    result, journal = await run_goal(QUESTION, ScriptedModel([plan_for("writer")]), writer)
    assert result.status == "failed"
    rejected = of(journal, OutputRejected)
    assert {r.check for r in rejected} == {"goal-relevance"}
    assert len(writer.requests) == 2  # the default retries once with the checker's feedback


async def test_a_relevant_answer_to_a_goal_passes_its_default_check() -> None:
    writer = answers(GOOD)
    planner = ScriptedModel([plan_for("writer")])
    result, journal = await run_goal(QUESTION, planner, writer, goal_checks=LEXICAL_GOAL)
    assert (result.status, result.output) == ("succeeded", GOOD)
    [checked] = of(journal, OutputChecked)
    assert (checked.check, checked.task) == ("goal-relevance", "t1")


async def test_goal_checks_can_be_turned_off() -> None:
    writer = answers(OFF_TOPIC)
    planner = ScriptedModel([plan_for("writer")])
    result, journal = await run_goal(QUESTION, planner, writer, goal_checks=False)
    assert result.status == "succeeded"
    assert not of(journal, OutputChecked)
    assert not of(journal, ConfidenceMeasured)


async def test_only_final_tasks_of_a_goal_run_are_checked_against_the_goal() -> None:
    two = {
        "tasks": [
            {"id": "t1", "agent": "writer", "instruction": "Gather notes", "needs": []},
            {"id": "t2", "agent": "writer", "instruction": "Answer it", "needs": ["t1"]},
        ]
    }
    writer = answers("Some notes on coffee.", GOOD)
    planner = ScriptedModel([two])
    result, journal = await run_goal(QUESTION, planner, writer, goal_checks=LEXICAL_GOAL)
    assert result.status == "succeeded"
    assert [c.task for c in of(journal, OutputChecked)] == ["t2"]


async def test_a_direct_answer_about_something_else_is_planned_again() -> None:
    planner = ScriptedModel([{"answer": OFF_TOPIC}, plan_for("writer")])
    team = [Agent(name="writer", description="Answers questions.", model=answers(GOOD))]
    policy = Policy(goal_checks=LEXICAL_GOAL)
    async with Orchestrator(agents=team, store="memory://", policy=policy) as orch:
        result = await orch.run(QUESTION, planner=Planner(model=planner))
        journal = await orch.events(result.run_id)
    assert (result.status, result.output) == ("succeeded", GOOD)
    [rejected] = of(journal, OutputRejected)
    assert (rejected.task, rejected.check, rejected.error.type) == (
        "answer",
        "goal-relevance",
        "irrelevant",
    )
    [accepted] = of(journal, PlanAccepted)
    assert [t["id"] for t in accepted.tasks] == ["t1"]
    assert "anyOf" not in (planner.requests[1].output_schema or {})  # asked without answers


async def test_a_relevant_direct_answer_stands() -> None:
    planner = ScriptedModel([{"answer": GOOD}])
    team = [Agent(name="writer", description="Answers questions.", model=answers(GOOD))]
    policy = Policy(goal_checks=LEXICAL_GOAL)
    async with Orchestrator(agents=team, store="memory://", policy=policy) as orch:
        result = await orch.run(QUESTION, planner=Planner(model=planner))
        journal = await orch.events(result.run_id)
    assert (result.status, result.output) == ("succeeded", GOOD)
    assert [c.task for c in of(journal, OutputChecked)] == ["answer"]
    assert not of(journal, ApprovalRequested)


def test_the_file_format_takes_confidence_and_goal_checks() -> None:
    workflow = load_workflow_text(
        """
name: q
policy: {goal_checks: false}
agents:
  w: {model: test, confidence: {samples: 3}}
tasks:
  - id: q
    agent: w
    instruction: What is the GDP of France?
    confidence: {samples: 2, min: 0.6, on_low: fail}
"""
    )
    assert workflow.policy is not None
    assert workflow.policy.goal_checks is False
    assert workflow.plan.tasks["q"].confidence == Confidence(samples=2, min=0.6, on_low="fail")
    [agent] = workflow.agents
    assert agent.confidence == Confidence(samples=3)


async def test_a_workflow_wide_confidence_applies_where_task_and_agent_set_none() -> None:
    model = answers(OFF_TOPIC, GOOD, "Bananas are yellow.")
    wf = Workflow(
        name="q",
        plan=Plan([Task(id="q", agent="w", instruction=QUESTION)]),
        policy=Policy(confidence=Confidence(samples=3, min=0.9, on_low="fail")),
    )
    result, journal = await run_plan(wf, Agent(name="w", model=model))
    assert len(model.requests) == 3  # the workflow's samples
    [measured] = of(journal, ConfidenceMeasured)
    assert measured.min == 0.9
    assert measured.action == "fail"
    assert result.status == "failed"


async def test_a_tasks_own_confidence_wins_over_the_workflows() -> None:
    model = answers(GOOD)
    wf = Workflow(
        name="q",
        plan=Plan([Task(id="q", agent="w", instruction=QUESTION, confidence=Confidence())]),
        policy=Policy(confidence=Confidence(samples=3, min=0.9)),
    )
    result, _ = await run_plan(wf, Agent(name="w", model=model))
    assert len(model.requests) == 1
    assert result.status == "succeeded"


async def test_the_run_is_as_confident_as_its_weakest_measured_step() -> None:
    async def sure(call: TaskCall) -> str:
        return GOOD

    said = iter([GOOD, OFF_TOPIC, ALSO_GOOD])

    async def unsure(call: TaskCall) -> str:
        return next(said)

    plan = Plan(
        [
            Task(id="a", agent="sure", instruction=QUESTION, confidence=Confidence(samples=2)),
            Task(id="b", agent="unsure", instruction=QUESTION, confidence=Confidence(samples=3)),
            Task(id="c", agent="sure", instruction=QUESTION),  # not measured
        ]
    )
    agents = [Agent(name="sure", function=sure), Agent(name="unsure", function=unsure)]
    async with Orchestrator(agents=agents, store="memory://") as orch:
        result = await orch.run(Workflow(name="w", plan=plan))
        events = await orch.events(result.run_id)
    by_task = {e.task: e.confidence for e in events if isinstance(e, ConfidenceMeasured)}
    assert set(by_task) == {"a", "b"}
    assert by_task["a"] == 1.0
    assert result.confidence == min(by_task.values()) == by_task["b"] < 1.0
    assert result.to_json()["confidence"] == round(by_task["b"], 4)


def test_a_workflow_file_sets_the_default_and_a_workflows_tightens_the_operators() -> None:
    wf = load_workflow_text(
        "name: q\nagents: {w: {model: test}}\npolicy:\n  confidence: {samples: 2, min: 0.5}\n"
        "tasks:\n  - {id: q, agent: w}\n"
    )
    assert wf.policy is not None
    assert wf.policy.confidence == Confidence(samples=2, min=0.5)
    operator = Policy(confidence=Confidence(min=0.7, on_low="fail"))
    both = operator.tightened(wf.policy).confidence
    assert both == Confidence(samples=2, min=0.7, on_low="fail")
