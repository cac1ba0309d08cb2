"""The one writer of a run's journal, and the lease that lets it write.

`Journal` numbers a run's events, folds each into the run's state as it is made, appends them
to the store under the run's lease (every append carries the lease's fencing token) and tells
the listeners. Planning, the scheduler and approvals all write through it, so the sequence,
the fold and the notification happen in one place.

`LeaseKeeper` holds the lease while a process drives the run: it renews it every third of its
term, says whether it is still safely held (`valid`), and reports a lost lease or a cancel
request that another process left for the driver.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Any, TypeVar

from podium.events import AnyEvent, Event
from podium.exceptions import LeaseLost, StoreError
from podium.runtime._state import RunState
from podium.store import Store
from podium.store._lease import Lease
from podium.store._protocol import UNLEASED, status_after

log = logging.getLogger(__name__)

E = TypeVar("E", bound=Event)
Listener = Callable[[AnyEvent], Any]
"""Called with each journaled event; may be async (then awaited: a slow one slows the run)."""


class Journal:
    """Appends a run's events, in order, as the holder of its lease.

    Args:
        state: the run's state; every event is applied to it when it is made.
        store: where the events go.
        clock: the time of the events.
        lease: the run's lease (its token fences every append); ``None`` appends unfenced,
            which the store allows only while nobody holds the run's lease.
        listeners: told of each event once it is in the store.
    """

    __slots__ = ("_outbox", "clock", "fence", "listeners", "released", "state", "store")

    def __init__(
        self,
        state: RunState,
        store: Store,
        *,
        clock: Callable[[], float] = time.time,
        lease: Lease | None = None,
        listeners: Sequence[Listener] = (),
    ) -> None:
        self.state = state
        self.store = store
        self.clock = clock
        self.fence = None if lease is None else lease.token
        self.listeners = list(listeners)
        self.released = False
        """An appended event ended, parked or interrupted the run, which released the lease."""
        self._outbox: list[AnyEvent] = []

    def emit(self, kind: type[E], **fields: Any) -> E:
        """Queue an event for the next flush; the state sees it at once."""
        state = self.state
        state.seq += 1
        event = kind(run_id=state.run_id, seq=state.seq, ts=self.clock(), **fields)
        state.apply(event)  # type: ignore[arg-type]
        self._outbox.append(event)  # type: ignore[arg-type]
        return event

    def record(self, kind: type[E], fold: Callable[[], None], /, **fields: Any) -> E:
        """Queue an event whose effect on the state `fold` applies (when the caller holds what
        the event's own fold would have to decode, e.g. a plan as built)."""
        state = self.state
        state.seq += 1
        event = kind(run_id=state.run_id, seq=state.seq, ts=self.clock(), **fields)
        fold()
        self._outbox.append(event)  # type: ignore[arg-type]
        return event

    async def flush(self) -> None:
        """Append what was emitted since the last flush, atomically, then tell the listeners."""
        if not self._outbox:
            return
        batch, self._outbox = self._outbox, []
        await self.store.append(self.state.run_id, batch, fence=self.fence)
        if status_after(batch) in UNLEASED:
            self.released = True
        for listener in self.listeners:
            for event in batch:
                result = listener(event)
                if inspect.isawaitable(result):
                    await result

    async def emit_now(self, kind: type[Event], **fields: Any) -> None:
        """Journal one event right away (a model call, a tool call, a planner's proposal)."""
        self.emit(kind, **fields)
        await self.flush()

    def discard(self) -> None:
        """Drop what was emitted but not flushed (the lease is lost: it cannot be written)."""
        self._outbox.clear()


class LeaseKeeper:
    """Keeps a driver's lease while it drives: an async context manager.

    The lease is renewed every third of `lease_s`, from a timer (no task exists between
    renewals). A renewal that fails on a store error is retried at the next tick; once the
    lease's term has passed without a successful renewal, or the store says another driver
    holds it, it is lost: `valid` turns false and `on_lost` is called. A cancel request left by
    another process (`Store.request_cancel`) comes with a renewal and goes to `on_cancel`.

    Args:
        store: the run's store.
        lease: the lease, just acquired.
        lease_s: its term.
        stop: how it stops the run: ``stop("lost", "lease", why)`` once when the lease is
            lost, ``stop("cancelled", reason, "")`` on a cancel request.
    """

    def __init__(
        self,
        store: Store,
        lease: Lease,
        *,
        lease_s: float,
        stop: Callable[[str, str, str], None] | None = None,
    ) -> None:
        self.store = store
        self.lease = lease
        self.lease_s = lease_s
        self.stop = stop
        self.lost: str | None = None
        """Why the lease was lost, once it was."""
        self._deadline = time.monotonic() + lease_s
        self._timer: asyncio.TimerHandle | None = None
        self._renewal: asyncio.Task[None] | None = None
        self._cancel_seen = False

    def valid(self) -> bool:
        """Whether the lease is surely still ours (not lost, and renewed within its term)."""
        if self.lost is not None:
            return False
        if time.monotonic() < self._deadline:
            return True
        self._lose(f"the lease was not renewed within its {self.lease_s:g}s term")
        return False

    async def __aenter__(self) -> LeaseKeeper:
        if self.lease.cancel is not None:
            self._cancelled(self.lease.cancel)
        self._schedule()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        renewal, self._renewal = self._renewal, None
        if renewal is not None and not renewal.done():
            renewal.cancel()
            await asyncio.gather(renewal, return_exceptions=True)

    def _schedule(self) -> None:
        loop = asyncio.get_running_loop()
        self._timer = loop.call_later(self.lease_s / 3, self._tick)

    def _tick(self) -> None:
        self._timer = None
        if self.lost is None:
            self._renewal = asyncio.get_running_loop().create_task(self._renew())

    async def _renew(self) -> None:
        asked = time.monotonic()
        try:
            self.lease = await self.store.renew(self.lease, lease_s=self.lease_s)
        except LeaseLost as exc:
            self._lose(str(exc))
            return
        except StoreError as exc:
            log.warning("run %s: cannot renew its lease: %s", self.lease.run_id, exc)
            if self.valid():
                self._schedule()
            return
        self._deadline = asked + self.lease_s
        if self.lease.cancel is not None:
            self._cancelled(self.lease.cancel)
        self._schedule()

    def _cancelled(self, reason: str) -> None:
        if not self._cancel_seen and self.stop is not None:
            self._cancel_seen = True
            self.stop("cancelled", reason, "")

    def _lose(self, why: str) -> None:
        if self.lost is None:
            self.lost = why
            log.error("run %s: lease lost: %s", self.lease.run_id, why)
            if self.stop is not None:
                self.stop("lost", "lease", why)


__all__ = ["Journal", "LeaseKeeper", "Listener"]
