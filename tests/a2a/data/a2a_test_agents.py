"""Python agents of the A2A test workflows."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from podium.agents import TaskCall


def shout(call: TaskCall) -> str:
    return call.instruction.upper()


def count(call: TaskCall) -> dict[str, int]:
    text = str(call.inputs["shout"])
    return {"chars": len(text), "words": len(text.split())}


async def slow(call: TaskCall) -> str:
    """Waits until the file named by PODIUM_A2A_GATE exists (or 60 s), then answers."""
    gate = os.environ.get("PODIUM_A2A_GATE")
    for _ in range(600):
        if gate and Path(gate).exists():  # noqa: ASYNC240 - a cheap stat, for a test
            break
        await asyncio.sleep(0.1)
    return f"slow: {call.run_inputs['message']}"


def tail(call: TaskCall) -> str:
    return f"done: {call.task_outputs['remote']}"


def broken(call: TaskCall) -> str:
    raise RuntimeError(f"cannot handle {call.instruction!r}")
