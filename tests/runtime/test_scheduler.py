"""The scheduler: ordering, parallelism, limits, priorities, failures, map, cancellation."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from podium import Agent, Limits, Orchestrator, Plan, Task, TaskCall, Workflow
from podium.events import (
    AnyEvent,
    PlanExtended,
    RunCancelled,
    RunFailed,
    TaskFailed,
    TaskReady,
    TaskRetrying,
    TaskSkipped,
    TaskStarted,
    TaskSucceeded,
)
from podium.exceptions import PlanValidationError, TaskError
from podium.runtime import critical_paths
from podium.store._sqlite import SQLiteStore

pytestmark = pytest.mark.anyio


def kinds(events: list[AnyEvent], task: str | None = None) -> list[str]:
    return [type(e).__name__ for e in events if task is None or getattr(e, "task", None) == task]


async def run(
    plan: Plan, *agents: Agent, limits: Limits | None = None, **kw: Any
) -> tuple[Any, list[AnyEvent]]:
    events: list[AnyEvent] = []
    async with Orchestrator(agents=agents, store="memory://", limits=limits) as orch:
        result = await orch.run(plan, on_event=events.append, **kw)
        journal = await orch.events(result.run_id)
    assert [e.seq for e in journal] == list(range(len(journal)))
    assert kinds(journal) == kinds(events)
    return result, journal


def echo(name: str = "echo", **kw: Any) -> Agent:
    async def fn(call: TaskCall) -> Any:
        return {"task": call.task_id, "inputs": dict(call.task_outputs), "item": call.item}

    return Agent(name=name, function=fn, **kw)


async def test_chain_passes_outputs_along() -> None:
    plan = Plan(
        [
            Task(id="a", agent="echo"),
            Task(id="b", agent="echo", needs=("a",)),
            Task(id="c", agent="echo", needs=("b",)),
        ]
    )
    result, journal = await run(plan, echo())
    assert result.status == "succeeded"
    assert result.output["inputs"]["b"]["inputs"]["a"]["task"] == "a"
    # its own agent needs no assignment, and it starts in the turn it is ready in
    assert kinds(journal, "b") == ["TaskStarted", "TaskSucceeded"]
    assert kinds(journal)[:2] == ["RunSubmitted", "PlanAccepted"]
    assert kinds(journal)[-1] == "RunSucceeded"


async def test_sync_agents_run_on_threads_in_parallel() -> None:
    barrier = threading.Barrier(3, timeout=10)

    def meet(call: TaskCall) -> str:
        barrier.wait()  # only returns when three run at once
        return threading.current_thread().name

    plan = Plan([Task(id=f"t{i}", agent="meet") for i in range(3)])
    result, _ = await run(plan, Agent(name="meet", function=meet))
    assert result.status == "succeeded"
    assert all(t["output"].startswith("podium") for t in result.tasks.values())


async def test_no_superstep_barrier_fast_branch_continues() -> None:
    release = asyncio.Event()

    async def slow(call: TaskCall) -> str:
        await release.wait()
        return "slow"

    async def fast(call: TaskCall) -> str:
        if call.task_id == "fast2":
            release.set()  # the slow sibling is still running when fast2 starts
        return call.task_id

    plan = Plan(
        [
            Task(id="slow", agent="slow"),
            Task(id="fast1", agent="fast"),
            Task(id="fast2", agent="fast", needs=("fast1",)),
        ]
    )
    result, journal = await run(
        plan, Agent(name="slow", function=slow), Agent(name="fast", function=fast)
    )
    assert result.status == "succeeded"
    order = [(type(e).__name__, getattr(e, "task", "")) for e in journal]
    assert order.index(("TaskStarted", "fast2")) < order.index(("TaskSucceeded", "slow"))


async def test_global_and_per_agent_concurrency_limits() -> None:
    running = {"all": 0, "peak": 0, "limited": 0, "peak_limited": 0}

    async def work(call: TaskCall) -> None:
        key = "limited" if call.agent == "limited" else "all"
        running[key] += 1
        running["all" if key == "limited" else "limited"] += 0
        running["peak"] = max(running["peak"], running["all"] + running["limited"])
        running["peak_limited"] = max(running["peak_limited"], running["limited"])
        await asyncio.sleep(0.01)
        running[key] -= 1

    tasks = [Task(id=f"a{i}", agent="free") for i in range(10)]
    tasks += [Task(id=f"b{i}", agent="limited") for i in range(6)]
    result, _ = await run(
        Plan(tasks),
        Agent(name="free", function=work),
        Agent(name="limited", function=work, max_concurrency=2),
        limits=Limits(max_concurrency=5),
    )
    assert result.status == "succeeded"
    assert running["peak"] == 5
    assert running["peak_limited"] == 2


async def test_longest_critical_path_starts_first() -> None:
    plan = Plan(
        [
            Task(id="lone", agent="echo"),
            Task(id="head", agent="echo"),
            Task(id="mid", agent="echo", needs=("head",)),
            Task(id="tail", agent="echo", needs=("mid",)),
        ]
    )
    assert critical_paths(plan) == {"lone": 1, "head": 3, "mid": 2, "tail": 1}
    _, journal = await run(plan, echo(), limits=Limits(max_concurrency=1))
    started = [e.task for e in journal if isinstance(e, TaskStarted)]
    assert started[0] == "head"


async def test_failure_skips_dependants_and_fails_the_run() -> None:
    async def boom(call: TaskCall) -> None:
        raise TaskError("no luck", kind="bad_luck", retryable=False)

    plan = Plan(
        [
            Task(id="a", agent="boom"),
            Task(id="b", agent="echo", needs=("a",)),
            Task(id="c", agent="echo", needs=("b",)),
        ]
    )
    result, journal = await run(plan, echo(), Agent(name="boom", function=boom))
    assert result.status == "failed"
    assert result.reason == "error"
    assert "no luck" in result.message
    assert result.tasks["a"]["error"]["type"] == "bad_luck"
    assert {e.task for e in journal if isinstance(e, TaskSkipped)} == {"b", "c"}
    assert isinstance(journal[-1], RunFailed)
    assert journal[-1].failed_tasks == ["a", "b", "c"]


async def test_retries_then_success_with_previous_error_in_instruction() -> None:
    seen: list[str] = []

    async def flaky(call: TaskCall) -> str:
        seen.append(call.instruction)
        if call.attempt < 3:
            raise RuntimeError(f"transient {call.attempt}")
        return "ok"

    plan = Plan([Task(id="a", agent="flaky", instruction="do it", retries=2)])
    result, journal = await run(plan, Agent(name="flaky", function=flaky))
    assert result.status == "succeeded"
    assert result.tasks["a"]["attempts"] == 3
    assert kinds(journal, "a").count("TaskRetrying") == 2
    assert [e.final for e in journal if isinstance(e, TaskFailed)] == [False, False]
    assert seen[0] == "do it"
    assert "transient 2" in seen[2]


async def test_retries_exhausted() -> None:
    async def never(call: TaskCall) -> str:
        raise RuntimeError("down")

    plan = Plan([Task(id="a", agent="never", retries=1)])
    result, journal = await run(plan, Agent(name="never", function=never))
    assert result.status == "failed"
    assert result.tasks["a"]["attempts"] == 2
    assert sum(isinstance(e, TaskRetrying) for e in journal) == 1


async def test_optional_failure_gives_partial_success_and_dependants_degrade() -> None:
    async def boom(call: TaskCall) -> None:
        raise ValueError("optional thing broke")

    plan = Plan(
        [
            Task(id="extra", agent="boom", optional=True),
            Task(id="main", agent="echo"),
            Task(id="report", agent="echo", needs=("main", "extra")),
        ],
        output="{{ tasks.report.output }}",
    )
    result, _ = await run(plan, echo(), Agent(name="boom", function=boom))
    assert result.status == "partially_succeeded"
    assert result.missing == ["extra"]
    assert result.output["inputs"] == {"main": result.tasks["main"]["output"], "extra": None}


async def test_map_fans_out_and_joins_in_order() -> None:
    async def items(call: TaskCall) -> list[int]:
        return [3, 1, 2]

    async def square(call: TaskCall) -> int:
        await asyncio.sleep(0.001 * call.item)  # finish out of order
        return int(call.item) ** 2

    plan = Plan(
        [
            Task(id="items", agent="items"),
            Task(
                id="sq",
                agent="square",
                needs=("items",),
                map="tasks.items.output",
                instruction="square {{ item }}",
            ),
            Task(id="total", agent="echo", needs=("sq",)),
        ]
    )
    result, journal = await run(
        plan, echo(), Agent(name="items", function=items), Agent(name="square", function=square)
    )
    assert result.status == "succeeded"
    assert result.tasks["sq"]["output"] == [9, 1, 4]
    assert result.output["inputs"]["sq"] == [9, 1, 4]
    extended = [e for e in journal if isinstance(e, PlanExtended)]
    assert [t["id"] for t in extended[0].tasks] == ["sq[0]", "sq[1]", "sq[2]"]


async def test_map_over_empty_list_and_over_run_input() -> None:
    plan = Plan([Task(id="m", agent="echo", map="inputs.xs")])
    result, _ = await run(plan, echo(), inputs={"xs": []})
    assert result.status == "succeeded"
    assert result.output == []
    result, _ = await run(plan, echo(), inputs={"xs": ["a", "b"]})
    assert [o["item"] for o in result.output] == ["a", "b"]


async def test_map_over_non_list_fails_clearly() -> None:
    plan = Plan([Task(id="m", agent="echo", map="inputs.xs")])
    result, _ = await run(plan, echo(), inputs={"xs": 5})
    assert result.status == "failed"
    assert "not a list" in result.tasks["m"]["error"]["message"]


async def test_map_item_failure_fails_parent() -> None:
    async def picky(call: TaskCall) -> int:
        if call.item == 2:
            raise TaskError("two is bad", retryable=False)
        return int(call.item)

    plan = Plan([Task(id="m", agent="picky", map="inputs.xs")])
    result, _ = await run(plan, Agent(name="picky", function=picky), inputs={"xs": [1, 2]})
    assert result.status == "failed"
    assert result.tasks["m"]["error"]["type"] == "map_item_failed"


async def test_task_timeout_and_run_timeout() -> None:
    async def sleepy(call: TaskCall) -> None:
        await asyncio.sleep(30)

    plan = Plan([Task(id="a", agent="sleepy", timeout_s=0.01)])
    result, _ = await run(plan, Agent(name="sleepy", function=sleepy))
    assert result.tasks["a"]["error"]["type"] == "timeout"
    assert result.status == "failed"

    plan = Plan([Task(id="a", agent="sleepy")])
    result, journal = await run(plan, Agent(name="sleepy", function=sleepy), timeout_s=0.02)
    assert result.status == "failed"
    assert result.reason == "timeout"
    assert isinstance(journal[-1], RunFailed)


async def test_cancel_a_running_run() -> None:
    started = asyncio.Event()

    async def sleepy(call: TaskCall) -> None:
        started.set()
        await asyncio.sleep(30)

    plan = Plan([Task(id="a", agent="sleepy"), Task(id="b", agent="sleepy", needs=("a",))])
    async with Orchestrator(
        agents=[Agent(name="sleepy", function=sleepy)], store="memory://"
    ) as orch:
        job = asyncio.ensure_future(orch.run(plan, run_id="r1"))
        await started.wait()
        assert orch.cancel("r1", "user asked")
        result = await job
        journal = await orch.events("r1")
        assert not orch.cancel("r1")
    assert result.status == "cancelled"
    assert isinstance(journal[-1], RunCancelled)
    assert journal[-1].reason == "user asked"


async def test_existing_run_id_does_not_start_a_second_run() -> None:
    calls: list[str] = []

    async def count(call: TaskCall) -> str:
        calls.append(call.task_id)
        return "done"

    plan = Plan([Task(id="a", agent="count")])
    async with Orchestrator(
        agents=[Agent(name="count", function=count)], store="memory://"
    ) as orch:
        first = await orch.run(plan, run_id="same")
        second = await orch.run(plan, run_id="same")
    assert calls == ["a"]
    assert first.status == second.status == "succeeded"
    assert second.output == "done"


async def test_validation_reports_every_problem_before_running() -> None:
    plan = Plan(
        [
            Task(id="a", agent="ghost"),
            Task(id="b", capability="flying"),
            Task(id="c", agent="echo", needs=("d",)),
            Task(id="d", agent="echo", needs=("c",)),
            Task(id="e", agent="echo", instruction="{{ inputs.nope }} {{ tasks.a.output }}"),
            Task(id="e", agent="echo"),
        ]
    )
    wf = Workflow(name="bad", plan=plan, inputs=())
    with pytest.raises(PlanValidationError) as info:
        await run(wf, echo())  # type: ignore[arg-type]
    text = str(info.value)
    for needle in (
        "unknown agent 'ghost'",
        "capability 'flying'",
        "cycle: c → d → c",
        "unbound input 'nope'",
        "not upstream",
        "duplicate task id 'e'",
    ):
        assert needle in text
    assert len(info.value.problems) == 6


async def test_capability_routing_and_assignment_reason() -> None:
    plan = Plan([Task(id="a", capability="math")])
    result, journal = await run(plan, echo("calc", capabilities=("math",)), echo("other"))
    assert result.tasks["a"]["agent"] == "calc"
    assigned = next(e for e in journal if type(e).__name__ == "TaskAssigned")
    assert "math" in assigned.reason  # type: ignore[attr-defined]


async def test_events_are_streamed() -> None:
    plan = Plan([Task(id="a", agent="echo")])
    async with Orchestrator(agents=[echo()], store="memory://") as orch:
        seen = [type(e).__name__ async for e in orch.stream(plan)]
    assert seen[0] == "RunSubmitted"
    assert seen[-1] == "RunSucceeded"
    assert seen[1:-1] == ["PlanAccepted", "TaskStarted", "TaskSucceeded"]


async def test_unexpected_exception_becomes_typed_task_failure() -> None:
    async def bug(call: TaskCall) -> None:
        raise KeyError("oops")

    result, journal = await run(Plan([Task(id="a", agent="bug")]), Agent(name="bug", function=bug))
    failed = next(e for e in journal if isinstance(e, TaskFailed))
    assert failed.error.type == "KeyError"
    assert result.status == "failed"


async def test_output_not_json_is_a_typed_error() -> None:
    async def bad(call: TaskCall) -> object:
        return object()

    result, _ = await run(Plan([Task(id="a", agent="bad")]), Agent(name="bad", function=bad))
    assert result.tasks["a"]["error"]["type"] == "output_not_json"


async def test_output_schema_is_enforced_for_python_agents() -> None:
    async def wrong(call: TaskCall) -> dict[str, str]:
        return {"n": "not a number"}

    plan = Plan(
        [
            Task(
                id="a",
                agent="wrong",
                output_schema={"type": "object", "properties": {"n": {"type": "integer"}}},
            )
        ]
    )
    result, _ = await run(plan, Agent(name="wrong", function=wrong))
    error = result.tasks["a"]["error"]
    assert error["type"] == "output_invalid"
    assert "at n" in error["message"]
    assert error["raw_output"] == {"n": "not a number"}


async def test_starts_follow_dependencies() -> None:
    plan = Plan(
        [
            Task(id="a", agent="echo"),
            Task(id="b", agent="echo", needs=("a",)),
            Task(id="c", agent="echo", needs=("a", "b")),
        ]
    )
    _, journal = await run(plan, echo())
    started = {e.task: e.seq for e in journal if isinstance(e, TaskStarted)}
    done = {e.task: e.seq for e in journal if isinstance(e, TaskSucceeded)}
    assert list(started) == ["a", "b", "c"]
    assert started["c"] > done["b"] > started["b"] > done["a"]
    assert not [e for e in journal if isinstance(e, TaskReady)]  # none waited for room


async def test_a_task_that_waits_for_room_is_journaled_ready() -> None:
    release, started = asyncio.Event(), asyncio.Event()

    async def held(call: TaskCall) -> str:
        started.set()
        await release.wait()
        return call.task_id

    plan = Plan([Task(id=t, agent="held") for t in ("a", "b", "c")])
    async with Orchestrator(
        agents=[Agent(name="held", function=held)],
        store="memory://",
        limits=Limits(max_concurrency=1),
    ) as orch:
        running = asyncio.create_task(orch.run(plan, run_id="r"))
        await asyncio.wait_for(started.wait(), timeout=10)
        waiting = await orch.events("r")
        release.set()
        result = await running
        journal = await orch.events("r")
    assert result.status == "succeeded"
    # one runs; the two that wait for it are ready (a dashboard shows them queued)
    assert sorted(e.task for e in waiting if isinstance(e, TaskReady)) == ["b", "c"]
    started = [e.task for e in journal if isinstance(e, TaskStarted)]
    assert started == ["a", "b", "c"]


Factory = Callable[[], Agent]


async def test_the_starts_of_a_round_are_one_write(tmp_path: Path) -> None:
    async def quick(call: TaskCall) -> int:
        return 1

    width = 50
    plan = Plan(
        [
            *[Task(id=f"b{i}", agent="q") for i in range(width)],
            Task(id="join", agent="q", needs=tuple(f"b{i}" for i in range(width))),
        ]
    )
    store = SQLiteStore(str(tmp_path / "fan.db"))
    async with Orchestrator(
        agents=[Agent(name="q", function=quick)], store=store, limits=Limits(max_concurrency=100)
    ) as orch:
        before = store.commits
        result = await orch.run(plan)
        commits = store.commits - before
    assert result.status == "succeeded"
    # the run, its plan with the fan-out's starts, the join's start, the end: not one per task
    assert commits <= 6, commits
