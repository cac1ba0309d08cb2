"""Supervision of task attempts: what a failure leads to, and the guard rails around each attempt.

`Supervisor` makes the scheduler's decisions about a failed attempt — retry after a delay, hand
the task to a backup agent, give up on the task, or stop the run — from the task's and agent's
`RetryPolicy`, their backups and the circuit breakers. It decides; the driver journals.

`ReliableRunner` is the `TaskRunner` an orchestrator runs attempts with. Around each attempt it
waits out the retry delay the journal recorded, consults the agent's breaker, and wraps the
agent's model (budget and step checks before each call, a cheaper fallback model, the
provider's breaker, rate limits, a call timeout), its tools (a call timeout) and the attempt's
event sink (the repeated-tool-call guard). An attempt that needs none of that — a Python agent
with no breaker and no delay to wait — runs exactly as a plain `TaskRunner` runs it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import random
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from typing import Any

import msgspec

from podium.agents import Agent
from podium.events import BreakerOpened, ErrorInfo
from podium.models._base import Model
from podium.models._registry import resolve_model
from podium.plan import Task
from podium.policy import ApprovalRequest
from podium.reliability._alerts import send_alert
from podium.reliability._breaker import BreakerAlert, BreakerModel, Breakers, CircuitBreaker
from podium.reliability._budget import Budget
from podium.reliability._clock import SYSTEM_CLOCK, Clock
from podium.reliability._guards import Guards
from podium.reliability._ratelimit import RateLimitedModel, RateLimits, rate_limits
from podium.reliability._retry import RetryPolicy
from podium.reliability._settings import Reliability
from podium.reliability._timeouts import TimeoutModel, tool_with_timeout
from podium.runtime._execute import Attempt, AttemptResult, EmitNow, TaskRunner, error_info
from podium.runtime._guarded import BudgetGate, GatedModel, GuardedEmit
from podium.runtime._state import SUCCEEDED, RunState, TaskState

JSON = Any

RUN_STOPS = frozenset({"budget", "loop", "stall", "config"})
"""Error types that end the whole run (with that word as its reason), not just the task: a
misconfiguration (``config``: no API key, an unknown provider) would fail every task alike."""

NOT_AGENT_FAULTS = frozenset({"template", "context_conflict", "map_error", "map_item_failed"})
"""Error types another agent would hit just the same: no backup takes over on them."""


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

    def next_backup(self, task: Task, tried: list[str]) -> str | None:
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
        tried = st.tried if agent in st.tried else [*st.tried, agent]
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
        backup = self.next_backup(st.task, [*st.tried, agent])
        if backup is None:
            return choice  # the attempt fails fast, then the retry policy decides
        return backup, f"backup for {agent}: {blocked[0]}", choice[2]


def describe_missing(state: RunState, missing: list[str]) -> tuple[dict[str, ErrorInfo], str]:
    """The errors of the tasks a partially succeeded run did without, and a sentence naming them.

    A mapped task that failed brings the errors of its failed items along (as ``id[i]``).
    """
    errors: dict[str, ErrorInfo] = {}
    parts = []
    for tid in missing:
        st = state.tasks[tid]
        error = st.error or ErrorInfo(type=st.status, message=f"the task ended {st.status}")
        errors[tid] = error
        parts.append(f"{tid} ({error.type}: {error.message})")
        for child_id, child in state.tasks.items():
            if child.task.parent == tid and child.status != SUCCEEDED and child.error is not None:
                errors[child_id] = child.error
    return errors, "optional tasks did not succeed: " + "; ".join(parts)


# -- the runner ---------------------------------------------------------------------------------


@dataclass(slots=True, kw_only=True)
class ReliableRunner(TaskRunner):
    """A `TaskRunner` with the supervisor's breakers and the run's guard rails around attempts.

    Args:
        state: the run it serves.
        supervisor: decides failures; owns the breakers and backups.
        clock: what retry delays and timeouts wait on.
        budget: the run's budget (a task's own comes with the task).
        guards: the run's loop and stall guards.
        model_timeout_s, tool_timeout_s: time limits of single calls.
        rate_limits: the registry of rate limits (default: the process-wide one).
    """

    state: RunState | None = None
    supervisor: Supervisor = field(default_factory=Supervisor)
    clock: Clock = SYSTEM_CLOCK
    budget: Budget | None = None
    guards: Guards = field(default_factory=Guards)
    model_timeout_s: float | None = None
    tool_timeout_s: float | None = None
    rate_limits: RateLimits | None = None
    _subtrees: dict[str, list[str]] = field(default_factory=dict, repr=False)
    _handoffs: dict[int, Callable[[Agent], Agent]] = field(default_factory=dict, repr=False)

    def subtree(self, state: RunState, owner: str) -> list[str]:
        """`owner` and its map children (fixed once the map is expanded)."""
        members = self._subtrees.get(owner)
        if members is None:
            members = [owner] + [t for t, s in state.tasks.items() if s.task.parent == owner]
            if owner in state.expanded:
                self._subtrees[owner] = members
        return members

    def assign(
        self, task: Task, has_room: Callable[[str], bool]
    ) -> tuple[str, str, list[dict[str, JSON]]] | None:
        """Like `TaskRunner.assign`, but a task that failed stays with its agent (or the backup
        it was handed to), and an open breaker routes to a backup."""
        st = self.state.tasks.get(task.id) if self.state is not None else None
        if st is not None and st.failures and st.agent in self.agents:
            agent = st.agent
            assert agent is not None
            return (agent, "retry", []) if has_room(agent) else None
        choice = TaskRunner.assign(self, task, has_room)
        if choice is None or st is None or self.supervisor.breakers is None:
            return choice
        rerouted = self.supervisor.reroute(st, choice)
        if rerouted[0] != choice[0] and not has_room(rerouted[0]):
            return None
        return rerouted

    def run(
        self, attempt: Attempt, state: RunState, emit: EmitNow, *, agent: Agent | None = None
    ) -> Coroutine[Any, Any, AttemptResult]:
        spec = agent or self.agents.get(attempt.agent)
        if (spec is None or spec.function is not None) and self.supervisor.breakers is None:
            retry_at = state.tasks[attempt.task.id].retry_at
            if retry_at is None or retry_at <= self.clock.time():
                # nothing to wait for, nothing to wrap: exactly a plain attempt, no extra frame
                return TaskRunner.run(self, attempt, state, emit, agent=agent)
        return self._supervised(attempt, state, emit, spec)

    async def _supervised(
        self, attempt: Attempt, state: RunState, emit: EmitNow, spec: Agent | None
    ) -> AttemptResult:
        st = state.tasks[attempt.task.id]
        if st.retry_at is not None:
            await self.clock.sleep(st.retry_at - self.clock.time())
        request = self._paused(attempt, state)
        if request is not None:
            return AttemptResult(attempt, approval=request)
        breaker = self.supervisor.agent_breaker(attempt.agent)
        if breaker is not None and not breaker.allow():
            return AttemptResult(
                attempt,
                error=ErrorInfo(
                    type="breaker_open",
                    message=f"the circuit breaker of agent {attempt.agent!r} is open",
                    retryable=True,
                    retry_after_s=breaker.retry_after_s(),
                ),
            )
        try:
            if spec is not None and spec.model is not None:
                try:
                    spec, emit = self._harden(spec, attempt, state, emit)
                except Exception as exc:  # an unknown model provider, and the like
                    return AttemptResult(attempt, error=error_info(exc))
            result = await TaskRunner.run(self, attempt, state, emit, agent=spec)
        except BaseException:
            if breaker is not None:
                breaker.release()
            raise
        finally:
            self._handoffs.pop(id(attempt), None)
        if breaker is not None:
            await self._judge(breaker, result, attempt, state, emit)
        return result

    def _paused(self, attempt: Attempt, state: RunState) -> ApprovalRequest | None:
        """With the ``pause`` policy, the approval an attempt on a blocked agent needs first.

        Once a person granted it, the breaker goes half-open and this attempt is its probe.
        """
        breakers = self.supervisor.breakers
        if breakers is None or breakers.policy.on_open != "pause":
            return None
        blocked = self.supervisor.blocked(attempt.agent)
        if blocked is None:
            return None
        why, breaker = blocked
        task = attempt.task.id
        if state.approvals.granted(task, _pause_hash(task, breaker, attempt.attempt - 1)):
            breaker.probe_now()
            return None
        return ApprovalRequest(
            action="task",
            action_hash=_pause_hash(task, breaker, attempt.attempt),
            reason=f"{why}: approve to let task {task!r} try {attempt.agent!r} again",
        )

    async def _judge(
        self,
        breaker: CircuitBreaker,
        result: AttemptResult,
        attempt: Attempt,
        state: RunState,
        emit: EmitNow,
    ) -> None:
        error = result.error
        if error is not None and error.type in breaker.policy.ignore:
            breaker.release()
        elif breaker.record(error is None):
            await self._opened(breaker, attempt, state, emit)

    async def _opened(
        self, breaker: CircuitBreaker, attempt: Attempt, state: RunState, emit: EmitNow
    ) -> None:
        policy = breaker.policy
        await emit(
            BreakerOpened,
            scope=breaker.scope,
            name=breaker.name,
            failure_rate=breaker.opened_rate,
            calls=breaker.opened_calls,
            cooldown_s=policy.cooldown_s,
            action=policy.on_open,
            task=attempt.task.id,
        )
        alert = BreakerAlert(
            run_id=state.run_id,
            scope=breaker.scope,
            name=breaker.name,
            failure_rate=breaker.opened_rate,
            calls=breaker.opened_calls,
            cooldown_s=policy.cooldown_s,
            action=policy.on_open,
            task=attempt.task.id,
            ts=self.clock.time(),
        )
        await send_alert(policy, alert)

    def _harden(
        self, spec: Agent, attempt: Attempt, state: RunState, emit: EmitNow
    ) -> tuple[Agent, EmitNow]:
        """The agent with its model and tools wrapped for this attempt, and its event sink."""
        guarded = GuardedEmit(emit, self.guards)

        def wrap(model: Model) -> Model:
            if self.model_timeout_s is not None:
                model = TimeoutModel(model, self.model_timeout_s, clock=self.clock)
            limits = self.rate_limits if self.rate_limits is not None else rate_limits()
            if limits.buckets(model):
                model = RateLimitedModel(model, limits, output_estimate=gate.output_estimate)
            breakers = self.supervisor.breakers
            if breakers is not None and breakers.enabled("provider"):

                async def opened(breaker: CircuitBreaker) -> None:
                    await self._opened(breaker, attempt, state, emit)

                model = BreakerModel(model, breakers.get("provider", model.provider), opened)
            return model

        gate = BudgetGate(
            state,
            attempt.task,
            budget=self.budget,
            guards=self.guards,
            clock=self.clock,
            subtree=lambda owner: self.subtree(state, owner),
            wrap=wrap,
        )

        def harden(agent: Agent) -> Agent:
            assert agent.model is not None
            tools = agent.tools
            if self.tool_timeout_s is not None:
                seconds = self.tool_timeout_s
                tools = tuple(tool_with_timeout(t, seconds, clock=self.clock) for t in tools)
            model = GatedModel(wrap(resolve_model(agent.model)), gate)
            return dataclasses.replace(agent, model=model, tools=tools)

        self._handoffs[id(attempt)] = harden
        return harden(spec), guarded

    def handoff_agent(self, agent: Agent, attempt: Attempt) -> Agent:
        """A handoff target, with the same guard rails as the agent it takes over from."""
        harden = self._handoffs.get(id(attempt))
        if harden is None or agent.model is None:
            return agent
        return harden(agent)


def _pause_hash(task: str, breaker: CircuitBreaker, attempt: int) -> str:
    """What a person's go-ahead for a paused task binds to: the task, the breaker, the attempt."""
    key = f"breaker\n{task}\n{breaker.scope}\n{breaker.name}\n{attempt}"
    return hashlib.sha256(key.encode()).hexdigest()


