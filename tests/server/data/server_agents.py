"""Python agents of the server tests' workflow files (``python: server_agents:NAME``)."""

from __future__ import annotations

import asyncio

from podium import TaskCall


def outline(call: TaskCall) -> dict[str, object]:
    topic = str(call.run_inputs.get("topic", "tides"))
    return {"topic": topic, "points": [f"{topic} 1", f"{topic} 2"]}


def work(call: TaskCall) -> str:
    return f"done {call.task_id}"


async def nap(call: TaskCall) -> str:
    await asyncio.sleep(float(call.run_inputs.get("seconds", 30)))
    return "woke up"


def boom(call: TaskCall) -> str:
    raise RuntimeError("the boom agent always fails")
