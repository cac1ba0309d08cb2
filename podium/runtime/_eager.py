"""Eager start of attempts, with no task of their own for those that never suspend.

An attempt coroutine takes its first step at once, inline. One that finishes in that step (a
quick async agent) costs no task and no event-loop round trip before the scheduler sees its
result; one that suspends goes on from where it stopped in the task it started in.

That task is a *host*: an idle task of the run's task group that is the current task while an
attempt takes its first step, so anything bound to the current task (``asyncio.timeout``, anyio
cancel scopes) binds to the task that will carry the attempt on. An attempt that finishes leaves
the host idle for the next one; one that suspends keeps it, and the next attempt gets a new host.
Each attempt steps in a context of its own (a copy of the scheduler's), in its first step and
after, so a context variable it sets never leaks into the scheduler or into another attempt.
"""

from __future__ import annotations

import asyncio
import contextvars
import types
from asyncio import tasks as _tasks
from collections.abc import Callable, Coroutine, Generator
from typing import Any

_enter_task = _tasks._enter_task  # what a task's step does
_leave_task = _tasks._leave_task


class Done:
    """The coroutine finished during its eager start; `value` is what it returned."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value


@types.coroutine
def _carry_on(
    coro: Coroutine[Any, Any, Any],
    ctx: contextvars.Context,
    pending: Any,
    error: BaseException | None = None,
) -> Generator[Any, Any, Any]:
    """Continue `coro`, which yielded `pending` (or is to have `error` thrown in), stepping it
    in its own context `ctx`."""
    step: Callable[[Any], Any] | None = None
    arg: Any = None
    if error is not None:
        step, arg = coro.throw, error
    while True:
        if step is None:
            try:
                arg = yield pending
                step = coro.send
            except BaseException as exc:  # every throw, cancellation too, goes inward
                step, arg = coro.throw, exc
        try:
            pending = ctx.run(step, arg)
        except StopIteration as stop:
            return stop.value
        step = None


class _Host:
    """An idle task that adopts an attempt which suspended in its first step."""

    __slots__ = ("coro", "ctx", "first", "task", "wake")

    def __init__(self, tg: asyncio.TaskGroup, loop: asyncio.AbstractEventLoop) -> None:
        self.coro: Coroutine[Any, Any, Any] | None = None
        self.ctx: contextvars.Context | None = None
        self.first: Any = None
        self.wake: asyncio.Future[None] = loop.create_future()
        self.task = tg.create_task(self._serve(), name="podium-attempt")

    async def _serve(self) -> Any:
        try:
            await self.wake
        except asyncio.CancelledError as exc:
            if self.coro is None:
                raise  # cancelled while idle: the run is ending
            assert self.ctx is not None
            return await _carry_on(self.coro, self.ctx, None, exc)
        if self.coro is None:
            return None  # released: the run is over
        assert self.ctx is not None
        return await _carry_on(self.coro, self.ctx, self.first)

    def adopt(self, coro: Coroutine[Any, Any, Any], ctx: contextvars.Context, first: Any) -> None:
        self.coro, self.ctx, self.first = coro, ctx, first
        self.task.add_done_callback(self._close_if_unstarted)
        if not self.wake.done():
            self.wake.set_result(None)

    def _close_if_unstarted(self, task: asyncio.Task[Any]) -> None:
        if task.cancelled() and self.coro is not None:
            self.coro.close()  # cancelled before it could go on: run its `finally` blocks

    def release(self) -> None:
        if not self.wake.done():
            self.wake.set_result(None)


class EagerStarter:
    """Starts coroutines eagerly in one task group (see the module docstring).

    Call `close` when no more will be started, before the task group ends: it releases the idle
    host the group would otherwise wait for.
    """

    __slots__ = ("_host", "_loop", "_tg")

    def __init__(self, tg: asyncio.TaskGroup) -> None:
        self._tg = tg
        self._loop = asyncio.get_running_loop()
        self._host: _Host | None = None

    def start(self, coro: Coroutine[Any, Any, Any], *, name: str) -> Done | asyncio.Task[Any]:
        """Take `coro`'s first step now: `Done` when it finished in it (an exception it raised
        propagates), else the task that carries it on (named `name`)."""
        host = self._host
        if host is None or host.task.done() or host.task.cancelling():
            host = self._host = _Host(self._tg, self._loop)
        loop = self._loop
        ctx = contextvars.copy_context()
        current = _tasks.current_task(loop)
        if current is not None:
            _leave_task(loop, current)
        _enter_task(loop, host.task)
        try:
            first = ctx.run(coro.send, None)
        except StopIteration as stop:
            return Done(stop.value)
        finally:
            _leave_task(loop, host.task)
            if current is not None:
                _enter_task(loop, current)
        self._host = None
        host.task.set_name(name)
        host.adopt(coro, ctx, first)
        return host.task

    def close(self) -> None:
        """Release the idle host (no more starts)."""
        if self._host is not None:
            self._host.release()
            self._host = None


__all__ = ["Done", "EagerStarter"]
