"""Python agents of the CLI tests' workflow files (``python: cli_test_agents:NAME``).

Each appends ``task_id`` to the file named by ``PODIUM_TEST_LEDGER`` (when set), so a test can
tell which tasks really ran.
"""

from __future__ import annotations

import os
import time
from typing import Any

from podium import TaskCall


def _record(call: TaskCall) -> None:
    ledger = os.environ.get("PODIUM_TEST_LEDGER")
    if ledger:
        with open(ledger, "a", encoding="utf-8") as f:
            f.write(call.task_id + "\n")


def outline(call: TaskCall) -> dict[str, Any]:
    _record(call)
    topic = str(call.run_inputs.get("topic", ""))
    count = int(call.run_inputs.get("count", 2))
    return {"topic": topic, "points": [f"{topic} point {i + 1}" for i in range(count)]}


def write(call: TaskCall) -> str:
    _record(call)
    points = call.task_outputs["outline"]["points"]
    return " / ".join(p.upper() for p in points)


def boom(call: TaskCall) -> str:
    _record(call)
    raise RuntimeError("the boom agent always fails")


def sleepy(call: TaskCall) -> str:
    _record(call)
    time.sleep(float(call.run_inputs.get("seconds", 30)))
    return "woke up"
