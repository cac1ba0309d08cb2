"""Agents for the kill-and-resume test: each appends its task id to a ledger file."""

from __future__ import annotations

import os
import time

from podium import TaskCall


def step(call: TaskCall) -> str:
    time.sleep(float(call.run_inputs["pause"]))  # the test kills the process during this pause
    with open(str(call.run_inputs["ledger"]), "a", encoding="utf-8") as ledger:
        ledger.write(f"{call.task_id}\n")
        ledger.flush()
        os.fsync(ledger.fileno())
    return call.task_id
