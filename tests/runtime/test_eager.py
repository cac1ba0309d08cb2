"""Eager starts: what an attempt sees of its task and context, with and without suspending."""

from __future__ import annotations

import asyncio
import contextvars
from typing import Any

import pytest

from podium import Agent, Orchestrator, Plan, Task, TaskCall
from podium.runtime._eager import Done, EagerStarter

pytestmark = pytest.mark.anyio

VAR: contextvars.ContextVar[str] = contextvars.ContextVar("VAR", default="unset")


async def quick() -> str:
    return "quick"


async def test_a_coroutine_that_never_suspends_is_done_and_reuses_one_host() -> None:
    async with asyncio.TaskGroup() as tg:
        starter = EagerStarter(tg)
        results = [starter.start(quick(), name=f"q{i}") for i in range(3)]
        hosts = {id(starter._host)}
        starter.close()
    assert all(isinstance(r, Done) and r.value == "quick" for r in results)
    assert len(hosts) == 1


async def test_the_task_seen_in_the_first_step_carries_the_coroutine_on() -> None:
    seen: list[asyncio.Task[Any] | None] = []

    async def suspends() -> str:
        seen.append(asyncio.current_task())
        await asyncio.sleep(0)
        seen.append(asyncio.current_task())
        return "later"

    me = asyncio.current_task()
    async with asyncio.TaskGroup() as tg:
        starter = EagerStarter(tg)
        task = starter.start(suspends(), name="s#1")
        assert isinstance(task, asyncio.Task)
        assert task.get_name() == "s#1"
        assert asyncio.current_task() is me  # the caller is the current task again
        assert await task == "later"
        after = starter.start(quick(), name="q")  # a new host: the first one is taken
        starter.close()
    assert seen == [task, task]
    assert isinstance(after, Done)


async def test_a_timeout_entered_in_the_first_step_binds_to_the_carrying_task() -> None:
    async def slow() -> str:
        try:
            async with asyncio.timeout(0.01):
                await asyncio.sleep(5)
        except TimeoutError:
            return "timed out"
        return "never"

    async with asyncio.TaskGroup() as tg:
        starter = EagerStarter(tg)
        task = starter.start(slow(), name="slow")
        assert isinstance(task, asyncio.Task)
        assert await task == "timed out"
        await asyncio.sleep(0.02)  # the caller was not cancelled by the attempt's timeout
        starter.close()


async def test_context_variables_an_attempt_sets_stay_in_its_own_context() -> None:
    async def sets_and_suspends() -> str:
        token = VAR.set("attempt")
        await asyncio.sleep(0)
        value = VAR.get()
        VAR.reset(token)  # the token is of this context: it resets where it was set
        return value

    async def reads() -> str:
        return VAR.get()

    async def sets_quickly() -> str:
        VAR.set("quick")
        return VAR.get()

    async with asyncio.TaskGroup() as tg:
        starter = EagerStarter(tg)
        task = starter.start(sets_and_suspends(), name="a")
        quick_one = starter.start(sets_quickly(), name="b")
        other = starter.start(reads(), name="c")
        assert isinstance(task, asyncio.Task)
        assert await task == "attempt"
        starter.close()
    assert isinstance(quick_one, Done)
    assert quick_one.value == "quick"
    assert isinstance(other, Done)
    assert other.value == "unset"  # not the one before it's
    assert VAR.get() == "unset"  # nor the caller's


async def test_an_exception_in_the_first_step_propagates_and_the_host_is_kept() -> None:
    async def fails() -> str:
        raise ValueError("no")

    async with asyncio.TaskGroup() as tg:
        starter = EagerStarter(tg)
        with pytest.raises(ValueError, match="no"):
            starter.start(fails(), name="f")
        host = starter._host
        assert isinstance(starter.start(quick(), name="q"), Done)
        assert starter._host is host
        starter.close()


async def test_cancelling_a_carried_attempt_runs_its_cleanup() -> None:
    cleaned: list[str] = []

    async def waits() -> str:
        try:
            await asyncio.Event().wait()
        finally:
            cleaned.append("cleaned")
        return "never"

    async with asyncio.TaskGroup() as tg:
        starter = EagerStarter(tg)
        task = starter.start(waits(), name="w")
        assert isinstance(task, asyncio.Task)
        task.cancel()  # before the host took its first step
        with pytest.raises(asyncio.CancelledError):
            await task
        starter.close()
    assert cleaned == ["cleaned"]


async def test_a_host_cancelled_by_a_quick_attempt_is_not_reused() -> None:
    async def cancels_its_task() -> str:
        task = asyncio.current_task()
        assert task is not None
        task.cancel()
        return "done anyway"

    async def suspends() -> str:
        await asyncio.sleep(0)
        return "fine"

    async with asyncio.TaskGroup() as tg:
        starter = EagerStarter(tg)
        first = starter.start(cancels_its_task(), name="c")
        second = starter.start(suspends(), name="s")
        assert isinstance(first, Done)
        assert isinstance(second, asyncio.Task)
        assert await second == "fine"
        starter.close()


async def test_a_run_of_quick_attempts_creates_one_task_per_run_not_per_attempt() -> None:
    created: list[str] = []
    loop = asyncio.get_running_loop()
    factory = loop.get_task_factory()

    def counting(loop: asyncio.AbstractEventLoop, coro: Any, **kw: Any) -> asyncio.Task[Any]:
        created.append(getattr(coro, "__qualname__", "?"))
        return asyncio.Task(coro, loop=loop, **kw)

    async def step(call: TaskCall) -> int:
        return 1

    plan = Plan([Task(id=f"t{i}", agent="s", needs=(f"t{i - 1}",) if i else ()) for i in range(20)])
    async with Orchestrator(agents=[Agent(name="s", function=step)], store="memory://") as orch:
        await orch.run(plan)  # warm up: whatever opening the orchestrator starts
        loop.set_task_factory(counting)
        try:
            result = await orch.run(plan)
        finally:
            loop.set_task_factory(factory)
    assert result.status == "succeeded"
    assert created.count("_Host._serve") == 1
