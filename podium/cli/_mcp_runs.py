"""The runs an MCP server drives in the background, in a task group the server owns.

A tool that starts a run without waiting returns once the run's journal has it (so the run id it
returns can be read at once); the drive goes on in the group. At shutdown every run still driven
is interrupted: it is left resumable (``podium resume``), not cancelled.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from podium.events import AnyEvent
from podium.runtime import Orchestrator, RunResult

log = logging.getLogger(__name__)

Drive = Callable[[Callable[[AnyEvent], None]], Awaitable[RunResult]]
"""Drives a run to its end, telling the callback of each event."""


class BackgroundRuns:
    """Background drives of one MCP server (see the module docstring)."""

    def __init__(self, orch: Orchestrator, group: asyncio.TaskGroup) -> None:
        self.orch = orch
        self.group = group
        self.tasks: dict[str, asyncio.Task[Any]] = {}

    async def start(self, run_id: str, drive: Drive) -> None:
        """Drive the run in the background; return once its journal has a first new event.

        Raises:
            PodiumError: what the drive raised before its first event (a bad input, a plan
                that does not validate).
        """
        changed = asyncio.Event()  # a first event, or the end of the drive
        journaled: list[bool] = []
        failure: list[Exception] = []

        def told(_: AnyEvent) -> None:
            journaled.append(True)
            changed.set()

        async def body() -> None:
            # never raises: an error in the server's task group would end the server
            try:
                await drive(told)
            except Exception as exc:
                if journaled:  # the journal says what went wrong
                    log.warning("MCP server: run %s failed: %s", run_id, exc)
                failure.append(exc)
            finally:
                self.tasks.pop(run_id, None)
                changed.set()

        self.tasks[run_id] = self.group.create_task(body(), name=f"mcp-run:{run_id}")
        await changed.wait()
        if failure and not journaled:
            raise failure[0]

    def running(self, run_id: str) -> bool:
        return run_id in self.tasks

    def shutdown(self) -> None:
        """Interrupt every run still driven (left resumable)."""
        for run_id in list(self.tasks):
            self.orch.interrupt(run_id, "the MCP server stopped")


__all__ = ["BackgroundRuns", "Drive"]
