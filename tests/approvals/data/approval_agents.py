"""Agents and tools of the approval tests' workflow files.

Each records what really happened in the file named by ``PODIUM_TEST_LEDGER`` (when set), one
line per call, so a test can tell which tasks ran and which payments were made.
"""

from __future__ import annotations

import os
import time

from podium import TaskCall, ToolContext


def _record(line: str) -> None:
    ledger = os.environ.get("PODIUM_TEST_LEDGER")
    if ledger:
        with open(ledger, "a", encoding="utf-8") as f:
            f.write(line + "\n")
            f.flush()
            os.fsync(f.fileno())


def work(call: TaskCall) -> str:
    _record(call.task_id)
    return f"done {call.task_id}"


def slow(call: TaskCall) -> str:
    time.sleep(float(call.run_inputs.get("pause", 0)))
    _record(call.task_id)
    return f"done {call.task_id}"


def pay(to: str, ctx: ToolContext) -> str:
    """Pay someone (irreversible)."""
    _record(f"pay:{to}:{ctx.idempotency_key}")
    return f"paid {to}"
