"""Supervision of task attempts: what a failure leads to, as attempt interceptors.

`Supervisor` makes the scheduler's decisions about a failed attempt — retry after a delay, hand
the task to a backup agent, give up on the task, or stop the run — from the task's and agent's
`RetryPolicy`, their backups and the circuit breakers. It decides (no I/O, a seeded random
generator for the jitter); the driver journals.

Two attempt interceptors, on the scheduler's side, put it to work: `Retries` waits out a
retry's delay (as the journal recorded it) before the attempt and attaches the supervisor's
decision to a failed outcome; `AgentBreakers`, inside it, puts each attempt through its agent's
circuit breaker (failing fast while it is open, or asking a person under the ``pause`` policy).
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from podium.agents import Agent
from podium.events import BreakerOpened, ErrorInfo
from podium.plan import Task
from podium.policy import ApprovalRequest
from podium.reliability._alerts import send_alert
from podium.reliability._breaker import BreakerAlert, Breakers, CircuitBreaker
from podium.reliability._clock import Clock
from podium.reliability._retry import RetryPolicy
from podium.runtime._attempt import AttemptOutcome, EventSink
from podium.runtime._interceptors import AttemptCall, ExecuteAttempt
from podium.runtime._task_state import TaskState

JSON = Any

RUN_STOPS = frozenset({"budget", "loop", "stall", "config"})
"""Error types that end the whole run (with that word as its reason), not just the task: a
misconfiguration (``config``: no API key, an unknown provider) would fail every task alike."""

NOT_AGENT_FAULTS = frozenset(
    {"template", "context_conflict", "map_error", "map_item_failed", "guardrail"}
)
"""Error types another agent would hit just the same: no backup takes over on them (a
guardrail's block is about the content, which another agent is given too)."""


@dataclass(frozen=True, slots=True)
class FailureDecision:
    """What the scheduler does about a failed attempt.

    Attributes:
        final: the task is done for (no retry, no backup).
        delay_s: with a retry, how long the next attempt waits.
        backup: the agent that takes the task over, if one does.
        reason: why (for `TaskAssigned.reason` of a backup).
        stop: ``(reason, message)`` when the whole run must stop.
    """

    final: bool
    delay_s: float = 0.0
    backup: str | None = None
    reason: str = ""
    stop: tuple[str, str] | None = None


class Supervisor:
    """Decides what a failed attempt leads to.

    Args:
        agents: the run's agents (for their retry policies, backups and providers).
        retry: the policy of tasks and agents that set none.
        breakers: the orchestrator's circuit breakers, if it keeps any.
        rng: draws the jitter of retry delays.
    """

    def __init__(
        self,
        agents: Mapping[str, Agent] | None = None,
        *,
        retry: RetryPolicy | None = None,
        breakers: Breakers | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.agents: Mapping[str, Agent] = agents or {}
        self.default_retry = retry
        self.breakers = breakers
        self.rng = rng or random.Random()

    # -- policies -----------------------------------------------------------------------------

    def retry_policy(self, task: Task, agent: str) -> RetryPolicy | None:
        """The task's `retry`, else its ``retries``, else the agent's, else the default."""
        if task.retry is not None:
            return task.retry
        if task.retries:
            return RetryPolicy.from_retries(task.retries)
        spec = self.agents.get(agent)
        if spec is not None and spec.retry is not None:
            return spec.retry
        return self.default_retry

    def provider_of(self, agent: str) -> str | None:
        spec = self.agents.get(agent)
        if spec is None or spec.model is None:
            return None
        if isinstance(spec.model, str):
            return spec.model.partition(":")[0]
        return spec.model.provider

    def agent_breaker(self, agent: str) -> CircuitBreaker | None:
        if self.breakers is None or not self.breakers.enabled("agent"):
            return None
        return self.breakers.get("agent", agent)

    def blocked(self, agent: str) -> tuple[str, CircuitBreaker] | None:
        """Why calls to `agent` would fail fast now (an open breaker), if they would."""
        breakers = self.breakers
        if breakers is None:
            return None
        if breakers.blocks("agent", agent):
            return f"the circuit breaker of agent {agent!r} is open", breakers.get("agent", agent)
        provider = self.provider_of(agent)
        if provider is not None and breakers.blocks("provider", provider):
            return (
                f"the circuit breaker of provider {provider!r} is open",
                breakers.get("provider", provider),
            )
        return None

    def next_backup(self, task: Task, tried: Sequence[str]) -> str | None:
        """The first backup not tried yet whose breakers let calls through.

        A task's own `backups` come first; then the backups of every agent that had the task,
        in the order they had it (so A → its backup B → B's backup C).
        """
        listed = list(task.backups)
        for name in tried:
            spec = self.agents.get(name)
            if spec is not None:
                listed.extend(spec.backups)
        for name in listed:
            if name in self.agents and name not in tried and self.blocked(name) is None:
                return name
        return None

    # -- decisions ----------------------------------------------------------------------------

    def on_failure(self, st: TaskState, agent: str, error: ErrorInfo) -> FailureDecision:
        """Decide about a failed attempt of `st.task` on `agent` (not journaled yet)."""
        if error.type in RUN_STOPS:
            return FailureDecision(final=True, stop=(error.type, error.message))
        blocked = self.blocked(agent)
        if blocked is not None and blocked[1].policy.on_open != "reroute":
            why = blocked[0]
            if blocked[1].policy.on_open == "pause":
                return FailureDecision(final=False, reason=why)  # the next attempt asks a person
            message = f"{why}; task {st.task.id!r} failed: {error.message}"
            return FailureDecision(final=True, stop=("breaker", message))
        return self._retry_or_hand_over(st, agent, error, blocked)

    def _retry_or_hand_over(
        self,
        st: TaskState,
        agent: str,
        error: ErrorInfo,
        blocked: tuple[str, CircuitBreaker] | None,
    ) -> FailureDecision:
        """Retry on the same agent while the policy allows and its breaker is closed, else hand
        the task to a backup, else wait for the breaker to let a probe through, else give up."""
        policy = self.retry_policy(st.task, agent)
        failures = st.agent_failures + 1  # on this agent, this failure included
        retryable = policy is not None and policy.retries_error(error)
        more = policy is not None and failures < policy.attempts
        delay = policy.delay_s(failures, error, self.rng) if policy is not None and more else 0.0
        if retryable and more and blocked is None:
            return FailureDecision(final=False, delay_s=delay, reason=error.message)
        tried = st.tried if agent in st.tried else (*st.tried, agent)
        backup = None if error.type in NOT_AGENT_FAULTS else self.next_backup(st.task, tried)
        if backup is not None:
            if blocked is not None:
                why = blocked[0]
            elif retryable:
                why = f"{error.type} after {failures} attempt{'s' if failures > 1 else ''}"
            else:
                why = f"{error.type}, which is not retried"
            return FailureDecision(final=False, backup=backup, reason=f"backup for {agent}: {why}")
        if retryable and more and blocked is not None:
            wait = max(delay, blocked[1].retry_after_s())
            return FailureDecision(final=False, delay_s=wait, reason=blocked[0])
        return FailureDecision(final=True)

    def reroute(
        self, st: TaskState, choice: tuple[str, str, list[dict[str, JSON]]]
    ) -> tuple[str, str, list[dict[str, JSON]]]:
        """The router's choice, or a backup when the chosen agent's breaker is open."""
        agent = choice[0]
        blocked = self.blocked(agent)
        if blocked is None or blocked[1].policy.on_open == "pause":
            return choice
        backup = self.next_backup(st.task, (*st.tried, agent))
        if backup is None:
            return choice  # the attempt fails fast, then the retry policy decides
        return backup, f"backup for {agent}: {blocked[0]}", choice[2]


class Retries:
    """Waits, before an attempt, until the time its retry was delayed to (`TaskState.retry_at`,
    from the journal: a resumed run waits only what is left), and attaches the supervisor's
    decision to every failed outcome (`AttemptOutcome.decision`)."""

    def __init__(self, supervisor: Supervisor, clock: Clock) -> None:
        self.supervisor = supervisor
        self.clock = clock

    async def execute(self, call: AttemptCall, next: ExecuteAttempt) -> AttemptOutcome:
        retry_at = call.input.limits.retry_at
        if retry_at is not None:
            await self.clock.sleep(retry_at - self.clock.time())
        outcome = await next(call)
        if outcome.error is not None and outcome.decision is None:
            st = call.state.tasks[call.input.task.id]
            outcome.decision = self.supervisor.on_failure(st, call.input.agent, outcome.error)
        return outcome


class AgentBreakers:
    """Each attempt through its agent's circuit breaker: while it is open the attempt fails fast
    (``breaker_open``), or under the ``pause`` policy waits for a person's go-ahead; its outcome
    is the breaker's verdict, and a breaker that opens is journaled (`BreakerOpened`) and
    alerted."""

    def __init__(self, supervisor: Supervisor, clock: Clock) -> None:
        assert supervisor.breakers is not None
        self.supervisor = supervisor
        self.breakers = supervisor.breakers
        self.clock = clock

    async def execute(self, call: AttemptCall, next: ExecuteAttempt) -> AttemptOutcome:
        request = self._paused(call)
        if request is not None:
            return AttemptOutcome(approval=request)
        agent = call.input.agent
        breaker = self.supervisor.agent_breaker(agent)
        if breaker is not None and not breaker.allow():
            return AttemptOutcome(
                error=ErrorInfo(
                    type="breaker_open",
                    message=f"the circuit breaker of agent {agent!r} is open",
                    retryable=True,
                    retry_after_s=breaker.retry_after_s(),
                )
            )
        try:
            outcome = await next(call)
        except BaseException:
            if breaker is not None:
                breaker.release()
            raise
        if breaker is not None:
            error = outcome.error
            if error is not None and error.type in breaker.policy.ignore:
                breaker.release()
            elif breaker.record(error is None):
                await breaker_opened(breaker, call, self.clock)
        return outcome

    def _paused(self, call: AttemptCall) -> ApprovalRequest | None:
        """With the ``pause`` policy, the approval an attempt on a blocked agent needs first.

        Once a person granted it, the breaker goes half-open and this attempt is its probe.
        """
        if self.breakers.policy.on_open != "pause":
            return None
        input = call.input
        blocked = self.supervisor.blocked(input.agent)
        if blocked is None:
            return None
        why, breaker = blocked
        task = input.task.id
        if call.state.approvals.granted(task, _pause_hash(task, breaker, input.attempt - 1)):
            breaker.probe_now()
            return None
        return ApprovalRequest(
            action="task",
            action_hash=_pause_hash(task, breaker, input.attempt),
            reason=f"{why}: approve to let task {task!r} try {input.agent!r} again",
        )


async def breaker_opened(breaker: CircuitBreaker, call: AttemptCall, clock: Clock) -> None:
    """Journal that `breaker` opened on an attempt of `call`'s task, and alert."""
    await opened_on(breaker, call.emit, call.input.run_id, call.input.task.id, clock)


async def opened_on(
    breaker: CircuitBreaker, emit: EventSink, run_id: str, task: str, clock: Clock
) -> None:
    """Journal that `breaker` opened on an attempt of `task`, and alert (callback, webhook)."""
    policy = breaker.policy
    what: dict[str, Any] = {
        "scope": breaker.scope,
        "name": breaker.name,
        "failure_rate": breaker.opened_rate,
        "calls": breaker.opened_calls,
        "cooldown_s": policy.cooldown_s,
        "action": policy.on_open,
        "task": task,
    }
    await emit(BreakerOpened, **what)
    await send_alert(policy, BreakerAlert(run_id=run_id, ts=clock.time(), **what))


def _pause_hash(task: str, breaker: CircuitBreaker, attempt: int) -> str:
    """What a person's go-ahead for a paused task binds to: the task, the breaker, the attempt."""
    key = f"breaker\n{task}\n{breaker.scope}\n{breaker.name}\n{attempt}"
    return hashlib.sha256(key.encode()).hexdigest()


__all__ = [
    "AgentBreakers",
    "FailureDecision",
    "Retries",
    "Supervisor",
    "breaker_opened",
    "opened_on",
]
