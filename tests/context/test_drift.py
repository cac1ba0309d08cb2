"""Context drift: a task that read a key another task changed before it committed is retried on
the new version (once), accepted or failed, by the key's policy, and each case is journaled."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import pytest

from podium import Agent, ContextPolicy, MergePolicy, Orchestrator, Plan, Task, TaskCall, Workflow
from podium.events import (
    AnyEvent,
    ContextDrifted,
    TaskFailed,
    TaskRetrying,
    TaskStarted,
    TaskSucceeded,
)
from podium.plan import load_workflow

pytestmark = pytest.mark.anyio


class Gates:
    """Asyncio events set when the journal records a task's success (or a given attempt's
    start), so agents of parallel tasks can wait for each other without sleeping."""

    def __init__(self) -> None:
        self.done: dict[str, asyncio.Event] = {}
        self.started: dict[tuple[str, int], asyncio.Event] = {}

    def succeeded(self, task: str) -> asyncio.Event:
        return self.done.setdefault(task, asyncio.Event())

    def started_attempt(self, task: str, attempt: int) -> asyncio.Event:
        return self.started.setdefault((task, attempt), asyncio.Event())

    def __call__(self, event: AnyEvent) -> None:
        if isinstance(event, TaskSucceeded):
            self.succeeded(event.task).set()
        elif isinstance(event, TaskStarted):
            self.started_attempt(event.task, event.attempt).set()


def agents(gates: Gates) -> list[Agent]:
    def publish(call: TaskCall) -> str:
        call.context.write("plan", f"plan by {call.task_id}")
        return call.task_id

    async def late_publish(call: TaskCall) -> str:
        # `c` writes only once `a` runs its second attempt
        await gates.started_attempt("a", 2).wait()
        call.context.write("plan", f"plan by {call.task_id}")
        return call.task_id

    async def follow(call: TaskCall) -> Any:
        seen = call.context.get("plan")
        # the instruction lists what each attempt waits for: `b`, then `c` (if there is one)
        waits = call.instruction.splitlines()[0].split(",")  # (a retry's note follows)
        if call.attempt <= len(waits):
            await gates.succeeded(waits[call.attempt - 1]).wait()
        return {"followed": seen, "attempt": call.attempt}

    return [
        Agent(name="publish", function=publish),
        Agent(name="late", function=late_publish),
        Agent(name="follow", function=follow),
    ]


def plan(*, a: dict[str, Any] | None = None, with_c: bool = False) -> Plan:
    tasks = [
        Task(id="p", agent="publish"),
        Task(
            id="a",
            agent="follow",
            instruction="b,c" if with_c else "b",
            needs=("p",),
            reads=("plan",),
            **(a or {}),
        ),
        Task(id="b", agent="publish", needs=("p",)),
    ]
    if with_c:
        tasks.append(Task(id="c", agent="late", needs=("b",)))
    return Plan(tasks)


async def run(p: Plan, policy: ContextPolicy | None = None) -> tuple[Any, Sequence[AnyEvent], Any]:
    gates = Gates()
    last = ContextPolicy(merge={"plan": MergePolicy("last")}, default=MergePolicy())
    if policy is not None:
        last = policy
    wf = Workflow(name="drift", plan=p, context=last)
    async with Orchestrator(agents=agents(gates), listeners=[gates]) as orch:
        result = await orch.run(wf)
        events = await orch.events(result.run_id)
    return result, events, result


def of(events: Sequence[AnyEvent], kind: type[Any], task: str = "a") -> list[Any]:
    return [e for e in events if isinstance(e, kind) and e.task == task]


async def test_by_default_a_drifted_task_runs_again_on_the_new_version() -> None:
    result, events, _ = await run(plan())
    assert result.status == "succeeded"
    [drift] = of(events, ContextDrifted)
    assert (drift.key, drift.read_version, drift.version, drift.by_task, drift.action) == (
        "plan",
        1,
        2,
        "b",
        "retry",
    )
    [failed] = of(events, TaskFailed)
    assert failed.error.type == "context_drift"
    assert not failed.final
    assert len(of(events, TaskRetrying)) == 1
    [succeeded] = of(events, TaskSucceeded)
    assert succeeded.attempt == 2
    assert succeeded.output == {"followed": "plan by b", "attempt": 2}
    assert succeeded.read_versions == {"plan": 2}
    # the drifted attempt committed nothing before the retry
    assert events.index(drift) < events.index(failed) < events.index(succeeded)


async def test_a_retry_that_drifts_again_is_accepted_not_chased() -> None:
    result, events, _ = await run(plan(with_c=True))
    assert result.status == "succeeded"
    drifts = of(events, ContextDrifted)
    assert [(d.read_version, d.version, d.by_task, d.action) for d in drifts] == [
        (1, 2, "b", "retry"),
        (2, 3, "c", "accept"),
    ]
    [succeeded] = of(events, TaskSucceeded)
    assert succeeded.output == {"followed": "plan by b", "attempt": 2}


async def test_the_task_may_accept_drift() -> None:
    result, events, _ = await run(plan(a={"on_drift": "accept"}))
    assert result.status == "succeeded"
    [drift] = of(events, ContextDrifted)
    assert drift.action == "accept"
    assert not of(events, TaskFailed)
    [succeeded] = of(events, TaskSucceeded)
    assert succeeded.output == {"followed": "plan by p", "attempt": 1}
    assert succeeded.read_versions == {"plan": 1}  # what it rests on, on the record


async def test_the_keys_policy_fails_the_task_and_wins_over_the_tasks() -> None:
    strict = ContextPolicy(merge={"plan": MergePolicy("last", on_drift="fail")})
    result, events, _ = await run(plan(a={"on_drift": "accept"}), strict)
    assert result.status == "failed"
    [drift] = of(events, ContextDrifted)
    assert drift.action == "fail"
    [failed] = of(events, TaskFailed)
    assert failed.final
    assert failed.error.type == "context_drift"
    assert "'plan'" in failed.error.message
    assert "on_drift: accept" in failed.error.message
    assert not of(events, TaskSucceeded)


async def test_no_drift_when_nothing_changed_or_the_task_wrote_the_key_itself() -> None:
    def rewrite(call: TaskCall) -> str:
        call.context.write("plan", str(call.context.get("plan")) + " (revised)")
        return "revised"

    gates = Gates()
    team = [*agents(gates), Agent(name="rewrite", function=rewrite)]
    wf = Workflow(
        name="own",
        plan=Plan(
            [
                Task(id="p", agent="publish"),
                Task(id="r", agent="rewrite", needs=("p",), reads=("plan",)),
            ]
        ),
    )
    async with Orchestrator(agents=team, listeners=[gates]) as orch:
        result = await orch.run(wf)
        events = await orch.events(result.run_id)
    assert result.status == "succeeded"
    assert not [e for e in events if isinstance(e, ContextDrifted)]
    [succeeded] = of(events, TaskSucceeded, "r")
    assert succeeded.read_versions == {"plan": 1}


async def test_workflow_files_set_drift_and_budget_policies(tmp_path: Any) -> None:
    path = tmp_path / "wf.yaml"
    path.write_text(
        """
