"""`approval: required` and risky tasks: the run parks, holds nothing, and resumes on a decision."""

from __future__ import annotations

from pathlib import Path

import pytest

from podium import Agent, Orchestrator, Plan, Task, Workflow
from podium.events import (
    ApprovalGranted,
    ApprovalRejected,
    ApprovalRequested,
    RunResumed,
    RunWaiting,
)
from podium.exceptions import ApprovalDenied, ConfigError, RunError, RunNotFound
from podium.policy import Policy
from podium.store import MemoryStore
from podium.tools import task_hash
from tests.approvals.conftest import Clock, Worker, kinds

pytestmark = pytest.mark.anyio


def chain(**gate: object) -> Workflow:
    plan = Plan(
        [
            Task(id="a", agent="w", instruction="first"),
            Task(id="b", agent="w", instruction="pay {{ inputs.who }}", needs=("a",), **gate),  # type: ignore[arg-type]
            Task(id="c", agent="w", needs=("b",)),
        ],
        output="{{ tasks.c.output }}",
    )
    return Workflow(name="chain", plan=plan)


async def test_a_required_approval_parks_the_run_and_approving_resumes_it(
    worker: Worker,
) -> None:
    wf = chain(approval="required")
    async with Orchestrator(agents=[worker.agent], store="memory://") as orch:
        parked = await orch.run(wf, inputs={"who": "ann"})
        assert parked.status == "waiting"
        assert parked.reason == "approval"
        assert "run task 'b'" in parked.message
        assert parked.tasks["b"]["status"] == "waiting"
        assert parked.tasks["c"]["status"] == "pending"
        assert dict(worker.calls) == {"a": 1}  # b did not run
        assert orch.controls == {}  # nothing held while parked
        info = await orch.store.get_run(parked.run_id)
        assert info is not None
        assert info.status == "waiting"

        [pending] = await orch.approvals()
        assert (pending.run_id, pending.task, pending.action) == (parked.run_id, "b", "task")
        assert pending.instruction == "pay ann"
        assert pending.action_hash == task_hash("b", "pay ann")
        assert pending.reason == "the task requires approval"

        done = await orch.approve(parked.run_id, by="alice", comment="ok", workflow=wf)
        assert done.status == "succeeded"
        assert done.output == "done c"
        assert dict(worker.calls) == {"a": 1, "b": 1, "c": 1}
        assert await orch.approvals() == []
        events = await orch.events(parked.run_id)
    granted = [e for e in events if isinstance(e, ApprovalGranted)]
    assert [(e.task, e.by, e.comment, e.action_hash) for e in granted] == [
        ("b", "alice", "ok", pending.action_hash)
    ]
    assert kinds(events, "b") == [
        "ApprovalRequested",
        "ApprovalGranted",
        "TaskReady",
        "TaskStarted",
        "TaskSucceeded",
    ]
    assert kinds(events)[-1] == "RunSucceeded"
    assert "RunResumed" in kinds(events)


async def test_a_high_risk_task_waits_unless_the_policy_says_otherwise(worker: Worker) -> None:
    wf = chain(risk="high")
    async with Orchestrator(agents=[worker.agent], store="memory://") as orch:
        assert (await orch.run(wf, inputs={"who": "x"})).status == "waiting"
    relaxed = Policy(approve_risks=())
    async with Orchestrator(agents=[worker.agent], store="memory://", policy=relaxed) as orch:
        assert (await orch.run(wf, inputs={"who": "x"})).status == "succeeded"


async def test_independent_work_goes_on_while_a_task_waits(worker: Worker) -> None:
    plan = Plan(
        [
            Task(id="gate", agent="w", approval="required"),
            Task(id="after", agent="w", needs=("gate",)),
            Task(id="x", agent="w"),
            Task(id="y", agent="w", needs=("x",)),
        ]
    )
    async with Orchestrator(agents=[worker.agent], store="memory://") as orch:
        parked = await orch.run(plan)
        assert parked.status == "waiting"
        assert dict(worker.calls) == {"x": 1, "y": 1}
        events = await orch.events(parked.run_id)
        waiting = events[-1]
        assert isinstance(waiting, RunWaiting)
        assert waiting.tasks == ["gate"]
        done = await orch.approve(
            parked.run_id, "gate", by="bob", workflow=Workflow(name="p", plan=plan)
        )
        assert done.status == "succeeded"
        assert dict(worker.calls) == {"x": 1, "y": 1, "gate": 1, "after": 1}


