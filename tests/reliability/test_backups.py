"""Backup agents: when retries are exhausted (or an error is not worth retrying), the next
backup takes the task, and the journal says so."""

from __future__ import annotations

import pytest

from podium import Agent, Plan, Task, TaskCall
from podium.events import TaskAssigned, TaskFailed, TaskRetrying, TaskStarted
from podium.exceptions import PlanValidationError, TaskError
from podium.reliability import RetryPolicy

from .helpers import of, run_plan

pytestmark = pytest.mark.anyio


def agent(name: str, *, fails: bool, retryable: bool = True, **kw: object) -> Agent:
    async def work(call: TaskCall) -> str:
        if fails:
            raise TaskError(f"{name} is broken", kind="broken", retryable=retryable)
        return f"{name} did {call.task_id}"

    return Agent(name=name, function=work, **kw)  # type: ignore[arg-type]


async def test_backup_takes_over_when_retries_are_exhausted() -> None:
    primary = agent("a", fails=True, backups=("b",), retry=RetryPolicy(attempts=2, backoff_s=0))
    result, journal = await run_plan(
        Plan([Task(id="t", agent="a")]), primary, agent("b", fails=False)
    )
    assert result.status == "succeeded"
    assert result.output == "b did t"
    assert result.tasks["t"]["agent"] == "b"
    assigned = of(journal, TaskAssigned, "t")
    assert [(e.agent, e.reason) for e in assigned] == [
        ("b", "backup for a: broken after 2 attempts")  # its own agent needs no assignment
    ]
    assert [e.agent for e in of(journal, TaskStarted)] == ["a", "a", "b"]
    assert [e.final for e in of(journal, TaskFailed)] == [False, False]
    assert [r.attempt for r in of(journal, TaskRetrying)] == [2, 3]


async def test_backups_chain_and_never_go_round_in_circles() -> None:
    a = agent("a", fails=True, backups=("b",))
    b = agent("b", fails=True, backups=("a", "c"))
    c = agent("c", fails=False)
    result, journal = await run_plan(Plan([Task(id="t", agent="a")]), a, b, c)
    assert result.output == "c did t"
    assert [e.agent for e in of(journal, TaskStarted)] == ["a", "b", "c"]

    b_only = agent("b", fails=True, backups=("a",))
    result, journal = await run_plan(Plan([Task(id="t", agent="a")]), a, b_only)
    assert result.status == "failed"
    assert [e.agent for e in of(journal, TaskStarted)] == ["a", "b"]
    assert of(journal, TaskFailed)[-1].final


async def test_errors_not_worth_retrying_go_to_the_backup_at_once() -> None:
    a = agent("a", fails=True, retryable=False, retry=RetryPolicy(attempts=5, backoff_s=0))
    task = Task(id="t", agent="a", backups=("c", "b"))
    result, journal = await run_plan(
        Plan([task]), a, agent("b", fails=False), agent("c", fails=False)
    )
    assert result.output == "c did t"  # the task's own backups, in its order
    assert of(journal, TaskAssigned)[-1].reason == "backup for a: broken, which is not retried"


async def test_a_task_error_no_agent_could_fix_gets_no_backup() -> None:
    a = agent("a", fails=False, backups=("b",))
    task = Task(id="t", agent="a", instruction="{{ inputs.missing.deep }}")
    result, journal = await run_plan(Plan([task]), a, agent("b", fails=False))
    assert result.status == "failed"
    assert of(journal, TaskFailed)[0].error.type == "template"
    assert [e.agent for e in of(journal, TaskStarted)] == ["a"]


async def test_map_items_inherit_retry_and_backups() -> None:
    a = agent("a", fails=True)
    task = Task(id="m", agent="a", map="inputs.xs", backups=("b",), retry=RetryPolicy(attempts=1))
    result, _ = await run_plan(
        Plan([task]), a, agent("b", fails=False), run_kw={"inputs": {"xs": [1, 2]}}
    )
    assert result.output == ["b did m[0]", "b did m[1]"]


async def test_unknown_backups_are_plan_problems() -> None:
    with pytest.raises(PlanValidationError, match="unknown backup agent 'nobody'"):
        await run_plan(
            Plan([Task(id="t", agent="a", backups=("nobody",))]), agent("a", fails=False)
        )
