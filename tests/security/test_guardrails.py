"""Guardrails at run time: PII redacted before a model sees it and before the journal keeps
it, deny and allow rules, size and schema gates, decisions journaled without the values."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec
import pytest

from podium import Agent, Orchestrator, Plan, Task, Workflow, tool
from podium.events import AnyEvent, GuardrailDecided, TaskFailed, TaskSucceeded, ToolCalled
from podium.exceptions import ConfigError
from podium.models import ModelRequest, ModelResponse, ToolCall
from podium.policy import (
    PII,
    Allow,
    Deny,
    Guardrail,
    MaxSize,
    Policy,
    Schema,
    Subject,
    Verdict,
)
from podium.reliability import RetryPolicy
from podium.testing import FunctionModel, ScriptedModel

pytestmark = pytest.mark.anyio

EMAIL = "jane.doe@example.com"
CARD = "4111 1111 1111 1111"  # passes the Luhn check
PHONE = "+1 415-555-0132"
SECRETS = (EMAIL, CARD, PHONE, "4111111111111111")


def one_task(
    model: Any, *, instruction: str = "Write to {{ inputs.who }}", **agent: Any
) -> Workflow:
    writer = Agent(name="writer", model=model, **agent)
    task = Task(id="write", agent="writer", instruction=instruction)
    return Workflow(name="mail", plan=Plan([task]), agents=(writer,))


def decisions(events: list[AnyEvent]) -> list[GuardrailDecided]:
    return [e for e in events if isinstance(e, GuardrailDecided)]


def sent(model: ScriptedModel | FunctionModel) -> str:
    """Everything the model was sent, as one text."""
    return "\n".join(msgspec.json.encode(r).decode() for r in model.requests)


def leaks(events: list[AnyEvent], *values: str) -> list[str]:
    """The values found in any guardrail decision (there must be none)."""
    text = "\n".join(msgspec.json.encode(e).decode() for e in decisions(events))
    return [v for v in values if v in text]


async def run(
    wf: Workflow, tmp_path: Path, *guards: Guardrail, **inputs: Any
) -> tuple[Any, list[AnyEvent]]:
    store = f"sqlite:///{tmp_path / 'runs.db'}"  # a real journal, read back from its file
    async with Orchestrator(store=store, policy=Policy(guardrails=guards)) as orch:
        result = await orch.run(wf, inputs=inputs)
    async with Orchestrator(store=store) as orch:
        events = await orch.events(result.run_id)
    return result, events


async def test_pii_in_a_task_input_is_redacted_before_the_model_sees_it(tmp_path: Path) -> None:
    model = ScriptedModel(["Drafted."])
    result, events = await run(one_task(model), tmp_path, PII(), who=f"{EMAIL}, {PHONE}")
    assert result.status == "succeeded"
    seen = sent(model)
    assert EMAIL not in seen
    assert PHONE not in seen
    assert "Write to <EMAIL_ADDRESS>, <PHONE_NUMBER>" in seen
    [decided] = decisions(events)
    assert (decided.stage, decided.direction, decided.decision) == ("attempt", "input", "redact")
    assert decided.findings == {"EMAIL_ADDRESS": 2, "PHONE_NUMBER": 2}  # instruction and input
    assert (decided.task, decided.agent, decided.attempt, decided.guardrail) == (
        "write",
        "writer",
        1,
        "pii",
    )
    assert leaks(events, *SECRETS) == []


async def test_pii_in_an_output_is_redacted_before_it_is_journaled(tmp_path: Path) -> None:
    model = ScriptedModel([f"Charge card {CARD} and mail {EMAIL}."])
    result, events = await run(
        one_task(model, instruction="Bill them"), tmp_path, PII(direction="output")
    )
    assert result.output == "Charge card <CREDIT_CARD> and mail <EMAIL_ADDRESS>."
    [succeeded] = [e for e in events if isinstance(e, TaskSucceeded)]
    assert succeeded.output == result.output
    journal = "\n".join(msgspec.json.encode(e).decode() for e in events)
    assert EMAIL not in journal
    assert CARD not in journal
    [decided] = decisions(events)
    assert decided.direction == "output"
    assert decided.findings == {"CREDIT_CARD": 1, "EMAIL_ADDRESS": 1}
    assert decided.reason == "found 1 CREDIT_CARD, 1 EMAIL_ADDRESS"


async def test_pii_block_fails_the_task_once_and_flag_lets_it_through(tmp_path: Path) -> None:
    model = ScriptedModel(["unused"])
    retry = RetryPolicy(attempts=3, backoff_s=0)
    wf = one_task(model, retry=retry)
    result, events = await run(wf, tmp_path, PII(action="block"), who=EMAIL)
    assert result.status == "failed"
    assert model.requests == []  # the input never reached the model
    [failed] = [e for e in events if isinstance(e, TaskFailed)]
    assert failed.error.type == "guardrail"
    assert not failed.error.retryable
    assert failed.final
    assert "guardrail 'pii' blocked the task's input" in failed.error.message
    assert EMAIL not in failed.error.message
    assert [d.decision for d in decisions(events)] == ["block"]

    model = ScriptedModel(["Done."])
    flagged, events = await run(one_task(model), tmp_path, PII(action="flag"), who=EMAIL)
    assert flagged.status == "succeeded"
    assert EMAIL in sent(model)  # flagged, not changed
    assert [d.decision for d in decisions(events)] == ["flag"]


async def test_a_deny_rule_blocks_the_attempt(tmp_path: Path) -> None:
    model = ScriptedModel(["Sure: DROP TABLE users;"])
    deny = Deny(patterns=[r"(?i)\bdrop\s+table\b"], direction="output")
    result, events = await run(one_task(model, instruction="Clean up"), tmp_path, deny)
    assert result.status == "failed"
    [failed] = [e for e in events if isinstance(e, TaskFailed)]
    assert failed.error.type == "guardrail"
    assert "DROP TABLE" not in failed.error.message
    [decided] = decisions(events)
    assert decided.decision == "block"
    assert decided.findings == {r"(?i)\bdrop\s+table\b": 1}
    assert not [e for e in events if isinstance(e, TaskSucceeded)]


async def test_deny_can_redact_words_and_allow_passes_what_matches(tmp_path: Path) -> None:
    model = ScriptedModel(["Project Falcon ships in May."])
    deny = Deny(words=["falcon"], action="redact", direction="output")
    allow = Allow(patterns=["ships"], stages=["attempt"], direction="output", audit=True)
    result, events = await run(one_task(model, instruction="Status"), tmp_path, deny, allow)
    assert result.output == "Project [REDACTED] ships in May."
    assert [(d.guardrail, d.decision) for d in decisions(events)] == [
        ("deny", "redact"),
        ("allow", "allow"),  # audited
    ]


async def test_max_size_blocks_a_large_output_and_schema_one_outside_it(tmp_path: Path) -> None:
    model = ScriptedModel(["x" * 500])
    size = MaxSize(max_chars=100, direction="output")
    result, events = await run(one_task(model, instruction="Go"), tmp_path, size)
    assert result.status == "failed"
    [decided] = decisions(events)
    assert decided.reason == "the output is 500 characters (at most 100)"

    def answers(call: Any) -> dict[str, Any]:
        return {"answer": ["zq-marker-77"], "contact": EMAIL}  # (a number could be in a ts)

    agent = Agent(name="writer", function=answers)
    wf = Workflow(name="json", plan=Plan([Task(id="write", agent="writer")]), agents=(agent,))
    schema = Schema({"type": "object", "properties": {"answer": {"type": "string"}}})
    result, events = await run(wf, tmp_path, schema)
    assert result.status == "failed"
    [decided] = decisions(events)
    assert decided.reason == 'the output does not match the schema at answer (type: "string")'
    assert decided.findings == {"type": 1}
    assert leaks(events, EMAIL, "zq-marker-77") == []


def calls_then_answers(name: str, arguments: dict[str, Any]) -> FunctionModel:
    def answer(request: ModelRequest) -> ModelResponse | str:
        if len(request.messages) <= 2:
            return ModelResponse(tool_calls=(ToolCall(id="c1", name=name, arguments=arguments),))
        return "done: " + str(request.messages[-1].content)

    return FunctionModel(answer)


@tool
def lookup(customer: str) -> dict[str, str]:
    """The customer's record."""
    return {"customer": customer, "email": EMAIL, "card": CARD}


