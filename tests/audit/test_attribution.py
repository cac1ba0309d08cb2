"""Every action a person takes on a run names them in its journal: submit, fork, resume,
upgrade, cancel (in this process, or one that another process drives)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from podium import Agent, Orchestrator, Plan, Task, TaskCall, Workflow
from podium.events import (
    RunCancelled,
    RunForked,
    RunResumed,
    RunSubmitted,
    RunUpgraded,
    decode_many,
)
from podium.runtime import Limits, RunState
from podium.runtime._lease import cancel_request, read_cancel_request

pytestmark = pytest.mark.anyio


class Sleeper:
    """An agent that returns ``done <task>``, after `delay_s` for the tasks in `slow`."""

    def __init__(self, delay_s: float = 30.0, slow: frozenset[str] = frozenset({"t"})) -> None:
        self.delay_s = delay_s
        self.slow = slow
        self.started = asyncio.Event()
        self.agent = Agent(name="w", function=self)

    async def __call__(self, call: TaskCall) -> str:
        self.started.set()
        if call.task_id in self.slow:
            await asyncio.sleep(self.delay_s)
        return f"done {call.task_id}"


def workflow(instruction: str = "do it") -> Workflow:
    return Workflow(name="wf", plan=Plan([Task(id="t", agent="w", instruction=instruction)]))


async def test_run_resume_and_cancel_name_who() -> None:
    worker = Sleeper()
    wf = workflow()
    async with Orchestrator(agents=[worker.agent], store="memory://") as orch:
        running = asyncio.create_task(orch.run(wf, run_id="r", by="ann"))
        await asyncio.wait_for(worker.started.wait(), 10)
        assert orch.interrupt("r")
        assert (await running).status == "interrupted"
        worker.started.clear()
        resumed = asyncio.create_task(orch.resume("r", workflow=wf, by="bob"))
        await asyncio.wait_for(worker.started.wait(), 10)
        assert orch.cancel("r", "enough", by="carl")
        assert (await resumed).status == "cancelled"
        events = await orch.events("r")
    assert [e.by for e in events if isinstance(e, RunSubmitted)] == ["ann"]
    assert [e.by for e in events if isinstance(e, RunResumed)] == ["bob"]
    assert [(e.reason, e.by) for e in events if isinstance(e, RunCancelled)] == [("enough", "carl")]


async def test_an_upgrade_names_who_made_it() -> None:
    worker = Sleeper()
    async with Orchestrator(agents=[worker.agent], store="memory://") as orch:
        running = asyncio.create_task(orch.run(workflow("first"), run_id="r"))
        await asyncio.wait_for(worker.started.wait(), 10)
        assert orch.interrupt("r")
        await running
        worker.slow = frozenset()
        result = await orch.resume("r", workflow=workflow("second"), upgrade=True, by="dee")
        events = await orch.events("r")
    assert result.status == "succeeded"
    assert [e.by for e in events if isinstance(e, RunUpgraded)] == ["dee"]
    assert [e.by for e in events if isinstance(e, RunResumed)] == ["dee"]
    assert [e.by for e in events if isinstance(e, RunSubmitted)] == [""]  # nobody was named


async def test_a_fork_names_who_forked_it() -> None:
    worker = Sleeper(slow=frozenset())
    wf = workflow()
    async with Orchestrator(agents=[worker.agent], store="memory://") as orch:
        await orch.run(wf, run_id="r", by="ann")
        forked = await orch.fork("r", "t", workflow=wf, fork_id="f", by="eve")
        events = await orch.events("f")
    assert forked.status == "succeeded"
    assert [e.by for e in events if isinstance(e, RunSubmitted)] == ["eve"]
    assert [(e.parent, e.by) for e in events if isinstance(e, RunForked)] == [("r", "eve")]


async def test_a_cancel_reaching_another_process_names_who(tmp_path: Path) -> None:
    db = str(tmp_path / "p.db")
    worker = Sleeper()
    async with Orchestrator(agents=[worker.agent], store=db, limits=Limits(lease_s=1)) as driving:
        running = asyncio.create_task(driving.run(workflow(), run_id="r", by="ann"))
        await asyncio.wait_for(worker.started.wait(), 10)
        async with Orchestrator(store=db, limits=Limits(lease_s=5)) as other:
            result = await other.cancel_run("r", "stop", by="ops")
        await running
        events = await driving.events("r")
    assert result.status == "cancelled"
    [cancelled] = [e for e in events if isinstance(e, RunCancelled)]
    assert (cancelled.reason, cancelled.by) == ("stop (by ops)", "ops")


def test_a_cancel_request_carries_who_and_reads_older_ones() -> None:
    assert read_cancel_request(cancel_request("stop (by ops)", "ops")) == ("stop (by ops)", "ops")
    assert read_cancel_request(cancel_request('{"by": "x"}', "")) == ('{"by": "x"}', "")
    assert read_cancel_request("stop (by ops)") == ("stop (by ops)", "")  # an older Podium's
    assert read_cancel_request('{"reason": 3}') == ('{"reason": 3}', "")


def test_events_written_before_attribution_still_fold() -> None:
    lines = [
        '{"kind":"RunSubmitted","run_id":"old","seq":0,"ts":1.0,"workflow":{"name":"wf"}}',
        '{"kind":"RunForked","run_id":"old","seq":1,"ts":1.1,"parent":"p","task":"t"}',
        '{"kind":"RunWaiting","run_id":"old","seq":2,"ts":1.2,"tasks":["t"]}',
        '{"kind":"RunResumed","run_id":"old","seq":3,"ts":1.3}',
        '{"kind":"RunCancelled","run_id":"old","seq":4,"ts":1.4,"reason":"stop"}',
    ]
    events = decode_many("[" + ",".join(lines) + "]")
    state = RunState.from_events("old", events)
    assert state.status == "cancelled"
    assert state.forked_from is not None
    assert state.forked_from.by == ""
    assert [getattr(e, "by", None) for e in events] == ["", "", None, "", ""]
