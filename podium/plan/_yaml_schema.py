"""The pydantic models of the workflow file format, one per kind of body (strict, unknown keys
refused).
"""

from __future__ import annotations

from typing import Annotated, Literal

import pydantic

from podium.agents._handoff import DEFAULT_MAX_HANDOFFS
from podium.context._budget import MIN_CONTEXT_TOKENS
from podium.exceptions import ConfigError
from podium.plan._yaml_nodes import JSON
from podium.reliability._retry import RetryPolicy
from podium.verify import Check, Confidence, check_schema


def _one_or_many(value: JSON) -> JSON:
    return [value] if isinstance(value, str) else value


_Names = Annotated[list[str], pydantic.BeforeValidator(_one_or_many)]
_Example = Annotated[str, pydantic.StringConstraints(pattern=r"\S", max_length=2000)]


class _Body(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid", strict=True, frozen=True)


class _InputBody(_Body):
    type: Literal["string", "integer", "number", "boolean", "array", "object", "any"] = "any"
    description: str = ""
    default: JSON = None


class _InterceptorBody(_Body):
    python: str
    args: dict[str, JSON] = {}


class _ToolUndoBody(_Body):
    tool: str
    """The undo tool (one of the file's `tools`)."""
    arguments: dict[str, JSON] = {}
    """Its arguments: templates over ``{{ arguments.NAME }}`` and ``{{ result[.field] }}``."""


class _ToolBody(_Body):
    python: str | None = None
    use: str | None = None
    """A standard tool of `podium.tools` by kind (its options under ``with``)."""
    with_: dict[str, JSON] = pydantic.Field({}, alias="with")
    effect: Literal["read", "write", "irreversible"] | None = None
    """``read`` by default for a ``python`` tool; a standard tool's own, which this may raise."""
    description: str | None = None
    compensate: _ToolUndoBody | None = None
    """How to undo each successful call: another tool, with templated arguments."""

    @pydantic.model_validator(mode="after")
    def _one_source(self) -> _ToolBody:
        if (self.python is None) == (self.use is None):
            raise ValueError("give either `python` (MODULE:FUNCTION) or `use` (a standard tool)")
        if self.with_ and self.use is None:
            raise ValueError("`with` sets a standard tool's options: it needs `use`")
        return self


class _RetryBody(_Body):
    attempts: int = pydantic.Field(3, ge=1)
    backoff_s: float = pydantic.Field(1.0, ge=0)
    max_backoff_s: float = pydantic.Field(60.0, ge=0)
    multiplier: float = pydantic.Field(2.0, ge=1)
    jitter: float = pydantic.Field(0.2, ge=0, le=1)
    on: _Names = []

    @pydantic.model_validator(mode="before")
    @classmethod
    def _yaml_on(cls, data: JSON) -> JSON:
        # YAML 1.1 reads a bare `on` key as the boolean true
        if isinstance(data, dict) and True in data and "on" not in data:
            return {("on" if k is True else k): v for k, v in data.items()}
        return data

    def policy(self) -> RetryPolicy:
        return RetryPolicy(**{**self.model_dump(), "on": tuple(self.on)})


class _BudgetBody(_Body):
    tokens: int | None = pydantic.Field(None, ge=0)
    usd: float | None = pydantic.Field(None, ge=0)
    wall_s: float | None = pydantic.Field(None, ge=0)
    steps: int | None = pydantic.Field(None, ge=0)
    fallback_model: str | None = None
    fallback_below: float = pydantic.Field(0.2, ge=0, le=1)
    output_estimate: int = pydantic.Field(256, ge=0)


class _CompensateBody(_Body):
    tool: str | None = None
    arguments: dict[str, JSON] = {}
    agent: str | None = None
    instruction: str = ""

    @pydantic.model_validator(mode="after")
    def _one_undo(self) -> _CompensateBody:
        if (self.tool is None) == (self.agent is None):
            raise ValueError("give either `tool` (and `arguments`) or `agent` (and `instruction`)")
        if self.arguments and self.tool is None:
            raise ValueError("`arguments` go to a `tool`; an `agent` gets an `instruction`")
        if self.agent is not None and not self.instruction.strip():
            raise ValueError("tell the undo agent what to do: `instruction` is empty")
        return self


class _CheckBody(_Body):
    kind: Literal["schema", "rule", "judge", "grounding", "relevance", "language"]
    name: str = ""
    on_fail: Literal["retry", "escalate", "fail"] = "retry"
    retries: int = pydantic.Field(2, ge=0)
    threshold: float | None = pydantic.Field(None, ge=0, le=1)
    schema_: dict[str, JSON] | None = pydantic.Field(None, alias="schema")
    rule: str | None = None
    judge: str | None = None
    rubric: str = ""
    language: str | None = None
    embeddings: bool | None = None

    @pydantic.model_validator(mode="after")
    def _whole(self) -> _CheckBody:
        if self.schema_ is not None and (error := check_schema(self.schema_)) is not None:
            raise ValueError(f"`schema` is not a valid JSON Schema: {error}")
        self.check()  # its own rules (a rule's form, a known language, what a kind needs)
        return self

    def check(self) -> Check:
        fields = self.model_dump(exclude={"schema_"})
        try:
            return Check(**fields, schema=self.schema_)
        except ConfigError as exc:
            raise ValueError(str(exc).partition(": ")[2] or str(exc)) from None


def _check_entry(value: JSON) -> JSON:
    return {"kind": value} if isinstance(value, str) else value


_Checks = list[Annotated[_CheckBody, pydantic.BeforeValidator(_check_entry)]]


def _context_tokens(value: JSON) -> JSON:
    """``context_budget: 1500`` or ``context_budget: {tokens: 1500}``."""
    if isinstance(value, dict) and set(value) == {"tokens"}:
        return value["tokens"]
    return value


_ContextBudget = Annotated[
    int, pydantic.BeforeValidator(_context_tokens), pydantic.Field(ge=MIN_CONTEXT_TOKENS)
]
_OnDrift = Literal["retry", "accept", "fail"]


class _ConfidenceBody(_Body):
    samples: int = pydantic.Field(1, ge=1, le=9)
    min: float | None = pydantic.Field(None, ge=0, le=1)
    on_low: Literal["ask", "fail", "accept"] = "ask"

    def confidence(self) -> Confidence:
        return Confidence(**self.model_dump())


class _AgentBody(_Body):
    description: str = ""
    capabilities: _Names = []
    model: str | None = None
    python: str | None = None
    a2a: str | None = None  # a remote A2A agent's base URL (podium.a2a.A2AAgent)
    tools: _Names = []
    reads: _Names | None = None
    writes: _Names | None = None
    instructions: str = ""
    max_rounds: int = pydantic.Field(8, ge=1)
    max_concurrency: int | None = pydantic.Field(None, ge=1)
    metadata: dict[str, JSON] = {}  # e.g. cost_tier, expected_cost_usd (read by the router)
    retry: _RetryBody | None = None
    backups: _Names = []
    handoffs: _Names = []
    max_handoffs: int = pydantic.Field(DEFAULT_MAX_HANDOFFS, ge=0)
    examples: list[_Example] = []  # tasks it is right for: the router's labelled neighbours
    context_budget: _ContextBudget | None = None
    summariser: str | None = None
    checks: _Checks = []
    confidence: _ConfidenceBody | None = None


class _ContextBody(_Body):
    merge: Literal["error", "last", "append", "reduce"] = "error"
    reducer: str | None = None
    on_drift: _OnDrift | None = None


class _TaskBody(_Body):
    id: str | None = None
    instruction: str = ""
    agent: str | None = None
    capability: str | None = None
    needs: _Names = []
    reads: _Names = []
    writes: _Names | None = None
    optional: bool = False
    map: str | None = None
    output_schema: dict[str, JSON] | None = None
    retries: int = pydantic.Field(0, ge=0)
    timeout_s: float | None = pydantic.Field(None, gt=0)
    risk: Literal["low", "medium", "high"] | None = None
    approval: Literal["required"] | None = None
    retry: _RetryBody | None = None
    backups: _Names = []
    budget: _BudgetBody | None = None
    context_budget: _ContextBudget | None = None
    on_drift: _OnDrift | None = None
    checks: _Checks = []
    compensate: _CompensateBody | None = None
    confidence: _ConfidenceBody | None = None


_Action = Literal["allow", "ask", "block"]


class _UntrustedBody(_Body):
    on_side_effect: _Action = "ask"
    tools: dict[str, _Action] = {}
    agents: dict[str, _Action] = {}
    trusted_tools: _Names = []
    untrusted_tools: _Names = []
    untrusted_agents: _Names = []
    judge: Literal["context", "arguments"] = "context"


class _PolicyBody(_Body):
    approve_effects: list[Literal["read", "write", "irreversible"]] = ["irreversible"]
    approve_risks: list[Literal["low", "medium", "high"]] = ["high"]
    min_confidence: float | None = pydantic.Field(None, ge=0, le=1)
    approval_ttl_s: float | None = pydantic.Field(None, gt=0)
    goal_checks: bool = True
    untrusted: _UntrustedBody | None = None
    confidence: _ConfidenceBody | None = None
    """The default `confidence` of every task whose task and agent set none."""


class _RayAgentBody(_Body):
    num_cpus: float | None = pydantic.Field(None, ge=0)
    num_gpus: float | None = pydantic.Field(None, ge=0)
    memory: int | None = pydantic.Field(None, ge=0)
    resources: dict[str, float] = {}
    accelerator_type: str | None = None
    max_concurrency: int | None = pydantic.Field(None, ge=1)


class _RayBody(_Body):
    address: str | None = None
    num_cpus: int | None = pydantic.Field(None, ge=1)
    runtime_env: dict[str, JSON] = {}
    agents: dict[str, JSON] = {}  # each checked as a _RayAgentBody
