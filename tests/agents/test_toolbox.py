"""Python agents call their tools through `TaskCall.tools`: the same interceptors, approvals and
journal as a model's tool calls."""

from __future__ import annotations

import pytest

from podium import Agent, Orchestrator, Plan, Task, TaskCall, Workflow
from podium.agents import ToolBox
from podium.events import ApprovalRequested, ToolCalled
from podium.exceptions import ToolError
from podium.tools import tool

pytestmark = pytest.mark.anyio

SENT: list[str] = []


@tool
def lookup(order_id: int) -> dict[str, object]:
    """An order by id."""
    return {"id": order_id, "status": "shipped"}


@tool(effect="irreversible")
def send(to: str) -> str:
    """Send a note."""
    SENT.append(to)
    return f"sent to {to}"


async def checks(call: TaskCall) -> object:
    order = await call.tools.call("lookup", order_id=7)
    with pytest.raises(ToolError, match="unknown tool 'nope'"):
        await call.tools.call("nope")
    with pytest.raises(ToolError, match="order_id"):
        await call.tools.call("lookup", order_id="seven")
    with pytest.raises(ToolError, match="would wait on itself"):
        call.tools.call_sync("lookup", order_id=1)
    return order


def plain(call: TaskCall) -> object:
    return call.tools.call_sync("lookup", order_id=8)


def mailer(call: TaskCall) -> object:
    first = call.tools.call_sync("send", to="ann")
    again = call.tools.call_sync("send", to="ann")  # the same action: its recorded result
    return [first, again]


async def test_an_async_agent_calls_its_tools_and_each_call_is_journaled() -> None:
    agent = Agent(name="a", function=checks, tools=(lookup,))
    async with Orchestrator(agents=[agent], store="memory://") as orch:
        result = await orch.run(Plan([Task(id="t", agent="a")]), run_id="r")
        events = await orch.events("r")
    assert result.status == "succeeded", result.tasks
    assert result.output == {"id": 7, "status": "shipped"}
    calls = [e for e in events if isinstance(e, ToolCalled)]
    assert [(c.tool, c.error is None) for c in calls] == [
        ("lookup", True),
        ("nope", False),
        ("lookup", False),
    ]
    assert calls[0].result == {"id": 7, "status": "shipped"}
    assert calls[0].call_id == "py-1"


async def test_a_plain_agent_calls_from_its_worker_thread() -> None:
    agent = Agent(name="p", function=plain, tools=(lookup,))
    async with Orchestrator(agents=[agent], store="memory://") as orch:
        result = await orch.run(Plan([Task(id="t", agent="p")]))
    assert result.output == {"id": 8, "status": "shipped"}


async def test_an_irreversible_call_parks_for_approval_and_runs_once_after() -> None:
    SENT.clear()
    agent = Agent(name="m", function=mailer, tools=(send,))
    flow = Workflow(name="mail", plan=Plan([Task(id="t", agent="m")]))
    async with Orchestrator(agents=[agent], store="memory://") as orch:
        parked = await orch.run(flow, run_id="r")
        assert parked.status == "waiting"
        assert SENT == []
        [asked] = [e for e in await orch.events("r") if isinstance(e, ApprovalRequested)]
        assert (asked.tool, asked.arguments) == ("send", {"to": "ann"})
        done = await orch.approve("r", by="lead", workflow=flow)
    assert done.status == "succeeded", done.tasks
    assert SENT == ["ann"]  # one approval, one execution
    assert done.output == ["sent to ann", "sent to ann"]


async def test_outside_a_run_a_call_has_no_tools() -> None:
    box = ToolBox((), run_id="r", task_id="t", agent="a")
    with pytest.raises(ToolError, match="unknown tool 'x'"):
        await box.call("x")
    with pytest.raises(ToolError, match="unknown tool 'x'"):
        box.call_sync("x")
