"""Python agents of `agents.yaml`: stand-ins that echo what they were asked (the planner bench
plans, it does not run the plans; the file stays runnable with ``podium run --goal``)."""

from __future__ import annotations

from podium import TaskCall


def echo(call: TaskCall) -> str:
    return f"{call.agent}: {call.instruction}"
