"""A small traced team: a model-driven researcher with a tool, and a Python writer."""

from __future__ import annotations

from typing import Any

from opentelemetry.sdk.trace import ReadableSpan

from podium import Agent, Orchestrator, Plan, Task, TaskCall, Workflow, tool
from podium.telemetry import Tracing
from podium.testing import TestModel


@tool
def lookup(topic: str) -> str:
    """Look a topic up."""
    return f"notes on {topic}"


def write(call: TaskCall) -> str:
    return f"report: {call.task_outputs['research']}"


def team(model: Any = None) -> list[Agent]:
    return [
        Agent(name="researcher", model=model or TestModel(), tools=(lookup,)),
        Agent(name="writer", function=write),
    ]


WORKFLOW = Workflow(
    name="report",
    plan=Plan(
        [
            Task(id="research", agent="researcher", instruction="Research the tides"),
            Task(id="write", agent="writer", needs=("research",)),
        ],
        output="write",
    ),
)


def traced(tracing: Tracing, store: str = "memory://", **kwargs: Any) -> Orchestrator:
    return Orchestrator(
        agents=kwargs.pop("agents", team()),
        store=store,
        interceptors=[tracing],
        listeners=[tracing],
        **kwargs,
    )


def parent_of(span: ReadableSpan) -> int | None:
    return None if span.parent is None else span.parent.span_id


def span_id(span: ReadableSpan) -> int:
    assert span.context is not None
    return span.context.span_id


def trace_id(span: ReadableSpan) -> int:
    assert span.context is not None
    return span.context.trace_id