name: drift
agents:
  writer: {model: "test:echo", context_budget: {tokens: 800}, summariser: brief}
  brief: {model: "test:echo"}
context:
  plan: {merge: last, on_drift: fail}
tasks:
  - {id: a, agent: writer, instruction: go, reads: [plan], on_drift: accept, context_budget: 300}
"""
    )
    wf = load_workflow(path)
    assert wf.context.for_key("plan").on_drift == "fail"
    task = wf.plan.tasks["a"]
    assert (task.on_drift, task.context_budget) == ("accept", 300)
    writer = {a.name: a for a in wf.agents}["writer"]
    assert (writer.context_budget, writer.summariser) == (800, "brief")


async def test_a_budget_below_the_floor_is_refused_with_where(tmp_path: Any) -> None:
    from podium.exceptions import ConfigError

    path = tmp_path / "wf.yaml"
    path.write_text(
        'name: x\nagents:\n  w: {model: "test:echo"}\n'
        "tasks:\n  - {id: a, agent: w, instruction: go, context_budget: 10}\n"
    )
    with pytest.raises(ConfigError, match="context_budget"):
        load_workflow(path)


async def test_parallel_appenders_that_read_their_key_all_finish() -> None:
    async def add(call: TaskCall) -> int:
        seen = call.context.get("notes") or []
        await asyncio.sleep(0)  # let the others run: they commit while this one works
        call.context.write("notes", call.task_id)
        return len(seen)

    wf = Workflow(
        name="appenders",
        plan=Plan([Task(id=f"t{i}", agent="add", reads=("notes",)) for i in range(8)]),
        context=ContextPolicy(merge={"notes": MergePolicy("append")}),
    )
    async with Orchestrator(agents=[Agent(name="add", function=add)]) as orch:
        result = await orch.run(wf)
        events = await orch.events(result.run_id)
        state = await orch.state(result.run_id)
    assert result.status == "succeeded"
    assert sorted(state.board.latest("notes").value) == sorted(f"t{i}" for i in range(8))  # type: ignore[union-attr]
    drifts = [e for e in events if isinstance(e, ContextDrifted)]
    assert drifts  # they did run at once
    assert {d.action for d in drifts} <= {"retry", "accept"}
    # each task drifted into a retry at most once
    retried = [d.task for d in drifts if d.action == "retry"]
    assert len(retried) == len(set(retried))
