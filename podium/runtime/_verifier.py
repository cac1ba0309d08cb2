"""Verifiers at run time: the checks of tasks and agents, as an attempt interceptor.

`Verifier` sits inside `Retries` (which leaves the decision it makes alone) and outside the
agent's circuit breaker (an answer that fails a check is not the agent failing to answer). After
an attempt produced an output, it runs the task's and the finishing agent's `Check`\\ s, journals
each verdict with its evidence (`OutputChecked`, or `OutputRejected` with `check` set) and, when
one fails, turns the output into a failure whose message is the checkers' feedback — the next
attempt's prompt carries it (`retry_note`) — and decides, as the failed checks' `on_fail` says:
retry on the same agent up to `Check.retries` times, then a backup agent, then a person's
approval of the result showing the failed checks' evidence (``escalate``) or the end of the task.
A run therefore never succeeds with an output its checks reject, unless a person accepted it.

In a run from a goal, the final outputs of model-driven agents get the goal checks too
(`podium.runtime._goal_checks`). A task's (or its agent's) `Confidence` runs the attempt k times
and keeps the medoid output; an output its checks pass then gets its measured confidence
journaled (`ConfidenceMeasured`), and below `Confidence.min` a person is asked or the task
fails (`podium.runtime._confidence`); with ``on_low: ask``, checks that disagree ask a person
too instead of failing the task.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

import msgspec

from podium.agents import Agent
from podium.events import ErrorInfo, ModelCalled, OutputChecked, OutputRejected
from podium.exceptions import ConfigError, RunError
from podium.models._base import Model, ModelRequest, SystemMessage, UserMessage
from podium.models._prices import cost_usd
from podium.models._registry import resolve_model
from podium.policy import ApprovalRequest
from podium.policy._policy import ResultReview
from podium.runtime._attempt import AttemptOutcome, render_instruction
from podium.runtime._confidence import confidence_of, confident, sampled
from podium.runtime._goal_checks import final_goal_checks, has_documents
from podium.runtime._interceptors import AttemptCall, ExecuteAttempt
from podium.runtime._supervise import FailureDecision, Supervisor
from podium.verify import Check, CheckCall, Verdict, collect_sources, output_text, run_check
from podium.verify._confidence import Agreement, Confidence, Similarity
from podium.verify._embed import Encoder

log = logging.getLogger(__name__)

JSON = Any

VERDICT_SCHEMA: dict[str, JSON] = {
    "type": "object",
    "properties": {"pass": {"type": "boolean"}, "reason": {"type": "string"}},
    "required": ["pass", "reason"],
}
"""What a judge agent answers."""

MAX_FEEDBACK = 4_000
"""Characters of the checkers' feedback kept in the error (and the next prompt)."""

_JUDGE_ROLE = (
    "You are a strict reviewer. Judge whether the answer does what the instruction asks and"
    " meets the rubric. Do not rewrite it."
)


