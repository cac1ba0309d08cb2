"""Listeners: every event of every run of an orchestrator, and notices of what starts and ends.

`Orchestrator.subscribe(listener)` gives a listener, in order, each event its runs journal — and,
if it has an ``on_notice`` method, a `Notice` when an attempt, a model call or a tool call starts
and when it finishes (not journaled: what a tracing span or a live view opens before the call and
closes after it).

A listener never slows the scheduler: events are put in its own bounded buffer and delivered by
its own task. One that falls behind by more than its buffer loses no journal data: the events it
missed are read back from the store before it is given the next one. Notices are advisory: when
the buffer is full they are dropped (and counted).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any, Literal, Protocol, runtime_checkable

import msgspec

from podium.events import AnyEvent, RunCancelled, RunFailed, RunPartiallySucceeded, RunSucceeded
from podium.models._base import ModelResponse
from podium.models._calls import CallModel, ModelCallInput
from podium.runtime._attempt import AttemptOutcome
from podium.runtime._interceptors import AttemptCall, ExecuteAttempt
from podium.store import Store
from podium.tools._calls import CallTool, ToolCallInput, ToolCallResult

log = logging.getLogger(__name__)

JSON = Any
DEFAULT_BUFFER = 10_000
_FINAL = (RunSucceeded, RunPartiallySucceeded, RunFailed, RunCancelled)
FORGET_AFTER = 1_000
"""Ended runs whose last delivered event a subscription remembers (to drop duplicates)."""
FILL_RETRY_S = 1.0


class Notice(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """An attempt, a model call or a tool call that starts or finishes.

    Attributes:
        what: ``attempt``, ``model`` or ``tool``.
        phase: ``started`` or ``finished``.
        run_id, task, agent, attempt: whose it is.
        name: the model's or the tool's name (the agent's for an attempt).
        ts: when, by the orchestrator's clock (seconds since the epoch).
        duration_s: with ``finished``: how long it took.
        error: with ``finished``: what went wrong (the exception's type and message), if it did.
    """

    what: Literal["attempt", "model", "tool"]
    phase: Literal["started", "finished"]
    run_id: str
    task: str
    agent: str
    attempt: int
    name: str
    ts: float
    duration_s: float | None = None
    error: str | None = None


@runtime_checkable
class Listener(Protocol):
    """Told of every journaled event (sync or async). An ``on_notice(notice)`` method, if it
    has one, is told of every `Notice`."""

    def on_event(self, event: AnyEvent) -> Awaitable[None] | None: ...


class _Callback:
    """A plain ``(event) -> None`` callable as a listener."""

    __slots__ = ("fn",)

    def __init__(self, fn: Callable[[AnyEvent], Awaitable[None] | None]) -> None:
        self.fn = fn

    def on_event(self, event: AnyEvent) -> Awaitable[None] | None:
        return self.fn(event)


class Subscription:
    """One listener's buffer and delivery task; `close` (or the orchestrator's) ends it."""

    def __init__(self, hub: ListenerHub, listener: Any, max_buffer: int) -> None:
        self.hub = hub
        self.listener = listener
        self.max_buffer = max_buffer
        self.wants_notices = callable(getattr(listener, "on_notice", None))
        self.dropped_notices = 0
        """Notices not delivered because the buffer was full."""
        self._items: deque[AnyEvent | Notice] = deque()
        self._queued: dict[str, int] = {}  # run → the last seq queued
        self._delivered: dict[str, int] = {}  # run → the last seq delivered
        self._gaps: dict[str, int] = {}  # run → the last seq queued before events were dropped
        self._finished: deque[str] = deque()  # runs that ended, oldest first
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def put(self, item: AnyEvent | Notice) -> None:
        if isinstance(item, Notice):
            if len(self._items) >= self.max_buffer:
                self.dropped_notices += 1
                return
        elif len(self._items) >= self.max_buffer or item.run_id in self._gaps:
            self._gaps.setdefault(item.run_id, self._queued.get(item.run_id, item.seq - 1))
            return
        else:
            self._queued[item.run_id] = item.seq
        self._items.append(item)
        self._start()
        self._wake.set()

    def _start(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._deliver())

    async def _deliver(self) -> None:
        while True:
            while self._items or self._gaps:
                if self._items:
                    await self._give(self._items.popleft())
                else:
                    await self._fill(*self._gaps.popitem())
            self._wake.clear()
            await self._wake.wait()

    async def _fill(self, run_id: str, after: int) -> None:
        """Deliver what was dropped for `run_id`, read back from the store (events queued
        meanwhile and read back too are given once: `_give` skips what was delivered)."""
        try:
            missed = await self.hub.store.load(run_id, after_seq=after)
        except Exception:  # the store is away: try again in a while
            log.warning("listener %r: could not read back run %s", self.listener, run_id)
            self._gaps.setdefault(run_id, after)
            await asyncio.sleep(FILL_RETRY_S)
            return
        for event in missed:
            await self._give(event)

    async def _give(self, item: AnyEvent | Notice) -> None:
        if not isinstance(item, Notice):
            run_id = item.run_id
            if item.seq <= self._delivered.get(run_id, -1):
                return  # read back from the store already
            self._delivered[run_id] = item.seq
            if type(item) in _FINAL:  # the run is over: forget it, a while later
                self._finished.append(run_id)
                if len(self._finished) > FORGET_AFTER:
                    old = self._finished.popleft()
                    self._delivered.pop(old, None)
                    self._queued.pop(old, None)
        try:
            if isinstance(item, Notice):
                result = self.listener.on_notice(item)
            else:
                result = self.listener.on_event(item)
            if inspect.isawaitable(result):
                await result
        except asyncio.CancelledError:
            raise
        except Exception:  # a listener's bug is its own: the runs go on
            log.exception("listener %r failed on %r", self.listener, item)

    async def close(self) -> None:
        """Stop delivering (what is buffered is dropped)."""
        self.hub.subscriptions.discard(self)
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


class ListenerHub:
    """The listeners of one orchestrator (see the module docstring)."""

    def __init__(self, store: Store, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.clock = clock
        self.subscriptions: set[Subscription] = set()

    def subscribe(self, listener: Any, *, max_buffer: int = DEFAULT_BUFFER) -> Subscription:
        if not callable(getattr(listener, "on_event", None)):
            if not callable(listener):
                raise TypeError(f"{listener!r} is neither a listener nor a callable")
            listener = _Callback(listener)
        subscription = Subscription(self, listener, max_buffer)
        self.subscriptions.add(subscription)
        return subscription

    @property
    def active(self) -> bool:
        return bool(self.subscriptions)

    @property
    def wants_notices(self) -> bool:
        return any(s.wants_notices for s in self.subscriptions)

    def publish(self, event: AnyEvent) -> None:
        for subscription in self.subscriptions:
            subscription.put(event)

    def notice(self, notice: Notice) -> None:
        for subscription in self.subscriptions:
            if subscription.wants_notices:
                subscription.put(notice)

    async def close(self) -> None:
        for subscription in list(self.subscriptions):
            await subscription.close()


Where = tuple[str, str, str, int, str]
"""(run, task, agent, attempt, name) of a notice."""


class Notices:
    """Attempts, model calls and tool calls announced to the listeners, started and finished:
    the outermost built-in interceptor."""

    def __init__(self, hub: ListenerHub) -> None:
        self.hub = hub

    def _say(
        self,
        what: Literal["attempt", "model", "tool"],
        where: Where,
        started: float | None = None,
        error: str | None = None,
    ) -> float:
        now = time.monotonic()
        run, task, agent, attempt, name = where
        self.hub.notice(
            Notice(
                what=what,
                phase="started" if started is None else "finished",
                run_id=run,
                task=task,
                agent=agent,
                attempt=attempt,
                name=name,
                ts=self.hub.clock(),
                duration_s=None if started is None else now - started,
                error=error,
            )
        )
        return now

    async def _around(
        self, what: Literal["attempt", "model", "tool"], where: Where, step: Any, input: Any
    ) -> Any:
        """`step(input)`, announced as started and as finished (with its error, if any)."""
        started = self._say(what, where)
        try:
            result = await step(input)
        except BaseException as exc:
            self._say(what, where, started, _text(exc))
            raise
        error = getattr(result, "error", None) if what == "attempt" else None
        self._say(what, where, started, None if error is None else error.message)
        return result

    async def execute(self, call: AttemptCall, next: ExecuteAttempt) -> AttemptOutcome:
        i = call.input
        where = (i.run_id, i.task.id, i.agent, i.attempt, i.agent)
        outcome: AttemptOutcome = await self._around("attempt", where, next, call)
        return outcome

    async def request(self, input: ModelCallInput, next: CallModel) -> ModelResponse:
        where = (input.run_id, input.task_id, input.agent, input.attempt, input.model.name)
        response: ModelResponse = await self._around("model", where, next, input)
        return response

    async def call(self, input: ToolCallInput, next: CallTool) -> ToolCallResult:
        c = input.context
        where = (c.run_id, c.task_id, c.agent, input.attempt, input.tool.name)
        result: ToolCallResult = await self._around("tool", where, next, input)
        return result


def _text(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


__all__ = ["DEFAULT_BUFFER", "Listener", "ListenerHub", "Notice", "Notices", "Subscription"]
