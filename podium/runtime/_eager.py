"""Eager start of attempts (what Python 3.12's eager tasks do, on 3.11 too).

An attempt coroutine runs inline, as its own task, until it first suspends. One that finishes
without suspending (a quick async agent) costs no event-loop round trip before the scheduler sees
its result; one that suspends simply goes on in its task from where it stopped.

The task object exists before the coroutine takes its first step and is the current task while it
does, so anything bound to the current task (``asyncio.timeout``, anyio cancel scopes) binds to the
right one.
"""

from __future__ import annotations

import asyncio
import types
from asyncio import tasks as _tasks
from collections.abc import Coroutine, Generator
from typing import Any, TypeVar

T = TypeVar("T")

_enter_task = getattr(_tasks, "_enter_task", None)
_leave_task = getattr(_tasks, "_leave_task", None)


class _Box:
    __slots__ = ("coro", "done", "first", "value")

    def __init__(self, coro: Coroutine[Any, Any, Any]) -> None:
        self.coro = coro
        self.done = False
        self.first: Any = None
        self.value: Any = None


@types.coroutine
def _resume(box: _Box) -> Generator[Any, Any, Any]:
    """Continue the boxed coroutine, which already yielded `box.first`."""
    coro = box.coro
    pending = box.first
    while True:
        try:
            received = yield pending
        except BaseException as exc:  # every throw, cancellation too, goes inward
            try:
                pending = coro.throw(exc)
            except StopIteration as stop:
                return stop.value
        else:
            try:
                pending = coro.send(received)
            except StopIteration as stop:
                return stop.value


async def _trampoline(box: _Box) -> Any:
    if box.done:
        return None
    return await _resume(box)


def _close_if_cancelled(box: _Box, task: asyncio.Task[Any]) -> None:
    if task.cancelled() and not box.done:
        box.coro.close()  # cancelled before it could continue: run its `finally` blocks


class Done:
    """The coroutine finished during its eager start; `value` is what it returned."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value


def start_eagerly(
    tg: asyncio.TaskGroup, coro: Coroutine[Any, Any, T], *, name: str | None = None
) -> Done | asyncio.Task[Any]:
    """Run `coro` as a task of `tg` (named `name`), taking its first step now.

    Returns `Done` when it finished in that step (its exception, if any, propagates), else its
    task.
    """
    box = _Box(coro)
    task = tg.create_task(_trampoline(box), name=name)
    if _enter_task is None or _leave_task is None:  # pragma: no cover - other Python builds
        box.done = False
        box.first = None
        return task
    loop = asyncio.get_running_loop()
    current = asyncio.current_task(loop)
    if current is not None:
        _leave_task(loop, current)
    _enter_task(loop, task)
    try:
        box.first = coro.send(None)
    except StopIteration as stop:
        box.done = True
        return Done(stop.value)
    except BaseException:
        box.done = True
        raise
    finally:
        _leave_task(loop, task)
        if current is not None:
            _enter_task(loop, current)
    task.add_done_callback(lambda t: _close_if_cancelled(box, t))
    return task
