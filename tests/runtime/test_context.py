"""The blackboard: versioned writes through events, scoped reads, merge policies, history."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from podium import Agent, ContextPolicy, MergePolicy, Orchestrator, Plan, Task, TaskCall, Workflow
from podium.events import ContextWritten, TaskFailed
from podium.runtime import RunResult, RunState

pytestmark = pytest.mark.anyio


async def writer(call: TaskCall) -> str:
    value = call.item if call.item is not None else call.task_id
    call.context.write("notes", value, sources=[f"doc:{call.task_id}"], confidence=0.8)
    await asyncio.sleep(0)
    return call.task_id


async def reader(call: TaskCall) -> Any:
    entry = call.context.entry("notes")
    assert entry is not None
    return {
        "value": call.context.get("notes"),
        "by": entry.task,
        "history": [e.value for e in call.context.history("notes")],
    }


AGENTS = [Agent(name="writer", function=writer), Agent(name="reader", function=reader)]


async def run(wf: Workflow) -> tuple[RunResult, RunState]:
    async with Orchestrator(agents=AGENTS, store="memory://") as orch:
        result = await orch.run(wf)
        return result, await orch.state(result.run_id)


async def test_ordered_writes_version_and_keep_provenance() -> None:
    plan = Plan(
        [
            Task(id="w1", agent="writer"),
            Task(id="w2", agent="writer", needs=("w1",)),
            Task(id="r", agent="reader", needs=("w2",), reads=("notes",)),
        ]
    )
    result, state = await run(Workflow(name="ctx", plan=plan))
    assert result.status == "succeeded"
    assert result.output == {"value": "w2", "by": "w2", "history": ["w1", "w2"]}
    history = state.board.history("notes")
    assert [(e.version, e.task, e.agent, e.sources, e.confidence) for e in history] == [
        (1, "w1", "writer", ("doc:w1",), 0.8),
        (2, "w2", "writer", ("doc:w2",), 0.8),
    ]


async def test_unordered_writes_conflict_by_default() -> None:
    plan = Plan([Task(id="a", agent="writer"), Task(id="b", agent="writer")])
    result, state = await run(Workflow(name="ctx", plan=plan))
    assert result.status == "failed"
    errors = [t["error"] for t in result.tasks.values() if t["error"]]
    assert [e["type"] for e in errors] == ["context_conflict"]
    assert "neither depends on the other" in errors[0]["message"]
    assert len(state.board.history("notes")) == 1  # the failed attempt wrote nothing


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        (MergePolicy("append"), [0, 1, 2]),
        (MergePolicy("reduce", reducer=lambda cur, new: cur + new), 3),
    ],
)
async def test_merge_policies(policy: MergePolicy, expected: Any) -> None:
    plan = Plan(
        [
            Task(id="m", agent="writer", map="inputs.xs"),
            Task(id="r", agent="reader", needs=("m",), reads=("notes",)),
        ]
    )
    wf = Workflow(name="ctx", plan=plan, context=ContextPolicy(merge={"notes": policy}))
    async with Orchestrator(agents=AGENTS, store="memory://") as orch:
        result = await orch.run(wf, inputs={"xs": [0, 1, 2]})
    assert result.status == "succeeded"
    value = result.tasks["r"]["output"]["value"]
    assert sorted(value) == expected if isinstance(expected, list) else value == expected


async def test_last_writer_policy() -> None:
    plan = Plan([Task(id="a", agent="writer"), Task(id="b", agent="writer")])
    wf = Workflow(name="ctx", plan=plan, context=ContextPolicy(default=MergePolicy("last")))
    result, state = await run(wf)
    assert result.status == "succeeded"
    assert [e.version for e in state.board.history("notes")] == [1, 2]


async def test_reading_an_undeclared_key_is_an_error() -> None:
    plan = Plan([Task(id="w", agent="writer"), Task(id="r", agent="reader", needs=("w",))])
    result, _ = await run(Workflow(name="ctx", plan=plan))
    assert result.tasks["r"]["error"]["type"] == "context_scope"
    assert "add it to the task's `reads`" in result.tasks["r"]["error"]["message"]


async def test_writes_are_durable_events_and_failed_attempts_write_nothing() -> None:
    async def write_then_fail(call: TaskCall) -> None:
        call.context.write("k", call.attempt)
        if call.attempt == 1:
            raise RuntimeError("first attempt fails after writing")

    plan = Plan([Task(id="a", agent="wf", retries=1)])
    async with Orchestrator(
        agents=[Agent(name="wf", function=write_then_fail)], store="memory://"
    ) as orch:
        result = await orch.run(plan)
        journal = await orch.events(result.run_id)
    writes = [e for e in journal if isinstance(e, ContextWritten)]
    assert [(w.key, w.value, w.version) for w in writes] == [("k", 2, 1)]
    failed_at = next(e.seq for e in journal if isinstance(e, TaskFailed))
    assert writes[0].seq > failed_at


async def test_context_values_must_be_json() -> None:
    async def bad(call: TaskCall) -> None:
        call.context.write("k", object())

    result, _ = await run(
        Workflow(
            name="ctx",
            plan=Plan([Task(id="a", agent="bad")]),
            agents=[Agent(name="bad", function=bad)],
        )
    )
    assert result.tasks["a"]["error"]["type"] == "context_value"


async def test_two_writes_of_one_key_in_one_task_are_two_versions() -> None:
    async def twice(call: TaskCall) -> None:
        call.context.write("k", 1)
        call.context.write("k", 2)
        assert call.context.get("k") == 2  # a task reads its own pending write

    plan = Plan([Task(id="a", agent="twice")])
    result, state = await run(
        Workflow(name="ctx", plan=plan, agents=[Agent(name="twice", function=twice)])
    )
    assert result.status == "succeeded"
    assert [(e.value, e.version) for e in state.board.history("k")] == [(1, 1), (2, 2)]