async def test_rejecting_fails_the_task_without_retrying_it(worker: Worker) -> None:
    plan = Plan(
        [
            Task(id="a", agent="w"),
            Task(id="b", agent="w", needs=("a",), approval="required", retries=3),
            Task(id="c", agent="w", needs=("b",)),
        ]
    )
    wf = Workflow(name="p", plan=plan)
    async with Orchestrator(agents=[worker.agent], store="memory://") as orch:
        parked = await orch.run(wf)
        failed = await orch.reject(parked.run_id, by="carol", comment="too risky", workflow=wf)
        events = await orch.events(parked.run_id)
    assert failed.status == "failed"
    assert failed.tasks["b"]["status"] == "failed"
    error = failed.tasks["b"]["error"]
    assert error["type"] == "approval_rejected"
    assert "carol rejected run task 'b': too risky" in error["message"]
    assert not error.get("retryable", False)
    assert failed.tasks["c"]["status"] == "skipped"
    assert "b" not in worker.calls
    rejected = [e for e in events if isinstance(e, ApprovalRejected)]
    assert [(e.by, e.comment, e.reason) for e in rejected] == [("carol", "too risky", "rejected")]
    assert "TaskRetrying" not in kinds(events)


async def test_rejecting_an_optional_task_degrades_gracefully(worker: Worker) -> None:
    plan = Plan(
        [
            Task(id="extra", agent="w", approval="required", optional=True),
            Task(id="main", agent="w"),
        ],
        output="{{ tasks.main.output }}",
    )
    wf = Workflow(name="p", plan=plan)
    async with Orchestrator(agents=[worker.agent], store="memory://") as orch:
        parked = await orch.run(wf)
        assert parked.status == "waiting"
        result = await orch.reject(parked.run_id, by="dan", workflow=wf)
    assert result.status == "partially_succeeded"
    assert result.missing == ["extra"]
    assert result.output == "done main"


async def test_mapped_sub_tasks_each_wait_for_their_own_approval(worker: Worker) -> None:
    async def items(call: object) -> list[str]:
        return ["x", "y"]

    plan = Plan(
        [
            Task(id="list", agent="items"),
            Task(
                id="each", agent="w", needs=("list",), map="tasks.list.output", approval="required"
            ),
        ],
        output="{{ tasks.each.output }}",
    )
    wf = Workflow(name="p", plan=plan)
    async with Orchestrator(
        agents=[worker.agent, Agent(name="items", function=items)], store="memory://"
    ) as orch:
        parked = await orch.run(wf)
        pending = await orch.approvals()
        assert sorted(a.task for a in pending) == ["each[0]", "each[1]"]
        assert len({a.action_hash for a in pending}) == 2
        with pytest.raises(ConfigError, match="name the task"):
            await orch.approve(parked.run_id, by="eve", workflow=wf)
        half = await orch.approve(parked.run_id, "each[1]", by="eve", workflow=wf)
        assert half.status == "waiting"
        assert dict(worker.calls) == {"each[1]": 1}
        done = await orch.approve(parked.run_id, "each[0]", by="eve", workflow=wf)
    assert done.status == "succeeded"
    assert done.output == ["done each[0]", "done each[1]"]


async def test_resuming_without_a_decision_parks_again(worker: Worker) -> None:
    wf = chain(approval="required")
    async with Orchestrator(agents=[worker.agent], store="memory://") as orch:
        parked = await orch.run(wf, inputs={"who": "x"})
        again = await orch.resume(parked.run_id, workflow=wf)
        assert again.status == "waiting"
        events = await orch.events(parked.run_id)
        assert kinds(events)[-2:] == ["RunResumed", "RunWaiting"]
        assert sum(isinstance(e, ApprovalRequested) for e in events) == 1
        assert len(await orch.approvals()) == 1


async def test_expired_requests_are_rejected_when_listed(worker: Worker, clock: Clock) -> None:
    wf = chain(approval="required")
    policy = Policy(approval_ttl_s=60)
    store = MemoryStore()
    async with Orchestrator(agents=[worker.agent], store=store, policy=policy, clock=clock) as orch:
        parked = await orch.run(wf, inputs={"who": "x"})
        [pending] = await orch.approvals()
        assert pending.expires_at == pytest.approx(pending.requested_at + 60)
        clock.now += 61
        assert await orch.approvals() == []
        events = await orch.events(parked.run_id)
        expired = events[-1]
        assert isinstance(expired, ApprovalRejected)
        assert (expired.by, expired.reason) == ("podium", "expired")
        result = await orch.resume(parked.run_id, workflow=wf)
    assert result.status == "failed"
    assert result.tasks["b"]["error"]["type"] == "approval_expired"
    assert "b" not in worker.calls


