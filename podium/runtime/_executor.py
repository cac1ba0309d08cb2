"""Executors: where attempts run.

An executor takes an `AttemptInput` and an event sink and gives back an `AttemptOutcome`; it never
touches the journal or the run's lease, which stay with the orchestrator. `LocalExecutor` runs
attempts in the orchestrator's event loop, synchronous agents on its bounded pool of daemon
threads; `podium.runtime.ray.RayExecutor` runs them on a Ray cluster. A new executor implements
`Executor` and passes the executor contract suite (`tests/runtime/test_executors.py`).
"""

from __future__ import annotations

import os
from collections.abc import Awaitable
from concurrent.futures import Executor as ThreadPool
from typing import Protocol, runtime_checkable

from podium.runtime._attempt import AttemptInput, AttemptOutcome, EventSink
from podium.runtime._threads import AgentThreads
from podium.runtime._work import AttemptWorker

DEFAULT_THREADS = min(32, (os.cpu_count() or 1) + 4)


@runtime_checkable
class Executor(Protocol):
    """Runs attempts (see the module docstring).

    `live_events`: whether the events an attempt emits reach the journal as they happen (the
    sink is called during the attempt), or come back with the outcome (`AttemptOutcome.events`).
    """

    name: str
    live_events: bool

    async def open(self) -> None: ...

    async def close(self) -> None: ...

    def execute(
        self, worker: AttemptWorker, input: AttemptInput, emit: EventSink
    ) -> Awaitable[AttemptOutcome]:
        """Run one attempt. The returned awaitable is started at once by the scheduler (a local
        attempt that never suspends completes before the scheduler's next step)."""
        ...


class LocalExecutor:
    """Attempts in the orchestrator's event loop; synchronous agents and tools on a bounded pool
    of daemon threads (whose stuck calls can be abandoned: see `AgentThreads`).

    Args:
        threads: size of the thread pool (ignored when `pool` is given).
        pool: a thread pool of your own (any `concurrent.futures.Executor`).
    """

    name = "local"
    live_events = True

    def __init__(self, *, threads: int = DEFAULT_THREADS, pool: ThreadPool | None = None) -> None:
        self._own = pool is None
        self.pool: ThreadPool = pool if pool is not None else AgentThreads(threads, name="podium")

    async def open(self) -> None:
        return None

    async def close(self) -> None:
        if self._own:
            self.pool.shutdown(wait=False, cancel_futures=True)

    def execute(
        self, worker: AttemptWorker, input: AttemptInput, emit: EventSink
    ) -> Awaitable[AttemptOutcome]:
        return worker.run(input, emit, pool=self.pool)


__all__ = ["DEFAULT_THREADS", "Executor", "LocalExecutor"]
