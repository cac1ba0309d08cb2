"""What runs share: the wiring of a workflow, and the batched writes of routing outcomes."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from podium import Agent, Orchestrator, Plan, Task, TaskCall, Workflow
from podium.exceptions import StoreError
from podium.runtime._outcomes import OutcomeWriter
from podium.store import MemoryStore, Outcome

pytestmark = pytest.mark.anyio


async def step(call: TaskCall) -> int:
    return 1


AGENTS = [Agent(name="s", function=step)]
PLAN = Plan([Task(id="a", agent="s"), Task(id="b", agent="s", needs=("a",))])


async def test_runs_of_one_workflow_share_one_wiring() -> None:
    other = Workflow(name="other", plan=Plan([Task(id="x", agent="s")]))
    async with Orchestrator(agents=AGENTS, store="memory://") as orch:
        for _ in range(3):
            assert (await orch.run(PLAN)).status == "succeeded"
        assert len(orch.wirings) == 1  # a plan run again is the same workflow
        assert (await orch.run(other)).status == "succeeded"
        assert len(orch.wirings) == 2

        class Spans:
            def on_event(self, event: Any) -> None: ...

            def on_notice(self, notice: Any) -> None: ...

        orch.subscribe(Spans())  # it wants notices: the interceptors change
        assert (await orch.run(PLAN)).status == "succeeded"
        assert len(orch.wirings) == 3


def outcome(n: int) -> Outcome:
    return Outcome(kind="k/", agent="s", success=True, ts=float(n))


async def test_outcomes_are_written_in_batches_after_a_delay() -> None:
    store = MemoryStore()
    writer = OutcomeWriter(store, None, delay_s=0.05, batch=10)
    writer.add([outcome(1), outcome(2)])
    writer.add([outcome(3)])
    assert await store.outcome_stats() == []  # not yet: they wait for more, or the delay
    await asyncio.sleep(0.15)
    assert [s.runs for s in await store.outcome_stats()] == [3]  # in one batch
    writer.add([outcome(n) for n in range(10)])  # a full batch goes at once
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert [s.runs for s in await store.outcome_stats()] == [13]
    await writer.close()


async def test_outcomes_a_store_refuses_are_kept_for_the_next_write() -> None:
    store = MemoryStore()
    refusals = [StoreError("the database went away")]
    record = store.record_outcomes

    async def flaky(outcomes: Any) -> None:
        if refusals:
            raise refusals.pop()
        await record(outcomes)

    store.record_outcomes = flaky  # type: ignore[method-assign]
    writer = OutcomeWriter(store, None, delay_s=0.02, batch=100)
    writer.add([outcome(1)])
    await asyncio.sleep(0.1)  # the first write fails; a later one takes them
    writer.add([outcome(2)])
    await writer.close()
    assert [s.runs for s in await store.outcome_stats()] == [2]


async def test_closing_the_orchestrator_writes_every_outcome() -> None:
    store = MemoryStore()
    async with Orchestrator(agents=AGENTS, store=store) as orch:
        for _ in range(5):
            await orch.run(PLAN)
    assert sum(s.runs for s in await store.outcome_stats()) == 10
