"""What the reliability tests share: running a plan and reading its journal."""

from __future__ import annotations

from typing import Any, TypeVar

from podium import Agent, Orchestrator, Plan, RunResult, Workflow
from podium.events import AnyEvent, Event

E = TypeVar("E", bound=Event)


async def run_plan(
    plan: Plan | Workflow, *agents: Agent, run_kw: dict[str, Any] | None = None, **orch_kw: Any
) -> tuple[RunResult, list[AnyEvent]]:
    """Run `plan` on a fresh in-memory orchestrator; the result and the journal."""
    async with Orchestrator(agents=agents, store=orch_kw.pop("store", "memory://"), **orch_kw) as o:
        result = await o.run(plan, **(run_kw or {}))
        journal = await o.events(result.run_id)
    assert [e.seq for e in journal] == list(range(len(journal)))
    return result, journal


def of(journal: list[AnyEvent], kind: type[E], task: str | None = None) -> list[E]:
    """The events of one kind (of one task)."""
    return [
        e
        for e in journal
        if isinstance(e, kind) and (task is None or getattr(e, "task", None) == task)
    ]


def kinds(journal: list[AnyEvent], task: str | None = None) -> list[str]:
    return [type(e).__name__ for e in journal if task is None or getattr(e, "task", None) == task]
