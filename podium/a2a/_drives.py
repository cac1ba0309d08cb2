"""The runs an A2A server drives, in a task group its app's lifespan owns, and the wake-ups
that let a follower see a run's new events without polling fast.

A request that starts (or resumes) a run returns once the run's journal has it; the drive goes
on in the background. At shutdown every run still driven is interrupted, left resumable; the
next server on the same store resumes it (`resume_orphans`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from podium.events import AnyEvent
from podium.exceptions import LeaseHeld, PodiumError, RunError
from podium.runtime import Orchestrator, RunResult
from podium.runtime._approvals import SYSTEM
from podium.store._lease import Lease

log = logging.getLogger(__name__)

Drive = Callable[[Callable[[AnyEvent], None]], Awaitable[RunResult]]
"""Starts driving a run, telling the given callback of each event; returns its result."""

RESUMABLE = frozenset({"running", "interrupted"})
"""Run statuses a starting server takes over (a running run only once its lease expired)."""


class Drives:
    """Background drives and per-run wake-ups of one A2A server."""

    def __init__(self, orch: Orchestrator, *, poll_s: float) -> None:
        self.orch = orch
        self.poll_s = poll_s
        self.group: asyncio.TaskGroup | None = None
        self.tasks: dict[str, asyncio.Task[Any]] = {}
        self.wakeups: dict[str, asyncio.Event] = {}
        self.closing = False

    def on_event(self, event: AnyEvent) -> None:
        """The orchestrator's listener: wakes whoever follows the event's run."""
        waiting = self.wakeups.get(event.run_id)
        if waiting is not None:
            waiting.set()

    async def wait(self, run_id: str) -> None:
        """Until the run has news, or `poll_s` passed (a run driven by another process)."""
        event = self.wakeups.setdefault(run_id, asyncio.Event())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), self.poll_s)
        event.clear()

    async def start(self, run_id: str, drive: Drive) -> None:
        """Drive a run in the background; return once its journal has it.

        Raises:
            whatever the drive raised before the run existed (ConfigError, LeaseHeld, …).
        """
        if self.closing or self.group is None:
            raise RunError("the A2A server is stopping; send the message again once it is back")
        began = asyncio.Event()
        failure: list[BaseException] = []

        def told(event: AnyEvent) -> None:
            began.set()
            self.on_event(event)

        async def body() -> None:
            try:
                await drive(told)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # one run's failure must not end the server's group
                failure.append(exc)
                if began.is_set():
                    log.exception("run %s stopped with an error", run_id)
            finally:
                began.set()
                if self.tasks.get(run_id) is task:
                    del self.tasks[run_id]
                self.on_event_for(run_id)

        task = self.group.create_task(body(), name=f"podium a2a run {run_id}")
        self.tasks[run_id] = task
        while not began.is_set():
            try:
                await asyncio.wait_for(began.wait(), self.poll_s)
            except TimeoutError:
                if await self.orch.store.get_run(run_id) is not None:
                    break
        if failure and await self.orch.store.get_run(run_id) is None:
            raise failure[0]

    def on_event_for(self, run_id: str) -> None:
        waiting = self.wakeups.get(run_id)
        if waiting is not None:
            waiting.set()

    async def resume(self, lease: Lease, *, by: str) -> None:
        """Drive a run whose lease is in hand (the drive releases it), resumed by `by`."""
        await self.start(
            lease.run_id, lambda told: self.orch.resume_leased(lease, on_event=told, by=by)
        )

    async def resume_orphans(self, name: str, *, limit: int = 10_000) -> int:
        """Resume this workflow's runs that nobody drives (left by a server that stopped or
        died); how many."""
        resumed = 0
        for info in await self.orch.store.list_runs(limit=limit):
            if info.name != name or info.status not in RESUMABLE or info.run_id in self.tasks:
                continue
            try:
                lease = await self.orch.leases.acquire(info.run_id)
            except LeaseHeld:
                continue  # another process drives it, or its dead driver's lease runs on
            try:
                await self.resume(lease, by=SYSTEM)  # no one asked: the server takes it over
                resumed += 1
            except PodiumError as exc:
                log.warning("could not resume run %s: %s", info.run_id, exc)
        return resumed

    async def sweep(self, name: str, every_s: float) -> None:
        """Resume orphaned runs every `every_s` seconds (a dead server's lease has to expire
        before its runs can be taken over)."""
        while True:
            await asyncio.sleep(every_s)
            try:
                resumed = await self.resume_orphans(name)
            except PodiumError as exc:  # the store is away: try again next time
                log.warning("could not look for orphaned A2A tasks: %s", exc)
                continue
            if resumed:
                log.info("resumed %d orphaned A2A task(s)", resumed)

    async def shutdown(self) -> None:
        """Interrupt every run still driven (resumable later); the group waits for them."""
        self.closing = True
        for run_id, task in list(self.tasks.items()):
            if not self.orch.interrupt(run_id, "interrupted (the A2A server stopped)"):
                task.cancel()  # still planning or starting: nothing to interrupt yet


__all__ = ["Drive", "Drives"]
