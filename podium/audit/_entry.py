"""`AuditEntry`: one attributed action of a run, and how actors are named."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

JSON = Any

Action = Literal[
    "submitted",
    "forked",
    "upgraded",
    "plan accepted",
    "plan revised",
    "task started",
    "task succeeded",
    "task failed",
    "handed off",
    "wrote context",
    "tool call",
    "approval requested",
    "approval granted",
    "approval rejected",
    "policy decided",
    "compensation started",
    "compensation succeeded",
    "compensation failed",
    "waiting",
    "interrupted",
    "resumed",
    "cancelled",
    "feedback",
    "run ended",
]
"""What an entry records (a stable phrase: filter and count on it)."""

ACTIONS: tuple[str, ...] = get_args(Action)

SYSTEM_ACTOR = "podium"
"""Podium itself: its scheduler, planner and policy, and approvals that expired undecided."""

UNKNOWN_ACTOR = "unknown"
"""A person's action journaled without a name: a Python caller that passed no ``by=``, or a
journal written before actions were attributed."""

_KINDS = ("mcp:", "a2a:")
"""Callers recorded with their kind already (``mcp:CLIENT``): kept as they are."""


def person_actor(by: str) -> str:
    """The actor of a person's action recorded as `by`: ``user:NAME``, an ``mcp:CLIENT`` as it
    is, `SYSTEM_ACTOR` for Podium's own decisions and `UNKNOWN_ACTOR` when nobody was named."""
    if not by:
        return UNKNOWN_ACTOR
    if by == SYSTEM_ACTOR or by.startswith(_KINDS):
        return by
    return f"user:{by}"


def agent_actor(agent: str | None) -> str:
    """``agent:NAME``; `SYSTEM_ACTOR` when no agent acted (a copied or reused output)."""
    return f"agent:{agent}" if agent else SYSTEM_ACTOR


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditEntry:
    """One attributed action of a run.

    Attributes:
        seq: the journal event it comes from (``podium show`` lists it under that number).
        ts: when (seconds since the epoch).
        actor: who: ``user:NAME``, ``agent:NAME``, ``mcp:CLIENT``, ``podium`` or ``unknown``.
        action: what (one of `ACTIONS`).
        target: what it was done to: ``run``, ``run:PARENT``, ``task:ID``, ``context:KEY``,
            ``tool:NAME``.
        details: the particulars (a task, a version, an effect, a decision, a comment …).
    """

    seq: int
    ts: float
    actor: str
    action: Action
    target: str = "run"
    details: Mapping[str, JSON] = field(default_factory=dict)

    def done_by(self, name: str) -> bool:
        """Whether `name` is the actor, given whole (``user:alice``) or by name (``alice``)."""
        return bool(name) and name in (self.actor, self.actor.partition(":")[2])

    def to_json(self) -> dict[str, JSON]:
        return {
            "seq": self.seq,
            "ts": self.ts,
            "actor": self.actor,
            "action": self.action,
            "target": self.target,
            "details": dict(self.details),
        }


__all__ = [
    "ACTIONS",
    "SYSTEM_ACTOR",
    "UNKNOWN_ACTOR",
    "Action",
    "AuditEntry",
    "agent_actor",
    "person_actor",
]
