"""Runs the server drives, in a task group owned by the app's lifespan.

A request that starts a run returns as soon as the run exists in the store (its journal has
begun) or failed to start (bad inputs, a lease held elsewhere): the error is the response. The
drive goes on in the background; at shutdown every run still driven is interrupted (left
resumable, `RunInterrupted`) and the group waits for the drives to stop.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from podium.events import AnyEvent
from podium.exceptions import PodiumError
from podium.runtime import Orchestrator, RunResult

logger = logging.getLogger(__name__)

Drive = Callable[[Callable[[AnyEvent], None]], Awaitable[RunResult]]
"""Starts driving a run, telling the given callback of each event; returns its result."""

_POLL_S = 0.05


class ServerStopping(PodiumError):
    """The server is shutting down: it starts no more runs."""


class AlreadyDriven(PodiumError):
    """This server drives that run already."""


class Runner:
    """The background drives of one server."""

    def __init__(self, orch: Orchestrator, group: asyncio.TaskGroup) -> None:
        self.orch = orch
        self.group = group
        self.drives: dict[str, asyncio.Task[Any]] = {}
        self.began: dict[str, asyncio.Event] = {}
        """Per driven run: set once its journal has begun (or its drive ended)."""
        self.closing = False

    async def start(self, run_id: str, drive: Drive) -> None:
        """Drive a run in the background; return once it exists in the store.

        Raises:
            whatever the drive raised before the run existed (ConfigError, LeaseHeld, …).
        """
        if self.closing:
            raise ServerStopping("the server is stopping; submit the run again once it is back")
        if run_id in self.drives:
            await self._begun(run_id, self.began[run_id])  # then the caller finds it stored
            raise AlreadyDriven(f"run {run_id!r} is driven by this server already")
        began = self.began[run_id] = asyncio.Event()
        failure: list[BaseException] = []

        def on_event(_event: AnyEvent) -> None:
            began.set()

        async def body() -> None:
            try:
                await drive(on_event)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the group must outlive one run's failure
                failure.append(exc)
                if not began.is_set():
                    return
                logger.exception("run %s stopped with an error", run_id)
            finally:
                began.set()
                if self.drives.get(run_id) is task:
                    del self.drives[run_id]
                    del self.began[run_id]

        task = self.group.create_task(body(), name=f"podium run {run_id}")
        self.drives[run_id] = task
        await self._begun(run_id, began)
        if failure:
            raise failure[0]

    async def _begun(self, run_id: str, began: asyncio.Event) -> None:
        """Until the drive told of an event, ended, or the run shows up in the store (a fork's
        first events are copied without telling)."""
        while not began.is_set():
            try:
                await asyncio.wait_for(began.wait(), _POLL_S)
            except TimeoutError:
                if await self.orch.store.get_run(run_id) is not None:
                    return

    def driving(self, run_id: str) -> bool:
        return run_id in self.drives

    async def shutdown(self) -> None:
        """Interrupt every run still driven (resumable later); the group then waits for them."""
        self.closing = True
        for run_id in list(self.drives):
            if not self.orch.interrupt(run_id, "interrupted (the server stopped)"):
                task = self.drives.get(run_id)
                if task is not None:  # not driving yet (planning, starting): stop it
                    task.cancel()


__all__ = ["AlreadyDriven", "Drive", "Runner", "ServerStopping"]
