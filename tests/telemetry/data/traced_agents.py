"""The agent and the tool of ``traced.yaml``."""

from __future__ import annotations

from podium import TaskCall


def lookup(topic: str) -> str:
    """Look a topic up."""
    return f"notes on {topic}"


def write(call: TaskCall) -> str:
    return f"report: {call.task_outputs['research']}"
