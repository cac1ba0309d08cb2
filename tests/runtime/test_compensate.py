"""Compensations (saga): what a failed or cancelled run did is undone, latest first, once."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from podium import (
    Agent,
    ConfigError,
    Orchestrator,
    Plan,
    PlanValidationError,
    Task,
    TaskCall,
    Workflow,
    tool,
)
from podium.events import TaskCompensated
from podium.plan import Compensation
from podium.runtime._compensate import compensate, rollback_status, undo_key
from podium.store import open_store
from podium.tools._tool import ToolContext
from tests.helpers import ProcessDeath

pytestmark = pytest.mark.anyio


class World:
    """The outside world the tasks change: what was done, what was undone (by key)."""

    def __init__(self) -> None:
        self.done: list[str] = []
        self.undo_calls: list[tuple[str, str]] = []
        self.undone: dict[str, str] = {}  # idempotency key → task: an undo lands once per key
        self.fail_undo: set[str] = set()
        self.death: ProcessDeath | None = None
        self.die_in_undo: set[str] = set()

    def agent(self, fail: set[str]) -> Agent:
        async def work(call: TaskCall) -> str:
            if call.task_id in fail:
                raise ValueError(f"{call.task_id} cannot be done")
            self.done.append(call.task_id)
            return f"booking-{call.task_id}"

        async def undo(booking: str, ctx: ToolContext) -> str:
            """Cancel a booking."""
            self.undo_calls.append((booking, ctx.idempotency_key))
            if booking in self.fail_undo:
                raise RuntimeError(f"{booking} cannot be cancelled")
            self.undone.setdefault(ctx.idempotency_key, booking)
            if booking in self.die_in_undo:  # the effect landed; the process dies before the
                self.die_in_undo.discard(booking)  # undo is recorded as done
                assert self.death is not None
                self.death.now()
            return f"cancelled {booking}"

        return Agent(name="w", function=work, tools=(tool(undo, effect="write"),))


def undoable(tid: str, needs: tuple[str, ...] = ()) -> Task:
    comp = Compensation(tool="undo", arguments={"booking": f"{{{{ tasks.{tid}.output }}}}"})
    return Task(id=tid, agent="w", needs=needs, compensate=comp)


def chain(n: int, *, last_fails: bool = True) -> Workflow:
    ids = [f"s{i}" for i in range(1, n + 1)]
    tasks = [undoable(t, tuple(ids[i - 1 : i])) for i, t in enumerate(ids)]
    if last_fails:
        tasks.append(Task(id="boom", agent="w", needs=(ids[-1],)))
    return Workflow(name="saga", plan=Plan(tasks))


def undo_events(events: list[Any]) -> list[tuple[str, str]]:
    return [(e.task, e.phase) for e in events if isinstance(e, TaskCompensated)]


async def test_a_failed_step_undoes_the_one_before_it_once() -> None:
    world = World()
    async with Orchestrator(agents=[world.agent({"boom"})], store="memory://") as orch:
        result = await orch.run(chain(1), run_id="r")
        events = await orch.events("r")
        state = await orch.state("r")
    assert result.status == "failed"
    assert world.undo_calls == [("booking-s1", undo_key("r", "s1"))]
    assert undo_events(events) == [("s1", "started"), ("s1", "succeeded")]
    last = events[-1]
    assert isinstance(last, TaskCompensated)
    assert last.result == "cancelled booking-s1"
    assert rollback_status(state) == "complete"
    assert "rollback incomplete" not in result.message


async def test_undos_run_latest_first() -> None:
    world = World()
    async with Orchestrator(agents=[world.agent({"boom"})], store="memory://") as orch:
        await orch.run(chain(3), run_id="r")
    assert [b for b, _ in world.undo_calls] == ["booking-s3", "booking-s2", "booking-s1"]
    assert world.done == ["s1", "s2", "s3"]


async def test_a_run_that_succeeds_undoes_nothing_unless_asked() -> None:
    world = World()
    async with Orchestrator(agents=[world.agent(set())], store="memory://") as orch:
        result = await orch.run(chain(2, last_fails=False), run_id="r")
        assert result.status == "succeeded"
        assert world.undo_calls == []
        state = await compensate(orch, "r", by="ops", retry_failed=True)
        again = await compensate(orch, "r", by="ops", retry_failed=True)
    assert [b for b, _ in world.undo_calls] == ["booking-s2", "booking-s1"]
    assert rollback_status(state) == rollback_status(again) == "complete"
    assert {c.by for c in state.compensations.values()} == {"ops"}


async def test_a_failing_undo_is_journaled_the_rest_still_run() -> None:
    world = World()
    world.fail_undo = {"booking-s2"}
    async with Orchestrator(agents=[world.agent({"boom"})], store="memory://") as orch:
        result = await orch.run(chain(3), run_id="r")
        state = await orch.state("r")
        assert [b for b, _ in world.undo_calls] == ["booking-s3", "booking-s2", "booking-s1"]
        assert result.status == "failed"
        assert "rollback incomplete: undoing 's2' failed" in result.message
        assert result.message.startswith("task 'boom' failed")
        failed = state.compensations["s2"]
        assert failed.phase == "failed"
        assert failed.error is not None
        assert "cannot be cancelled" in failed.error.message
        assert rollback_status(state) == "incomplete"
        # resuming does not retry it by itself; a rollback on request does
        await orch.resume("r")
        assert len(world.undo_calls) == 3
        world.fail_undo.clear()
        after = await compensate(orch, "r", retry_failed=True)
    assert world.undo_calls[-1] == ("booking-s2", undo_key("r", "s2"))
    assert len(world.undo_calls) == 4
    assert rollback_status(after) == "complete"
    assert "rollback incomplete" not in after.message
    assert after.message.startswith("task 'boom' failed")


async def test_a_cancelled_run_is_undone() -> None:
    world = World()
    started = asyncio.Event()

    async def sleepy(call: TaskCall) -> None:
        started.set()
        await asyncio.sleep(30)

    wf = Workflow(name="saga", plan=Plan([undoable("s1"), Task(id="z", agent="z", needs=("s1",))]))
    agents = [world.agent(set()), Agent(name="z", function=sleepy)]
    async with Orchestrator(agents=agents, store="memory://") as orch:
        job = asyncio.ensure_future(orch.run(wf, run_id="r"))
        await started.wait()
        assert orch.cancel("r", "user asked")
        result = await job
    assert result.status == "cancelled"
    assert world.undo_calls == [("booking-s1", undo_key("r", "s1"))]


async def test_cancelling_a_parked_run_undoes_it() -> None:
    world = World()
    gate = Task(id="gate", agent="w", needs=("s1",), approval="required")
    wf = Workflow(name="saga", plan=Plan([undoable("s1"), gate]))
    async with Orchestrator(agents=[world.agent(set())], store="memory://") as orch:
        parked = await orch.run(wf, run_id="r")
        assert parked.status == "waiting"
        assert world.undo_calls == []
        result = await orch.cancel_run("r", by="ops")
    assert result.status == "cancelled"
    assert world.undo_calls == [("booking-s1", undo_key("r", "s1"))]


async def test_a_crash_during_an_undo_is_finished_on_resume_landing_once(tmp_path: Path) -> None:
    db = str(tmp_path / "saga.db")
    world = World()
    world.death = ProcessDeath()
    world.die_in_undo = {"booking-s2"}
    wf = chain(3)
    async with Orchestrator(agents=[world.agent({"boom"})], store=open_store(db)) as orch:
        await world.death.run(orch.run(wf, run_id="r"))
        cut = await orch.state("r")
    assert cut.status == "failed"
    assert {t: c.phase for t, c in cut.compensations.items()} == {
        "s3": "succeeded",
        "s2": "started",
    }
    async with Orchestrator(agents=[world.agent({"boom"})], store=open_store(db)) as orch:
        result = await orch.resume("r", workflow=wf)
        events = await orch.events("r")
    assert result.status == "failed"
    keys = [k for _, k in world.undo_calls]
    assert keys == [undo_key("r", t) for t in ("s3", "s2", "s2", "s1")]  # s2 ran again ...
    assert sorted(world.undone.values()) == ["booking-s1", "booking-s2", "booking-s3"]  # once
    phases = {t: [p for x, p in undo_events(events) if x == t] for t in ("s1", "s2", "s3")}
    assert phases == {
        "s3": ["started", "succeeded"],
        "s2": ["started", "started", "succeeded"],
        "s1": ["started", "succeeded"],
    }


async def test_an_agent_undoes_a_task() -> None:
    world = World()
    asked: list[str] = []

    async def undoer(call: TaskCall) -> str:
        asked.append(call.instruction)
        return "refunded"

    comp = Compensation(agent="undoer", instruction="refund {{ tasks.s1.output }}")
    plan = Plan(
        [
            Task(id="s1", agent="w", compensate=comp),
            Task(id="boom", agent="w", needs=("s1",)),
        ]
    )
    agents = [world.agent({"boom"}), Agent(name="undoer", function=undoer)]
    async with Orchestrator(agents=agents, store="memory://") as orch:
        await orch.run(Workflow(name="saga", plan=plan), run_id="r")
        state = await orch.state("r")
    assert asked == ["refund booking-s1"]
    assert state.compensations["s1"].phase == "succeeded"
    assert state.compensations["s1"].result == "refunded"


async def test_an_undo_the_run_cannot_make_is_refused_before_it_starts() -> None:
    world = World()
    bad_tool = Task(id="s0", agent="w", compensate=Compensation(tool="nope"))
    bad_agent = Task(id="s1", agent="w", compensate=Compensation(agent="ghost", instruction="x"))
    plan = Plan([bad_tool, bad_agent])
    async with Orchestrator(agents=[world.agent(set())], store="memory://") as orch:
        with pytest.raises(PlanValidationError) as info:
            await orch.run(Workflow(name="saga", plan=plan), run_id="r")
    assert [p.where for p in info.value.problems] == ["task 's0'", "task 's1'"]
    assert "undo tool 'nope' is not a tool of any agent" in str(info.value)
    assert "undo agent 'ghost' is unknown" in str(info.value)
    assert world.done == []


async def test_rollback_of_an_unfinished_run_is_refused() -> None:
    world = World()
    gate = Task(id="gate", agent="w", needs=("s1",), approval="required")
    async with Orchestrator(agents=[world.agent(set())], store="memory://") as orch:
        await orch.run(Workflow(name="saga", plan=Plan([undoable("s1"), gate])), run_id="r")
        with pytest.raises(ConfigError, match="not finished"):
            await compensate(orch, "r")
    assert world.undo_calls == []
