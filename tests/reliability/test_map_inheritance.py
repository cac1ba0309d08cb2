"""A mapped task's sub-tasks inherit its retry policy and its backups, each on its own.

(`test_backups.py::test_map_items_inherit_retry_and_backups` checks the backups' output only:
with ``attempts=1`` a lost retry policy would not show.)
"""

from __future__ import annotations

import pytest

from podium import Agent, Plan, Task, TaskCall
from podium.events import TaskAssigned, TaskRetrying, TaskStarted
from podium.exceptions import TaskError
from podium.reliability import Reliability, RetryPolicy
from podium.testing import FakeClock

from .helpers import of, run_plan

pytestmark = pytest.mark.anyio


async def broken(call: TaskCall) -> str:
    raise TaskError("a is broken", kind="broken", retryable=True)


async def fine(call: TaskCall) -> str:
    return f"b did {call.task_id}"


async def test_each_item_is_retried_as_its_parent_says_then_taken_over() -> None:
    task = Task(
        id="m",
        agent="a",
        map="inputs.xs",
        backups=("b",),
        retry=RetryPolicy(attempts=3, backoff_s=2.0, jitter=0.0),
    )
    result, journal = await run_plan(
        Plan([task]),
        Agent(name="a", function=broken),
        Agent(name="b", function=fine),
        run_kw={"inputs": {"xs": [1, 2]}},
        reliability=Reliability(retry=RetryPolicy(attempts=1)),  # what an orphan would get
        clock=FakeClock(),
    )
    assert result.output == ["b did m[0]", "b did m[1]"]
    for child in ("m[0]", "m[1]"):
        assert [e.agent for e in of(journal, TaskStarted, child)] == ["a", "a", "a", "b"]
        delays = [e.delay_s for e in of(journal, TaskRetrying, child)]
        assert delays[:2] == [2.0, 4.0]  # the parent's backoff
        [backup] = [e for e in of(journal, TaskAssigned, child) if e.agent == "b"]
        assert backup.reason == "backup for a: broken after 3 attempts"
