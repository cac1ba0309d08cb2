"""Agents: named specialists backed by a model or a Python callable."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import msgspec

from podium.agents._handoff import DEFAULT_MAX_HANDOFFS, validate_handoffs
from podium.agents._toolbox import NO_TOOLS, ToolBox
from podium.context._budget import MIN_CONTEXT_TOKENS
from podium.exceptions import ConfigError
from podium.models._base import Model
from podium.reliability._retry import RetryPolicy
from podium.tools._effects import effect_key
from podium.tools._tool import Tool
from podium.verify._confidence import Confidence
from podium.verify._spec import Check

if TYPE_CHECKING:
    from podium.context import ContextView

JSON = Any


class TaskCall(msgspec.Struct, frozen=True, kw_only=True):
    """What an agent receives for one attempt of one task (read-only).

    Attributes:
        run_id: the run.
        task_id: the task.
        agent: the agent's name.
        instruction: the task's instruction with its templates rendered.
        inputs: outputs of the tasks it needs (by task id) and the run inputs (by name).
        run_inputs: the run inputs alone.
        task_outputs: the needed tasks' outputs alone.
        context: the task's scoped view of the blackboard.
        item: the list item of a mapped sub-task (``None`` otherwise).
        attempt: 1 for the first attempt.
        output_schema: the JSON Schema the output must match, if any.
        explicit_inputs: the instruction's template already shows what the task needs, so a
            model-driven agent does not append the needed outputs to its prompt.
        context_budget: the task's own context budget, if it sets one.
        tools: the agent's tools, for a Python agent to call as a model would: through the
            interceptors (approvals, budgets, replay), each call journaled
            (``await call.tools.call("name", **arguments)``, or ``call.tools.call_sync`` in a
            plain function); see `podium.agents.ToolBox`.
        approved: action hashes a person approved for this task and no execution used yet. An
            agent that asks for approval itself (raising `podium.policy.ApprovalNeeded`) goes
            ahead only with its action's hash here: never on its own say-so.
    """

    run_id: str
    task_id: str
    agent: str
    instruction: str
    inputs: Mapping[str, JSON]
    run_inputs: Mapping[str, JSON]
    task_outputs: Mapping[str, JSON]
    context: ContextView
    item: JSON = None
    attempt: int = 1
    output_schema: Mapping[str, JSON] | None = None
    explicit_inputs: bool = False
    context_budget: int | None = None
    approved: frozenset[str] = frozenset()
    tools: ToolBox = NO_TOOLS

    def idempotency_key(self, name: str) -> str:
        """A key for the task's side effect `name`: the same in every attempt of the task,
        after a retry or a crash, and different for every other task and run.

        Pass it to whatever makes the effect happen once (an ``INSERT … ON CONFLICT DO
        NOTHING``, an API's ``Idempotency-Key`` header): ``{run_id}/{task_id}/{name}``.
        """
        return effect_key(self.run_id, self.task_id, name)


AgentFunction = Callable[[TaskCall], Any]
"""A Python agent: ``fn(call) -> JSON`` (sync, run in a thread pool) or an async function."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Agent:
    """A named specialist.

    Exactly one of `model` (a `Model` or a ``provider:model`` name) and `function` drives it.

    Args:
        name: unique name, used by tasks' `agent` field.
        description: what it is good at (shown to planners and routers).
        capabilities: capability tags tasks may require.
        model: the model of a model-driven agent.
        function: the callable of a Python agent.
        tools: the tools it may call: a model-driven agent's model is offered them, a Python
            agent calls them through `TaskCall.tools`.
        reads: blackboard keys it may read, whatever task it is given (``None``: no bound of
            its own; each task's `reads` still applies).
        writes: blackboard keys it may write, whatever task it is given (``None``: no bound).
        instructions: the agent's role, put at the top of its system prompt.
        max_rounds: bound on model calls per task attempt.
        max_concurrency: tasks this agent may run at once (``None``: only the global limit).
        retry: how its tasks are retried when the task does not say.
        backups: agents that take its tasks over when it fails for good or its circuit breaker
            is open, in order.
        max_tool_result_chars: a longer tool result is clipped to this many characters before
            the model sees it (the journal keeps its size and hash).
        handoffs: agents a model-driven agent may hand its task over to (see
            `podium.agents._handoff`).
        max_handoffs: bound on handoffs within one attempt of a task that starts on this agent.
        examples: tasks it is the right agent for, in the words a user would use; routers
            that read them (`podium.routing.HybridRelevance`) use them as labelled neighbours.
        checks: verifiers every output of this agent must pass (`podium.verify.Check`), on top
            of the task's own.
        confidence: how the confidence of its outputs is measured and acted on, for tasks
            that do not say (`podium.verify.Confidence`).
        context_budget: tokens its prompts may spend on context, for tasks that do not say
            (default `podium.context.DEFAULT_CONTEXT_TOKENS`).
        summariser: the model-driven agent that summarises context over the budget (default:
            an extractive summary made in code, offline).
    """

    name: str
    description: str = ""
    capabilities: tuple[str, ...] = ()
    model: Model | str | None = None
    function: AgentFunction | None = None
    tools: tuple[Tool, ...] = ()
    reads: tuple[str, ...] | None = None
    writes: tuple[str, ...] | None = None
    instructions: str = ""
    max_rounds: int = 8
    max_concurrency: int | None = None
    metadata: Mapping[str, JSON] = field(default_factory=dict)
    retry: RetryPolicy | None = None
    backups: tuple[str, ...] = ()
    max_tool_result_chars: int = 32_000
    handoffs: tuple[str, ...] = ()
    max_handoffs: int = DEFAULT_MAX_HANDOFFS
    examples: tuple[str, ...] = ()
    checks: tuple[Check, ...] = ()
    confidence: Confidence | None = None
    context_budget: int | None = None
    summariser: str | None = None
    is_async: bool = field(init=False, repr=False, compare=False, default=False)

    def __post_init__(self) -> None:
        # decided once: the scheduler asks for every attempt
        object.__setattr__(self, "is_async", inspect.iscoroutinefunction(self.function))
        if (self.model is None) == (self.function is None):
            raise ConfigError(f"agent {self.name!r} needs exactly one of `model` and `function`")
        if self.max_rounds < 1:
            raise ConfigError(f"agent {self.name!r}: max_rounds must be at least 1")
        if self.context_budget is not None and self.context_budget < MIN_CONTEXT_TOKENS:
            raise ConfigError(
                f"agent {self.name!r}: context_budget must be at least {MIN_CONTEXT_TOKENS} tokens"
            )
        if self.max_concurrency is not None and self.max_concurrency < 1:
            raise ConfigError(f"agent {self.name!r}: max_concurrency must be at least 1")
        if self.name in self.backups:
            raise ConfigError(f"agent {self.name!r} lists itself among its backups")
        if self.max_tool_result_chars < 100:
            raise ConfigError(f"agent {self.name!r}: max_tool_result_chars must be at least 100")
        names = [t.name for t in self.tools]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ConfigError(f"agent {self.name!r} lists tool(s) {dupes} more than once")
        validate_handoffs(self)
        for field_name in ("reads", "writes"):
            keys = getattr(self, field_name)
            if keys is None:
                continue
            if isinstance(keys, str) or not all(isinstance(k, str) and k for k in keys):
                raise ConfigError(
                    f"agent {self.name!r}: {field_name} must be a list of blackboard keys"
                )
            object.__setattr__(self, field_name, tuple(keys))
        if isinstance(self.examples, str) or not all(
            isinstance(e, str) and e.strip() for e in self.examples
        ):
            raise ConfigError(f"agent {self.name!r}: examples must be non-empty strings")
        object.__setattr__(self, "examples", tuple(self.examples))  # a list given becomes a tuple


def agent_table(agents: Sequence[Agent]) -> dict[str, Agent]:
    """Agents by name; a name given twice is a `ConfigError`."""
    table: dict[str, Agent] = {}
    for a in agents:
        if a.name in table:
            raise ConfigError(f"two agents are named {a.name!r}")
        table[a.name] = a
    return table
