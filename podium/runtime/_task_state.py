"""Where one task of a run stands, and the statuses it goes through.

A task is ``pending`` until its needs settle, ``ready`` while it waits for room, ``running``
while an attempt runs, ``waiting`` while a person decides on it, and ends ``succeeded``,
``failed`` or ``skipped`` (or ``cancelled``: the run ended while it ran).
"""

from __future__ import annotations

from typing import Any, Final

import msgspec

from podium.events import ErrorInfo, RunStatus, TaskStatus, Usage
from podium.plan import Task

JSON = Any

PENDING: Final = "pending"
READY: Final = "ready"
RUNNING: Final = "running"
SUCCEEDED: Final = "succeeded"
FAILED: Final = "failed"
SKIPPED: Final = "skipped"
TERMINAL: frozenset[TaskStatus] = frozenset({SUCCEEDED, FAILED, SKIPPED})
WAITING: Final = "waiting"
"""A task whose next step waits for a human's approval (see `RunState.approvals`)."""
CANCELLED: Final = "cancelled"
"""A task whose attempt was cut short because the run itself ended (cancelled, or failed on a
timeout or a budget): it never finished."""
UNFINISHED_RUN: frozenset[RunStatus] = frozenset({"running", "waiting", "interrupted"})
"""Run statuses from which a run can still go on (`podium resume`)."""


class TaskState:
    """Where one task stands."""

    __slots__ = (
        "agent",
        "agent_failures",
        "attempts",
        "candidates",
        "ended_ts",
        "error",
        "failures",
        "output",
        "retry_at",
        "started_ts",
        "status",
        "steps",
        "task",
        "tried",
        "usage",
    )

    def __init__(self, task: Task) -> None:
        self.task = task
        self.status: TaskStatus = PENDING
        self.agent: str | None = None
        self.attempts = 0
        self.failures = 0
        self.output: JSON = None
        self.error: ErrorInfo | None = None
        self.started_ts: float | None = None
        self.ended_ts: float | None = None
        self.usage = Usage()
        self.agent_failures = 0
        """Failed attempts on the current agent (a backup starts again from 0)."""
        self.tried: tuple[str, ...] = ()
        """Every agent the task was assigned to, in order."""
        self.retry_at: float | None = None
        """When the next attempt may start (a `TaskRetrying` delay)."""
        self.steps = 0
        """Model calls and tool calls made by its attempts."""
        self.candidates: list[dict[str, JSON]] = []
        """The router's candidates at its latest assignment (`TaskAssigned.candidates`)."""

    def to_json(self) -> dict[str, JSON]:
        return {
            "status": self.status,
            "agent": self.agent,
            "attempts": self.attempts,
            "output": self.output,
            "error": None if self.error is None else msgspec.to_builtins(self.error),
        }


__all__ = [
    "CANCELLED",
    "FAILED",
    "PENDING",
    "READY",
    "RUNNING",
    "SKIPPED",
    "SUCCEEDED",
    "TERMINAL",
    "UNFINISHED_RUN",
    "WAITING",
    "TaskState",
]
