"""An agent's tools as the runtime calls them: through the tool interceptors, each call journaled.

A model-driven agent's calls come from the model; a Python agent makes its own through
`TaskCall.tools`: ``await call.tools.call("lookup", order_id=7)`` in an async agent,
``call.tools.call_sync(...)`` in a plain one (which runs on a worker thread). Either way the call
goes through the orchestrator's interceptors — approvals (a side-effecting call may park the
run), budgets, rate limits, record/replay — gets its idempotency key, and is journaled as
`ToolCalled`, exactly like a model's.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

from podium.events import AccessDenied, ToolCalled
from podium.exceptions import AccessRefused, ToolError
from podium.models._base import ToolResultMessage
from podium.reliability._output import clip_text
from podium.tools._calls import CallTool, ToolCallInput, call_tool
from podium.tools._effects import KeyedGate, action_hash
from podium.tools._tool import Tool, ToolContext, result_text

JSON = Any
Emit = Callable[..., Awaitable[None]]


async def _no_emit(kind: Any, **fields: Any) -> None:
    return None


@dataclass(slots=True)
class _Made:
    """How one call went: its result, or the error the model reads (and, for a call outside
    the agent's tools or a tool's scope, the refusal to journal)."""

    result: JSON = None
    error: str | None = None
    key: str = ""
    action: str = ""
    replayed: bool = False
    refused: AccessRefused | None = None


class ToolBox:
    """The tools of one attempt of one agent (see the module docstring).

    Attributes:
        names: the tools' names, as the agent was given them.
    """

    __slots__ = ("_call_tool", "_emit", "_keys", "_loop", "_max_chars", "_n", "_tools", "ids")

    def __init__(
        self,
        tools: Iterable[Tool],
        *,
        run_id: str,
        task_id: str,
        agent: str,
        attempt: int = 1,
        emit: Emit = _no_emit,
        call_tool: CallTool = call_tool,
        max_result_chars: int = 32_000,
        keys: KeyedGate | None = None,
    ) -> None:
        self._tools = {t.name: t for t in tools}
        self.ids = (run_id, task_id, agent, attempt)
        self._emit = emit
        self._call_tool = call_tool
        self._max_chars = max_result_chars
        self._keys = keys or KeyedGate(run_id, task_id)
        self._n = 0
        try:
            self._loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            self._loop = None

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self._tools)

    def specs(self) -> list[JSON]:
        """The tools' specs, as a model is offered them."""
        return [t.spec() for t in self._tools.values()]

    def for_agent(self, agent: str, tools: Iterable[Tool], max_result_chars: int) -> ToolBox:
        """The box of the agent a handoff moved the task to: its own tools, the same
        numbering of calls (so idempotency keys stay unique in the attempt)."""
        run_id, task_id, _, attempt = self.ids
        return ToolBox(
            tools,
            run_id=run_id,
            task_id=task_id,
            agent=agent,
            attempt=attempt,
            emit=self._emit,
            call_tool=self._call_tool,
            max_result_chars=max_result_chars,
            keys=self._keys,
        )

    async def call(self, name: str, /, **arguments: JSON) -> JSON:
        """Call tool `name` with `arguments`; its result.

        Raises:
            ToolError: no such tool, invalid arguments, or the tool failed (the message says
                which); an approval it needs parks the attempt (the exception is a control
                signal: let it propagate).
        """
        self._n += 1
        message, result = await self.run(name, arguments, f"py-{self._n}")
        if message.is_error:
            raise ToolError(message.content)
        return result

    def call_sync(self, name: str, /, **arguments: JSON) -> JSON:
        """`call` from a plain (sync) agent, which runs on a worker thread."""
        loop = self._loop
        try:
            running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        unusable = loop is None or loop.is_closed() or running is loop
        if name not in self._tools and unusable:  # else `run` refuses it, journaled
            raise ToolError(f"unknown tool {name!r}; available: {sorted(self._tools) or 'none'}")
        if loop is None or loop.is_closed():
            raise ToolError("these tools belong to a finished attempt")
        if running is loop:
            raise ToolError(
                f"call_sync({name!r}) from the event loop's thread would wait on itself: in an"
                " async agent, use `await call.tools.call(...)`"
            )
        return asyncio.run_coroutine_threadsafe(self.call(name, **arguments), loop).result()

    async def _refused(self, exc: AccessRefused, name: str, call_id: str) -> None:
        """Journal a call refused for reaching outside the agent's tools or the tool's scope."""
        _, task_id, agent, attempt = self.ids
        await self._emit(
            AccessDenied,
            task=task_id,
            agent=agent,
            attempt=attempt,
            access=exc.access,
            target=exc.target,
            reason=str(exc),
            tool=name,
            call_id=call_id,
        )

    async def _make(
        self, tool: Tool | None, name: str, arguments: dict[str, JSON], call_id: str
    ) -> _Made:
        """Make the call through the interceptors: its result, or the error the model reads."""
        run_id, task_id, agent, attempt = self.ids
        if tool is None:
            return _Made(
                error=f"unknown tool {name!r}; available: {sorted(self._tools) or 'none'}",
                refused=AccessRefused(
                    f"{name!r} is not one of agent {agent!r}'s tools", access="tool", target=name
                ),
            )
        action = action_hash(tool.name, arguments)
        key = self._keys.key(tool, action)
        ctx = ToolContext(
            run_id=run_id, task_id=task_id, agent=agent, call_id=call_id, idempotency_key=key
        )
        call = ToolCallInput(
            tool=tool, arguments=arguments, context=ctx, action_hash=action, attempt=attempt
        )
        try:  # an interceptor may park the attempt for an approval (a control signal)
            outcome = await self._call_tool(call)
        except ToolError as exc:
            refused = exc if isinstance(exc, AccessRefused) else None
            return _Made(error=str(exc), key=key, action=action, refused=refused)
        return _Made(result=outcome.result, key=key, action=action, replayed=outcome.replayed)

    async def run(
        self, name: str, arguments: dict[str, JSON], call_id: str
    ) -> tuple[ToolResultMessage, JSON]:
        """Make one call and journal it; what the model reads, and the result itself."""
        _, task_id, agent, _ = self.ids
        tool = self._tools.get(name)
        started = time.perf_counter()
        made = await self._make(tool, name, arguments, call_id)
        latency = time.perf_counter() - started
        result, error, replayed = made.result, made.error, made.replayed
        if made.refused is not None:
            await self._refused(made.refused, name, call_id)
        effect = tool.effect if tool is not None else "read"
        undo = None  # made once, when the call took effect (a replay's undo is the first one's)
        if tool is not None and tool.compensate is not None and error is None and not replayed:
            undo = tool.compensate.make(arguments, result)
        content = error if error is not None else result_text(result)
        content, size, digest = clip_text(content, self._max_chars)
        recorded = content if size is not None and error is None else result
        await self._emit(
            ToolCalled,
            task=task_id,
            agent=agent,
            tool=name,
            call_id=call_id,
            arguments=arguments,
            effect=effect,
            result=recorded,  # the journal keeps what the model saw, with the size and hash
            error=error,
            latency_s=latency,
            idempotency_key=made.key,
            action_hash=made.action if _approvable(tool) else "",
            replayed=replayed,
            result_chars=size,
            result_sha256=digest,
            undo=undo,
        )
        message = ToolResultMessage(
            call_id=call_id, name=name, content=content, is_error=error is not None
        )
        return message, result


def _approvable(tool: Tool | None) -> bool:
    """Whether a call of `tool` may need an approval, which the journaled call then uses up: a
    side effect, or a read that sends (`Tool.egress`, which the provenance gate may ask about)."""
    return tool is not None and (tool.effect != "read" or tool.egress is not None)


NO_TOOLS = ToolBox((), run_id="", task_id="", agent="")
"""The tools of a call made outside a run: none."""

__all__ = ["NO_TOOLS", "ToolBox"]
