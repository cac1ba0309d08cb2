"""The one place where a drive's interceptors are composed, in their documented order.

See `podium.runtime._interceptors` for the order and why; this module only builds it from the
orchestrator's settings: the user's interceptors first (outermost), then the built-in ones that
have something to do in this drive.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from podium.agents import Agent
from podium.exceptions import ConfigError
from podium.models._base import ModelResponse
from podium.models._calls import CallModel, ModelCallInput
from podium.policy import Guardrail, ProvenanceGate, UntrustedRules
from podium.reliability._breaker import Breakers, CircuitBreaker
from podium.reliability._clock import Clock
from podium.reliability._guards import RepeatGuard
from podium.reliability._interceptors import CallTimeout, ProviderBreakers, RateLimiting
from podium.reliability._ratelimit import RateLimits
from podium.reliability._settings import Reliability
from podium.runtime._approvals import ToolApprovals
from podium.runtime._budgets import Budgets, output_estimate
from podium.runtime._guardrails import Guardrails
from podium.runtime._interceptors import AttemptScope, Interceptors
from podium.runtime._listeners import ListenerHub, Notices
from podium.runtime._replay import Cassette
from podium.runtime._supervise import (
    AgentBreakers,
    Retries,
    Supervisor,
    opened_on,
)
from podium.runtime._verifier import Verifier
from podium.tools._calls import CallTool, ToolCallInput, ToolCallResult
from podium.verify import Check, Confidence


def built_in(
    *,
    user: Sequence[Any],
    supervisor: Supervisor,
    reliability: Reliability,
    rate_limits: RateLimits,
    clock: Clock,
    hub: ListenerHub | None,
    cassette: Cassette | None,
    remote: bool = False,
    untrusted: UntrustedRules | None = None,
    agents: Mapping[str, Agent] | None = None,
    goal_checks: bool | Sequence[Check] = True,
    confidence: Confidence | None = None,
    guardrails: Sequence[Guardrail] = (),
) -> Interceptors:
    """The interceptors of one drive, outermost first.

    With a `remote` executor, model and tool interceptors run in another process: the
    listeners' notices of calls stay behind (attempts are still announced), and record/replay,
    which writes a local file, is refused. `untrusted` are the rules of the provenance gate
    (`podium.policy.ProvenanceGate`; the answers of remote ones among `agents` are untrusted),
    innermost in the attempt chain so that it labels the
    input the executor gets, and before approvals in the tool chain.
    `goal_checks` are what a run from a goal checks its final outputs with
    (`podium.policy.Policy.goal_checks`); `confidence` the default of tasks whose task and
    agent set none (`podium.policy.Policy.confidence`). `guardrails`
    (`podium.policy.Policy.guardrails`) look at attempts inside the checks (which see what they
    let through) and at calls right after budgets, before the gate and approvals.
    """
    gate = ProvenanceGate(untrusted, agents)
    notices = [Notices(hub)] if hub is not None and hub.wants_notices else []
    calls_notices = [] if remote else notices
    if remote and cassette is not None:
        raise ConfigError(
            "record and replay need the local executor: the cassette is a file of this process"
        )
    breakers = supervisor.breakers
    # checks inside retries (which keep the decision a failed check made) and outside the
    # agent's breaker (an answer its checks reject is not the agent failing to answer)
    attempt: list[Any] = [*notices, Retries(supervisor, clock)]
    attempt.append(Verifier(supervisor, goal_checks=goal_checks, confidence=confidence))
    guard = [Guardrails(guardrails)] if guardrails else []
    attempt.extend(guard)
    if breakers is not None and breakers.enabled("agent"):
        attempt.append(AgentBreakers(supervisor, clock))
    attempt.append(gate)
    budgets = Budgets()  # counts model and tool calls alike: in both chains
    model: list[Any] = [*calls_notices, budgets, *guard]
    if breakers is not None and breakers.enabled("provider"):
        model.append(_ProviderBreakers(breakers, clock))
    model.append(_RateLimits(rate_limits))
    tool: list[Any] = [*calls_notices, budgets, *guard, gate, ToolApprovals(), _Repeats()]
    if reliability.model_timeout_s is not None or reliability.tool_timeout_s is not None:
        timeout = CallTimeout(
            model_s=reliability.model_timeout_s, tool_s=reliability.tool_timeout_s, clock=clock
        )
        model.append(timeout)
        tool.append(timeout)
    if cassette is not None:
        model.append(cassette)
        tool.append(cassette)
    return Interceptors.of(user) + Interceptors(tuple(attempt), tuple(model), tuple(tool))


class _ProviderBreakers:
    """`ProviderBreakers` whose openings are journaled on the attempt that tipped them."""

    def __init__(self, breakers: Breakers, clock: Clock) -> None:
        self.breakers = breakers
        self.clock = clock

    def for_attempt(self, scope: AttemptScope) -> ProviderBreakers:
        run, task = scope.input.run_id, scope.input.task.id

        async def opened(breaker: CircuitBreaker, _call: ModelCallInput) -> None:
            await opened_on(breaker, scope.emit, run, task, self.clock)

        return ProviderBreakers(self.breakers, opened)

    async def request(self, input: ModelCallInput, next: CallModel) -> ModelResponse:
        return await ProviderBreakers(self.breakers).request(input, next)


class _RateLimits:
    """`RateLimiting` with the attempt's output estimate, only when some limit is set."""

    def __init__(self, limits: RateLimits) -> None:
        self.limits = limits

    def for_attempt(self, scope: AttemptScope) -> RateLimiting | None:
        if not self.limits.configured:
            return None
        estimate = output_estimate(scope.input.limits.allowances)
        return RateLimiting(self.limits, output_estimate=estimate)

    async def request(self, input: ModelCallInput, next: CallModel) -> ModelResponse:
        return await RateLimiting(self.limits).request(input, next)


class _Repeats:
    """Ends the attempt with `LoopDetected` when the model makes the same tool call (tool and
    arguments) `Guards.max_repeats` times."""

    def for_attempt(self, scope: AttemptScope) -> _AttemptRepeats | None:
        limit = scope.input.limits.guards.max_repeats
        return None if limit is None else _AttemptRepeats(RepeatGuard(limit))

    async def call(self, input: ToolCallInput, next: CallTool) -> ToolCallResult:
        return await next(input)


class _AttemptRepeats:
    __slots__ = ("guard",)

    def __init__(self, guard: RepeatGuard) -> None:
        self.guard = guard

    async def call(self, input: ToolCallInput, next: CallTool) -> ToolCallResult:
        self.guard.observe(input.tool.name, input.arguments)  # the looping call is not made
        return await next(input)


__all__ = ["built_in"]
