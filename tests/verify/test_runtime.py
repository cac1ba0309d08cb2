"""Checks at run time: a rejected output retries with the checker's feedback, hands over to a
backup, asks a person or fails the task, and every verdict is journaled with its evidence."""

from __future__ import annotations

from typing import Any

import pytest

from podium import Agent, Orchestrator, Plan, Task, TaskCall, Workflow
from podium.events import (
    ApprovalRequested,
    OutputChecked,
    OutputRejected,
    TaskAssigned,
    TaskFailed,
    TaskRetrying,
    TaskSucceeded,
    encode,
)
from podium.exceptions import PlanValidationError
from podium.models import ModelRequest, UserMessage
from podium.testing import FunctionModel
from podium.verify import Check
from tests.reliability.helpers import of, run_plan

pytestmark = pytest.mark.anyio

QUESTION = "What is the GDP of France?"
GOOD = "France's GDP was about 3 trillion dollars in 2023, the seventh largest economy."
OFF_TOPIC = "Coffee is brewed from roasted beans and drunk all over the world every day."


def prompt(request: ModelRequest) -> str:
    return [m.content for m in request.messages if isinstance(m, UserMessage)][-1]


def answers(*texts: str) -> FunctionModel:
    """A model that gives `texts` in turn (the last one from then on)."""
    said = list(texts)

    def answer(request: ModelRequest) -> str:
        return said.pop(0) if len(said) > 1 else said[0]

    return FunctionModel(answer)


RELEVANT = Check(kind="relevance", embeddings=False)


async def test_a_bad_answer_is_rejected_and_the_retry_with_feedback_passes() -> None:
    model = answers(OFF_TOPIC, GOOD)
    agent = Agent(name="w", model=model)
    plan = Plan([Task(id="q", agent="w", instruction=QUESTION, checks=(RELEVANT,))])
    result, journal = await run_plan(plan, agent)
    assert result.status == "succeeded"
    assert result.output == GOOD
    [rejected] = of(journal, OutputRejected)
    assert (rejected.check, rejected.error.type, rejected.attempt) == ("relevance", "irrelevant", 1)
    assert rejected.evidence["lexical"] == 0.0
    assert sorted(rejected.evidence["asked"]) == ["france", "gdp"]
    [failed] = of(journal, TaskFailed)
    assert failed.error.raw_output == OFF_TOPIC
    assert len(of(journal, TaskRetrying)) == 1
    [passed] = of(journal, OutputChecked)
    assert (passed.check, passed.attempt, passed.check_kind) == ("relevance", 2, "relevance")
    retry_prompt = prompt(model.requests[1])
    assert "Check 'relevance' failed" in retry_prompt  # the checker's feedback
    assert OFF_TOPIC in retry_prompt  # and what was rejected
    assert "Check" not in prompt(model.requests[0])


async def test_a_run_never_succeeds_with_an_output_its_checks_reject() -> None:
    model = answers(OFF_TOPIC)
    check = Check(kind="relevance", embeddings=False, retries=1)
    plan = Plan([Task(id="q", agent="w", instruction=QUESTION, checks=(check,))])
    result, journal = await run_plan(plan, Agent(name="w", model=model))
    assert result.status == "failed"
    assert len(model.requests) == 2  # the first attempt and one retry
    assert [e.error.type for e in of(journal, TaskFailed)] == ["irrelevant"] * 2
    assert not of(journal, TaskSucceeded)


async def test_fail_ends_the_task_at_once() -> None:
    model = answers(OFF_TOPIC, GOOD)
    check = Check(kind="relevance", embeddings=False, on_fail="fail")
    plan = Plan([Task(id="q", agent="w", instruction=QUESTION, checks=(check,))])
    result, _ = await run_plan(plan, Agent(name="w", model=model))
    assert result.status == "failed"
    assert len(model.requests) == 1


async def test_after_the_retries_a_backup_agent_takes_over() -> None:
    bad, good = answers(OFF_TOPIC), answers(GOOD)
    check = Check(kind="relevance", embeddings=False, retries=1)
    plan = Plan([Task(id="q", agent="w", instruction=QUESTION, checks=(check,), backups=("b",))])
    result, journal = await run_plan(plan, Agent(name="w", model=bad), Agent(name="b", model=good))
    assert result.status == "succeeded"
    assert (len(bad.requests), len(good.requests)) == (2, 1)
    handed = [e for e in of(journal, TaskAssigned) if e.agent == "b"]
    assert handed
    assert handed[0].reason == "backup for w: irrelevant after 2 attempts"
    assert "Check 'relevance' failed" in prompt(good.requests[0])


