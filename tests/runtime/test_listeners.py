"""Listeners: every event of every run, in order, without slowing a run; notices around calls."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from podium import Agent, Orchestrator, Plan, Task, TaskCall, tool
from podium.events import AnyEvent, RunSucceeded, TaskStarted
from podium.models import ModelResponse, ToolCall
from podium.runtime import Notice
from podium.testing import ScriptedModel

pytestmark = pytest.mark.anyio


async def step(call: TaskCall) -> int:
    return 1


CHAIN = Plan([Task(id=f"t{i}", agent="s", needs=(f"t{i - 1}",) if i else ()) for i in range(20)])


class Collector:
    def __init__(self) -> None:
        self.events: list[AnyEvent] = []
        self.done = asyncio.Event()

    def on_event(self, event: AnyEvent) -> None:
        self.events.append(event)
        if isinstance(event, RunSucceeded):
            self.done.set()

    def by_run(self) -> dict[str, list[int]]:
        runs: dict[str, list[int]] = {}
        for e in self.events:
            runs.setdefault(e.run_id, []).append(e.seq)
        return runs


async def settle(condition: Any) -> None:
    for _ in range(500):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("not within 5 s")


async def test_a_listener_gets_every_event_of_every_run_in_order() -> None:
    seen = Collector()
    async with Orchestrator(agents=[Agent(name="s", function=step)], store="memory://") as orch:
        orch.subscribe(seen)
        results = await asyncio.gather(*(orch.run(CHAIN) for _ in range(3)))
        journals = {r.run_id: await orch.events(r.run_id) for r in results}
        total = sum(map(len, journals.values()))
        await settle(lambda: len(seen.events) == total)
    for run_id, journal in journals.items():
        assert seen.by_run()[run_id] == [e.seq for e in journal]


async def test_a_plain_callable_and_an_async_listener_work_too() -> None:
    plain: list[str] = []
    later: list[str] = []

    async def slow(event: AnyEvent) -> None:
        await asyncio.sleep(0)
        later.append(type(event).__name__)

    async with Orchestrator(agents=[Agent(name="s", function=step)], store="memory://") as orch:
        orch.subscribe(lambda e: plain.append(type(e).__name__))
        orch.subscribe(slow)
        await orch.run(Plan([Task(id="a", agent="s")]))
        await settle(lambda: len(later) == len(plain) == 5)
    assert (
        plain
        == later
        == [
            "RunSubmitted",
            "PlanAccepted",
            "TaskStarted",
            "TaskSucceeded",
            "RunSucceeded",
        ]
    )


async def test_a_stuck_listener_never_slows_a_run_and_misses_nothing() -> None:
    gate = asyncio.Event()
    got: list[AnyEvent] = []

    async def stuck(event: AnyEvent) -> None:
        await gate.wait()
        got.append(event)

    async with Orchestrator(agents=[Agent(name="s", function=step)], store="memory://") as orch:
        subscription = orch.subscribe(stuck, max_buffer=5)
        result = await asyncio.wait_for(orch.run(CHAIN), timeout=10)  # not held by the listener
        assert result.status == "succeeded"
        assert len(got) == 0
        journal = await orch.events(result.run_id)
        gate.set()  # past its buffer of 5, the rest is read back from the store
        await settle(lambda: len(got) == len(journal))
        await asyncio.sleep(0.05)
        assert [e.seq for e in got] == [e.seq for e in journal]  # each once, in order
        await subscription.close()


async def test_a_listener_that_raises_does_not_stop_runs_or_other_listeners() -> None:
    seen = Collector()

    def broken(event: AnyEvent) -> None:
        raise RuntimeError("listener bug")

    async with Orchestrator(agents=[Agent(name="s", function=step)], store="memory://") as orch:
        orch.subscribe(broken)
        orch.subscribe(seen)
        result = await orch.run(Plan([Task(id="a", agent="s")]))
        await asyncio.wait_for(seen.done.wait(), timeout=5)
    assert result.status == "succeeded"


async def test_a_closed_subscription_hears_nothing_more() -> None:
    seen = Collector()
    async with Orchestrator(agents=[Agent(name="s", function=step)], store="memory://") as orch:
        subscription = orch.subscribe(seen)
        await orch.run(Plan([Task(id="a", agent="s")]))
        await asyncio.wait_for(seen.done.wait(), timeout=5)
        await subscription.close()
        count = len(seen.events)
        await orch.run(Plan([Task(id="a", agent="s")]))
        await asyncio.sleep(0.05)
    assert len(seen.events) == count


@tool
def add(a: int, b: int) -> int:
    """Add two numbers."""
    return a + b


class Spans:
    """What a tracer would do: open a span on "started", close it on "finished"."""

    def __init__(self) -> None:
        self.open: dict[tuple[str, str, str], Notice] = {}
        self.closed: list[tuple[str, str, float]] = []
        self.events: list[AnyEvent] = []

    def on_event(self, event: AnyEvent) -> None:
        self.events.append(event)

    def on_notice(self, notice: Notice) -> None:
        key = (notice.what, notice.task, notice.name)
        if notice.phase == "started":
            assert key not in self.open
            self.open[key] = notice
        else:
            started = self.open.pop(key)
            assert notice.duration_s is not None
            assert notice.ts >= started.ts
            self.closed.append((notice.what, notice.name, notice.duration_s))


async def test_notices_open_and_close_around_attempts_model_calls_and_tool_calls() -> None:
    call = ToolCall(id="c1", name="add", arguments={"a": 2, "b": 3})
    model = ScriptedModel([ModelResponse(tool_calls=(call,)), "the sum is 5"])
    agent = Agent(name="calc", model=model, tools=[add])
    spans = Spans()
    async with Orchestrator(agents=[agent], store="memory://") as orch:
        orch.subscribe(spans)
        result = await orch.run(Plan([Task(id="sum", agent="calc", instruction="Add 2 and 3")]))
        await settle(lambda: any(isinstance(e, RunSucceeded) for e in spans.events))
        await settle(lambda: len(spans.closed) == 4)
    assert result.status == "succeeded"
    assert not spans.open  # every span that opened closed
    assert sorted((what, name) for what, name, _ in spans.closed) == [
        ("attempt", "calc"),
        ("model", model.name),
        ("model", model.name),
        ("tool", "add"),
    ]
    # the attempt's span holds the calls' spans
    attempt = next(d for what, _, d in spans.closed if what == "attempt")
    assert attempt >= max(d for what, _, d in spans.closed if what != "attempt")
    assert any(isinstance(e, TaskStarted) for e in spans.events)
