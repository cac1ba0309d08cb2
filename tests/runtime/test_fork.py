"""Forks: a run again from one of its tasks, with what came before it copied; and comparisons."""

from __future__ import annotations

from typing import Any

import pytest

from podium import Agent, ConfigError, Orchestrator, Plan, Task, TaskCall, Workflow
from podium.events import RunForked, TaskStarted, TaskSucceeded
from podium.plan import InputSpec
from podium.runtime import compare_runs

pytestmark = pytest.mark.anyio

CALLS: list[str] = []


async def echo(call: TaskCall) -> str:
    CALLS.append(f"{call.agent}:{call.task_id}")
    return f"{call.agent} did {call.instruction}"


async def loud(call: TaskCall) -> str:
    CALLS.append(f"{call.agent}:{call.task_id}")
    return f"{call.agent} DID {call.instruction.upper()}"


async def items(call: TaskCall) -> list[str]:
    CALLS.append(f"{call.agent}:{call.task_id}")
    return ["x", "y"]


AGENTS = [
    Agent(name="echo", function=echo),
    Agent(name="loud", function=loud),
    Agent(name="items", function=items),
]
FLOW = Workflow(
    name="flow",
    inputs=(InputSpec(name="topic", default="tides"),),
    plan=Plan(
        [
            Task(id="a", agent="echo", instruction="find {{ inputs.topic }}"),
            Task(id="side", agent="echo", instruction="aside"),
            Task(id="list", agent="items", instruction="list"),
            Task(id="each", agent="echo", needs=("list",), map="tasks.list.output"),
            Task(id="b", agent="echo", instruction="draft", needs=("a",)),
            Task(id="c", agent="echo", instruction="polish", needs=("b",)),
        ],
        output="{{ tasks.c.output }}",
    ),
)


async def test_a_fork_copies_what_came_before_and_runs_the_task_and_what_follows() -> None:
    async with Orchestrator(agents=AGENTS, store="memory://") as orch:
        parent = await orch.run(FLOW, run_id="p")
        CALLS.clear()
        fork = await orch.fork("p", "b", agent="loud", workflow=FLOW, fork_id="f")
        events = await orch.events("f")
        parent_events = await orch.events("p")
        state = await orch.state("f")
    assert parent.status == fork.status == "succeeded"
    assert sorted(CALLS) == ["echo:c", "loud:b"]  # only the task and what depends on it ran
    assert fork.output == "echo did polish"
    assert fork.tasks["b"]["output"] == "loud DID DRAFT"
    forked = next(e for e in events if isinstance(e, RunForked))
    assert (forked.parent, forked.task, forked.changes) == ("p", "b", {"agent": "loud"})
    copied = {e.task for e in events if isinstance(e, TaskSucceeded) and e.copied_from == "p"}
    assert copied == {"a", "side", "list", "each", "each[0]", "each[1]"}
    assert {e.task for e in events if isinstance(e, TaskStarted)} == {"b", "c"}
    assert state.copied == copied
    assert fork.tasks["each"]["output"] == parent.tasks["each"]["output"]
    assert len(await orch.events("p")) == len(parent_events)  # the parent is untouched


async def test_a_fork_with_other_inputs_or_instruction() -> None:
    async with Orchestrator(agents=AGENTS, store="memory://") as orch:
        await orch.run(FLOW, run_id="p")
        CALLS.clear()
        fork = await orch.fork(
            "p",
            "a",
            inputs={"topic": "reefs"},
            instruction="seek {{ inputs.topic }}",
            workflow=FLOW,
        )
    assert fork.tasks["a"]["output"] == "echo did seek reefs"
    assert sorted(CALLS) == ["echo:a", "echo:b", "echo:c"]


async def test_a_failed_run_forked_from_its_failing_task_with_another_agent_succeeds() -> None:
    async def broken(call: TaskCall) -> str:
        raise RuntimeError("no")

    team = [*AGENTS, Agent(name="broken", function=broken)]
    flow = Workflow(
        name="failing",
        plan=Plan(
            [
                Task(id="a", agent="echo", instruction="first"),
                Task(id="b", agent="broken", needs=("a",)),
            ]
        ),
    )
    async with Orchestrator(agents=team, store="memory://") as orch:
        failed = await orch.run(flow, run_id="p")
        fixed = await orch.fork("p", "b", agent="echo", workflow=flow)
        rows = {
            r.task: r for r in compare_runs(await orch.state("p"), await orch.state(fixed.run_id))
        }
    assert failed.status == "failed"
    assert fixed.status == "succeeded"
    assert rows["a"].same_output
    assert rows["a"].copied == (False, True)
    assert rows["b"].status == ("failed", "succeeded")
    assert rows["b"].agent == ("broken", "echo")
    assert not rows["b"].same_output


@pytest.mark.parametrize(
    ("kwargs", "problem"),
    [
        ({"task": "nope"}, "has no task 'nope' to fork from"),
        ({"task": "b", "agent": "ghost"}, "no agent 'ghost' on the team"),
        ({"task": "b", "inputs": {"colour": "red"}}, "has no input(s) ['colour']"),
        ({"task": "b", "fork_id": "p"}, "run id 'p' is taken"),
    ],
)
async def test_a_fork_that_cannot_be_made_says_why(kwargs: dict[str, Any], problem: str) -> None:
    async with Orchestrator(agents=AGENTS, store="memory://") as orch:
        await orch.run(FLOW, run_id="p")
        task = kwargs.pop("task")
        with pytest.raises(ConfigError) as caught:
            await orch.fork("p", task, workflow=FLOW, **kwargs)
    assert problem in str(caught.value)
