"""Resume: state rebuilt from the journal; a task with TaskSucceeded never runs again."""

from __future__ import annotations

from pathlib import Path

import pytest

from podium import Agent, ConfigError, Orchestrator, Plan, Task, TaskCall, Workflow
from podium.events import RunSucceeded, TaskStarted, TaskSucceeded
from podium.store import MemoryStore, open_store
from tests.helpers import ProcessDeath

pytestmark = pytest.mark.anyio


def make_agent(calls: list[str], crash_on: set[str], death: ProcessDeath | None = None) -> Agent:
    async def work(call: TaskCall) -> str:
        calls.append(call.task_id)
        if call.task_id in crash_on:
            crash_on.discard(call.task_id)
            assert death is not None
            death.now()
        return f"out:{call.task_id}"

    return Agent(name="w", function=work)


PLAN = Plan(
    [
        Task(id="a", agent="w"),
        Task(id="b", agent="w", needs=("a",)),
        Task(id="m", agent="w", needs=("b",), map="inputs.xs"),
        Task(id="c", agent="w", needs=("m",)),
    ]
)


@pytest.mark.parametrize("store_kind", ["memory", "sqlite"])
async def test_resume_after_crash_never_reruns_succeeded_tasks(
    store_kind: str, tmp_path: Path
) -> None:
    store = MemoryStore() if store_kind == "memory" else open_store(str(tmp_path / "p.db"))
    wf = Workflow(name="resumable", plan=PLAN)
    calls: list[str] = []
    crash_on = {"m[1]"}
    death = ProcessDeath()
    async with Orchestrator(agents=[make_agent(calls, crash_on, death)], store=store) as orch:
        await death.run(orch.run(wf, inputs={"xs": [1, 2, 3]}, run_id="r"))
        before = await orch.state("r")
    assert before.status == "running"
    assert before.tasks["a"].status == "succeeded"
    assert calls[:2] == ["a", "b"]

    if store_kind == "sqlite":
        store = open_store(str(tmp_path / "p.db"))  # a new process opens the same file
    resumed_calls: list[str] = []
    async with Orchestrator(agents=[make_agent(resumed_calls, set())], store=store) as orch:
        result = await orch.resume("r", workflow=wf)
        journal = await orch.events("r")
    assert result.status == "succeeded"
    succeeded_before = {tid for tid, st in before.tasks.items() if st.status == "succeeded"}
    assert not succeeded_before & set(resumed_calls)
    assert "m[1]" in resumed_calls
    assert "c" in resumed_calls
    assert result.output == "out:c"
    assert sum(isinstance(e, RunSucceeded) for e in journal) == 1
    per_task = {}
    for e in journal:
        if isinstance(e, TaskSucceeded):
            per_task[e.task] = per_task.get(e.task, 0) + 1
    assert set(per_task.values()) == {1}
    restarted = [e for e in journal if isinstance(e, TaskStarted) and e.task == "m[1]"]
    assert [e.attempt for e in restarted] == [1, 2]


async def test_resume_of_finished_run_returns_its_result() -> None:
    calls: list[str] = []
    async with Orchestrator(agents=[make_agent(calls, set())], store="memory://") as orch:
        first = await orch.run(PLAN, inputs={"xs": []}, run_id="done")
        again = await orch.resume("done")
    assert again.status == first.status == "succeeded"
    assert again.output == first.output
    assert calls == ["a", "b", "c"]


async def test_resume_of_python_workflow_needs_the_workflow() -> None:
    store = MemoryStore()
    death = ProcessDeath()
    async with Orchestrator(agents=[make_agent([], {"a"}, death)], store=store) as orch:
        await death.run(orch.run(PLAN, inputs={"xs": []}, run_id="py"))
        with pytest.raises(ConfigError, match="pass the same workflow"):
            await orch.resume("py")
