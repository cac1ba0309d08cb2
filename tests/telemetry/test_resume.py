"""A resumed run continues its trace: same trace id, a new run span under the first, linked."""

from __future__ import annotations

import asyncio
import pickle
from pathlib import Path

import pytest
from opentelemetry import trace

from podium import Agent, Plan, Task, TaskCall, Workflow
from podium.events import AnyEvent, TaskStarted
from podium.models._base import ModelRequest, UserMessage
from podium.models._calls import ModelCallInput, call_model
from podium.reliability._clock import SYSTEM_CLOCK
from podium.runtime import AttemptInput, AttemptScope
from podium.telemetry import Tracing
from podium.telemetry._ids import run_span_id, run_trace_id
from podium.testing import TestModel
from tests.telemetry.conftest import Spans
from tests.telemetry.helpers import parent_of, span_id, trace_id, traced

pytestmark = pytest.mark.anyio

GATE: dict[str, asyncio.Event] = {}
"""While set here, the `slow` agent waits for it (the first drive); else it answers at once."""


def first(call: TaskCall) -> str:
    return "one"


async def slow(call: TaskCall) -> str:
    gate = GATE.get("slow")
    if gate is not None:
        await gate.wait()
    return "two"


WF = Workflow(
    name="twostep",
    plan=Plan(
        [Task(id="one", agent="first"), Task(id="two", agent="slow", needs=("one",))],
        output="two",
    ),
)
AGENTS = [Agent(name="first", function=first), Agent(name="slow", function=slow)]


async def test_a_run_resumed_elsewhere_continues_its_trace(tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path / 'runs.db'}"
    before, after = Spans(), Spans()  # two processes, each with its own provider
    GATE["slow"] = asyncio.Event()
    tracing = Tracing(tracer_provider=before.provider)
    async with traced(tracing, store=store, agents=AGENTS) as orch:

        def stop_at_two(event: AnyEvent) -> None:
            if isinstance(event, TaskStarted) and event.task == "two":
                orch.interrupt(event.run_id, "the test stops it")

        result = await orch.run(WF, run_id="r1", on_event=stop_at_two)
        await tracing.aclose()
    assert result.status == "interrupted"
    del GATE["slow"]

    tracing = Tracing(tracer_provider=after.provider)
    async with traced(tracing, store=store, agents=AGENTS) as orch:
        result = await orch.resume("r1", workflow=WF)
        await tracing.aclose()
    assert result.status == "succeeded"

    first_run = before.one("invoke_workflow twostep")
    assert (first_run.attributes or {})["podium.run.status"] == "interrupted"
    assert span_id(first_run) == run_span_id("r1")
    resumed = after.one("invoke_workflow twostep")
    assert trace_id(resumed) == trace_id(first_run) == run_trace_id("r1")
    assert parent_of(resumed) == span_id(first_run)
    assert [link.context.span_id for link in resumed.links] == [span_id(first_run)]
    assert (resumed.attributes or {})["podium.run.resumed"] is True
    assert (resumed.attributes or {})["podium.run.status"] == "succeeded"
    assert span_id(resumed) != span_id(first_run)
    # the cut attempt of `two` belongs to the first drive, its rerun to the resumed one
    assert [parent_of(s) for s in before.named("invoke_agent slow")] == [span_id(first_run)]
    assert [parent_of(s) for s in after.named("invoke_agent slow")] == [span_id(resumed)]
    assert (before.one("invoke_agent slow").attributes or {})["podium.cancelled"] is True
    assert after.named("invoke_agent first") == []  # it succeeded: never run again


def test_sent_to_another_process_it_records_there_under_the_attempts_span() -> None:
    remote = pickle.loads(pickle.dumps(Tracing(capture_content=True)))
    assert remote.capture_content is True
    assert remote.provider is trace.get_tracer_provider()  # that process's own provider


async def test_calls_made_elsewhere_continue_the_attempt_from_its_traceparent(
    spans: Spans,
) -> None:
    traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    attempt = AttemptInput(
        run_id="r",
        task=Task(id="t", agent="a"),
        agent="a",
        attempt=1,
        instruction="hi",
        inputs={},
        run_inputs={},
        task_outputs={},
        trace={"traceparent": traceparent},
    )

    async def emit(kind: object, **fields: object) -> None:
        pass

    scope = AttemptScope(input=attempt, emit=emit, agents={}, clock=SYSTEM_CLOCK)
    calls = Tracing(tracer_provider=spans.provider).for_attempt(scope)
    request = ModelRequest(messages=(UserMessage(content="hi"),))
    await calls.request(ModelCallInput(model=TestModel(), request=request), call_model)
    chat = spans.one("chat test")
    assert chat.parent is not None
    assert (f"{chat.parent.trace_id:032x}", f"{chat.parent.span_id:016x}") == (
        "0af7651916cd43dd8448eb211c80319c",
        "b7ad6b7169203331",
    )
