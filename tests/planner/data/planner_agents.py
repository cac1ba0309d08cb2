"""Python agents of the planner tests' agents files (``python: planner_agents:NAME``)."""

from __future__ import annotations

from typing import Any

from podium import TaskCall


def research(call: TaskCall) -> dict[str, Any]:
    return {"facts": [f"fact about {call.run_inputs.get('goal', '?')}"]}


def write(call: TaskCall) -> str:
    found = [
        f
        for out in call.task_outputs.values()
        if isinstance(out, dict)
        for f in out.get("facts", [])
    ]
    return f"Report: {call.instruction} ({len(found)} facts)"


def translate(call: TaskCall) -> str:
    return f"[fr] {call.instruction}"
