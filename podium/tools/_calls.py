"""One tool call as interceptors see it: `ToolCallInput` in, a `ToolCallResult` out.

A tool interceptor wraps every tool call of every model-driven attempt of an orchestrator. It
may answer without calling `next` (a recorded result, ``replayed=True``), refuse the call by
raising `ToolError` (the model reads the message) or a control signal (an approval to ask), or
change the arguments.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Protocol

from podium.tools._tool import Tool, ToolContext

JSON = Any


@dataclass(frozen=True, slots=True, kw_only=True)
class ToolCallInput:
    """A tool call about to be made.

    Attributes:
        tool: the tool.
        arguments: the model's arguments (not yet validated).
        context: run, task, agent, the model's call id and the call's idempotency key.
        action_hash: the SHA-256 of the tool's name and arguments (what an approval binds to).
        attempt: the task attempt making the call.
    """

    tool: Tool
    arguments: Mapping[str, JSON]
    context: ToolContext
    action_hash: str
    attempt: int = 1

    def with_arguments(self, arguments: Mapping[str, JSON]) -> ToolCallInput:
        return replace(self, arguments=arguments)


@dataclass(frozen=True, slots=True)
class ToolCallResult:
    """What a tool call gave: its result, and whether it was the recorded result of the same
    call made before (then the tool did not run)."""

    result: JSON
    replayed: bool = False


CallTool = Callable[[ToolCallInput], Awaitable[ToolCallResult]]
"""Makes a tool call (the rest of the chain)."""


class ToolInterceptor(Protocol):
    """Wraps tool calls (see the module docstring)."""

    async def call(self, input: ToolCallInput, next: CallTool) -> ToolCallResult: ...


async def call_tool(input: ToolCallInput) -> ToolCallResult:
    """The end of every chain: the tool itself (its arguments validated there)."""
    return ToolCallResult(await input.tool.call(dict(input.arguments), input.context))


__all__ = ["CallTool", "ToolCallInput", "ToolCallResult", "ToolInterceptor", "call_tool"]
