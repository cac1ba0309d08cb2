"""The provenance gate: side effects chosen while untrusted content was in context.

CaMeL's rule, kept by code outside the model: untrusted content (a fetched page, a document, an
MCP tool's or a remote agent's reply, a tainted task's output) may be read and summarised, but
may not choose the target or the content of a side effect unless a rule allows it. A prompt
injection's goal is exactly such a side effect, so the gate stops it whatever the model was
talked into.

`ProvenanceGate` is an interceptor in two chains. On the scheduler's side (``execute``) it
labels the attempt's inputs (`input_sources`) and journals the new labels; where the attempt
runs (``call``) it watches tool outputs, and before a ``write`` or ``irreversible`` call with
untrusted content in context, or a read that sends data out (`Tool.egress`, such as a fetch of a
URL that nothing the attempt was given or read names verbatim: the way a page's instructions
would smuggle the run's data out), applies `UntrustedRules`: ``allow`` it, ``ask`` a person (an
approval bound to that exact call, whose reason names the untrusted sources and the arguments
whose text came from them), or ``block`` it (`PolicyBlocked`, which the model reads). Every
decision is journaled (`PolicyDecided`). It sits before the approvals interceptor, so a call
it lets through still needs whatever approval its effect needs.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

import msgspec

from podium.events import PolicyDecided, ProvenanceTainted
from podium.exceptions import ToolError
from podium.policy._approval import GRANTED, ApprovalNeeded, ApprovalRequest
from podium.policy._provenance import (
    Action,
    UntrustedRules,
    input_sources,
    matching_arguments,
    texts,
)
from podium.tools._calls import CallTool, ToolCallInput, ToolCallResult
from podium.tools._tool import Tool

if TYPE_CHECKING:
    from podium.agents import Agent
    from podium.policy._approval import Approval

JSON = Any
UNKNOWN_DESTINATION = "(a destination the tool could not tell)"
MAX_KEPT_CHARS = 2_000_000
"""Untrusted text an attempt keeps to match arguments against; past it, matching is partial
(the gate still applies: it depends on the sources, not on the matches)."""


class PolicyBlocked(ToolError):
    """The provenance policy refused a side-effecting call (the model reads the message).

    Attributes:
        tool: the tool refused.
        sources: the untrusted sources that were in context.
        matched: the arguments whose text came from one of them.
    """

    def __init__(self, message: str, *, tool: str, sources: Sequence[str], matched: Sequence[str]):
        super().__init__(message)
        self.tool = tool
        self.sources = tuple(sources)
        self.matched = tuple(matched)


class ProvenanceGate:
    """Labels attempts' inputs and gates their side effects (see the module docstring).

    Args:
        rules: what untrusted content may cause (default: ask before any side effect).
        agents: the run's agents; the answers of remote (A2A) ones and of those the rules
            name are untrusted (`UntrustedRules.untrusted_answers`).
    """

    def __init__(
        self, rules: UntrustedRules | None = None, agents: Mapping[str, Agent] | None = None
    ) -> None:
        self.rules = rules or UntrustedRules()
        self.remote = self.rules.untrusted_answers(agents or {})

    async def execute(self, call: Any, next: Callable[[Any], Awaitable[Any]]) -> Any:
        """Label the attempt's inputs (scheduler side): journal new sources, pass them on."""
        input, state = call.input, call.state
        parent_state = state.tasks.get(input.task.parent) if input.task.parent else None
        sources = input_sources(
            input.task,
            input.task_outputs,
            input.context,
            state.tainted,
            parent_state.task if parent_state is not None else None,
        )
        known = state.tainted.get(input.task.id, ())
        for source in sources:
            if source not in known:
                await _label(call, input.agent, source)
        if sources:
            labelled = msgspec.structs.replace(input, tainted_by=tuple(sources))
            call = dataclasses.replace(call, input=labelled)
        outcome = await next(call)
        agent = outcome.final_agent or input.agent
        if outcome.error is None and agent in self.remote and f"agent:{agent}" not in known:
            await _label(call, agent, f"agent:{agent}")  # a remote agent's answer is outside text
        return outcome

    def for_attempt(self, scope: Any) -> _AttemptGate:
        return _AttemptGate(self.rules, scope)

    async def call(self, input: ToolCallInput, next: CallTool) -> ToolCallResult:
        return await next(input)  # no attempt: no context to judge