def recorded_limits(
    timeout_s: float | None, budget: Budget | None, guards: Guards
) -> dict[str, JSON]:
    """The limits `RunSubmitted.limits` records, so a resumed run keeps the same ones."""
    limits: dict[str, JSON] = {}
    if timeout_s is not None:
        limits["timeout_s"] = timeout_s
    if budget is not None:
        limits["budget"] = msgspec.to_builtins(budget)
    if guards != Guards():
        limits["guards"] = msgspec.to_builtins(guards)
    return limits


def supervise(
    runner: ReliableRunner,
    state: RunState,
    *,
    reliability: Reliability,
    breakers: Breakers | None,
    clock: Clock,
    rng: random.Random,
) -> Supervisor:
    """Set up `runner` for the run `state` with the orchestrator's `reliability` settings and
    the limits the run was submitted with; the supervisor for the driver."""
    recorded = state.submitted.limits if state.submitted is not None else {}
    budget = recorded.get("budget")
    guards = recorded.get("guards")
    runner.state = state
    runner.clock = clock
    runner.budget = msgspec.convert(budget, Budget) if budget is not None else None
    runner.guards = msgspec.convert(guards, Guards) if guards is not None else Guards()
    runner.model_timeout_s = reliability.model_timeout_s
    runner.tool_timeout_s = reliability.tool_timeout_s
    runner.rate_limits = reliability.rate_limits
    runner.supervisor = Supervisor(
        runner.agents, retry=reliability.retry, breakers=breakers, rng=rng
    )
    return runner.supervisor


__all__ = [
    "FailureDecision",
    "ReliableRunner",
    "Supervisor",
    "describe_missing",
    "recorded_limits",
    "supervise",
]
