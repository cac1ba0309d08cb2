"""The agent of ``interop.yaml``: the JavaScript client decides when a task finishes.

A message ``wait NAME`` waits until the file NAME exists in the folder named by
``PODIUM_INTEROP_GATES`` (at most 60 s), so the client can watch a task while it works and
then let it end; any other message is answered at once.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from podium.agents import TaskCall


async def echo(call: TaskCall) -> str:
    text = call.instruction.strip()
    name = text.removeprefix("wait ").strip() if text.startswith("wait ") else ""
    gate = Path(os.environ.get("PODIUM_INTEROP_GATES", ".")) / name
    for _ in range(600 if name else 0):
        if gate.exists():
            break
        await asyncio.sleep(0.1)
    return f"echo: {text}"