class _AttemptGate:
    """One attempt's untrusted sources and text, and its gate."""

    __slots__ = ("approvals", "effects", "emit", "given", "kept", "rules", "sources", "texts")

    def __init__(self, rules: UntrustedRules, scope: Any) -> None:
        input = scope.input
        self.rules = rules
        self.emit = scope.emit
        self.effects: dict[str, JSON] = input.effects
        self.sources: list[str] = list(input.tainted_by)
        self.texts: list[str] = []
        self.kept = 0
        self.given = input  # what the attempt was given: a destination named there is no choice
        self.approvals: dict[str, Approval] = {
            a.action_hash: msgspec.structs.replace(a) for a in input.approvals
        }
        for source in self.sources:
            kind, _, name = source.partition(":")
            if kind == "task":
                self._keep(input.task_outputs.get(name))
            elif kind == "context":
                self._keep([e.value for e in input.context.get(name, ())])
        if input.task.parent is not None and self.sources:
            self._keep(input.task.item)  # a mapped item comes from what the parent maps over

    def _keep(self, value: JSON) -> None:
        for text in texts(value):
            if self.kept + len(text) > MAX_KEPT_CHARS:
                return
            self.kept += len(text)
            self.texts.append(text)

    async def call(self, input: ToolCallInput, next: CallTool) -> ToolCallResult:
        tool = input.tool
        if self.sources and input.context.idempotency_key not in self.effects:  # replay: done
            if tool.effect != "read":
                await self._judge(input)
            elif tool.egress is not None and (sent := self._composed(tool, input.arguments)):
                await self._judge(input, sent=sent)
        result = await next(input)
        if self.rules.output_untrusted(tool, result.result):
            await self._taken_in(input, result.result)
        return result

    async def _taken_in(self, input: ToolCallInput, result: JSON) -> None:
        self._keep(result)
        source = f"tool:{input.tool.name}"
        if source in self.sources:
            return
        self.sources.append(source)
        ctx = input.context
        await self.emit(
            ProvenanceTainted,
            task=ctx.task_id,
            agent=ctx.agent,
            attempt=input.attempt,
            source=source,
            call_id=ctx.call_id,
        )

    def _composed(self, tool: Tool, arguments: Mapping[str, JSON]) -> str | None:
        """The destination an egress read sends to, unless it is named verbatim in what the
        attempt was given or read (a link followed as found carries nothing of the run's)."""
        assert tool.egress is not None
        try:
            destination = tool.egress(dict(arguments))  # a copy: user code may change it
        except (asyncio.CancelledError, GeneratorExit):
            raise
        except BaseException:  # user code (SystemExit too): a destination it cannot tell is
            return UNKNOWN_DESTINATION  # judged, never trusted, and never ends the process
        if not destination:
            return None
        if not isinstance(destination, str):
            return UNKNOWN_DESTINATION
        given = self.given
        named = (given.instruction, given.inputs, given.run_inputs)
        for text in (*self.texts, *(t for value in named for t in texts(value))):
            if destination in text:
                return None
        return destination

    def _rule(self, input: ToolCallInput, sent: str | None) -> tuple[Action, str, list[str]]:
        """What the rules say of the call: the action, why, and the arguments that match
        untrusted text."""
        tool = input.tool
        action = self.rules.action(tool.name, input.context.agent)
        matched = matching_arguments(input.arguments, self.texts)
        reason = _reason(tool.name, tool.effect, self.sources, matched)
        if sent is not None:
            # an exfiltration composes a destination from the run's data: judged whatever the
            # arguments match, since a destination copied whole was let through before this
            reason += f"; it sends to {sent[:200]!r}, which nothing it was given or read names"
        elif self.rules.judge == "arguments" and not matched:
            action = "allow"  # the untrusted content chose none of the arguments
            reason += "; no argument comes from it (judged by the arguments)"
        return action, reason, matched

    async def _judge(self, input: ToolCallInput, *, sent: str | None = None) -> None:
        tool, ctx = input.tool, input.context
        action, reason, matched = self._rule(input, sent)
        decision: Literal["allow", "ask", "approved", "block"] = action
        approval = self.approvals.get(input.action_hash)
        granted = approval is not None and approval.status == GRANTED and not approval.used
        if action == "ask" and granted:
            assert approval is not None
            approval.used = True  # one approval, one execution
            decision = "approved"
        await self.emit(
            PolicyDecided,
            task=ctx.task_id,
            agent=ctx.agent,
            attempt=input.attempt,
            tool=tool.name,
            effect=tool.effect,
            action_hash=input.action_hash,
            decision=decision,
            reason=reason,
            sources=list(self.sources),
            matched=matched,
        )
        if decision == "block":
            raise PolicyBlocked(
                f"policy blocked: {reason}. Side effects may not be chosen by untrusted content;"
                " do not retry this call, finish the task without it",
                tool=tool.name,
                sources=self.sources,
                matched=matched,
            )
        if decision == "ask":
            raise ApprovalNeeded(
                ApprovalRequest(
                    action="tool",
                    action_hash=input.action_hash,
                    reason=reason,
                    tool=tool.name,
                    arguments=dict(input.arguments),
                )
            )


async def _label(call: Any, agent: str, source: str) -> None:
    await call.emit(
        ProvenanceTainted,
        task=call.input.task.id,
        agent=agent,
        attempt=call.input.attempt,
        source=source,
    )


def _reason(tool: str, effect: str, sources: Sequence[str], matched: Sequence[str]) -> str:
    said = f"{effect} tool {tool!r} called with untrusted content in context ({', '.join(sources)})"
    if matched:
        said += f"; argument(s) {', '.join(map(repr, matched))} match text from it"
    return said


__all__ = ["PolicyBlocked", "ProvenanceGate"]
