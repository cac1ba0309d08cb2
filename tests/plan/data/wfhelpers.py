"""Agents, tools and a reducer that the test workflows import with ``python: wfhelpers:NAME``."""

from __future__ import annotations

from typing import Any

from podium.agents import TaskCall

NOT_A_FUNCTION = 42


def split(call: TaskCall) -> list[str]:
    return [f"question {i}" for i in range(int(call.run_inputs["n"]))]


async def write(call: TaskCall) -> str:
    return f"a report on {call.instruction}"


def search(query: str, limit: int = 3) -> list[str]:
    """Search the web for `query`.

    Returns at most `limit` results.
    """
    return [query] * limit


def notify(message: str) -> str:
    """Send a message to the whole team."""
    return message


def union(current: list[Any], written: list[Any]) -> list[Any]:
    return sorted({*current, *written})


def star_tool(*words: str) -> str:
    return " ".join(words)
