"""Undos of tool calls: a side-effecting tool says how to undo each call (`Undo`); when the run
fails or is cancelled, every call that took effect is undone, latest first, once, even the calls
of a task that failed."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from podium import Agent, ConfigError, Orchestrator, Plan, PlanValidationError, Task, TaskCall
from podium import Workflow as WorkflowType
from podium.events import TaskCompensated, ToolCalled
from podium.plan import Compensation, load_workflow_text
from podium.runtime._compensate import compensate, rollback_status
from podium.store import open_store
from podium.tools import Tool, ToolContext, Undo
from tests.helpers import ProcessDeath

pytestmark = pytest.mark.anyio


class Hotel:
    """Rooms booked and cancelled; a cancellation lands once per idempotency key."""

    def __init__(self) -> None:
        self.booked: list[str] = []
        self.cancel_calls: list[tuple[str, str]] = []
        self.cancelled: dict[str, str] = {}
        self.death: ProcessDeath | None = None
        self.die_cancelling: set[str] = set()

    def tools(self, undo: Undo | None = None) -> tuple[Tool, ...]:
        def book(guest: str) -> dict[str, str]:
            """Book a room."""
            booking = f"B{len(self.booked) + 1}-{guest}"
            self.booked.append(booking)
            return {"id": booking, "guest": guest}

        def cancel(booking: str, ctx: ToolContext) -> str:
            """Cancel a booking."""
            self.cancel_calls.append((booking, ctx.idempotency_key))
            self.cancelled.setdefault(ctx.idempotency_key, booking)
            if booking in self.die_cancelling:
                self.die_cancelling.discard(booking)
                assert self.death is not None
                self.death.now()
            return f"cancelled {booking}"

        if undo is None:
            undo = Undo(tool="cancel", arguments=lambda args, result: {"booking": result["id"]})
        return (
            Tool.from_function(book, effect="write", compensate=undo),
            Tool.from_function(cancel, effect="write"),
        )

    def agent(
        self, *, fail_after_booking: set[str] = frozenset(), undo: Undo | None = None
    ) -> Agent:  # type: ignore[assignment]
        async def work(call: TaskCall) -> str:
            if call.task_id == "boom":
                raise ValueError("the last step cannot be done")
            for guest in call.instruction.splitlines()[0].split():  # a retry adds lines
                await call.tools.call("book", guest=guest)
            if call.task_id in fail_after_booking and call.attempt == 1:
                raise ValueError(f"{call.task_id} failed after booking")
            return call.instruction

        return Agent(name="w", function=work, tools=self.tools(undo))


def saga(*tasks: Task) -> WorkflowType:
    return WorkflowType(
        name="trip", plan=Plan([*tasks, Task(id="boom", agent="w", needs=(tasks[-1].id,))])
    )


def undos(events: list[Any]) -> list[tuple[str, str, str]]:
    return [(e.task, e.call, e.phase) for e in events if isinstance(e, TaskCompensated)]


async def test_every_call_that_took_effect_is_undone_latest_first() -> None:
    hotel = Hotel()
    wf = saga(
        Task(id="a", agent="w", instruction="ann bob"),
        Task(id="b", agent="w", instruction="cy", needs=("a",)),
    )
    async with Orchestrator(agents=[hotel.agent()], store="memory://") as orch:
        result = await orch.run(wf, run_id="r")
        events = await orch.events("r")
        state = await orch.state("r")
    assert result.status == "failed"
    assert hotel.booked == ["B1-ann", "B2-bob", "B3-cy"]
    assert [b for b, _ in hotel.cancel_calls] == ["B3-cy", "B2-bob", "B1-ann"]
    assert len({k for _, k in hotel.cancel_calls}) == 3  # one key per undone call
    assert undos(events) == [
        ("b", "b/book#1", "started"),
        ("b", "b/book#1", "succeeded"),
        ("a", "a/book#2", "started"),
        ("a", "a/book#2", "succeeded"),
        ("a", "a/book#1", "started"),
        ("a", "a/book#1", "succeeded"),
    ]
    calls = [e for e in events if isinstance(e, ToolCalled) and e.tool == "book"]
    assert calls[0].undo == {"tool": "cancel", "arguments": {"booking": "B1-ann"}}
    assert rollback_status(state) == "complete"


async def test_a_failed_tasks_calls_are_undone_and_a_replayed_call_only_once() -> None:
    hotel = Hotel()
    # attempt 1 books then fails; attempt 2 books the same guest (replayed: it took effect once)
    flaky = Task(id="a", agent="w", instruction="ann", retries=1)
    wf = saga(flaky)
    async with Orchestrator(
        agents=[hotel.agent(fail_after_booking={"a"})], store="memory://"
    ) as orch:
        await orch.run(wf, run_id="r")
        events = await orch.events("r")
    book_calls = [e for e in events if isinstance(e, ToolCalled) and e.tool == "book"]
    assert [c.replayed for c in book_calls] == [False, True]
    assert hotel.booked == ["B1-ann"]
    assert [b for b, _ in hotel.cancel_calls] == ["B1-ann"]


async def test_a_task_that_fails_for_good_still_has_its_calls_undone() -> None:
    hotel = Hotel()
    wf = WorkflowType(name="trip", plan=Plan([Task(id="a", agent="w", instruction="ann")]))
    async with Orchestrator(
        agents=[hotel.agent(fail_after_booking={"a"})], store="memory://"
    ) as orch:
        result = await orch.run(wf, run_id="r")
    assert result.status == "failed"
    assert [b for b, _ in hotel.cancel_calls] == ["B1-ann"]


async def test_a_tasks_own_compensate_replaces_the_undos_of_its_calls() -> None:
    hotel = Hotel()
    whole = Compensation(tool="cancel", arguments={"booking": "all of {{ tasks.a.output }}"})
    wf = saga(Task(id="a", agent="w", instruction="ann bob", compensate=whole))
    async with Orchestrator(agents=[hotel.agent()], store="memory://") as orch:
        await orch.run(wf, run_id="r")
    assert [b for b, _ in hotel.cancel_calls] == ["all of ann bob"]


async def test_an_undo_that_cannot_be_made_fails_visibly_and_the_rest_still_run() -> None:
    hotel = Hotel()
    undo = Undo(tool="cancel", arguments=lambda args, result: {"booking": result["nope"]})
    wf = saga(Task(id="a", agent="w", instruction="ann bob"))
    async with Orchestrator(agents=[hotel.agent(undo=undo)], store="memory://") as orch:
        result = await orch.run(wf, run_id="r")
        state = await orch.state("r")
    assert hotel.cancel_calls == []
    failed = [c for c in state.compensations.values() if c.phase == "failed"]
    assert len(failed) == 2
    assert failed[0].error is not None
    assert "KeyError" in failed[0].error.message
    assert rollback_status(state) == "incomplete"
    assert "rollback incomplete" in result.message


async def test_rollback_on_request_undoes_a_succeeded_runs_calls() -> None:
    hotel = Hotel()
    wf = WorkflowType(name="trip", plan=Plan([Task(id="a", agent="w", instruction="ann")]))
    async with Orchestrator(agents=[hotel.agent()], store="memory://") as orch:
        assert (await orch.run(wf, run_id="r")).status == "succeeded"
        assert hotel.cancel_calls == []
        state = await compensate(orch, "r", workflow=wf, by="ops", retry_failed=True)
    assert [b for b, _ in hotel.cancel_calls] == ["B1-ann"]
    assert [c.by for c in state.compensations.values()] == ["ops"]


async def test_a_crash_while_undoing_a_call_is_finished_on_resume_landing_once(
    tmp_path: Path,
) -> None:
    db = str(tmp_path / "trip.db")
    hotel = Hotel()
    hotel.death = ProcessDeath()
    hotel.die_cancelling = {"B2-bob"}
    wf = saga(Task(id="a", agent="w", instruction="ann bob cy"))
    async with Orchestrator(agents=[hotel.agent()], store=open_store(db)) as orch:
        await hotel.death.run(orch.run(wf, run_id="r"))
        cut = await orch.state("r")
    assert {u: c.phase for u, c in cut.compensations.items()} == {
        "a/book#3": "succeeded",
        "a/book#2": "started",
    }
    async with Orchestrator(agents=[hotel.agent()], store=open_store(db)) as orch:
        await orch.resume("r", workflow=wf)
        state = await orch.state("r")
    keys = [k for _, k in hotel.cancel_calls]
    assert [b for b, _ in hotel.cancel_calls] == ["B3-cy", "B2-bob", "B2-bob", "B1-ann"]
    assert keys[1] == keys[2]  # the undo run again carries the same key ...
    assert sorted(hotel.cancelled.values()) == ["B1-ann", "B2-bob", "B3-cy"]  # ... and lands once
    assert rollback_status(state) == "complete"


async def test_an_undo_tool_no_agent_has_is_refused_before_the_run_starts() -> None:
    hotel = Hotel()
    undo = Undo(tool="refund", arguments=lambda args, result: {})
    wf = WorkflowType(name="trip", plan=Plan([Task(id="a", agent="w", instruction="ann")]))
    async with Orchestrator(agents=[hotel.agent(undo=undo)], store="memory://") as orch:
        with pytest.raises(
            PlanValidationError, match="undo tool 'refund' is not a tool of any agent"
        ):
            await orch.run(wf, run_id="r")
    assert hotel.booked == []


def test_a_read_only_tool_has_nothing_to_undo() -> None:
    def look(x: str) -> str:
        return x

    with pytest.raises(ConfigError, match="reads only: it has nothing to undo"):
        Tool.from_function(look, compensate=Undo(tool="t", arguments=lambda a, r: {}))


FILE = """\
name: trip
tools:
  book:
    python: "tests.runtime.test_compensate_calls:file_book"
    effect: write
    compensate:
      tool: cancel
      arguments: {booking: "{{ result.id }}", why: "undo {{ arguments.guest }}"}
  cancel: {python: "tests.runtime.test_compensate_calls:file_cancel", effect: write}
