"""The Python agent of `team.yaml`: a stand-in that echoes what it was asked (the routing bench
routes tasks, it does not run them; the file stays runnable)."""

from __future__ import annotations

from podium import TaskCall


def echo(call: TaskCall) -> str:
    return f"{call.agent}: {call.instruction}"
