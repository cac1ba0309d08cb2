"""Guardrails at run time: the rules of `podium.policy.Guardrail` applied as one interceptor.

`Guardrails` sits in all three chains (see `podium.runtime._interceptors` for where):

- attempts, on the scheduler's side: before the executor it shows each guardrail the attempt's
  input — the instruction and the inputs, as one mapping — and after it the output and each
  context write, so a redacted input is all the agent (and its model) ever gets, and a redacted
  output is what the journal records and the checks see;
- model calls: each message of a request (each text once per attempt: the conversation grows
  but is not shown again) and each response;
- tool calls: the arguments before the tool runs, the result after.

Each guardrail's verdicts on one input or output are folded into one decision (the sternest),
journaled as `GuardrailDecided` when it is not ``allow`` (or the guardrail audits). A block
ends the attempt with `GuardrailBlocked` (``guardrail``, not retried), except at a tool call,
where the model gets `ToolCallBlocked` and goes on without the call or its result. A guardrail
whose rule raises fails the attempt (``guardrail_error``) rather than let the value through.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import msgspec

from podium._sync import run_sync
from podium.events import GuardrailDecided
from podium.exceptions import ConfigError, TaskError
from podium.models._base import ModelResponse
from podium.models._calls import CallModel, ModelCallInput
from podium.policy._guardrails import (
    SEVERITY,
    Direction,
    Guardrail,
    GuardrailBlocked,
    Stage,
    Subject,
    ToolCallBlocked,
    Verdict,
)
from podium.runtime._attempt import AttemptInput, AttemptOutcome, EventSink
from podium.runtime._errors import error_info
from podium.runtime._interceptors import AttemptCall, AttemptScope, ExecuteAttempt
from podium.tools._calls import CallTool, ToolCallInput, ToolCallResult

JSON = Any


@dataclass(slots=True)
class _Decided:
    """One guardrail's decision on one input or output (several values, one event)."""

    decision: str = "allow"
    reasons: list[str] = field(default_factory=list)
    findings: dict[str, int] = field(default_factory=dict)

    def add(self, verdict: Verdict) -> None:
        if SEVERITY[verdict.decision] > SEVERITY[self.decision]:
            self.decision = verdict.decision
        if verdict.decision != "allow" and verdict.reason and verdict.reason not in self.reasons:
            self.reasons.append(verdict.reason)
        for kind, n in verdict.findings.items():
            self.findings[kind] = self.findings.get(kind, 0) + n


@dataclass(frozen=True, slots=True, kw_only=True)
class _Where:
    """What is being looked at, and where its decisions are journaled."""

    stage: Stage
    direction: Direction
    task: str
    agent: str
    attempt: int
    emit: EventSink
    tool: str | None = None
    call_id: str = ""


Verdicts = dict[tuple[int, str], Verdict]
"""Verdicts already given in an attempt, by guardrail and text (a model's messages)."""


async def judge(
    rules: Sequence[Guardrail],
    where: _Where,
    parts: list[tuple[str, JSON]],
    seen: Verdicts | None = None,
) -> list[JSON]:
    """The `parts` (``(part, value)``) as the guardrails leave them, their decisions journaled.

    With `seen`, a string value one guardrail already decided about in the attempt is not
    decided again: its verdict is applied without a new event.

    Raises:
        GuardrailBlocked: a guardrail blocked (or its rule raised: ``guardrail_error``).
        ToolCallBlocked: the same, at a tool call (a block, not an error).
    """
    values = [value for _, value in parts]
    for index, rule in enumerate(rules):
        decided = _Decided()
        for i, (part, _) in enumerate(parts):
            key = (index, values[i]) if seen is not None and isinstance(values[i], str) else None
            verdict = seen.get(key) if seen is not None and key is not None else None
            if verdict is None:
                verdict = await _verdict(rule, values[i], _subject(where, part))
                decided.add(verdict)
                if seen is not None and key is not None:
                    seen[key] = verdict
            if verdict.decision == "redact":
                values[i] = verdict.value
        if decided.decision != "allow" or rule.audit:
            await _journal(rule, where, decided)
        if decided.decision == "block":
            _blocked(rule, where, decided)
    return values


