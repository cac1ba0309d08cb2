"""Spans of a run: names, nesting, GenAI and Podium attributes, errors, content capture."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from opentelemetry.trace import SpanKind, StatusCode

from podium import Agent, Orchestrator, Plan, Task, TaskCall, Workflow
from podium.events import ModelCalled, RunSubmitted, TaskStarted
from podium.models._base import ModelRequest, ModelResponse, TokenUsage, UserMessage
from podium.models._calls import InterceptedModel
from podium.telemetry import Tracing
from podium.telemetry._ids import run_span_id, run_trace_id
from podium.testing import FunctionModel, ScriptedModel, TestModel
from tests.telemetry.conftest import Spans
from tests.telemetry.helpers import WORKFLOW, parent_of, span_id, team, trace_id, traced

pytestmark = pytest.mark.anyio


async def run_report(spans: Spans, **tracing: Any) -> tuple[str, Orchestrator]:
    t = Tracing(tracer_provider=spans.provider, **tracing)
    async with traced(t) as orch:
        result = await orch.run(WORKFLOW, run_id="run-1")
        await t.aclose()
    assert result.status == "succeeded", result
    return result.run_id, orch


async def test_a_run_is_a_tree_of_run_attempt_model_and_tool_spans(spans: Spans) -> None:
    run_id, _ = await run_report(spans)
    run = spans.one("invoke_workflow report")
    researcher = spans.one("invoke_agent researcher")
    writer = spans.one("invoke_agent writer")
    chats = spans.named("chat test")
    tool = spans.one("execute_tool lookup")

    assert run.parent is None
    assert (trace_id(run), span_id(run)) == (run_trace_id(run_id), run_span_id(run_id))
    assert {trace_id(s) for s in spans.all()} == {run_trace_id(run_id)}
    assert parent_of(researcher) == parent_of(writer) == span_id(run)
    assert len(chats) == 2  # the tool call, then the answer
    assert {parent_of(s) for s in [*chats, tool]} == {span_id(researcher)}
    assert [s.kind for s in (run, researcher, chats[0], tool)] == [
        SpanKind.INTERNAL,
        SpanKind.INTERNAL,
        SpanKind.CLIENT,
        SpanKind.INTERNAL,
    ]
    # a child lies within its parent
    for child, parent in [(researcher, run), (chats[0], researcher), (tool, researcher)]:
        assert parent.start_time <= child.start_time <= child.end_time <= parent.end_time  # type: ignore[operator]


async def test_spans_carry_the_genai_and_podium_attributes_the_journal_holds(
    spans: Spans,
) -> None:
    run_id, _ = await run_report(spans)
    run = spans.one("invoke_workflow report")
    researcher = spans.one("invoke_agent researcher")
    chat = spans.named("chat test")[-1]
    tool = spans.one("execute_tool lookup")

    assert run.attributes is not None
    assert researcher.attributes is not None
    assert run.attributes["gen_ai.operation.name"] == "invoke_workflow"
    assert run.attributes["gen_ai.workflow.name"] == "report"
    assert run.attributes["podium.run_id"] == run_id
    assert run.attributes["podium.journal.seq"] == 0
    assert run.attributes["podium.run.status"] == "succeeded"
    assert run.attributes["podium.run.resumed"] is False
    assert run.status.status_code is StatusCode.OK

    assert dict(researcher.attributes) | {"podium.journal.seq": 0} == {
        "gen_ai.operation.name": "invoke_agent",
        "gen_ai.agent.name": "researcher",
        "podium.run_id": run_id,
        "podium.task": "research",
        "podium.attempt": 1,
        "podium.journal.seq": 0,
        "gen_ai.usage.input_tokens": researcher.attributes["gen_ai.usage.input_tokens"],
        "gen_ai.usage.output_tokens": researcher.attributes["gen_ai.usage.output_tokens"],
        "podium.cost_usd": 0.0,
    }
    assert chat.attributes is not None
    assert chat.attributes["gen_ai.operation.name"] == "chat"
    assert chat.attributes["gen_ai.provider.name"] == "test"
    assert chat.attributes["gen_ai.request.model"] == "test"
    assert chat.attributes["gen_ai.response.finish_reasons"] == ("stop",)
    assert chat.attributes["podium.task"] == "research"
    assert tool.attributes is not None
    assert tool.attributes["gen_ai.tool.name"] == "lookup"
    assert tool.attributes["gen_ai.tool.call.id"] == "call_1"
    assert tool.attributes["podium.tool.effect"] == "read"
    assert tool.attributes["podium.tool.replayed"] is False


async def test_token_counts_and_seqs_match_the_journal(spans: Spans, tmp_path: Any) -> None:
    t = Tracing(tracer_provider=spans.provider)
    store = f"sqlite:///{tmp_path / 'runs.db'}"
    async with traced(t, store=store) as orch:
        result = await orch.run(WORKFLOW)
        await t.aclose()
        events = await orch.store.load(result.run_id)
    called = [e for e in events if isinstance(e, ModelCalled)]
    chats = spans.named("chat test")
    assert [(s.attributes or {})["gen_ai.usage.input_tokens"] for s in chats] == [
        e.input_tokens for e in called
    ]
    assert [(s.attributes or {})["gen_ai.usage.output_tokens"] for s in chats] == [
        e.output_tokens for e in called
    ]
    run = spans.one("invoke_workflow report")
    assert (run.attributes or {})["podium.journal.end_seq"] == events[-1].seq
    assert (run.attributes or {})["gen_ai.usage.input_tokens"] == sum(
        e.input_tokens for e in called
    )
    started = {e.task: e.seq for e in events if isinstance(e, TaskStarted)}
    for span in spans.named("invoke_agent researcher") + spans.named("invoke_agent writer"):
        attributes = span.attributes or {}
        assert attributes["podium.journal.seq"] >= started[str(attributes["podium.task"])]


async def test_content_is_not_captured_unless_asked(spans: Spans) -> None:
    await run_report(spans)
    text = json.dumps([dict(s.attributes or {}) for s in spans.all()])
    assert "Research the tides" not in text
    assert "notes on" not in text
    for key in ("gen_ai.input.messages", "gen_ai.output.messages", "gen_ai.tool.call.arguments"):
        assert key not in text


async def test_content_is_captured_when_asked(spans: Spans) -> None:
    await run_report(spans, capture_content=True)
    researcher = spans.one("invoke_agent researcher").attributes or {}
    first, last = (s.attributes or {} for s in spans.named("chat test"))
    tool = spans.one("execute_tool lookup").attributes or {}
    assert json.loads(str(researcher["gen_ai.input.messages"])) == [
        {"role": "user", "parts": [{"type": "text", "content": "Research the tides"}]}
    ]
    assert "gen_ai.output.messages" in researcher
    messages = json.loads(str(first["gen_ai.input.messages"]))
    assert messages[-1]["role"] == "user"
    assert "Research the tides" in str(messages)
    assert json.loads(str(first["gen_ai.output.messages"]))[0]["parts"][0]["type"] == "tool_call"
    assert "notes on" in str(last["gen_ai.input.messages"])  # the tool's result, sent back
    assert json.loads(str(tool["gen_ai.tool.call.arguments"])).keys() == {"topic"}
    assert json.loads(str(tool["gen_ai.tool.call.result"])).startswith("notes on ")


async def test_the_environment_switches_content_on(
    spans: Spans, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "true")
    assert Tracing(tracer_provider=spans.provider).capture_content
    monkeypatch.setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "false")
    monkeypatch.setenv("PODIUM_TRACE_CONTENT", "1")
    await run_report(spans)
    assert "gen_ai.input.messages" in (spans.one("invoke_agent researcher").attributes or {})


async def test_huge_content_is_cut(spans: Spans) -> None:
    huge = "x" * 200_000
    wf = Workflow(name="huge", plan=Plan([Task(id="big", agent="researcher", instruction=huge)]))
    t = Tracing(tracer_provider=spans.provider, capture_content=True)
    async with traced(t) as orch:
        await orch.run(wf)
        await t.aclose()
    for span in spans.all():
        for value in (span.attributes or {}).values():
            assert len(str(value)) <= 32_000


def boom(call: TaskCall) -> str:
    raise RuntimeError("the boom agent always fails")


async def test_failures_set_error_status_and_type(spans: Spans) -> None:
    failing_model = ScriptedModel([ConnectionError("provider down")] * 8)
    agents = [Agent(name="boom", function=boom), Agent(name="talker", model=failing_model)]
    wf = Workflow(
        name="failing",
        plan=Plan([Task(id="t", agent="boom"), Task(id="u", agent="talker", optional=True)]),
    )
    t = Tracing(tracer_provider=spans.provider)
    async with traced(t, agents=agents) as orch:
        result = await orch.run(wf)
        await t.aclose()
    assert result.status == "failed"
    attempts = spans.named("invoke_agent boom")
    assert attempts
    assert all(s.status.status_code is StatusCode.ERROR for s in attempts)
    assert {(s.attributes or {})["error.type"] for s in attempts} == {"RuntimeError"}
    assert "always fails" in str(attempts[0].status.description)
    chats = spans.named("chat scripted")
    assert chats
    assert all(s.status.status_code is StatusCode.ERROR for s in chats)
    assert {(s.attributes or {})["error.type"] for s in chats} == {"builtins.ConnectionError"}
    assert chats[0].events[0].name == "exception"
    run = spans.one("invoke_workflow failing")
    assert run.status.status_code is StatusCode.ERROR
    assert (run.attributes or {})["podium.run.status"] == "failed"
    assert (run.attributes or {})["error.type"] == "error"


async def test_a_parallel_fan_out_keeps_each_call_under_its_own_attempt(spans: Spans) -> None:
    width = 8
    arrived = 0
    everyone = asyncio.Event()

    async def answer(request: ModelRequest) -> ModelResponse:
        nonlocal arrived
        arrived += 1
        if arrived == width:
            everyone.set()
        await everyone.wait()  # every attempt is in its model call at once
        text = str(request.messages[-1])
        return ModelResponse(text=text, usage=TokenUsage(input_tokens=1, output_tokens=1))

    agents = [Agent(name="fan", model=FunctionModel(answer, name="fan"))]
    plan = Plan([Task(id=f"b{i}", agent="fan", instruction=f"branch {i}") for i in range(width)])
    t = Tracing(tracer_provider=spans.provider)
    async with traced(t, agents=agents) as orch:
        result = await orch.run(Workflow(name="fan", plan=plan))
        await t.aclose()
    assert result.status == "succeeded"
    attempts = {(s.attributes or {})["podium.task"]: s for s in spans.named("invoke_agent fan")}
    chats = spans.named("chat fan")
    assert len(attempts) == len(chats) == width
    for chat in chats:
        task = (chat.attributes or {})["podium.task"]
        assert parent_of(chat) == span_id(attempts[task])
    run = spans.one("invoke_workflow fan")
    assert {parent_of(s) for s in attempts.values()} == {span_id(run)}


async def test_tracing_alone_as_an_interceptor_still_traces(
    spans: Spans, caplog: pytest.LogCaptureFixture
) -> None:
    t = Tracing(tracer_provider=spans.provider)
    async with Orchestrator(agents=team(), store="memory://", interceptors=[t]) as orch:
        await orch.run(WORKFLOW, run_id="alone")
        await orch.run(WORKFLOW, run_id="alone-2")
        await t.aclose()
    assert "as a listener too" in caplog.text
    assert caplog.text.count("as a listener too") == 1  # said once, not waited for again
    attempts = spans.named("invoke_agent researcher")
    assert [parent_of(s) for s in attempts] == [run_span_id("alone"), run_span_id("alone-2")]
    assert spans.named("invoke_workflow report") == []


async def test_concurrent_runs_each_get_their_own_trace(spans: Spans) -> None:
    t = Tracing(tracer_provider=spans.provider)
    ids = [f"c{i}" for i in range(6)]
    async with traced(t) as orch:
        results = await asyncio.gather(*(orch.run(WORKFLOW, run_id=i) for i in ids))
        await t.aclose()
    assert {r.status for r in results} == {"succeeded"}
    runs = {(s.attributes or {})["podium.run_id"]: s for s in spans.named("invoke_workflow report")}
    assert sorted(runs) == ids
    for span in spans.all():
        run_id = str((span.attributes or {}).get("podium.run_id"))
        assert trace_id(span) == run_trace_id(run_id)
        if span.name.startswith("invoke_agent"):
            assert parent_of(span) == span_id(runs[run_id])


async def test_closing_ends_a_run_span_whose_end_never_came(spans: Spans) -> None:
    t = Tracing(tracer_provider=spans.provider)
    async with traced(t) as orch:
        await orch.run(WORKFLOW, run_id="ends")
        t.on_event(RunSubmitted(run_id="lost", seq=0, ts=1.0, workflow={"name": "lost"}))
        await t.aclose()
    lost = spans.one("invoke_workflow lost")
    assert (lost.attributes or {})["podium.run.status"] == "unfinished"
    assert (spans.one("invoke_workflow report").attributes or {})["podium.run.status"] == (
        "succeeded"
    )


async def test_a_model_wrapped_outside_any_attempt_is_traced_too(spans: Spans) -> None:
    t = Tracing(tracer_provider=spans.provider)
    model = InterceptedModel(TestModel(), [t])
    await model.request(ModelRequest(messages=(UserMessage(content="hi"),)))
    chat = spans.one("chat test")
    assert chat.parent is None
    assert "podium.cost_usd" in (chat.attributes or {})
