"""Agents and outcomes shared by the routing tests."""

from __future__ import annotations

from typing import Any

from podium import Agent, TaskCall
from podium.store import Outcome


async def _noop(call: TaskCall) -> str:
    return call.agent


def agent(name: str, description: str = "", *capabilities: str, **metadata: Any) -> Agent:
    """A Python agent that answers its own name."""
    return Agent(
        name=name,
        description=description,
        capabilities=capabilities,
        function=_noop,
        metadata=metadata,
    )


def table(*agents: Agent) -> dict[str, Agent]:
    return {a.name: a for a in agents}


def outcomes(
    kind: str, name: str, successes: int, failures: int, *, cost: float | None = None
) -> list[Outcome]:
    """`successes` successful and `failures` failed outcomes of one (kind, agent) pair."""
    return [
        Outcome(kind=kind, agent=name, success=i < successes, cost_usd=cost, latency_s=1.0)
        for i in range(successes + failures)
    ]


def room(_name: str) -> bool:
    return True
