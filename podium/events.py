"""The typed events of a run: Podium's internal protocol.

A run is an append-only journal of these events; its state is a fold over them (see
`podium.runtime.RunState`). Every event carries the run id, its sequence number in the run and a
timestamp (seconds since the epoch). Events are tagged by `kind` and encoded as compact JSON.

Compatibility: fields are only ever added with defaults, never renamed or removed, so journals
written by earlier versions keep loading (`tests/journals/` replays recorded ones). `SCHEMA_VERSION`
is bumped when the meaning of an existing field changes; `decode` upgrades older events.
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec

SCHEMA_VERSION = 1

JSON = Any
"""A JSON-serialisable value."""


class Event(msgspec.Struct, frozen=True, kw_only=True, tag_field="kind", omit_defaults=True):
    """Base of every event."""

    run_id: str
    seq: int
    ts: float


class TaskEvent(Event, frozen=True, kw_only=True):
    """An event about one task."""

    task: str


class ErrorInfo(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """A typed, serialisable error."""

    type: str
    message: str
    retryable: bool = False
    raw_output: JSON = None


class Usage(msgspec.Struct, kw_only=True, omit_defaults=True):
    """Token usage and cost."""

    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0

    def add(self, other: Usage) -> None:
        self.input_tokens += other.input_tokens
        self.output_tokens += other.output_tokens
        self.cost_usd += other.cost_usd


class RunSubmitted(Event, frozen=True, kw_only=True):
    """A run was submitted: what to run and with which inputs.

    `workflow` holds what is needed to rebuild the run in another process: the workflow file's
    path and text when it came from a file.
    """

    inputs: dict[str, JSON] = {}
    goal: str | None = None
    workflow: dict[str, JSON] = {}
    limits: dict[str, JSON] = {}
    version: int = SCHEMA_VERSION


class PlanAccepted(Event, frozen=True, kw_only=True):
    """The validated plan the run executes (`tasks` in the serialised form of `Plan.to_data`)."""

    tasks: list[dict[str, JSON]]
    output: JSON = None
    source: str = "workflow"


class PlanExtended(Event, frozen=True, kw_only=True):
    """Tasks added while running (a `map` fan-out), with the task that caused them."""

    parent: str
    tasks: list[dict[str, JSON]]


class TaskReady(TaskEvent, frozen=True, kw_only=True):
    """Every dependency of the task has succeeded."""


class TaskAssigned(TaskEvent, frozen=True, kw_only=True):
    """The router chose an agent for the task, and why."""

    agent: str
    reason: str = ""
    candidates: list[dict[str, JSON]] = []


class TaskStarted(TaskEvent, frozen=True, kw_only=True):
    """An attempt of the task started on an agent."""

    agent: str
    attempt: int = 1


class ModelCalled(TaskEvent, frozen=True, kw_only=True):
    """One model request made by an agent."""

    agent: str
    model: str
    provider: str = ""
    input_tokens: int = 0
    output_tokens: int = 0
    latency_s: float = 0.0
    cost_usd: float = 0.0


class ToolCalled(TaskEvent, frozen=True, kw_only=True):
    """One tool call made by an agent, with its result or error."""

    agent: str
    tool: str
    call_id: str = ""
    arguments: dict[str, JSON] = {}
    effect: str = "read"
    result: JSON = None
    error: str | None = None
    latency_s: float = 0.0


class ContextWritten(TaskEvent, frozen=True, kw_only=True):
    """A versioned blackboard entry."""

    key: str
    value: JSON
    version: int
    agent: str | None = None
    sources: list[str] = []
    confidence: float | None = None


class TaskSucceeded(TaskEvent, frozen=True, kw_only=True):
    """The task produced its output."""

    agent: str | None = None
    attempt: int = 1
    output: JSON = None
    usage: Usage | None = None


class TaskFailed(TaskEvent, frozen=True, kw_only=True):
    """An attempt failed; `final` says whether the task is done for."""

    agent: str | None = None
    attempt: int = 1
    error: ErrorInfo
    final: bool = True
    usage: Usage | None = None


class TaskRetrying(TaskEvent, frozen=True, kw_only=True):
    """The task will be attempted again after `delay_s`."""

    attempt: int
    delay_s: float = 0.0
    reason: str = ""


class TaskSkipped(TaskEvent, frozen=True, kw_only=True):
    """The task will not run because something it needs failed or was skipped."""

    reason: str


class RunSucceeded(Event, frozen=True, kw_only=True):
    """Every task succeeded."""

    output: JSON = None


class RunPartiallySucceeded(Event, frozen=True, kw_only=True):
    """The run finished without some optional tasks; `missing` names them."""

    output: JSON = None
    missing: list[str] = []
    reason: str = ""


class RunFailed(Event, frozen=True, kw_only=True):
    """The run cannot finish.

    `reason` is a stable word: error, timeout, budget, loop, stall or policy.
    """

    reason: str
    message: str = ""
    failed_tasks: list[str] = []


class RunCancelled(Event, frozen=True, kw_only=True):
    """The run was cancelled by a caller."""

    reason: str = "cancelled"


AnyEvent = (
    RunSubmitted
    | PlanAccepted
    | PlanExtended
    | TaskReady
    | TaskAssigned
    | TaskStarted
    | ModelCalled
    | ToolCalled
    | ContextWritten
    | TaskSucceeded
    | TaskFailed
    | TaskRetrying
    | TaskSkipped
    | RunSucceeded
    | RunPartiallySucceeded
    | RunFailed
    | RunCancelled
)

TERMINAL_EVENTS = (RunSucceeded, RunPartiallySucceeded, RunFailed, RunCancelled)

RunStatus = Literal["running", "succeeded", "partially_succeeded", "failed", "cancelled", "waiting"]

_encoder = msgspec.json.Encoder()
_decoder: msgspec.json.Decoder[AnyEvent] = msgspec.json.Decoder(AnyEvent)
_list_decoder: msgspec.json.Decoder[list[AnyEvent]] = msgspec.json.Decoder(list[AnyEvent])


def encode(event: Event) -> bytes:
    """Encode one event as compact JSON."""
    return _encoder.encode(event)


def decode(data: bytes | str) -> AnyEvent:
    """Decode one event; unknown fields from newer versions are ignored."""
    return _decoder.decode(data)


def decode_many(data: bytes | str) -> list[AnyEvent]:
    """Decode a JSON array of events."""
    return _list_decoder.decode(data)


def to_builtins(event: Event) -> dict[str, JSON]:
    """The event as plain JSON-compatible Python values (with its `kind`)."""
    out: dict[str, JSON] = msgspec.to_builtins(event)
    return out


def json_schema() -> dict[str, JSON]:
    """The JSON Schema of every event (what `podium schema events` prints)."""
    schema: dict[str, JSON] = msgspec.json.schema(AnyEvent)
    schema["$comment"] = f"Podium event schema version {SCHEMA_VERSION}"
    return schema


__all__ = [
    "SCHEMA_VERSION",
    "TERMINAL_EVENTS",
    "AnyEvent",
    "ContextWritten",
    "ErrorInfo",
    "Event",
    "ModelCalled",
    "PlanAccepted",
    "PlanExtended",
    "RunCancelled",
    "RunFailed",
    "RunPartiallySucceeded",
    "RunStatus",
    "RunSubmitted",
    "RunSucceeded",
    "TaskAssigned",
    "TaskEvent",
    "TaskFailed",
    "TaskReady",
    "TaskRetrying",
    "TaskSkipped",
    "TaskStarted",
    "TaskSucceeded",
    "ToolCalled",
    "Usage",
    "decode",
    "decode_many",
    "encode",
    "json_schema",
    "to_builtins",
]
