"""Routing: which agent takes a task.

A task with a fixed `agent` goes to it. A task with a `capability` goes to one of the agents that
have it, among those with room under their concurrency limit. The decision, why, and every
candidate considered are recorded in `TaskAssigned`.

`Router` is the one method the scheduler calls. A `LearningRouter` also learns: the orchestrator
lets it `prepare` from the store's outcome statistics before a run, tells it each final task
outcome (`observe`) as the run goes, and `save`s the run's outcomes to the store after it.
`ScoringRouter` (the default) is one; `CapabilityRouter` is the simple, fixed alternative.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from podium.agents import Agent
from podium.plan import Task
from podium.store import Outcome, OutcomeStats, Store

JSON = Any


@dataclass(frozen=True, slots=True)
class Decision:
    """The chosen agent, why, every candidate considered, and the task's kind (if known)."""

    agent: str
    reason: str
    candidates: list[dict[str, JSON]] = field(default_factory=list)
    kind: str = ""


@dataclass(frozen=True, slots=True)
class NoFit:
    """No agent fits the task well enough, so the router does not guess.

    The task fails with `reason` (``escalate=False``), or waits for a person who may approve
    the `best` candidate anyway (``escalate=True``, the approval flow).

    Attributes:
        reason: why: the best candidate's fit, the threshold, how relevance was measured.
        candidates: every candidate considered, with its scores.
        kind: the task's kind.
        best: the candidate that fit best (``None`` when there was none).
        escalate: ask a person instead of failing the task.
    """

    reason: str
    candidates: list[dict[str, JSON]] = field(default_factory=list)
    kind: str = ""
    best: str | None = None
    escalate: bool = False


class Router(Protocol):
    """Chooses an agent for a task: a `Decision`, a `NoFit` when no agent fits it, or ``None``
    when every fitting agent is busy."""

    def route(
        self, task: Task, agents: Mapping[str, Agent], has_room: Callable[[str], bool]
    ) -> Decision | NoFit | None: ...


@runtime_checkable
class LearningRouter(Router, Protocol):
    """A router that learns from task outcomes."""

    async def prepare(self, store: Store) -> None:
        """Load what the store knows of past outcomes (called before each run)."""
        ...

    def observe(self, outcome: Outcome) -> None:
        """Count a task's final outcome in at once, so later tasks of the run route by it."""
        ...

    async def save(self, store: Store, outcomes: Sequence[Outcome | OutcomeStats]) -> None:
        """Record outcomes it observed in the store (called after each run)."""
        ...


class Relevance(Protocol):
    """How well each candidate agent fits a task's text, from 0 (not at all) to 1 (the best)."""

    def scores(
        self, text: str, agents: Mapping[str, Agent], candidates: Collection[str]
    ) -> dict[str, float]:
        """A score in [0, 1] for each of `candidates` (names in `agents`)."""
        ...


class CapabilityRouter:
    """Fixed agent, else the first agent (by name) with the capability and room.

    Deterministic and blind to history; `ScoringRouter` is the default.
    """

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