class Verifier:
    """Runs the checks of tasks and agents on their outputs (see the module docstring).

    Args:
        supervisor: the run's agents (judges, backups) and backup order.
        resolve: turns a judge agent's model name into a model.
        encoder: sentence embeddings for grounding and relevance (default: the ``embeddings``
            extra's model, when installed and a check does not turn them off).
        goal_checks: what a run from a goal checks its final outputs with (`Policy.goal_checks`).
        similarity: compares text samples of a task with `Confidence.samples` (default: the
            overlap of their words).
        confidence: the `Confidence` of tasks whose task and agent set none (`Policy.confidence`).
    """

    def __init__(
        self,
        supervisor: Supervisor,
        *,
        resolve: Callable[[Model | str], Model] = resolve_model,
        encoder: Encoder | None = None,
        goal_checks: bool | Sequence[Check] = True,
        similarity: Similarity | None = None,
        confidence: Confidence | None = None,
    ) -> None:
        self.supervisor = supervisor
        self.confidence = confidence
        self.resolve = resolve
        self.encoder = encoder
        self.goal_checks = goal_checks
        self.similarity = similarity

    def checks_of(self, call: AttemptCall, agent: str) -> tuple[Check, ...]:
        spec = self.supervisor.agents.get(agent)
        own = spec.checks if spec is not None else ()
        return call.input.task.checks + own if own else call.input.task.checks

    async def execute(self, call: AttemptCall, next: ExecuteAttempt) -> AttemptOutcome:
        spec = confidence_of(call, self.supervisor.agents, self.confidence)
        try:
            outcome, agreed = await self._attempt(call, next, spec)
        except ConfigError as exc:  # every attempt would hit it: the run stops
            return _stopped(AttemptOutcome(), exc)
        if outcome.error is not None or outcome.approval is not None:
            return outcome
        agent = outcome.final_agent or call.input.agent
        checks = self.checks_of(call, agent)
        finisher = self.supervisor.agents.get(agent)
        extra = final_goal_checks(call, self.goal_checks, checks, finisher)
        if not checks and not extra and spec is None:
            return outcome
        checked = await self._check(call, agent, outcome, checks, extra)
        if isinstance(checked, AttemptOutcome):  # a check could not run
            return checked
        failed = [(c, v) for c, v in checked if not v.passed]
        if failed:
            split = _asks(spec) and len(failed) < len(checked)
            return self._rejected(call, agent, outcome, failed, split=split)
        return await confident(call, agent, outcome, spec=spec, checked=checked, agreed=agreed)

    async def _check(
        self,
        call: AttemptCall,
        agent: str,
        outcome: AttemptOutcome,
        checks: tuple[Check, ...],
        extra: tuple[Check, ...],
    ) -> list[tuple[Check, Verdict]] | AttemptOutcome:
        """Each check with its verdict, journaled; or the failure of a check that cannot run."""
        subject = self._subject(call, agent)
        if extra:  # the goal's grounding only where there are documents to be grounded in
            cites = has_documents(call.input)
            checks += tuple(c for c in extra if c.kind != "grounding" or cites)
        verdicts: list[Verdict] = []
        try:
            for check in checks:
                verdicts.append(await self._verdict(check, outcome.output, subject, call))
        except ConfigError as exc:  # every attempt would hit it: the run stops
            return _stopped(outcome, exc)
        except RunError as exc:  # a judge's provider failing, a rule's bug: the retry policy
            # decides, as about any other failure (`Retries` fills the decision in)
            error = ErrorInfo(
                type="check_error",
                message=f"a check could not decide: {exc}",
                retryable=bool(getattr(exc, "retryable", False)),
                raw_output=outcome.output,
            )
            return AttemptOutcome(error=error, usage=outcome.usage, events=outcome.events)
        await self._journal(call, agent, verdicts)
        return list(zip(checks, verdicts, strict=True))

    async def _attempt(
        self, call: AttemptCall, next: ExecuteAttempt, spec: Confidence | None
    ) -> tuple[AttemptOutcome, Agreement | None]:
        """The attempt, run as many times as its confidence's `samples` say."""
        if spec is None or spec.samples == 1:
            return await next(call), None
        agent = self.supervisor.agents.get(call.input.agent)
        return await sampled(call, next, spec.samples, agent, self.similarity)

    def _subject(self, call: AttemptCall, agent: str) -> CheckCall:
        input, state = call.input, call.state
        try:
            instruction = render_instruction(input.task, state)
        except RunError:
            instruction = input.instruction
        return CheckCall(
            task=input.task.id,
            agent=agent,
            instruction=instruction,
            goal=state.submitted.goal if state.submitted is not None else None,
            inputs=input.inputs,
            sources=collect_sources(input.inputs, input.context),
            attempt=input.attempt,
        )

    async def _verdict(
        self, check: Check, output: JSON, subject: CheckCall, call: AttemptCall
    ) -> Verdict:
        async def judge(check: Check, output: JSON, subject: CheckCall) -> Verdict:
            return await self._judge(check, output, subject, call)

        try:
            return await run_check(check, output, subject, judge=judge, encoder=self.encoder)
        except (ConfigError, RunError, asyncio.CancelledError, GeneratorExit):
            raise
        except BaseException as exc:  # a rule's own bug (SystemExit too): say which check,
            # not why the agent failed, and never end the run's process
            log.debug("check %s raised", check.label, exc_info=exc)
            raise RunError(f"check {check.label!r} raised {type(exc).__name__}: {exc}") from exc

    async def _journal(self, call: AttemptCall, agent: str, verdicts: Sequence[Verdict]) -> None:
        task, attempt = call.input.task.id, call.input.attempt
        for v in verdicts:
            if v.passed:
                await call.emit(
                    OutputChecked,
                    task=task,
                    agent=agent,
                    attempt=attempt,
                    check=v.check,
                    check_kind=v.kind,
                    score=v.score,
                    reason=v.reason,
                    evidence=v.evidence,
                )
            else:
                await call.emit(
                    OutputRejected,
                    task=task,
                    agent=agent,
                    attempt=attempt,
                    error=ErrorInfo(type=v.error_type, message=v.reason),
                    check=v.check,
                    evidence=v.evidence,
                )

    def _rejected(
        self,
        call: AttemptCall,
        agent: str,
        outcome: AttemptOutcome,
        failed: list[tuple[Check, Verdict]],
        *,
        split: bool = False,
    ) -> AttemptOutcome:
        """The failure (or the approval) an output its checks reject becomes; `split`: other
        checks passed it, and its confidence says a person decides such disagreements."""
        on_fail = _strictest(c.on_fail for c, _ in failed)
        feedback = " ".join(f"Check {v.check!r} failed: {v.reason}" for _, v in failed)
        error = ErrorInfo(
            type=failed[0][1].error_type,
            message=feedback[:MAX_FEEDBACK],
            retryable=on_fail != "fail",
            raw_output=outcome.output,
        )
        decision = self._decide(call, error, on_fail, min(c.retries for c, _ in failed))
        if decision is not None and decision.final and on_fail == "retry" and split:
            decision = None  # the checks disagree: a person decides rather than the last one
        if decision is not None:
            return _failed(outcome, error, decision)
        review = ResultReview(
            task=call.input.task, agent=agent, output=outcome.output, writes=outcome.writes
        )
        digest = review.digest()
        if call.state.approvals.granted(review.task.id, digest):
            return outcome  # a person accepted this very output already
        data = review.data()
        data["failed_checks"] = [
            {"check": v.check, "kind": v.kind, "reason": v.reason, "evidence": v.evidence}
            for _, v in failed
        ]
        disagree = "its checks disagree" if split else "its checks reject the output"
        request = ApprovalRequest(
            action="result",
            action_hash=digest,
            reason=f"{disagree}: {error.message}",
            result=data,
        )
        return msgspec.structs.replace(outcome, approval=request)

    def _decide(
        self, call: AttemptCall, error: ErrorInfo, on_fail: str, retries: int
    ) -> FailureDecision | None:
        """Retry, hand over to a backup, end the task; ``None``: ask a person (escalate)."""
        if on_fail == "fail":
            return FailureDecision(final=True)
        input = call.input
        st = call.state.tasks[input.task.id]
        failures = st.agent_failures + 1  # on this agent, this one included
        if failures <= retries:
            return FailureDecision(final=False, reason=error.message)
        tried = st.tried if input.agent in st.tried else (*st.tried, input.agent)
        backup = self.supervisor.next_backup(input.task, tried)
        if backup is not None:
            why = f"{error.type} after {failures} attempt{'s' if failures > 1 else ''}"
            reason = f"backup for {input.agent}: {why}"
            return FailureDecision(final=False, backup=backup, reason=reason)
        return None if on_fail == "escalate" else FailureDecision(final=True)

    async def _judge(
        self, check: Check, output: JSON, subject: CheckCall, call: AttemptCall
    ) -> Verdict:
        """Ask the check's judge agent for ``{"pass": bool, "reason": str}``."""
        spec = self._judge_agent(check)
        model = self.resolve(spec.model)  # type: ignore[arg-type]  # checked: model-driven
        prompt = (
            f"Instruction:\n{subject.instruction}\n\nAnswer:\n{output_text(output)[:20_000]}\n\n"
            f"Rubric:\n{check.rubric or 'The answer is correct, complete and on topic.'}\n\n"
            'Reply with JSON only: {"pass": true or false, "reason": "why, in one sentence"}'
        )
        request = ModelRequest(
            messages=(
                SystemMessage(content=spec.instructions or _JUDGE_ROLE),
                UserMessage(content=prompt),
            ),
            output_schema=VERDICT_SCHEMA,
        )
        started = time.perf_counter()
        response = await model.request(request)
        await call.emit(
            ModelCalled,
            task=call.input.task.id,
            agent=spec.name,
            model=model.name,
            provider=model.provider,
            input_tokens=response.usage.input_tokens,
            output_tokens=response.usage.output_tokens,
            latency_s=time.perf_counter() - started,
            cost_usd=cost_usd(model.name, response.usage),
        )
        return _judged(check, spec.name, response.text or "")

    def _judge_agent(self, check: Check) -> Agent:
        spec = self.supervisor.agents.get(check.judge or "")
        if spec is None:
            raise ConfigError(
                f"check {check.label!r}: judge {check.judge!r} is not an agent of the run"
            )
        if spec.model is None:
            raise ConfigError(
                f"check {check.label!r}: judge {spec.name!r} is a Python agent; a judge is"
                " model-driven (give it a `model`), or write the check as a `rule`"
            )
        return spec