async def test_tool_results_are_redacted_before_the_model_reads_them(tmp_path: Path) -> None:
    model = calls_then_answers("lookup", {"customer": "acme"})
    wf = one_task(model, instruction="Look up acme", tools=(lookup,))
    result, events = await run(wf, tmp_path, PII(stages=["tool"]))
    assert result.status == "succeeded"
    assert EMAIL not in sent(model)
    assert CARD not in sent(model)
    [called] = [e for e in events if isinstance(e, ToolCalled)]
    assert called.result == {
        "customer": "acme",
        "email": "<EMAIL_ADDRESS>",
        "card": "<CREDIT_CARD>",
    }
    [decided] = decisions(events)
    assert (decided.stage, decided.direction, decided.tool, decided.call_id) == (
        "tool",
        "output",
        "lookup",
        "c1",
    )


async def test_a_blocked_tool_call_is_not_made_and_the_model_reads_why(tmp_path: Path) -> None:
    ran: list[str] = []

    @tool(effect="write")
    def fetch(url: str) -> str:
        """Fetch a page."""
        ran.append(url)
        return "page"

    model = calls_then_answers("fetch", {"url": "https://evil.example/x"})
    allow = Allow(patterns=[r"^https://docs\.example\.com/"], fields=["url"], direction="input")
    wf = one_task(model, instruction="Read the docs", tools=(fetch,))
    result, events = await run(wf, tmp_path, allow)
    assert result.status == "succeeded"  # the model went on without the call
    assert ran == []
    [called] = [e for e in events if isinstance(e, ToolCalled)]
    assert called.error is not None
    assert "guardrail 'allow' blocked this call of 'fetch'" in called.error
    assert "guardrail 'allow' blocked" in str(result.output)
    [decided] = decisions(events)
    assert (decided.stage, decided.direction, decided.decision) == ("tool", "input", "block")


