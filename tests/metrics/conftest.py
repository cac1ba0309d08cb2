"""A lab of real runs for the metrics tests: workflows with known outcomes, run by the
orchestrator on a SQLite file, with a clock that moves only when the agents say so (so every
latency, wait and count is known in advance)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from podium import Agent, Orchestrator, Plan, Task, TaskCall, Workflow
from podium.exceptions import OutputValidationError
from podium.models import AssistantMessage, ModelRequest, ModelResponse, TokenUsage, ToolCall
from podium.models._prices import Price, PriceTable
from podium.reliability import BreakerPolicy, Reliability, RetryPolicy
from podium.store import Store
from podium.testing import FakeClock, FunctionModel
from podium.tools import tool

START = 1_000_000.0
PRICES = PriceTable({"test:*": Price(1000.0, 2000.0)})
"""$0.001 per input token, $0.002 per output token."""


@tool
def ping(n: int) -> str:
    """Answer pong."""
    return "pong"


def _writer_model(request: ModelRequest) -> ModelResponse:
    """Not JSON at first (rejected, asked again), then a valid object; 10/5 then 20/10 tokens."""
    asked_again = any(isinstance(m, AssistantMessage) for m in request.messages)
    if asked_again:
        return ModelResponse(text='{"x": 1}', usage=TokenUsage(input_tokens=20, output_tokens=10))
    return ModelResponse(text="not json", usage=TokenUsage(input_tokens=10, output_tokens=5))


def _loopy_model(request: ModelRequest) -> ModelResponse:
    """The same tool call, over and over (the loop guard stops it)."""
    call = ToolCall(id=f"c{len(request.messages)}", name="ping", arguments={"n": 1})
    return ModelResponse(tool_calls=(call,), finish_reason="tool_calls")


def agents(clock: FakeClock) -> list[Agent]:
    def taking(seconds: float, fail: Exception | None = None):  # type: ignore[no-untyped-def]
        async def body(call: TaskCall) -> str:
            clock.advance(seconds)
            if fail is not None:
                raise fail
            return "ok"

        return body

    async def flaky(call: TaskCall) -> str:
        clock.advance(2.0 if call.attempt == 1 else 1.0)
        if call.attempt == 1:
            raise RuntimeError("first try fails")
        return "ok"

    return [
        Agent(name="quick", function=taking(1.0)),
        Agent(name="flaky", function=flaky),
        Agent(name="broken", function=taking(0.5, ValueError("always"))),
        Agent(
            name="liar",
            function=taking(0.5, OutputValidationError("unsupported", kind="grounding")),
        ),
        Agent(name="writer", model=FunctionModel(_writer_model, name="writer")),
        Agent(name="loopy", model=FunctionModel(_loopy_model, name="loopy"), tools=(ping,)),
    ]


def workflow(name: str) -> Workflow:
    tasks = {
        "steady": [Task(id="a", agent="quick"), Task(id="b", agent="quick", needs=("a",))],
        "mixed": [
            Task(id="a", agent="quick"),
            Task(id="b", agent="flaky", needs=("a",), retries=1),
        ],
        "doomed": [Task(id="a", agent="broken")],
        "gated": [
            Task(id="a", agent="quick"),
            Task(id="b", agent="quick", needs=("a",), approval="required"),
        ],
        "shaped": [Task(id="a", agent="writer", output_schema={"type": "object"})],
        "grounded": [Task(id="a", agent="liar")],
        "loopy": [Task(id="a", agent="loopy")],
    }[name]
    return Workflow(name=name, plan=Plan(tasks))


@dataclass
class Lab:
    """Runs workflows on one SQLite store with one fake clock."""

    path: Path
    clock: FakeClock = field(default_factory=lambda: FakeClock(START, autojump=False))
    orch: Orchestrator | None = None
    store: Store | None = None
    """Another store than the SQLite file at `path`."""

    @property
    def url(self) -> str:
        return f"sqlite:///{self.path}"

    def orchestrator(self) -> Orchestrator:
        return Orchestrator(
            agents=agents(self.clock),
            store=self.store if self.store is not None else self.url,
            clock=self.clock,
            prices=PRICES,
            reliability=Reliability(
                retry=RetryPolicy(attempts=1),
                breakers=BreakerPolicy(min_calls=2, failure_rate=1.0, scopes=("agent",)),
            ),
        )

    async def run(self, name: str, *, decide: str | None = None, wait_s: float = 0.0) -> str:
        """Run workflow `name`; a parked run is approved or rejected (`decide`) `wait_s`
        later. The run id."""
        assert self.orch is not None
        result = await self.orch.run(workflow(name))
        if result.status == "waiting" and decide is not None:
            self.clock.advance(wait_s)
            act = self.orch.approve if decide == "approve" else self.orch.reject
            await act(result.run_id, by="ops", workflow=workflow(name))
        return result.run_id


@pytest.fixture
async def lab(tmp_path: Path) -> AsyncIterator[Lab]:
    made = Lab(tmp_path / "runs.db")
    async with made.orchestrator() as orch:
        made.orch = orch
        yield made


SCENARIO: list[tuple[str, dict[str, object]]] = [
    ("steady", {}),
    ("mixed", {}),
    ("doomed", {}),
    ("doomed", {}),  # the second failure in a row opens broken's breaker
    ("gated", {"decide": "approve", "wait_s": 30.0}),
    ("gated", {"decide": "reject", "wait_s": 60.0}),
    ("shaped", {}),
    ("grounded", {}),
    ("loopy", {}),
]
"""Nine runs whose every number is known (see test_compute for the sums)."""


async def run_scenario(lab: Lab) -> dict[str, list[str]]:
    """Run `SCENARIO` and rate two runs; the run ids by workflow."""
    assert lab.orch is not None
    ids: dict[str, list[str]] = {}
    for name, options in SCENARIO:
        ids.setdefault(name, []).append(await lab.run(name, **options))  # type: ignore[arg-type]
    steady, mixed = ids["steady"][0], ids["mixed"][0]
    await lab.orch.feedback(steady, 5, by="ann")
    await lab.orch.feedback(steady, 3, by="ann")  # ann changed her mind: 3 counts
    await lab.orch.feedback(steady, 4, by="bob")
    await lab.orch.feedback(mixed, 2, by="ann", comment="slow")
    return ids


def populate(path: Path) -> dict[str, list[str]]:
    """`run_scenario` on a SQLite file, from synchronous code (the CLI tests)."""

    async def go() -> dict[str, list[str]]:
        made = Lab(path)
        async with made.orchestrator() as orch:
            made.orch = orch
            return await run_scenario(made)

    return asyncio.run(go())