async def _verdict(rule: Guardrail, value: JSON, subject: Subject) -> Verdict:
    try:
        verdict = (
            await run_sync(rule.check, value, subject)
            if rule.threaded
            else rule.check(value, subject)
        )
    except (ConfigError, asyncio.CancelledError, GeneratorExit):
        raise  # a misconfigured guardrail stops the run
    except BaseException as exc:  # the guardrail's own code, SystemExit too: never let the
        # value through unchecked, never end the run's process
        raise TaskError(
            f"guardrail {rule.name!r} could not decide about the {subject.direction} of the"
            f" {subject.stage}: {type(exc).__name__}: {exc}",
            kind="guardrail_error",
            retryable=False,
        ) from exc
    if not isinstance(verdict, Verdict):
        raise ConfigError(
            f"guardrail {rule.name!r} returned a {type(verdict).__name__}, not a Verdict"
        )
    return verdict


def _subject(where: _Where, part: str) -> Subject:
    return Subject(
        stage=where.stage,
        direction=where.direction,
        part=part,
        task=where.task,
        agent=where.agent,
        tool=where.tool,
    )


async def _journal(rule: Guardrail, where: _Where, decided: _Decided) -> None:
    await where.emit(
        GuardrailDecided,
        task=where.task,
        agent=where.agent,
        attempt=where.attempt,
        guardrail=rule.name,
        stage=where.stage,
        direction=where.direction,
        decision=decided.decision,
        reason="; ".join(decided.reasons),
        findings=decided.findings,
        tool=where.tool or "",
        call_id=where.call_id,
    )


def _blocked(rule: Guardrail, where: _Where, decided: _Decided) -> None:
    reason = "; ".join(decided.reasons) or "refused"
    if where.stage == "tool":
        said = "its arguments" if where.direction == "input" else "its result"
        raise ToolCallBlocked(
            f"guardrail {rule.name!r} blocked this call of {where.tool!r} ({said}: {reason});"
            " do not retry it with the same content",
            guardrail=rule.name,
            tool=where.tool or "",
            direction=where.direction,
        )
    what = {"attempt": "task's", "model": "model call's"}[where.stage]
    raise GuardrailBlocked(
        f"guardrail {rule.name!r} blocked the {what} {where.direction} of task"
        f" {where.task!r}: {reason}",
        guardrail=rule.name,
        stage=where.stage,
        direction=where.direction,
    )


class Guardrails:
    """The guardrails of a drive, as an interceptor of attempts, model calls and tool calls
    (see the module docstring).

    Args:
        rules: the guardrails, in the order they look (a redaction is what the next sees).
    """

    def __init__(self, rules: Sequence[Guardrail]) -> None:
        self.rules = tuple(rules)

    def _for(self, stage: Stage, direction: Direction, task: str, agent: str) -> list[Guardrail]:
        return [
            r
            for r in self.rules
            if direction in r.directions and r.applies(stage, task=task, agent=agent)
        ]

    async def execute(self, call: AttemptCall, next: ExecuteAttempt) -> AttemptOutcome:
        """Guard the attempt's input before the executor, its output after it."""
        input = call.input
        task = input.task.id
        rules = self._for("attempt", "input", task, input.agent)
        if rules:
            try:
                input = await _guard_input(rules, input, call.emit)
            except TaskError as exc:
                return AttemptOutcome(error=error_info(exc))
            call = dataclasses.replace(call, input=input)
        outcome = await next(call)
        if outcome.error is not None or outcome.approval is not None:
            return outcome
        agent = outcome.final_agent or input.agent
        rules = self._for("attempt", "output", task, agent)
        if not rules:
            return outcome
        where = _Where(
            stage="attempt",
            direction="output",
            task=task,
            agent=agent,
            attempt=input.attempt,
            emit=call.emit,
        )
        parts = [("output", outcome.output), *((f"write:{w.key}", w.value) for w in outcome.writes)]
        try:
            values = await judge(rules, where, parts)
        except TaskError as exc:
            error = error_info(exc)
            return AttemptOutcome(error=error, usage=outcome.usage, events=outcome.events)
        outcome.output = values[0]
        outcome.writes = [
            dataclasses.replace(w, value=v) if v is not w.value else w
            for w, v in zip(outcome.writes, values[1:], strict=True)
        ]
        return outcome

    def for_attempt(self, scope: AttemptScope) -> _AttemptGuardrails | None:
        task = scope.input.task.id
        rules = [
            r for r in self.rules if r.applies("model", task=task) or r.applies("tool", task=task)
        ]
        return _AttemptGuardrails(rules, scope) if rules else None

    async def request(self, input: ModelCallInput, next: CallModel) -> ModelResponse:
        return await next(input)  # no attempt: no task to judge for

    async def call(self, input: ToolCallInput, next: CallTool) -> ToolCallResult:
        return await next(input)