async def test_model_messages_are_judged_once_per_attempt(tmp_path: Path) -> None:
    model = calls_then_answers("lookup", {"customer": "acme"})
    wf = one_task(model, tools=(lookup,))
    result, events = await run(wf, tmp_path, PII(stages=["model"]), who=EMAIL)
    assert result.status == "succeeded"
    assert EMAIL not in sent(model)
    assert CARD not in sent(model)
    assert len(model.requests) == 2
    # the instruction's email once (not again on the second request), then the tool's result
    assert [(d.direction, d.findings) for d in decisions(events)] == [
        ("input", {"EMAIL_ADDRESS": 1}),
        ("input", {"CREDIT_CARD": 1, "EMAIL_ADDRESS": 1}),
    ]


async def test_a_guardrail_of_ones_own_and_one_that_raises(tmp_path: Path) -> None:
    def no_drafts(value: Any, subject: Subject) -> Verdict:
        if subject.part == "output" and "DRAFT" in str(value):
            return Verdict("block", reason="the output is a draft", findings={"draft": 1})
        return Verdict()

    mine = Guardrail(name="no-drafts", direction="output", check=no_drafts)
    result, events = await run(
        one_task(ScriptedModel(["DRAFT v1"]), instruction="Go"), tmp_path, mine
    )
    assert result.status == "failed"
    assert [(d.guardrail, d.reason) for d in decisions(events)] == [
        ("no-drafts", "the output is a draft")
    ]

    def broken(value: Any, subject: Subject) -> Verdict:
        raise RuntimeError("rule crashed")

    crashing = Guardrail(name="broken", check=broken)
    model = ScriptedModel(["unused"])
    result, events = await run(one_task(model, instruction="Go"), tmp_path, crashing)
    assert result.status == "failed"  # fails closed: nothing went through unchecked
    assert model.requests == []
    [failed] = [e for e in events if isinstance(e, TaskFailed)]
    assert failed.error.type == "guardrail_error"
    assert "RuntimeError: rule crashed" in failed.error.message

    def quits(value: Any, subject: Subject) -> Verdict:
        raise SystemExit(2)

    result, events = await run(
        one_task(ScriptedModel(["unused"]), instruction="Go"),
        tmp_path,
        Guardrail(name="quits", check=quits),
    )
    assert result.status == "failed"  # the guardrail's failure, not the end of the process
    [failed] = [e for e in events if isinstance(e, TaskFailed)]
    assert "SystemExit" in failed.error.message


async def test_a_workflow_adds_guardrails_to_the_operators(tmp_path: Path) -> None:
    operator = Deny(words=["secret"], name="operator")
    mine = Deny(words=["draft"], name="mine")
    policy = Policy(guardrails=[operator]).tightened(Policy(guardrails=[mine, operator]))
    assert [g.name for g in policy.guardrails] == ["operator", "mine"]
    with pytest.raises(ConfigError, match=r"is not a `podium\.policy\.Guardrail`"):
        Policy(guardrails=[object()])  # type: ignore[list-item]


async def test_a_block_is_not_handed_to_a_backup_agent(tmp_path: Path) -> None:
    first, spare = ScriptedModel(["unused"]), ScriptedModel(["unused"])
    wf = one_task(first, backups=("spare",))
    wf = Workflow(name="mail", plan=wf.plan, agents=(*wf.agents, Agent(name="spare", model=spare)))
    result, events = await run(wf, tmp_path, Deny(words=["acme"]), who="ACME Corp")
    assert result.status == "failed"
    assert first.requests == []
    assert spare.requests == []
    assert len([e for e in events if isinstance(e, TaskFailed)]) == 1


def test_a_verdict_says_what_it_found_as_counts() -> None:
    with pytest.raises(ConfigError, match=r"Verdict\.decision must be one of"):
        Verdict("erase")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="a mapping of strings to counts"):
        Verdict("flag", findings={"email": "ann@example.com"})  # type: ignore[dict-item]
