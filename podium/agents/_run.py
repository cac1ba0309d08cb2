"""Running one attempt of a task on an agent: Python callables and the model-driven loop."""

from __future__ import annotations

import asyncio
import inspect
import json
import time
from collections.abc import Awaitable, Callable, Mapping
from concurrent.futures import Executor
from typing import Any

from podium.agents._spec import Agent, TaskCall
from podium.events import ModelCalled, ToolCalled, Usage
from podium.exceptions import OutputValidationError, TaskError, ToolError
from podium.models._base import (
    AssistantMessage,
    Message,
    Model,
    ModelRequest,
    SystemMessage,
    ToolCall,
    ToolResultMessage,
    UserMessage,
)
from podium.models._registry import resolve_model
from podium.tools._tool import Tool, ToolContext, result_text, to_json_value
from podium.verify import validate_output

JSON = Any
Emit = Callable[..., Awaitable[None]]
"""Journals an in-task event: ``await emit(EventClass, **fields)`` (run id, seq, time added)."""

REPAIR_ROUNDS = 1


class AgentOutcome:
    """What an attempt produced."""

    __slots__ = ("output", "usage")

    def __init__(self, output: JSON, usage: Usage | None = None) -> None:
        self.output = output
        self.usage = usage


async def run_function_agent(agent: Agent, call: TaskCall, pool: Executor) -> AgentOutcome:
    """Call a Python agent: async on the loop, sync on the bounded thread pool."""
    fn = agent.function
    assert fn is not None  # guaranteed by Agent.__post_init__
    if agent.is_async:
        result = await fn(call)
    else:
        loop = asyncio.get_running_loop()
        result = await loop.run_in_executor(pool, fn, call)
        if inspect.isawaitable(result):
            result = await result
    try:
        return AgentOutcome(to_json_value(result, agent.name))
    except ToolError as exc:
        raise TaskError(str(exc), kind="output_not_json", retryable=False) from None


def _system_prompt(agent: Agent, call: TaskCall) -> str:
    parts = [agent.instructions or f"You are {agent.name}, a specialist agent."]
    if agent.description:
        parts.append(f"Your speciality: {agent.description}")
    visible = call.context.visible()
    if visible:
        parts.append("Shared context:\n" + json.dumps(visible, ensure_ascii=False, indent=1))
    if call.output_schema is not None:
        parts.append(
            "Answer with JSON only, matching this schema:\n"
            + json.dumps(call.output_schema, ensure_ascii=False)
        )
    return "\n\n".join(parts)


def _user_prompt(call: TaskCall) -> str:
    text = call.instruction
    if call.task_outputs and not call.explicit_inputs:
        text += "\n\nResults of earlier tasks:\n" + json.dumps(
            dict(call.task_outputs), ensure_ascii=False, indent=1
        )
    return text


def _final_output(text: str, schema: Mapping[str, JSON] | None) -> JSON:
    if schema is None:
        return text
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise OutputValidationError(f"the answer is not JSON: {exc}", raw_output=text) from None
    validate_output(value, schema, raw_output=text)
    return value


class ModelAgentLoop:
    """The bounded loop of a model-driven agent: call the model, run tools, validate, repair."""

    def __init__(self, agent: Agent, call: TaskCall, emit: Emit) -> None:
        self.agent = agent
        self.call = call
        self.emit = emit
        self.model: Model = resolve_model(agent.model)  # type: ignore[arg-type]
        self.tools: dict[str, Tool] = {t.name: t for t in agent.tools}
        self.usage = Usage()

    async def _ask(self, messages: list[Message]) -> tuple[str | None, tuple[ToolCall, ...]]:
        request = ModelRequest(
            messages=tuple(messages),
            tools=tuple(t.spec() for t in self.tools.values()),
            output_schema=dict(self.call.output_schema) if self.call.output_schema else None,
        )
        started = time.perf_counter()
        response = await self.model.request(request)
        latency = time.perf_counter() - started
        used = response.usage
        self.usage.input_tokens += used.input_tokens
        self.usage.output_tokens += used.output_tokens
        c = self.call
        await self.emit(
            ModelCalled,
            task=c.task_id,
            agent=c.agent,
            model=self.model.name,
            provider=self.model.provider,
            input_tokens=used.input_tokens,
            output_tokens=used.output_tokens,
            latency_s=latency,
        )
        return response.text, response.tool_calls

    async def _run_tool(self, tc: ToolCall) -> ToolResultMessage:
        c = self.call
        tool = self.tools.get(tc.name)
        started = time.perf_counter()
        result: JSON = None
        error: str | None = None
        if tool is None:
            error = f"unknown tool {tc.name!r}; available: {sorted(self.tools) or 'none'}"
        else:
            ctx = ToolContext(
                run_id=c.run_id,
                task_id=c.task_id,
                agent=c.agent,
                call_id=tc.id,
                idempotency_key=f"{c.run_id}/{c.task_id}/{tc.id}",
            )
            try:
                result = await tool.call(tc.arguments, ctx)
            except ToolError as exc:
                error = str(exc)
        latency = time.perf_counter() - started
        effect = tool.effect if tool is not None else "read"
        await self.emit(
            ToolCalled,
            task=c.task_id,
            agent=c.agent,
            tool=tc.name,
            call_id=tc.id,
            arguments=tc.arguments,
            effect=effect,
            result=result,
            error=error,
            latency_s=latency,
        )
        content = error if error is not None else result_text(result)
        return ToolResultMessage(
            call_id=tc.id, name=tc.name, content=content, is_error=error is not None
        )

    async def run(self) -> AgentOutcome:
        messages: list[Message] = [
            SystemMessage(content=_system_prompt(self.agent, self.call)),
            UserMessage(content=_user_prompt(self.call)),
        ]
        repairs = REPAIR_ROUNDS
        for _ in range(self.agent.max_rounds):
            text, tool_calls = await self._ask(messages)
            if tool_calls:
                messages.append(AssistantMessage(content=text, tool_calls=tool_calls))
                for tc in tool_calls:
                    messages.append(await self._run_tool(tc))
                continue
            try:
                return AgentOutcome(_final_output(text or "", self.call.output_schema), self.usage)
            except OutputValidationError as exc:
                if repairs <= 0:
                    raise
                repairs -= 1
                messages.append(AssistantMessage(content=text))
                messages.append(
                    UserMessage(
                        content=(
                            f"Your answer was rejected: {exc}. Reply again with only JSON "
                            "that matches the schema."
                        )
                    )
                )
        raise TaskError(
            f"agent {self.agent.name!r} did not finish within {self.agent.max_rounds} model rounds",
            kind="max_rounds",
            retryable=True,
        )