agents:
  w: {python: "tests.runtime.test_compensate_calls:file_agent", tools: [book, cancel]}
tasks:
  - {id: a, agent: w, instruction: ann}
  - {id: boom, agent: w, needs: [a]}
"""
FILE_CANCELLED: list[tuple[str, str]] = []


def file_book(guest: str) -> dict[str, str]:
    return {"id": f"F-{guest}"}


def file_cancel(booking: str, why: str) -> str:
    FILE_CANCELLED.append((booking, why))
    return "ok"


async def file_agent(call: TaskCall) -> str:
    if call.task_id == "boom":
        raise ValueError("no")
    await call.tools.call("book", guest=call.instruction)
    return "booked"


async def test_compensate_on_a_tool_in_a_workflow_file() -> None:
    FILE_CANCELLED.clear()
    wf = load_workflow_text(FILE, path="trip.yaml")
    async with Orchestrator(store="memory://") as orch:
        result = await orch.run(wf, run_id="r")
    assert result.status == "failed"
    assert FILE_CANCELLED == [("F-ann", "undo ann")]


@pytest.mark.parametrize(
    ("change", "says"),
    [
        (
            ("tool: cancel\n", "tool: refund\n"),
            r"tools\.book\.compensate\.tool: undo tool 'refund' is not a tool here",
        ),
        (("effect: write\n    comp", "comp"), "'book' only reads: it has nothing to undo"),
        (("arguments: {booking", "argumentz: {booking"), r"tools\.book\.compensate"),
    ],
)
def test_a_bad_tool_undo_in_a_file_says_where(change: tuple[str, str], says: str) -> None:
    with pytest.raises(ConfigError, match=says) as info:
        load_workflow_text(FILE.replace(*change), path="trip.yaml")
    assert "trip.yaml:" in str(info.value)


async def test_an_undo_that_raises_system_exit_is_its_failure_not_the_processs() -> None:
    hotel = Hotel()

    def cancel(booking: str) -> str:
        raise SystemExit(3)

    undo = Undo(tool="quit", arguments=lambda args, result: {"booking": result["id"]})
    agent = hotel.agent(undo=undo)
    agent = dataclasses.replace(
        agent, tools=(*agent.tools, Tool.from_function(cancel, name="quit", effect="write"))
    )
    wf = saga(Task(id="a", agent="w", instruction="ann bob"))
    async with Orchestrator(agents=[agent], store="memory://") as orch:
        result = await orch.run(wf, run_id="r")
        state = await orch.state("r")
    assert result.status == "failed"
    phases = [(c.phase, c.error.type if c.error else None) for c in state.compensations.values()]
    assert phases == [("failed", "SystemExit"), ("failed", "SystemExit")]  # both tried
    assert rollback_status(state) == "incomplete"
