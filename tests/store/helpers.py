"""Events the store tests write."""

from __future__ import annotations

from podium.events import RunSubmitted, TaskReady


def submitted(run_id: str = "run-1", ts: float = 1000.0) -> RunSubmitted:
    return RunSubmitted(run_id=run_id, seq=0, ts=ts, inputs={"topic": "durable journals"})


def ready(seq: int, run_id: str = "run-1") -> TaskReady:
    return TaskReady(run_id=run_id, seq=seq, ts=1000.0 + seq, task=f"task-{seq}")
