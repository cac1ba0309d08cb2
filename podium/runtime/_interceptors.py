"""Interceptors: the one way to wrap attempts, model calls and tool calls.

Each hook takes one input object and the `next` step, like Temporal's interceptors:

- ``execute(call: AttemptCall, next) -> AttemptOutcome`` wraps an attempt, on the scheduler's
  side (it sees the run's state and may journal events);
- ``request(input: ModelCallInput, next) -> ModelResponse`` wraps a model call, and
- ``call(input: ToolCallInput, next) -> ToolCallResult`` a tool call, where the attempt runs.

One object may implement any of the three. One that keeps state for the length of an attempt
implements ``for_attempt(scope: AttemptScope)`` and returns a fresh instance for that attempt
(or ``None`` when it has nothing to do in it, so it costs nothing there).

Podium's own reliability and safety features are interceptors, composed in one place
(`podium.runtime._wiring.built_in`), in this order, outermost first; the interceptors a user
gives (`Orchestrator(interceptors=[...])`, ``interceptors:`` in a workflow file) come before
them, so they see every attempt and call whole:

======== ===================================================================================
attempt  listeners' "started" notice · retries (a retry's delay before, the retry/backup
         decision after) · verifiers (the checks of tasks and agents, after) · guardrails
         (the input before, the output after) · agent circuit breaker · provenance labels of
         the attempt's inputs · the executor
model    listeners' notice · budgets and step guards (may switch to the fallback model) ·
         guardrails · provider circuit breaker · rate limits · call timeout · record/replay ·
         the model
tool     listeners' notice · budgets · guardrails · provenance gate (side effects with
         untrusted content in context) · approvals and replays of side effects · repeated-call
         guard · call timeout · record/replay · the tool
======== ===================================================================================
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from podium.agents import Agent
from podium.exceptions import ConfigError
from podium.models._calls import ModelInterceptor
from podium.models._prices import PriceTable
from podium.reliability._clock import Clock
from podium.runtime._attempt import AttemptInput, AttemptOutcome, EventSink
from podium.runtime._state import RunState
from podium.tools._calls import ToolInterceptor


@dataclass(frozen=True, slots=True)
class AttemptCall:
    """An attempt about to be executed, as attempt interceptors see it (the scheduler's side).

    Attributes:
        input: the attempt, as data.
        state: the run as folded so far (read it; never change it).
        emit: journals an event now.
    """

    input: AttemptInput
    state: RunState
    emit: EventSink


ExecuteAttempt = Callable[[AttemptCall], Awaitable[AttemptOutcome]]
"""Executes an attempt (the rest of the chain)."""


class AttemptInterceptor(Protocol):
    """Wraps attempts, on the scheduler's side (see the module docstring)."""

    async def execute(self, call: AttemptCall, next: ExecuteAttempt) -> AttemptOutcome: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class AttemptScope:
    """Where an attempt runs, as `for_attempt` hooks see it.

    Attributes:
        input: the attempt.
        emit: its event sink.
        agents: the run's agents, by name.
        clock: what timeouts and delays wait on.
        prices: what model calls cost.
    """

    input: AttemptInput
    emit: EventSink
    agents: Mapping[str, Agent]
    clock: Clock
    prices: PriceTable | None = None


@dataclass(frozen=True, slots=True)
class Interceptors:
    """Interceptors sorted by the hooks they implement, outermost first."""

    attempt: tuple[AttemptInterceptor, ...] = ()
    model: tuple[ModelInterceptor, ...] = ()
    tool: tuple[ToolInterceptor, ...] = ()

    @classmethod
    def of(cls, objects: Iterable[Any]) -> Interceptors:
        """Sort `objects` by the hooks each has (one may have several)."""
        items = list(objects)
        return cls(
            attempt=tuple(o for o in items if callable(getattr(o, "execute", None))),
            model=tuple(o for o in items if callable(getattr(o, "request", None))),
            tool=tuple(o for o in items if callable(getattr(o, "call", None))),
        )

    def __add__(self, other: Interceptors) -> Interceptors:
        return Interceptors(
            self.attempt + other.attempt, self.model + other.model, self.tool + other.tool
        )

    def for_attempt(self, scope: AttemptScope) -> tuple[list[Any], list[Any]]:
        """The model and tool interceptors of one attempt: each one's per-attempt instance
        (one instance for an object in both chains), those with nothing to do left out."""
        cache: dict[int, Any] = {}

        def specialise(chain: tuple[Any, ...]) -> list[Any]:
            out: list[Any] = []
            for interceptor in chain:
                hook = getattr(interceptor, "for_attempt", None)
                if hook is None:
                    out.append(interceptor)
                    continue
                key = id(interceptor)
                if key not in cache:
                    cache[key] = hook(scope)
                if cache[key] is not None:
                    out.append(cache[key])
            return out

        return specialise(self.model), specialise(self.tool)


def check_interceptor(obj: Any, where: str) -> None:
    """Refuse an object that implements none of the hooks (a mistake, not a no-op)."""
    if not any(callable(getattr(obj, hook, None)) for hook in ("execute", "request", "call")):
        raise ConfigError(
            f"{where}: {obj!r} is not an interceptor: it has no `execute` (attempts), `request`"
            " (model calls) or `call` (tool calls) method"
        )


__all__ = [
    "AttemptCall",
    "AttemptInterceptor",
    "AttemptScope",
    "ExecuteAttempt",
    "Interceptors",
    "check_interceptor",
]
