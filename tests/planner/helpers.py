"""Teams, planner answers and journal helpers shared by the planner tests."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from podium import Agent, Orchestrator, Planner, RunResult, TaskCall
from podium.events import AnyEvent
from podium.models import Model

CALLS: list[str] = []


def team(*, failing: str | None = None) -> list[Agent]:
    """A researcher, a writer and a translator (Python agents); `failing` always raises."""

    def make(name: str, description: str) -> Agent:
        async def fn(call: TaskCall) -> Any:
            CALLS.append(f"{name}:{call.task_id}")
            if name == failing:
                raise RuntimeError(f"{name} is broken")
            needed = {k: v for k, v in call.task_outputs.items()}
            return {"by": name, "did": call.instruction.split("\n")[0], "from": needed}

        return Agent(name=name, description=description, function=fn)

    return [
        make("researcher", "Finds facts and sources about a topic."),
        make("writer", "Writes reports, articles and summaries."),
        make("translator", "Translates text into another language."),
    ]


def task(tid: str, agent: str, instruction: str, *needs: str) -> dict[str, Any]:
    return {"id": tid, "instruction": instruction, "agent": agent, "needs": list(needs)}


def plan_answer(*tasks: dict[str, Any]) -> str:
    return json.dumps({"tasks": list(tasks)})


def of(events: Sequence[AnyEvent], kind: type[Any]) -> list[Any]:
    return [e for e in events if isinstance(e, kind)]


async def run_goal(
    goal: str,
    model: Model,
    *,
    agents: Sequence[Agent] | None = None,
    **planner: Any,
) -> tuple[RunResult, list[AnyEvent]]:
    """Plan and run `goal` on a memory store; the result and the journal."""
    CALLS.clear()
    chosen = Planner(**{"assign": "model", "model": model, **planner})
    async with Orchestrator(agents=agents or team(), store="memory://") as orch:
        result = await orch.run(goal, planner=chosen)
        journal = await orch.events(result.run_id)
    assert [e.seq for e in journal] == list(range(len(journal)))
    return result, journal
