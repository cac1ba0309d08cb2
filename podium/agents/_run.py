"""Running one attempt of a task on an agent: Python callables and the model-driven loop."""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from concurrent.futures import Executor
from typing import Any

import msgspec

from podium.agents._context_fit import (
    PromptContext,
    context_budget_of,
    summariser_of,
    summary_request,
)
from podium.agents._handoff import (
    HandoffStep,
    handoff_limit,
    handoff_spec,
    handoff_step,
    handoff_targets,
    summarise,
)
from podium.agents._spec import Agent, TaskCall
from podium.agents._toolbox import ToolBox
from podium.context._summarise import EXTRACTIVE, Summarise, extractive
from podium.events import ErrorInfo, Handoff, ModelCalled, OutputRejected, Usage
from podium.exceptions import OutputValidationError, TaskError, ToolError
from podium.models._base import (
    AssistantMessage,
    Message,
    Model,
    ModelRequest,
    SystemMessage,
    TokenUsage,
    ToolCall,
    ToolResultMessage,
    UserMessage,
)
from podium.models._calls import CallModel, ModelCallInput, call_model
from podium.models._prices import PriceTable, cost_usd
from podium.models._registry import resolve_model
from podium.reliability._output import (
    CONTINUE_PROMPT,
    CONTINUE_ROUNDS,
    check_answer,
    cut_off_note,
    join_continued,
    repair_prompt,
    truncated,
)
from podium.tools._calls import CallTool, call_tool
from podium.tools._tool import to_json_value
from podium.verify import validate_output

JSON = Any
Emit = Callable[..., Awaitable[None]]
"""Journals an in-task event: ``await emit(EventClass, **fields)`` (run id, seq, time added)."""

REPAIR_ROUNDS = 1

log = logging.getLogger(__name__)


class AgentOutcome:
    """What an attempt produced; `agent` is the agent that finished it after a handoff."""

    __slots__ = ("agent", "output", "usage")

    def __init__(self, output: JSON, usage: Usage | None = None, agent: str | None = None) -> None:
        self.output = output
        self.usage = usage
        self.agent = agent


async def run_function_agent(agent: Agent, call: TaskCall, pool: Executor) -> AgentOutcome:
    """Call a Python agent: async on the loop, sync on the bounded thread pool."""
    return function_outcome(agent, await call_function(agent, call, pool))


def call_function(agent: Agent, call: TaskCall, pool: Executor) -> Awaitable[Any]:
    """What a Python agent returns, to await: an async agent's own coroutine (no frame of
    ours around it), or a sync agent's call on the bounded thread pool."""
    fn = agent.function
    assert fn is not None  # guaranteed by Agent.__post_init__
    if agent.is_async:
        result: Awaitable[Any] = fn(call)
        return result
    return _on_thread(fn, call, pool)


async def _on_thread(fn: Callable[[TaskCall], Any], call: TaskCall, pool: Executor) -> Any:
    result = await asyncio.get_running_loop().run_in_executor(pool, fn, call)
    if inspect.isawaitable(result):
        result = await result
    return result


def function_outcome(agent: Agent, result: Any) -> AgentOutcome:
    """A Python agent's return value as an outcome (JSON, or `TaskError` ``output_not_json``)."""
    try:
        return AgentOutcome(to_json_value(result, agent.name))
    except ToolError as exc:
        raise TaskError(str(exc), kind="output_not_json", retryable=False) from None


def _system_prompt(agent: Agent, call: TaskCall, board: str = "") -> str:
    """`board`: the blackboard entries the task reads, fitted to its budget (`PromptContext`)."""
    parts = [agent.instructions or f"You are {agent.name}, a specialist agent."]
    if agent.description:
        parts.append(f"Your speciality: {agent.description}")
    if board:
        parts.append("Shared context:\n" + board)
    if call.output_schema is not None:
        # the schema itself travels in the request (native structured output, or a grammar)
        parts.append("Answer with JSON only, in the required format.")
    return "\n\n".join(parts)


def _user_prompt(call: TaskCall, outputs: str = "") -> str:
    """`outputs`: the needed tasks' outputs, fitted to the budget (`PromptContext`)."""
    text = call.instruction
    if outputs:
        text += "\n\nResults of earlier tasks:\n" + outputs
    return text


def _final_output(
    text: str, schema: Mapping[str, JSON] | None, finish_reason: str = "stop"
) -> JSON:
    check_answer(text, finish_reason)
    if schema is None:
        return text
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise OutputValidationError(f"the answer is not JSON: {exc}", raw_output=text) from None
    validate_output(value, schema, raw_output=text)
    return value


