"""The live view's fold of reported events, and its drawing."""

from __future__ import annotations

import asyncio

import pytest
from rich.console import Console

from podium.cli._live import RunView, show_live
from podium.events import (
    AnyEvent,
    ModelCalled,
    PlanAccepted,
    RunSubmitted,
    RunSucceeded,
    TaskStarted,
    TaskSucceeded,
)

pytestmark = pytest.mark.anyio


def journal() -> list[AnyEvent]:
    run = "r1"
    return [
        RunSubmitted(run_id=run, seq=0, ts=100.0, workflow={"name": "demo"}),
        PlanAccepted(run_id=run, seq=1, ts=100.1, tasks=[{"id": "a"}, {"id": "b", "needs": ["a"]}]),
        TaskStarted(run_id=run, seq=2, ts=100.2, task="a", agent="writer"),
        ModelCalled(
            run_id=run,
            seq=3,
            ts=100.3,
            task="a",
            agent="writer",
            model="test",
            input_tokens=30,
            output_tokens=12,
        ),
        TaskSucceeded(run_id=run, seq=4, ts=101.2, task="a", agent="writer", output="A"),
        TaskStarted(run_id=run, seq=5, ts=101.3, task="b", agent="writer"),
        TaskSucceeded(run_id=run, seq=6, ts=101.5, task="b", agent="writer", output="B"),
        RunSucceeded(run_id=run, seq=7, ts=101.6, output="B"),
    ]


def text_of(view: RunView, now: float) -> str:
    console = Console(width=100, record=True, file=None, force_terminal=False)
    with console.capture() as capture:
        console.print(view.renderable(now=now))
    return capture.get()


async def test_events_fold_into_a_task_table() -> None:
    events = journal()
    view = RunView("r1", load_after=lambda _seq: pytest.fail("no gap to fill"))
    before = text_of(view, now=100.0)
    assert "r1" in before
    assert "submitting…" in before  # nothing journaled yet: no table
    for ev in events[:4]:
        await view.on_event(ev)
    running = text_of(view, now=100.7)
    assert "demo" in running
    assert "running" in running
    assert "0.50s" in running  # a's elapsed time ticks with `now`
    assert "42" in running  # a's tokens
    for ev in events[4:]:
        await view.on_event(ev)
    done = text_of(view, now=200.0)
    assert view.state.status == "succeeded"
    assert "1.00s" in done
    assert "succeeded" in done


async def test_a_gap_is_filled_from_the_store_and_repeats_are_ignored() -> None:
    events = journal()
    loads: list[int] = []

    async def load_after(seq: int) -> list[AnyEvent]:
        loads.append(seq)
        return [ev for ev in events if ev.seq > seq]

    view = RunView("r1", load_after=load_after)
    await view.on_event(events[5])  # a continued run reports from seq 5 on
    assert loads == [-1]
    assert view.state.seq == 7
    await view.on_event(events[6])
    await view.on_event(events[0])
    assert loads == [-1]
    assert view.state.status == "succeeded"


async def test_show_live_returns_what_it_awaits() -> None:
    view = RunView("r1", load_after=lambda _seq: pytest.fail("no gap to fill"))
    console = Console(force_terminal=True, width=80, record=True)

    async def work() -> str:
        for ev in journal():
            await view.on_event(ev)
            await asyncio.sleep(0.01)
        return "done"

    assert await show_live(work(), view, console, interval_s=0.01) == "done"


async def test_show_live_propagates_errors() -> None:
    view = RunView("r1", load_after=lambda _seq: pytest.fail("no gap to fill"))

    async def work() -> str:
        await asyncio.sleep(0.02)
        raise KeyError("boom")

    with pytest.raises(KeyError):
        await show_live(work(), view, Console(force_terminal=True), interval_s=0.005)
