"""Irreversible tool calls wait for approval of the exact call; effects land once."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from typing import Any

import pytest

from podium import Agent, Orchestrator, Plan, Task, ToolContext, Workflow, tool
from podium.events import AnyEvent, ApprovalRequested, ToolCalled
from podium.exceptions import ModelError
from podium.models import ModelRequest, ModelResponse, ToolCall, ToolResultMessage
from podium.testing import FunctionModel
from podium.tools import action_hash

pytestmark = pytest.mark.anyio

Calls = Sequence[tuple[str, dict[str, Any]]]


def scripted_calls(plan: Callable[[int], Calls]) -> FunctionModel:
    """A model that, in attempt ``n`` (counted by first requests), makes the calls of
    ``plan(n)`` in one round, then answers with the tool results."""
    attempts = itertools.count(1)
    ids = itertools.count(1)
    current = [0]

    def answer(request: ModelRequest) -> ModelResponse | str:
        results = [m for m in request.messages if isinstance(m, ToolResultMessage)]
        if not results:
            current[0] = next(attempts)
            calls = tuple(
                ToolCall(id=f"call_{next(ids)}", name=name, arguments=args)
                for name, args in plan(current[0])
            )
            return ModelResponse(tool_calls=calls)
        return " | ".join(m.content for m in results)

    return FunctionModel(answer)


class Bank:
    """An irreversible `transfer` tool and a `log` write tool that count what really happened."""

    def __init__(self) -> None:
        self.transfers: list[tuple[str, int, str]] = []
        self.logs: list[str] = []
        self.keys: list[str] = []

        @tool(effect="irreversible")
        def transfer(to: str, amount: int, ctx: ToolContext) -> str:
            """Move money."""
            self.transfers.append((to, amount, ctx.idempotency_key))
            return f"sent {amount} to {to}"

        @tool(effect="write")
        def log(line: str, ctx: ToolContext) -> str:
            """Append to the log."""
            self.keys.append(ctx.idempotency_key)
            self.logs.append(line)
            return "logged"

        self.transfer = transfer
        self.log = log


def workflow(model: FunctionModel, bank: Bank) -> Workflow:
    agent = Agent(name="clerk", model=model, tools=(bank.transfer, bank.log))
    return Workflow(name="pay", plan=Plan([Task(id="pay", agent="clerk")]), agents=(agent,))


def tool_events(events: list[AnyEvent]) -> list[ToolCalled]:
    return [e for e in events if isinstance(e, ToolCalled)]


async def test_the_call_happens_only_after_its_approval() -> None:
    bank = Bank()
    args = {"to": "ann", "amount": 5}
    wf = workflow(scripted_calls(lambda n: [("transfer", args)]), bank)
    async with Orchestrator(store="memory://") as orch:
        parked = await orch.run(wf)
        assert parked.status == "waiting"
        assert bank.transfers == []
        [pending] = await orch.approvals()
        assert (pending.action, pending.tool, pending.arguments) == ("tool", "transfer", args)
        assert pending.action_hash == action_hash("transfer", args)
        assert pending.reason == "tool 'transfer' is irreversible"
        assert "call transfer(" in pending.describe()
        done = await orch.approve(parked.run_id, by="ann", workflow=wf)
        events = await orch.events(parked.run_id)
    assert done.status == "succeeded"
    assert done.output == "sent 5 to ann"
    assert [t[:2] for t in bank.transfers] == [("ann", 5)]
    [called] = tool_events(events)
    assert called.effect == "irreversible"
    assert called.idempotency_key == bank.transfers[0][2]
    assert not called.replayed


async def test_different_arguments_need_a_new_approval() -> None:
    bank = Bank()
    wf = workflow(scripted_calls(lambda n: [("transfer", {"to": "bob", "amount": n})]), bank)
    async with Orchestrator(store="memory://") as orch:
        parked = await orch.run(wf)
        first = (await orch.approvals())[0]
        again = await orch.approve(parked.run_id, by="ann", workflow=wf)
        assert again.status == "waiting"  # the re-run asked for amount=2, not the approved 1
        assert bank.transfers == []
        second = (await orch.approvals())[0]
        assert second.arguments == {"to": "bob", "amount": 2}
        assert second.action_hash != first.action_hash
        events = await orch.events(parked.run_id)
    assert sum(isinstance(e, ApprovalRequested) for e in events) == 2


async def test_calls_approved_one_by_one_each_land_once() -> None:
    bank = Bank()
    calls = [("transfer", {"to": "a", "amount": 1}), ("transfer", {"to": "b", "amount": 2})]
    wf = workflow(scripted_calls(lambda n: calls), bank)
    async with Orchestrator(store="memory://") as orch:
        parked = await orch.run(wf)
        first = await orch.approve(parked.run_id, by="x", workflow=wf)
        assert first.status == "waiting"  # the first transfer went through, the second waits
        assert [t[:2] for t in bank.transfers] == [("a", 1)]
        [pending] = await orch.approvals()
        assert pending.arguments == {"to": "b", "amount": 2}
        done = await orch.approve(parked.run_id, by="x", workflow=wf)
        events = await orch.events(parked.run_id)
    assert done.status == "succeeded"
    assert [t[:2] for t in bank.transfers] == [("a", 1), ("b", 2)]  # "a" was not sent twice
    called = tool_events(events)
    assert [(e.arguments["to"], e.replayed) for e in called] == [
        ("a", False),
        ("a", True),
        ("b", False),
    ]
    assert called[0].idempotency_key == called[1].idempotency_key


async def test_a_retried_attempt_keeps_the_idempotency_keys_of_its_effects() -> None:
    """The model's call ids differ between attempts; the keys do not."""
    bank = Bank()
    flaky = {"fail": True}
    ids = itertools.count(1)

    @tool(effect="write")
    def charge(amount: int, ctx: ToolContext) -> str:
        """Charge once per key."""
        bank.keys.append(ctx.idempotency_key)
        if flaky["fail"]:
            flaky["fail"] = False
            raise RuntimeError("the payment service timed out")
        return "charged"

    def answer(request: ModelRequest) -> ModelResponse | str:
        results = [m for m in request.messages if isinstance(m, ToolResultMessage)]
        if not results:
            call = ToolCall(id=f"call_{next(ids)}", name="charge", arguments={"amount": 3})
            return ModelResponse(tool_calls=(call,))
        if results[-1].is_error:
            raise ModelError("giving up on this attempt")
        return "ok"

    agent = Agent(name="clerk", model=FunctionModel(answer), tools=(charge,))
    wf = Workflow(name="c", plan=Plan([Task(id="c", agent="clerk", retries=1)]), agents=(agent,))
    async with Orchestrator(store="memory://") as orch:
        result = await orch.run(wf)
        events = await orch.events(result.run_id)
    assert result.status == "succeeded"
    called = tool_events(events)
    assert [e.call_id for e in called] == ["call_1", "call_2"]
    assert len(set(bank.keys)) == 1
    assert called[0].idempotency_key == called[1].idempotency_key == bank.keys[0]
    assert bank.keys[0].startswith(f"{result.run_id}/c/1:")


