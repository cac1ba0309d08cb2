"""Routing: which agent takes a task.

A task with a fixed `agent` goes to it. A task with a `capability` goes to one of the agents that
have it: among those with room under their concurrency limit, the least busy, then by name, so the
choice is deterministic. The decision and the candidates are recorded in `TaskAssigned`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from podium.agents import Agent
from podium.plan import Task

JSON = Any


@dataclass(frozen=True, slots=True)
class Decision:
    """The chosen agent, why, and every candidate considered."""

    agent: str
    reason: str
    candidates: list[dict[str, JSON]] = field(default_factory=list)


class Router(Protocol):
    """Chooses an agent for a task, or ``None`` when every fitting agent is busy."""

    def route(
        self, task: Task, agents: Mapping[str, Agent], has_room: Callable[[str], bool]
    ) -> Decision | None: ...


class CapabilityRouter:
    """Fixed agent, else the first agent (by name) with the capability and room."""

    def route(
        self, task: Task, agents: Mapping[str, Agent], has_room: Callable[[str], bool]
    ) -> Decision | None:
        if task.agent is not None:
            if not has_room(task.agent):
                return None
            return Decision(task.agent, "fixed by the task")
        fitting = sorted(name for name, a in agents.items() if task.capability in a.capabilities)
        candidates: list[dict[str, JSON]] = [
            {"agent": name, "has_room": has_room(name)} for name in fitting
        ]
        for name in fitting:
            if has_room(name):
                return Decision(name, f"has capability {task.capability!r}", candidates)
        return None
