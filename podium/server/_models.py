"""The API's request and response bodies: the OpenAPI schema is generated from these."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from podium.audit import Action
from podium.events import RunStatus, TaskStatus

JSON = Any

_STRICT = ConfigDict(extra="forbid")


class ErrorBody(BaseModel):
    type: str
    message: str
    field: str | None = None
    holder: str | None = None


class ErrorResponse(BaseModel):
    """Every error: ``{"error": {"type", "message", "field", "holder"}}``."""

    error: ErrorBody


class Me(BaseModel):
    user: str
    roles: list[str]
    auth: bool


class ForkedFrom(BaseModel):
    run_id: str
    task: str


class RunSummary(BaseModel):
    run_id: str
    workflow: str
    status: RunStatus
    reason: str = ""
    message: str = ""
    started_ts: float
    ended_ts: float | None
    duration_s: float
    tokens_in: int
    tokens_out: int
    cost_usd: float
    forked_from: ForkedFrom | None = None
    driven_by: str | None = None
    events: int


class RunList(BaseModel):
    runs: list[RunSummary]
    next_cursor: str | None


class ErrorOut(BaseModel):
    type: str
    message: str
    retryable: bool = False
    traceback: str | None = None


class Routing(BaseModel):
    reason: str
    candidates: list[dict[str, JSON]]


class ModelCall(BaseModel):
    seq: int
    model: str
    provider: str
    tokens_in: int
    tokens_out: int
    cost_usd: float
    latency_s: float


class ToolCall(BaseModel):
    seq: int
    tool: str
    arguments: dict[str, JSON]
    effect: str
    result: JSON = None
    error: str | None = None
    latency_s: float


class Attempt(BaseModel):
    attempt: int
    agent: str
    status: Literal["running", "succeeded", "failed", "cancelled"]
    routing: Routing | None = None
    started_ts: float
    ended_ts: float | None = None
    error: ErrorOut | None = None
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: float = 0.0
    model_calls: list[ModelCall] = Field(default_factory=list)
    tool_calls: list[ToolCall] = Field(default_factory=list)


class TaskOut(BaseModel):
    id: str
    instruction: str
    needs: list[str]
    agent: str | None
    capability: str | None
    optional: bool
    status: TaskStatus
    assigned: str | None
    started_ts: float | None
    ended_ts: float | None
    duration_s: float | None
    output: JSON = None
    error: ErrorOut | None = None
    tokens_in: int
    tokens_out: int
    cost_usd: float
    copied: bool
    attempts: list[Attempt]


class EntryVersion(BaseModel):
    version: int
    value: JSON = None
    task: str
    agent: str | None
    sources: list[str]
    confidence: float | None
    ts: float
    seq: int


class BoardEntry(BaseModel):
    key: str
    versions: list[EntryVersion]


class UsageRow(BaseModel):
    agent: str
    model: str
    calls: int
    tokens_in: int
    tokens_out: int
    cost_usd: float


class ApprovalOut(BaseModel):
    run_id: str
    workflow: str = ""
    task: str
    action: str
    action_hash: str
    reason: str = ""
    tool: str | None = None
    arguments: dict[str, JSON] = Field(default_factory=dict)
    instruction: str | None = None
    result: JSON = None
    agent: str | None = None
    attempt: int = 0
    requested_at: float
    expires_at: float | None = None
    status: Literal["pending", "granted", "rejected"] = "pending"
    by: str | None = None
    comment: str | None = None
    decided_at: float | None = None


class Decision(BaseModel):
    task: str
    granted: bool
    by: str
    comment: str | None
    ts: float


class FeedbackOut(BaseModel):
    run_id: str
    seq: int
    score: int
    comment: str
    by: str
    ts: float


class RunDetail(RunSummary):
    inputs: dict[str, JSON]
    goal: str | None
    output: JSON = None
    missing: list[str]
    confidence: float | None = None
    """The run's measured confidence: its weakest measured step's (``None``: none measured)."""
    tasks: list[TaskOut]
    blackboard: list[BoardEntry]
    usage: list[UsageRow]
    approvals: list[ApprovalOut]
    decisions: list[Decision]
    feedback: list[FeedbackOut]


class EventOut(BaseModel):
    """One journal event, its own fields flattened beside these (see ``podium schema events``)."""

    model_config = ConfigDict(extra="allow")

    seq: int
    kind: str
    ts: float
    run_id: str


class EventPage(BaseModel):
    events: list[EventOut]
    last_seq: int
    finished: bool


class SubmitRequest(BaseModel):
    model_config = _STRICT

    workflow: str = Field(min_length=1, max_length=4096, description="A registered name or a path")
    inputs: dict[str, JSON] = Field(default_factory=dict)
    run_id: str | None = Field(
        default=None, min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.:-]+$"
    )


class CancelRequest(BaseModel):
    model_config = _STRICT

    reason: str = Field(default="cancelled", max_length=2000)


class ForkRequest(BaseModel):
    model_config = _STRICT

    task: str = Field(min_length=1)
    inputs: dict[str, JSON] | None = None
    instruction: str | None = None
    agent: str | None = None


class DecisionRequest(BaseModel):
    model_config = _STRICT

    comment: str | None = Field(default=None, max_length=10_000)
    resume: bool = True


class DecisionOut(BaseModel):
    approval: ApprovalOut
    run: RunSummary


class FeedbackRequest(BaseModel):
    model_config = _STRICT

    score: int = Field(ge=1, le=5)
    comment: str = Field(default="", max_length=10_000)


class ComparedTask(BaseModel):
    task: str
    status: tuple[str | None, str | None]
    agent: tuple[str | None, str | None]
    output: tuple[JSON, JSON]
    seconds: tuple[float | None, float | None]
    cost_usd: tuple[float, float]
    copied: tuple[bool, bool]
    same_output: bool


class Comparison(BaseModel):
    a: RunSummary
    b: RunSummary
    tasks: list[ComparedTask]


class ApprovalList(BaseModel):
    approvals: list[ApprovalOut]


class Learned(BaseModel):
    kind: str
    runs: int
    successes: int
    success_rate: float
    cost_usd: float
    latency_s_mean: float


class AgentOut(BaseModel):
    name: str
    description: str
    capabilities: list[str]
    model: str | None
    workflows: list[str]
    breaker: dict[str, str]
    learned: list[Learned]
    runs: int
    cost_usd: float


class AgentList(BaseModel):
    agents: list[AgentOut]


class InputOut(BaseModel):
    name: str
    type: str
    required: bool
    default: JSON = None
    description: str = ""


class WorkflowOut(BaseModel):
    name: str
    path: str
    description: str = ""
    inputs: list[InputOut] | None
    agents: list[str]
    tasks: list[str]
    error: str | None = None


class WorkflowList(BaseModel):
    workflows: list[WorkflowOut]


class AuditEntryOut(BaseModel):
    """One attributed action (see `podium.audit.AuditEntry`)."""

    seq: int
    ts: float
    actor: str
    action: Action
    target: str
    details: dict[str, JSON]


class AuditOut(BaseModel):
    run_id: str
    entries: list[AuditEntryOut]


__all__ = [
    "AgentList",
    "AgentOut",
    "ApprovalList",
    "ApprovalOut",
    "Attempt",
    "AuditEntryOut",
    "AuditOut",
    "BoardEntry",
    "CancelRequest",
    "ComparedTask",
    "Comparison",
    "Decision",
    "DecisionOut",
    "DecisionRequest",
    "EntryVersion",
    "ErrorBody",
    "ErrorOut",
    "ErrorResponse",
    "EventOut",
    "EventPage",
    "FeedbackOut",
    "FeedbackRequest",
    "ForkRequest",
    "ForkedFrom",
    "InputOut",
    "Learned",
    "Me",
    "ModelCall",
    "Routing",
    "RunDetail",
    "RunList",
    "RunSummary",
    "SubmitRequest",
    "TaskOut",
    "ToolCall",
    "UsageRow",
    "WorkflowList",
    "WorkflowOut",
]