async def test_expired_requests_are_rejected_on_resume(worker: Worker, clock: Clock) -> None:
    wf = chain(approval="required")
    policy = Policy(approval_ttl_s=60)
    async with Orchestrator(
        agents=[worker.agent], store="memory://", policy=policy, clock=clock
    ) as orch:
        parked = await orch.run(wf, inputs={"who": "x"})
        clock.now += 3600
        result = await orch.resume(parked.run_id, workflow=wf)
    assert result.status == "failed"
    assert result.tasks["b"]["error"]["type"] == "approval_expired"


async def test_approving_too_late_records_the_expiry(worker: Worker, clock: Clock) -> None:
    wf = chain(approval="required")
    policy = Policy(approval_ttl_s=60)
    async with Orchestrator(
        agents=[worker.agent], store="memory://", policy=policy, clock=clock
    ) as orch:
        parked = await orch.run(wf, inputs={"who": "x"})
        clock.now += 61
        with pytest.raises(ApprovalDenied, match="expired") as caught:
            await orch.approve(parked.run_id, by="fay", workflow=wf)
        assert caught.value.kind == "approval_expired"
        events = await orch.events(parked.run_id)
        assert not any(isinstance(e, ApprovalGranted) for e in events)
        result = await orch.resume(parked.run_id, workflow=wf)
    assert result.tasks["b"]["error"]["type"] == "approval_expired"


async def test_deciding_needs_a_parked_run_and_a_pending_approval(worker: Worker) -> None:
    wf = chain(approval="required")
    async with Orchestrator(agents=[worker.agent], store="memory://") as orch:
        with pytest.raises(RunNotFound):
            await orch.approve("nope", by="x")
        parked = await orch.run(wf, inputs={"who": "x"})
        with pytest.raises(ConfigError, match="must not be empty"):
            await orch.approve(parked.run_id, by=" ")
        with pytest.raises(ConfigError, match="by: the text has an unpaired surrogate"):
            await orch.approve(parked.run_id, by="\udcff")
        with pytest.raises(ConfigError, match="no pending approval for task 'c'"):
            await orch.approve(parked.run_id, "c", by="x")
        await orch.approve(parked.run_id, by="x", workflow=wf)
        with pytest.raises(ConfigError, match="has succeeded"):
            await orch.approve(parked.run_id, by="x")


async def test_a_run_that_is_not_parked_cannot_be_decided(worker: Worker) -> None:
    wf = chain(approval="required")
    store = MemoryStore()
    async with Orchestrator(agents=[worker.agent], store=store) as orch:
        parked = await orch.run(wf, inputs={"who": "x"})
        # As if a resume had started and its process died before parking the run again.
        events = await store.load(parked.run_id)
        await store.append(
            parked.run_id, [RunResumed(run_id=parked.run_id, seq=events[-1].seq + 1, ts=1.0)]
        )
        with pytest.raises(RunError, match="not waiting"):
            await orch.approve(parked.run_id, by="x")
        assert await orch.approvals() == []  # only parked runs are listed
        again = await orch.resume(parked.run_id, workflow=wf)
        assert again.status == "waiting"
        assert len(await orch.approvals()) == 1


async def test_decisions_do_not_resume_when_asked_not_to(worker: Worker) -> None:
    wf = chain(approval="required")
    async with Orchestrator(agents=[worker.agent], store="memory://") as orch:
        parked = await orch.run(wf, inputs={"who": "x"})
        noted = await orch.approve(parked.run_id, by="x", resume=False)
        assert noted.status == "waiting"
        assert "b" not in worker.calls
        assert await orch.approvals() == []
        done = await orch.resume(parked.run_id, workflow=wf)
    assert done.status == "succeeded"


async def test_approvals_outlive_the_process_in_sqlite(tmp_path: Path, worker: Worker) -> None:
    url = f"sqlite:///{tmp_path / 'runs.db'}"
    wf = chain(approval="required")
    async with Orchestrator(agents=[worker.agent], store=url) as orch:
        parked = await orch.run(wf, inputs={"who": "x"})
    async with Orchestrator(agents=[worker.agent], store=url) as later:
        [pending] = await later.approvals()
        assert pending.run_id == parked.run_id
        done = await later.approve(parked.run_id, by="gil", workflow=wf)
    assert done.status == "succeeded"