async def test_a_completed_write_is_replayed_not_repeated_when_the_task_runs_again() -> None:
    bank = Bank()
    plan: Callable[[int], Calls] = lambda n: [  # noqa: E731
        ("log", {"line": "before"}),
        ("transfer", {"to": "z", "amount": 9}),
    ]
    wf = workflow(scripted_calls(plan), bank)
    async with Orchestrator(store="memory://") as orch:
        parked = await orch.run(wf)
        assert bank.logs == ["before"]  # a write needs no approval: it happened
        await orch.approve(parked.run_id, by="x", workflow=wf)
    assert bank.logs == ["before"]  # the re-run got the recorded result
    assert [t[:2] for t in bank.transfers] == [("z", 9)]


async def test_a_rejected_call_fails_the_task() -> None:
    bank = Bank()
    wf = workflow(scripted_calls(lambda n: [("transfer", {"to": "m", "amount": 1})]), bank)
    async with Orchestrator(store="memory://") as orch:
        parked = await orch.run(wf)
        failed = await orch.reject(parked.run_id, by="ops", comment="wrong account", workflow=wf)
    assert failed.status == "failed"
    error = failed.tasks["pay"]["error"]
    assert error["type"] == "approval_rejected"
    assert "ops rejected call transfer(" in error["message"]
    assert "wrong account" in error["message"]
    assert bank.transfers == []