def _judged(check: Check, judge: str, text: str) -> Verdict:
    """A judge's answer as a verdict."""
    try:
        said = json.loads(text)
    except ValueError:
        said = None
    if not isinstance(said, dict) or not isinstance(said.get("pass"), bool):
        raise RunError(f"judge {judge!r} did not answer with a verdict: {text[:200]!r}")
    reason = str(said.get("reason") or ("passes" if said["pass"] else "the judge rejects it"))
    return Verdict(
        check=check.label,
        kind="judge",
        passed=said["pass"],
        reason=reason,
        evidence={"judge": judge, "verdict": {"pass": said["pass"], "reason": reason[:2000]}},
    )


def _strictest(modes: Any) -> str:
    """``fail`` over ``escalate`` over ``retry``."""
    found = set(modes)
    return "fail" if "fail" in found else "escalate" if "escalate" in found else "retry"


def _asks(spec: Confidence | None) -> bool:
    return spec is not None and spec.on_low == "ask"


def _stopped(outcome: AttemptOutcome, exc: ConfigError) -> AttemptOutcome:
    error = ErrorInfo(type="config", message=str(exc))
    return _failed(outcome, error, FailureDecision(final=True, stop=("config", str(exc))))


def _failed(outcome: AttemptOutcome, error: ErrorInfo, decision: FailureDecision) -> AttemptOutcome:
    return AttemptOutcome(
        error=error, usage=outcome.usage, events=outcome.events, decision=decision
    )


__all__ = ["VERDICT_SCHEMA", "Verifier"]
