"""Live event streams (Server-Sent Events) of runs, from the store.

The store is the only source: a stream reads the journal after the last sequence number it sent,
then waits — woken at once by the orchestrator's listener for runs this server drives, else after
a short poll, so runs driven by other processes on the same store stream too. Nothing is queued
per client: a slow client only reads later, and one that disconnects leaves nothing behind.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

from podium.events import TERMINAL_EVENTS, AnyEvent, to_builtins
from podium.exceptions import RunNotFound
from podium.store import Store
from podium.store._protocol import FINAL

KEEPALIVE_S = 15.0


class Notifier:
    """Wakes the streams of a run when its driver journals an event (an orchestrator listener).

    Only a wake-up flag per waiting stream, never the events: memory does not grow with a
    client that reads slowly.
    """

    def __init__(self) -> None:
        self._waiting: dict[str, set[asyncio.Event]] = {}
        self.stopped = False
        """Set when the server stops: every stream ends at its next wake-up."""
        self._loop = asyncio.get_running_loop()

    def stop(self) -> None:
        """End every stream (from any thread, or a signal handler)."""
        self._loop.call_soon_threadsafe(self._stop)

    def _stop(self) -> None:
        self.stopped = True
        for waiting in self._waiting.values():
            for flag in waiting:
                flag.set()

    def on_event(self, event: AnyEvent) -> None:
        for flag in self._waiting.get(event.run_id, ()):
            flag.set()

    async def wait(self, run_id: str, timeout_s: float) -> None:
        """Until `run_id` journals something here, or `timeout_s` passes."""
        flag = asyncio.Event()
        waiting = self._waiting.setdefault(run_id, set())
        waiting.add(flag)
        try:
            await asyncio.wait_for(flag.wait(), timeout_s)
        except TimeoutError:
            pass
        finally:
            waiting.discard(flag)
            if not waiting:
                self._waiting.pop(run_id, None)

    @property
    def streams(self) -> int:
        """Streams waiting now (for tests and metrics)."""
        return sum(len(w) for w in self._waiting.values())


def sse(event: AnyEvent) -> str:
    """One event in the text/event-stream format."""
    fields = to_builtins(event)
    data = json.dumps(fields, separators=(",", ":"), ensure_ascii=False)
    return f"id: {event.seq}\nevent: {fields['kind']}\ndata: {data}\n\n"


async def finished_at(store: Store, run_id: str) -> int | None:
    """The last seq of a finished run, ``None`` while it can go on.

    Raises:
        RunNotFound: no such run.
    """
    info = await store.get_run(run_id)
    if info is None:
        raise RunNotFound(f"no run {run_id!r} in this store")
    return info.events - 1 if info.status in FINAL else None


async def event_stream(
    store: Store,
    notifier: Notifier,
    run_id: str,
    *,
    after: int,
    poll_s: float,
    keepalive_s: float = KEEPALIVE_S,
) -> AsyncIterator[str]:
    """The run's events after `after` as SSE messages; ends after the run's final event."""
    last = after
    quiet = 0.0
    while True:
        events = await store.load(run_id, after_seq=last)
        for event in events:
            yield sse(event)
            last = event.seq
            if isinstance(event, TERMINAL_EVENTS):
                return
        if events:
            quiet = 0.0
            continue
        end = await finished_at(store, run_id)
        if (end is not None and last >= end) or notifier.stopped:
            return
        if quiet >= keepalive_s:
            quiet = 0.0
            yield ": keep-alive\n\n"
        await notifier.wait(run_id, poll_s)
        quiet += poll_s
        if notifier.stopped:  # the server stops: a client reconnects with Last-Event-ID
            return


__all__ = ["Notifier", "event_stream", "finished_at", "sse"]