async def _guard_input(
    rules: Sequence[Guardrail], input: AttemptInput, emit: EventSink
) -> AttemptInput:
    """The attempt's input as the guardrails leave it: instruction, run inputs and the needed
    tasks' outputs (a mapped task's item too), each redacted where they say."""
    value: dict[str, JSON] = {
        "instruction": input.instruction,
        "run_inputs": input.run_inputs,
        "task_outputs": input.task_outputs,
    }
    mapped = input.task.parent is not None
    if mapped:
        value["item"] = input.task.item
    where = _Where(
        stage="attempt",
        direction="input",
        task=input.task.id,
        agent=input.agent,
        attempt=input.attempt,
        emit=emit,
    )
    [guarded] = await judge(rules, where, [("input", value)])
    if guarded is value:
        return input
    run_inputs = dict(guarded["run_inputs"])
    task_outputs = dict(guarded["task_outputs"])
    task = msgspec.structs.replace(input.task, item=guarded["item"]) if mapped else input.task
    return msgspec.structs.replace(
        input,
        task=task,
        instruction=str(guarded["instruction"]),
        run_inputs=run_inputs,
        task_outputs=task_outputs,
        inputs={**run_inputs, **task_outputs},  # as `attempt_input` builds it
    )


class _AttemptGuardrails:
    """One attempt's guardrails over its model and tool calls."""

    __slots__ = ("attempt", "emit", "rules", "seen", "task")

    def __init__(self, rules: Sequence[Guardrail], scope: AttemptScope) -> None:
        self.rules = rules
        self.emit = scope.emit
        self.task = scope.input.task.id
        self.attempt = scope.input.attempt
        self.seen: Verdicts = {}

    def _where(
        self, stage: Stage, direction: Direction, agent: str, **more: Any
    ) -> tuple[list[Guardrail], _Where]:
        tool = more.get("tool")
        rules = [
            r
            for r in self.rules
            if direction in r.directions
            and r.applies(stage, task=self.task, agent=agent, tool=tool)
        ]
        where = _Where(
            stage=stage,
            direction=direction,
            task=self.task,
            agent=agent,
            attempt=self.attempt,
            emit=self.emit,
            **more,
        )
        return rules, where

    async def request(self, input: ModelCallInput, next: CallModel) -> ModelResponse:
        agent = input.agent
        rules, where = self._where("model", "input", agent)
        if rules:
            messages = list(input.request.messages)
            texts = [i for i, m in enumerate(messages) if isinstance(m.content, str)]
            parts = [("message", messages[i].content) for i in texts]
            values = await judge(rules, where, parts, self.seen)
            for i, value in zip(texts, values, strict=True):
                if value is not messages[i].content:
                    messages[i] = msgspec.structs.replace(messages[i], content=value)
            if any(m is not old for m, old in zip(messages, input.request.messages, strict=True)):
                request = msgspec.structs.replace(input.request, messages=tuple(messages))
                input = input.with_request(request)
        response = await next(input)
        rules, where = self._where("model", "output", agent)
        if not rules or response.text is None:
            return response
        [text] = await judge(rules, where, [("response", response.text)])
        return response if text is response.text else msgspec.structs.replace(response, text=text)

    async def call(self, input: ToolCallInput, next: CallTool) -> ToolCallResult:
        ctx = input.context
        tool = input.tool.name
        rules, where = self._where("tool", "input", ctx.agent, tool=tool, call_id=ctx.call_id)
        if rules:
            [arguments] = await judge(rules, where, [("arguments", dict(input.arguments))])
            input = input.with_arguments(arguments)
        result = await next(input)
        rules, where = self._where("tool", "output", ctx.agent, tool=tool, call_id=ctx.call_id)
        if not rules:
            return result
        [value] = await judge(rules, where, [("result", result.result)])
        return result if value is result.result else ToolCallResult(value, result.replayed)


__all__ = ["Guardrails"]
