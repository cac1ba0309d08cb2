"""Feedback: a person's rating of a run, journaled and folded."""

from __future__ import annotations

import asyncio

import pytest

from podium import Agent, ConfigError, Orchestrator, Plan, Task, TaskCall
from podium.events import RunFeedback, RunSucceeded
from podium.exceptions import LeaseHeld, RunNotFound

pytestmark = pytest.mark.anyio


async def quick(call: TaskCall) -> str:
    return "fine"


async def test_a_finished_run_is_rated_and_the_rating_is_journaled() -> None:
    async with Orchestrator(agents=[Agent(name="q", function=quick)], store="memory://") as orch:
        result = await orch.run(Plan([Task(id="a", agent="q")]), run_id="r")
        given = await orch.feedback("r", 4, by="ann", comment="useful")
        await orch.feedback("r", 2, by="bob")
        events = await orch.events("r")
        state = await orch.state("r")
    assert result.status == "succeeded"
    assert (given.score, given.comment, given.by) == (4, "useful", "ann")
    assert [type(e).__name__ for e in events[-3:]] == ["RunSucceeded", "RunFeedback", "RunFeedback"]
    assert [e.seq for e in events] == list(range(len(events)))
    assert [(f.score, f.by) for f in state.feedback] == [(4, "ann"), (2, "bob")]
    assert state.status == "succeeded"  # a rating changes nothing else


@pytest.mark.parametrize("score", [0, 6, 3.5, True, "4"])
async def test_a_score_is_a_whole_number_from_one_to_five(score: object) -> None:
    async with Orchestrator(agents=[Agent(name="q", function=quick)], store="memory://") as orch:
        await orch.run(Plan([Task(id="a", agent="q")]), run_id="r")
        with pytest.raises(ConfigError, match="whole number from 1 to 5"):
            await orch.feedback("r", score, by="ann")  # type: ignore[arg-type]
        with pytest.raises(ConfigError, match="say who"):
            await orch.feedback("r", 3, by=" ")
        with pytest.raises(ConfigError, match="comment: the text has an unpaired surrogate"):
            await orch.feedback("r", 3, by="ann", comment="bad \udcff byte")
        with pytest.raises(RunNotFound):
            await orch.feedback("nope", 3, by="ann")
        assert not [e for e in await orch.events("r") if isinstance(e, RunFeedback)]


async def test_a_run_being_driven_is_rated_once_it_ends() -> None:
    release = asyncio.Event()

    async def slow(call: TaskCall) -> str:
        await release.wait()
        return "late"

    store = "memory://"
    async with Orchestrator(agents=[Agent(name="s", function=slow)], store=store) as orch:
        running = asyncio.create_task(orch.run(Plan([Task(id="a", agent="s")]), run_id="r"))
        await asyncio.sleep(0.05)
        with pytest.raises(LeaseHeld):
            await orch.feedback("r", 5, by="ann")
        release.set()
        await running
        await orch.feedback("r", 5, by="ann")
        events = await orch.events("r")
    assert isinstance(events[-2], RunSucceeded)
    assert isinstance(events[-1], RunFeedback)