async def test_an_agents_checks_apply_to_every_task_it_does() -> None:
    model = answers(OFF_TOPIC, GOOD)
    agent = Agent(name="w", model=model, checks=(RELEVANT,))
    plan = Plan([Task(id="q", agent="w", instruction=QUESTION)])
    result, journal = await run_plan(plan, agent)
    assert result.status == "succeeded"
    assert [e.check for e in of(journal, OutputRejected)] == ["relevance"]


async def test_escalation_asks_a_person_showing_the_evidence() -> None:
    model = answers(OFF_TOPIC)
    check = Check(kind="relevance", embeddings=False, retries=1, on_fail="escalate")
    plan = Workflow(
        name="q", plan=Plan([Task(id="q", agent="w", instruction=QUESTION, checks=(check,))])
    )
    async with Orchestrator(agents=[Agent(name="w", model=model)], store="memory://") as orch:
        parked = await orch.run(plan)
        assert parked.status == "waiting"
        [pending] = await orch.approvals()
        assert pending.action == "result"
        assert pending.result["output"] == OFF_TOPIC
        [failed] = pending.result["failed_checks"]
        assert failed["check"] == "relevance"
        assert failed["evidence"]["lexical"] == 0.0
        assert "does not address the instruction" in pending.reason
        rejected = await orch.reject(parked.run_id, by="rev", comment="off topic", workflow=plan)
        events = await orch.events(parked.run_id)
    assert rejected.status == "failed"
    assert len(model.requests) == 2
    assert len(of(events, ApprovalRequested)) == 1


async def test_an_escalated_output_a_person_accepts_is_committed() -> None:
    model = answers(OFF_TOPIC)
    check = Check(kind="relevance", embeddings=False, retries=0, on_fail="escalate")
    plan = Workflow(
        name="q", plan=Plan([Task(id="q", agent="w", instruction=QUESTION, checks=(check,))])
    )
    async with Orchestrator(agents=[Agent(name="w", model=model)], store="memory://") as orch:
        parked = await orch.run(plan)
        done = await orch.approve(parked.run_id, by="rev", workflow=plan)
    assert done.status == "succeeded"
    assert done.output == OFF_TOPIC
    assert len(model.requests) == 1


def judge_model(verdicts: list[bool]) -> FunctionModel:
    def judge(request: ModelRequest) -> str:
        assert request.output_schema is not None  # a structured verdict
        ok = verdicts.pop(0)
        return '{{"pass": {}, "reason": "{}"}}'.format(
            "true" if ok else "false",
            "fine" if ok else "it names no figure",
        )

    return FunctionModel(judge, name="judge")


async def test_a_judge_agent_gives_a_structured_verdict() -> None:
    writer = answers("France is big.", GOOD)
    judge = judge_model([False, True])
    check = Check(kind="judge", judge="critic", rubric="States a figure with its year.")
    plan = Plan([Task(id="q", agent="w", instruction=QUESTION, checks=(check,))])
    result, journal = await run_plan(
        plan, Agent(name="w", model=writer), Agent(name="critic", model=judge)
    )
    assert result.status == "succeeded"
    assert result.output == GOOD
    [rejected] = of(journal, OutputRejected)
    assert rejected.error.type == "judge_rejected"
    assert rejected.evidence == {
        "judge": "critic",
        "verdict": {"pass": False, "reason": "it names no figure"},
    }
    assert "it names no figure" in prompt(writer.requests[1])
    assert "States a figure with its year." in prompt(judge.requests[0])
    assert "France is big." in prompt(judge.requests[0])


async def test_a_judge_that_answers_no_verdict_fails_the_task_clearly() -> None:
    judge = FunctionModel(lambda request: "looks good to me")
    check = Check(kind="judge", judge="critic")
    plan = Plan([Task(id="q", agent="w", instruction=QUESTION, checks=(check,))])
    result, journal = await run_plan(
        plan, Agent(name="w", model=answers(GOOD)), Agent(name="critic", model=judge)
    )
    assert result.status == "failed"
    [failed] = of(journal, TaskFailed)
    assert failed.error.type == "check_error"
    assert "did not answer with a verdict" in failed.error.message


