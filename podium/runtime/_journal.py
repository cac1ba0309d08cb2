"""The one writer of a run's journal.

`Journal` numbers a run's events, folds each into the run's state as it is made, appends them
to the store under the run's lease (every append carries the lease's fencing token) and tells
the listeners. Planning, the scheduler, approvals and cancellation all write through it, so the
sequence, the fold and the notification happen in one place; so does redaction: every registered
secret value (`podium.secrets`) is replaced in each event before the state, the store or a
listener sees it.
"""

from __future__ import annotations

import inspect
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from podium.events import AnyEvent, Event
from podium.runtime._state import RunState
from podium.secrets import redact_struct
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
        # redacted before the state sees it, so the state stays the fold of what is stored
        event = redact_struct(kind(run_id=state.run_id, seq=state.seq, ts=self.clock(), **fields))
        state.apply(event)  # type: ignore[arg-type]
        self._outbox.append(event)  # type: ignore[arg-type]
        return event

    def record(self, kind: type[E], fold: Callable[[], None], /, **fields: Any) -> E:
        """Queue an event whose effect on the state `fold` applies (when the caller holds what
        the event's own fold would have to decode, e.g. a plan as built)."""
        state = self.state
        state.seq += 1
        event = redact_struct(kind(run_id=state.run_id, seq=state.seq, ts=self.clock(), **fields))
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


__all__ = ["Journal", "Listener"]