class ModelAgentLoop:
    """The bounded loop of a model-driven agent: call the model, run tools, validate, repair.

    Args:
        agent, call, emit: the agent, what it is asked, where its events go.
        gate: admits each tool call (idempotency keys, approvals).
        agents: the run's agents, which `agent.handoffs` name.
        prices: what model calls cost (default: the built-in table).
        prepare: applied to a handoff target before it takes over (a runner wraps its model
            and tools there as it did the first agent's).

    `handoffs` lists the task's handoffs so far, in order; `agent_path` the agents it went
    through.
    """

    def __init__(
        self,
        agent: Agent,
        call: TaskCall,
        emit: Emit,
        *,
        agents: Mapping[str, Agent] | None = None,
        prices: PriceTable | None = None,
        call_model: CallModel = call_model,
        call_tool: CallTool = call_tool,
        resolve: Callable[[Model | str], Model] = resolve_model,
    ) -> None:
        self.agent = agent
        self.call = call
        self.emit = emit
        self.call_model = call_model
        self.resolve = resolve
        self.model: Model = resolve(agent.model)  # type: ignore[arg-type]
        self.box = ToolBox(
            agent.tools,
            run_id=call.run_id,
            task_id=call.task_id,
            agent=agent.name,
            attempt=call.attempt,
            emit=emit,
            call_tool=call_tool,
            max_result_chars=agent.max_tool_result_chars,
        )
        self.usage = Usage()
        self.agents: Mapping[str, Agent] = agents or {}
        self.prices = prices
        self.max_handoffs = agent.max_handoffs
        self.handoffs: list[HandoffStep] = []
        self._targets = handoff_targets(agent, self.agents)
        self._transcript: list[str] = []
        summarise, author = self._summariser()
        self.fit = PromptContext(
            call,
            context_budget_of(agent, call),
            summarise,
            author=author,
            converses=bool(agent.tools or agent.handoffs),
        )
        self._brief = ""

    def _summariser(self) -> tuple[Summarise, str]:
        """What summarises context over the budget, and its name (see `summariser_of`)."""
        target = summariser_of(self.agent, self.agents)
        if target is None:
            return extractive, EXTRACTIVE
        model = self.resolve(target.model)  # type: ignore[arg-type]

        async def summarise(text: str, query: str, tokens: int) -> str:
            said, _, _ = await self._request(
                model, summary_request(target, text, query, tokens), target.name
            )
            return said or ""

        return summarise, target.name

    @property
    def agent_path(self) -> tuple[str, ...]:
        """The agents the task went through, the first one first."""
        first = self.handoffs[0].from_agent if self.handoffs else self.agent.name
        return (first, *(h.to_agent for h in self.handoffs))

    async def _ask(self, messages: list[Message]) -> tuple[str | None, tuple[ToolCall, ...], str]:
        request = ModelRequest(
            messages=tuple(self.fit.messages(messages, self._brief)),
            tools=(
                *self.box.specs(),
                *(handoff_spec(target) for target in self._targets.values()),
            ),
            output_schema=dict(self.call.output_schema) if self.call.output_schema else None,
        )
        return await self._request(self.model, request, self.call.agent)

    async def _request(
        self, model: Model, request: ModelRequest, agent: str
    ) -> tuple[str | None, tuple[ToolCall, ...], str]:
        """One model call on behalf of `agent`, journaled with its usage and cost."""
        c = self.call
        started = time.perf_counter()
        response = await self.call_model(
            ModelCallInput(
                model=model,
                request=request,
                run_id=c.run_id,
                task_id=c.task_id,
                agent=agent,
                attempt=c.attempt,
            )
        )
        latency = time.perf_counter() - started
        used = response.usage
        self.usage.input_tokens += used.input_tokens
        self.usage.output_tokens += used.output_tokens
        name = response.model or model.name  # who answered (a fallback, a recording)
        await self.emit(
            ModelCalled,
            task=c.task_id,
            agent=agent,
            model=name,
            provider=name.partition(":")[0],
            input_tokens=used.input_tokens,
            output_tokens=used.output_tokens,
            latency_s=latency,
            cost_usd=cost_usd(
                name,
                TokenUsage(input_tokens=used.input_tokens, output_tokens=used.output_tokens),
                self.prices,
            ),
        )
        return response.text, response.tool_calls, response.finish_reason

    async def _run_tool(self, tc: ToolCall) -> ToolResultMessage:
        message, _ = await self.box.run(tc.name, dict(tc.arguments), tc.id)
        return message

    async def _rejected(self, exc: OutputValidationError, *, repair: bool) -> None:
        """Journal an unusable answer, with what the model said."""
        c = self.call
        await self.emit(
            OutputRejected,
            task=c.task_id,
            agent=c.agent,
            attempt=c.attempt,
            error=ErrorInfo(
                type=exc.kind, message=str(exc), retryable=True, raw_output=exc.raw_output
            ),
            repair=repair,
        )

    async def _hand_off(self, tc: ToolCall, messages: list[Message]) -> list[Message]:
        """Journal the handoff `tc` asks for and switch to its target; the target's messages."""
        step = handoff_step(self.agent.name, self._targets[tc.name].name, tc)
        if len(self.handoffs) >= self.max_handoffs:
            path = (*self.agent_path, step.to_agent)
            raise handoff_limit(self.call.task_id, step, path, self.max_handoffs)
        target = self._targets[tc.name]
        await self.emit(
            Handoff,
            task=self.call.task_id,
            from_agent=step.from_agent,
            to_agent=step.to_agent,
            reason=step.reason,
            note=step.note,
            attempt=self.call.attempt,
        )
        self.handoffs.append(step)
        self._transcript += summarise(messages[2:], step.from_agent)
        self.agent = target
        self.call = msgspec.structs.replace(self.call, agent=target.name)
        self.model = self.resolve(target.model)  # type: ignore[arg-type]
        self.box = self.box.for_agent(target.name, target.tools, target.max_tool_result_chars)
        self._targets = handoff_targets(target, self.agents)
        brief = self.fit.brief(step, self._transcript)
        self._brief = brief
        return [
            SystemMessage(content=_system_prompt(target, self.call, self.fit.board_text)),
            UserMessage(content=_user_prompt(self.call, self.fit.outputs_text) + "\n\n" + brief),
        ]

    async def _act(
        self, text: str | None, tool_calls: tuple[ToolCall, ...], messages: list[Message]
    ) -> list[Message] | None:
        """Run the tools a response asks for; the next agent's messages if it handed off."""
        messages.append(AssistantMessage(content=text, tool_calls=tool_calls))
        handoff = next((tc for tc in tool_calls if tc.name in self._targets), None)
        for tc in tool_calls:
            if tc.name not in self._targets:
                messages.append(await self._run_tool(tc))
        return None if handoff is None else await self._hand_off(handoff, messages)

    def _outcome(self, output: JSON) -> AgentOutcome:
        return AgentOutcome(output, self.usage, agent=self.agent.name)

    async def _continue(self, pieces: list[str], messages: list[Message], rounds: int) -> bool:
        """Ask for the rest of a free-text answer cut off at the token limit, if rounds are left.

        The cut is journaled as `OutputRejected` with ``repair=True`` (the model is asked again in
        the same attempt) and the raw text; the pieces are joined when the answer is complete.
        """
        if len(pieces) > CONTINUE_ROUNDS or rounds >= self.agent.max_rounds:
            return False
        await self._rejected(truncated(pieces[-1]), repair=True)
        messages.append(AssistantMessage(content=pieces[-1]))
        messages.append(UserMessage(content=CONTINUE_PROMPT))
        return True

    def _cut_off(self, pieces: list[str]) -> AgentOutcome:
        """The text written so far, with a note: better a long answer cut short than none."""
        log.warning(
            "task %r: agent %r's answer is still cut off at the output token limit after %d "
            "continuation(s); keeping it as it is, with a note",
            self.call.task_id,
            self.agent.name,
            len(pieces) - 1,
        )
        return self._outcome(cut_off_note(join_continued(pieces), len(pieces)))

    async def run(self) -> AgentOutcome:
        await self.fit.fit()
        messages: list[Message] = [
            SystemMessage(content=_system_prompt(self.agent, self.call, self.fit.board_text)),
            UserMessage(content=_user_prompt(self.call, self.fit.outputs_text)),
        ]
        repairs = REPAIR_ROUNDS
        pieces: list[str] = []  # a free-text answer cut off at the token limit, so far
        rounds = 0
        while rounds < self.agent.max_rounds:  # each agent gets its own rounds
            rounds += 1
            text, tool_calls, finish = await self._ask(messages)
            if tool_calls:
                pieces.clear()  # the model went back to work: its next answer starts afresh
                handed = await self._act(text, tool_calls, messages)
                if handed is not None:
                    messages, rounds = handed, 0
                continue
            schema = self.call.output_schema
            if schema is None and finish == "length":
                if (text or "").strip():
                    pieces.append(text or "")
                    if await self._continue(pieces, messages, rounds):
                        continue
                if pieces:
                    return self._cut_off(pieces)
            if pieces:
                text = join_continued([*pieces, text or ""])
            try:
                return self._outcome(_final_output(text or "", schema, finish))
            except OutputValidationError as exc:
                await self._rejected(exc, repair=repairs > 0)
                if repairs <= 0:
                    raise
                repairs -= 1
                messages.append(AssistantMessage(content=text))
                messages.append(UserMessage(content=repair_prompt(exc, schema=schema is not None)))
        raise TaskError(
            f"agent {self.agent.name!r} did not finish within {self.agent.max_rounds} model rounds",
            kind="max_rounds",
            retryable=True,
        )