async def test_an_unknown_judge_is_refused_before_the_run_or_stops_it() -> None:
    check = Check(kind="judge", judge="nobody")
    plan = Plan([Task(id="q", agent="w", instruction=QUESTION, checks=(check,))])
    with pytest.raises(PlanValidationError, match="unknown judge agent 'nobody'"):
        await run_plan(plan, Agent(name="w", model=answers(GOOD)))
    # an agent's own checks are only known once it has the task: the run stops, misconfigured
    plan = Plan([Task(id="q", agent="w", instruction=QUESTION)])
    result, _ = await run_plan(plan, Agent(name="w", model=answers(GOOD), checks=(check,)))
    assert result.status == "failed"
    assert result.reason == "config"
    assert "judge 'nobody' is not an agent of the run" in result.message


def words_rule(output: Any, call: Any) -> str | None:
    return None if len(str(output).split()) >= 5 else f"too short for {call.task}: say more"


async def test_a_rule_by_import_path_rejects_and_its_reason_is_the_feedback() -> None:
    model = answers("Short.", GOOD)
    check = Check(kind="rule", rule="tests.verify.test_runtime:words_rule")
    plan = Plan([Task(id="q", agent="w", instruction=QUESTION, checks=(check,))])
    result, journal = await run_plan(plan, Agent(name="w", model=model))
    assert result.status == "succeeded"
    [rejected] = of(journal, OutputRejected)
    assert rejected.error.message == "too short for q: say more"
    assert "too short for q: say more" in prompt(model.requests[1])


async def python_agent(call: TaskCall) -> Any:
    return GOOD


async def test_tasks_without_checks_journal_no_verdicts() -> None:
    plan = Plan([Task(id="q", agent="p", instruction=QUESTION)])
    result, journal = await run_plan(plan, Agent(name="p", function=python_agent))
    assert result.status == "succeeded"
    assert not of(journal, OutputChecked)
    assert not of(journal, OutputRejected)


def broken_rule(output: Any, call: Any) -> str | None:
    raise ValueError("the rule itself is wrong")


async def test_a_rule_that_raises_fails_the_task_naming_the_check() -> None:
    model = answers(GOOD)
    check = Check(kind="rule", name="mine", rule="tests.verify.test_runtime:broken_rule")
    plan = Plan([Task(id="q", agent="w", instruction=QUESTION, checks=(check,))])
    result, journal = await run_plan(plan, Agent(name="w", model=model))
    assert result.status == "failed"
    [failed] = of(journal, TaskFailed)
    assert failed.error.type == "check_error"
    assert "check 'mine' raised ValueError: the rule itself is wrong" in failed.error.message
    assert len(model.requests) == 1  # not the agent's fault: not retried


async def test_huge_rejected_outputs_keep_the_feedback_and_evidence_bounded() -> None:
    huge = "Coffee is brewed from roasted beans every single day. " * 20_000
    model = answers(huge, GOOD)
    checks = (RELEVANT, Check(kind="grounding", embeddings=False))
    plan = Plan([Task(id="q", agent="w", instruction=QUESTION, checks=checks)])
    result, journal = await run_plan(plan, Agent(name="w", model=model))
    assert result.status == "failed"  # the good answer cites nothing: grounding rejects it
    rejected = of(journal, OutputRejected)
    assert {e.check for e in rejected} == {"relevance", "grounding"}
    for event in rejected:
        assert len(encode(event)) < 20_000
    for failed in of(journal, TaskFailed):
        assert len(failed.error.message) <= 4_000


def quitting_rule(output: Any, call: Any) -> str | None:
    raise SystemExit(1)


async def test_a_rule_that_raises_system_exit_fails_the_task_not_the_process() -> None:
    check = Check(kind="rule", name="quits", rule="tests.verify.test_runtime:quitting_rule")
    plan = Plan([Task(id="q", agent="w", instruction=QUESTION, checks=(check,))])
    result, journal = await run_plan(plan, Agent(name="w", model=answers(GOOD)))
    assert result.status == "failed"
    [failed] = of(journal, TaskFailed)
    assert "check 'quits' raised SystemExit" in failed.error.message
