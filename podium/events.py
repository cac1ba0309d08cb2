"""The typed events of a run: Podium's internal protocol.

A run is an append-only journal of these events; its state is a fold over them (see
`podium.runtime.RunState`). Every event carries the run id, its sequence number in the run and a
timestamp (seconds since the epoch). Events are tagged by `kind` and encoded as compact JSON.

Compatibility: fields are only ever added with defaults, never renamed or removed, so journals
written by earlier versions keep loading (`tests/journals/` replays recorded ones). `SCHEMA_VERSION`
is bumped when the meaning of an existing field changes; `decode` upgrades older events.
"""

from __future__ import annotations

import math
from typing import Any, Literal

import msgspec

SCHEMA_VERSION = 1

JSON = Any
"""A JSON-serialisable value."""


class Event(
    msgspec.Struct, frozen=True, kw_only=True, tag_field="kind", omit_defaults=True, gc=False
):
    """Base of every event.

    Events hold plain data and never refer to one another, so they cannot be part of a
    reference cycle: they are not tracked by the garbage collector (``gc=False``), which a
    scheduler making four of them a step would otherwise keep busy.
    """

    run_id: str
    seq: int
    ts: float


class TaskEvent(Event, frozen=True, kw_only=True):
    """An event about one task."""

    task: str


class ErrorInfo(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True, gc=False):
    """A typed, serialisable error."""

    type: str
    message: str
    retryable: bool = False
    raw_output: JSON = None
    retry_after_s: float | None = None
    """How long the failing party (a provider's ``Retry-After``) asked us to wait."""
    traceback: str | None = None
    """Where an exception of an agent's or a tool's own code was raised (its frames only)."""


class Usage(msgspec.Struct, kw_only=True, omit_defaults=True, gc=False):
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
    digest: str = ""
    """The SHA-256 of the workflow's definition (plan, agents, tools, policy; see
    `podium.plan.Workflow.digest`): the run is bound to it, and resuming it with another workflow
    is refused unless it is upgraded on purpose (`RunUpgraded`)."""
    by: str = ""
    """Who submitted the run (a user name, ``mcp:CLIENT``; empty when the caller gave none)."""


class RunForked(Event, frozen=True, kw_only=True):
    """The run is a fork of `parent`: the parent's successes that do not depend on `task` are
    copied (`TaskSucceeded.copied_from`), and `task` and what depends on it run again, with
    `changes` (run inputs, the task's instruction or agent) applied."""

    parent: str
    task: str
    changes: dict[str, JSON] = {}
    by: str = ""
    """Who forked the run."""


class PlanAccepted(Event, frozen=True, kw_only=True):
    """The validated plan the run executes (`tasks` in the serialised form of `Plan.to_data`).

    `source` says where it came from: ``workflow`` (a file or Python), or for a goal ``planner``
    (the model's first proposal), ``repair`` (a later round) or ``fallback``.
    """

    tasks: list[dict[str, JSON]]
    output: JSON = None
    source: str = "workflow"


class PlanExtended(Event, frozen=True, kw_only=True):
    """Tasks added while running (a `map` fan-out), with the task that caused them.

    With `derived_items`, the sub-tasks' items are not written again: sub-task *i* takes item
    *i* of the list the parent's `map` renders to, over outputs the journal already holds.
    """

    parent: str
    tasks: list[dict[str, JSON]]
    derived_items: bool = False


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
    result_chars: int | None = None
    """Set when the result was too long: its full length as text (`result` is then the clipped
    text the model saw)."""
    result_sha256: str | None = None
    """Set with `result_chars`: the SHA-256 of the full result text."""
    idempotency_key: str = ""
    """The call's stable key (see `podium.tools.ToolContext`)."""
    replayed: bool = False
    """The same side-effecting call had completed in an earlier attempt of the task (or under an
    approval it used up): its recorded result was returned and the tool was not called again."""
    action_hash: str = ""
    """For a side-effecting call, or a read that sends (`podium.tools.Tool.egress`), the SHA-256
    of the tool and its arguments: an approval of that action is used up by the call (one
    approval, one execution)."""
    undo: dict[str, JSON] | None = None
    """For a successful call of a tool that declares `compensate`: the call that undoes it,
    ``{"tool", "arguments"}`` (or ``{"tool", "error"}`` when its arguments could not be made),
    made from this call's arguments and result and run if the run fails or is cancelled."""


class Handoff(TaskEvent, frozen=True, kw_only=True):
    """A model-driven agent handed the task over to another agent, which goes on with it.

    The model and tool calls after it (up to the next handoff) are `to_agent`'s; `note` is what
    `from_agent` told it. The agent that finishes the task is `TaskSucceeded.agent`.
    """

    from_agent: str
    to_agent: str
    reason: str = ""
    note: str = ""
    attempt: int = 1


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
    reused_from: str | None = None
    """The task whose output this one took instead of calling an agent: an identical task
    answered earlier in the run, or the replacement of a re-planned task."""
    read_versions: dict[str, int] = {}
    """The version of each blackboard key the attempt read (0: not written yet), as it started."""
    copied_from: str | None = None
    """The run this success was copied from: a fork keeps what its parent did before the task
    it was forked from (no agent ran in this run; the work, its time and its cost are the
    parent's)."""


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
    """The run finished without some optional tasks; `missing` names them, `errors` says why."""

    output: JSON = None
    missing: list[str] = []
    reason: str = ""
    errors: dict[str, ErrorInfo] = {}


class RunFailed(Event, frozen=True, kw_only=True):
    """The run cannot finish.

    `reason` is a stable word: error, timeout, budget, loop, stall, policy, plan (no valid plan
    for the goal), limit (the plan grew past `Limits.max_tasks`) or breaker (a circuit breaker
    whose policy is to fail opened).
    """

    reason: str
    message: str = ""
    failed_tasks: list[str] = []


class RunCancelled(Event, frozen=True, kw_only=True):
    """The run was cancelled by a caller (`by`, when it said who)."""

    reason: str = "cancelled"
    by: str = ""


class PlanProposed(Event, frozen=True, kw_only=True):
    """A planner model proposed a plan (or a direct answer), and what was wrong with it.

    `attempt` is 1 for the first proposal and counts the repair rounds after it; `purpose` is
    ``plan`` for the goal, ``replan`` for the failed task `task`. `plan` is the decoded answer
    (``None`` when it was not JSON, then `raw` keeps the text); `problems` is empty when the
    proposal was accepted. `assignments` says which agent code gave each step and why (the
    model's agent is a suggestion), `tidied` which empty or duplicate steps were removed.
    """

    attempt: int
    plan: JSON = None
    raw: str = ""
    problems: list[str] = []
    purpose: str = "plan"
    task: str = ""
    model: str = ""
    input_tokens: int = 0
    output_tokens: int = 0
    latency_s: float = 0.0
    assignments: list[JSON] = []
    tidied: list[str] = []


class PlanFallback(Event, frozen=True, kw_only=True):
    """No proposal was valid: a fallback plan is used (`fallback`: ``workflow`` or ``agent``)."""

    reason: str
    fallback: str = ""
    purpose: str = "plan"
    task: str = ""


class PlanRevised(Event, frozen=True, kw_only=True):
    """A task that failed for good is replaced by a new, validated branch.

    `replaced` names the failed task; `tasks` are the new ones (in the form of `Plan.to_data`);
    the output of `output_task` (default: the last new task) becomes the failed task's output,
    so what depends on it runs as planned. Outputs that already succeeded are kept.
    """

    replaced: list[str]
    tasks: list[dict[str, JSON]]
    output_task: str = ""
    source: str = "planner"


class BreakerOpened(Event, frozen=True, kw_only=True):
    """A circuit breaker opened: calls to `name` (an agent, or a model provider) fail fast.

    `failure_rate` of the last `calls` calls in the breaker's window failed; it lets a probe
    through after `cooldown_s`. `action` is what the run does about it: ``reroute`` (to backup
    agents), ``fail`` or ``pause``. `task` is the task whose attempt tipped it over.
    """

    scope: str
    name: str
    failure_rate: float
    calls: int
    cooldown_s: float
    action: str = "reroute"
    task: str = ""


class OutputRejected(TaskEvent, frozen=True, kw_only=True):
    """A model's answer was unusable (not JSON, wrong schema, empty, cut off), or an output
    failed a check (`check` names it; `evidence` is what its verdict rests on).

    `error.raw_output` keeps what the model said; `repair` says whether the model is asked once
    more in the same attempt (else the attempt fails with `error`).
    """

    agent: str
    attempt: int = 1
    error: ErrorInfo
    repair: bool = False
    check: str = ""
    evidence: dict[str, JSON] = {}


class OutputChecked(TaskEvent, frozen=True, kw_only=True):
    """An output passed a check (`podium.verify.Check`): its verdict, with its evidence.

    A failed check is journaled as `OutputRejected` (with `check` set) instead.
    """

    agent: str
    attempt: int = 1
    check: str
    check_kind: str
    score: float | None = None
    reason: str = ""
    evidence: dict[str, JSON] = {}


class ApprovalRequested(TaskEvent, frozen=True, kw_only=True):
    """An action waits for a human's decision; the task waits with it.

    `action` is ``task`` (the task is about to run: `instruction` is what it will be told),
    ``tool`` (a call of `tool` with `arguments`) or ``result`` (a result to commit: `result`
    holds it). The decision binds to `action_hash`, a SHA-256 of the canonical JSON of the tool
    name and arguments, or of the task id and instruction, or of the result. Undecided at
    `expires_at`, the request counts as rejected with reason ``expired``.
    """

    action: str
    action_hash: str
    reason: str = ""
    tool: str | None = None
    arguments: dict[str, JSON] = {}
    instruction: str | None = None
    result: JSON = None
    agent: str | None = None
    attempt: int = 0
    expires_at: float | None = None


class ApprovalGranted(TaskEvent, frozen=True, kw_only=True):
    """Someone (`by`) approved the action whose hash is `action_hash`."""

    action_hash: str
    by: str
    comment: str | None = None


class ApprovalRejected(TaskEvent, frozen=True, kw_only=True):
    """The action was rejected by `by`, or (`reason` ``expired``) nobody decided in time."""

    action_hash: str
    by: str
    comment: str | None = None
    reason: str = "rejected"


class RunWaiting(Event, frozen=True, kw_only=True):
    """The run parked: nothing can proceed until approvals for `tasks` are decided.

    No process holds it; an approval or a rejection resumes it from the journal.
    """

    tasks: list[str] = []
    message: str = ""


class RunResumed(Event, frozen=True, kw_only=True):
    """A waiting or interrupted run continues: resumed by `by`, or by the approval that let it
    go on (its approver)."""

    by: str = ""


class RunInterrupted(Event, frozen=True, kw_only=True):
    """Its driver stopped without ending the run (Ctrl-C, the store went away): the run is not
    finished, and `podium resume` continues it. `tasks` were in flight; they run again then.
    """

    reason: str = "interrupted"
    tasks: list[str] = []


class RunFeedback(Event, frozen=True, kw_only=True):
    """A person's rating of a run (1 to 5), with an optional comment: what the run was worth to
    them. Given after the run, or while it waits; never changes its status."""

    score: int
    comment: str = ""
    by: str = ""


class RunUpgraded(Event, frozen=True, kw_only=True):
    """The run goes on with another workflow than it was submitted with, on purpose.

    `digest` is the new workflow's (see `RunSubmitted.digest`), `previous` the one it replaces;
    `workflow` records the new workflow as `RunSubmitted.workflow` does, so a later resume
    rebuilds the upgraded one.
    """

    digest: str
    previous: str = ""
    workflow: dict[str, JSON] = {}
    by: str = ""


class TaskCompensated(TaskEvent, frozen=True, kw_only=True):
    """A step of undoing a task that succeeded (its `compensate:`), or one call of a tool that
    declares how to undo it (`call`), after the run failed or was cancelled, or on request
    (`podium rollback`): ``started``, then ``succeeded`` or ``failed``.

    `key` is the undo's idempotency key, the same every time it runs, so an undo started before
    a crash and run again lands once. `by` names who asked for a rollback on request.
    """

    phase: Literal["started", "succeeded", "failed"]
    key: str = ""
    result: JSON = None
    error: ErrorInfo | None = None
    by: str = ""
    call: str = ""
    """Set when one tool call is undone rather than the whole task: the call's undo id
    (``TASK/TOOL#N``, the N-th undoable call of the task; see `ToolCalled.undo`)."""


class ProvenanceTainted(TaskEvent, frozen=True, kw_only=True):
    """Untrusted content entered an attempt's context, so what the task produces is tainted.

    `source` names it: ``tool:NAME`` (a tool whose output is untrusted, `call_id` its call),
    ``task:ID`` (an input from a tainted task) or ``context:KEY`` (a blackboard entry a tainted
    task wrote). A task's output, its blackboard entries and the items it maps over carry the
    label of every source journaled for it (see `podium.policy.Provenance`).
    """

    agent: str = ""
    attempt: int = 1
    source: str
    call_id: str = ""


class PolicyDecided(TaskEvent, frozen=True, kw_only=True):
    """The provenance policy looked at a side-effecting tool call made with untrusted content
    in the attempt's context: `decision` ``allow``, ``ask`` (an approval is requested),
    ``approved`` (an approval let it through) or ``block`` (the model got `PolicyBlocked`).

    `sources` lists the untrusted sources in context, `matched` the arguments whose text
    appears in one of them (the likeliest carriers of an injection).
    """

    agent: str
    attempt: int = 1
    tool: str
    effect: str
    action_hash: str
    decision: Literal["allow", "ask", "approved", "block"]
    reason: str
    sources: list[str] = []
    matched: list[str] = []


class ConfidenceMeasured(TaskEvent, frozen=True, kw_only=True):
    """How confident Podium is in an output that passed its checks, from measured signals.

    `signals` holds each signal in [0, 1] (``samples``: agreement of k runs of the agent,
    ``checks``: the checks' verdicts, ``grounding``: claim support, ``routing``: the router's
    margin), `confidence` their weighted mean (``None``: no signal), `evidence` what they were
    measured from, and `action` what followed: ``accept``, ``ask`` (a person reviews the
    result) or ``fail`` (below `min`).
    """

    agent: str
    attempt: int = 1
    confidence: float | None = None
    signals: dict[str, float] = {}
    min: float | None = None
    action: Literal["accept", "ask", "fail"] = "accept"
    evidence: dict[str, JSON] = {}


class ContextDrifted(TaskEvent, frozen=True, kw_only=True):
    """A blackboard key an attempt read changed before the attempt committed: `read_version` is
    what it read, `version` what another task (`by_task`) wrote meanwhile. `action` is what the
    key's `on_drift` policy made of it: ``retry`` (nothing committed, the task runs again on
    the new version), ``accept`` (committed as it is) or ``fail``."""

    agent: str
    attempt: int = 1
    key: str
    read_version: int
    version: int
    by_task: str
    action: Literal["retry", "accept", "fail"]


class AccessDenied(TaskEvent, frozen=True, kw_only=True):
    """An access outside what was granted was refused; the refusal itself is what makes
    sense for the access, this event is that it happened.

    `access` says what kind: ``context_read`` or ``context_write`` (a blackboard key outside
    the task's `reads`/`writes` or its agent's; the attempt fails with ``context_scope``),
    ``tool`` (a tool not on the agent's list; the model gets a tool error), or ``sql``,
    ``document`` and ``host`` (a table, a document or a host outside the tool's scope; a tool
    error too). `target` is what was refused (the key, the tool, the table, the document's id,
    the host), `tool` and `call_id` the call that tried, and `reason` the message.
    """

    agent: str = ""
    attempt: int = 1
    access: str
    target: str
    reason: str
    tool: str = ""
    call_id: str = ""


class GuardrailDecided(TaskEvent, frozen=True, kw_only=True):
    """A guardrail looked at the input or output of an attempt, a model call or a tool call
    (`stage`, `direction`) and decided: ``redact`` (what went on was redacted), ``block`` (the
    attempt failed with ``guardrail``; at a tool call, the model got a tool error instead),
    ``flag`` (it went through, noted) or ``allow`` (journaled for guardrails set to audit).

    `findings` counts what was found by kind (an entity type, a rule): the values found are
    never journaled, nor in `reason`. `tool` and `call_id` name the tool call.
    """

    agent: str
    attempt: int = 1
    guardrail: str
    stage: Literal["attempt", "model", "tool"]
    direction: Literal["input", "output"]
    decision: Literal["allow", "redact", "block", "flag"]
    reason: str = ""
    findings: dict[str, int] = {}
    tool: str = ""
    call_id: str = ""


AnyEvent = (
    RunSubmitted
    | PlanAccepted
    | PlanExtended
    | TaskReady
    | TaskAssigned
    | TaskStarted
    | ModelCalled
    | ToolCalled
    | Handoff
    | ContextWritten
    | TaskSucceeded
    | TaskFailed
    | TaskRetrying
    | TaskSkipped
    | RunSucceeded
    | RunPartiallySucceeded
    | RunFailed
    | RunCancelled
    | PlanProposed
    | PlanFallback
    | PlanRevised
    | BreakerOpened
    | OutputRejected
    | OutputChecked
    | ApprovalRequested
    | ApprovalGranted
    | ApprovalRejected
    | RunWaiting
    | RunResumed
    | RunInterrupted
    | RunUpgraded
    | RunFeedback
    | RunForked
    | TaskCompensated
    | ProvenanceTainted
    | PolicyDecided
    | ConfidenceMeasured
    | ContextDrifted
    | AccessDenied
    | GuardrailDecided
)

TERMINAL_EVENTS = (RunSucceeded, RunPartiallySucceeded, RunFailed, RunCancelled)

RunStatus = Literal[
    "running", "succeeded", "partially_succeeded", "failed", "cancelled", "waiting", "interrupted"
]
"""Where a run stands."""

TaskStatus = Literal[
    "pending", "ready", "running", "waiting", "succeeded", "failed", "skipped", "cancelled"
]
"""Where a task stands (``cancelled``: the run ended while its attempt ran)."""

_encoder = msgspec.json.Encoder()
_decoder: msgspec.json.Decoder[AnyEvent] = msgspec.json.Decoder(AnyEvent)
_list_decoder: msgspec.json.Decoder[list[AnyEvent]] = msgspec.json.Decoder(list[AnyEvent])


MAX_DEPTH = 256
"""How deeply a journaled value (an output, a context value, a tool result) may nest."""


def unencodable(value: JSON, where: str = "value") -> str | None:
    """Why `value` cannot be journaled exactly as it is, with where in it; ``None`` if it can.

    One rule for every value an agent, a tool or a caller hands the journal: numbers are finite
    (JSON has no NaN or infinity, and a value must read back as it was written), text is valid
    Unicode (no unpaired surrogates, which UTF-8 cannot encode), keys are strings, and nesting
    stays within `MAX_DEPTH` levels. What a task sees live is then what it sees after a resume.
    """
    stack: list[tuple[JSON, str, int]] = [(value, where, 0)]
    while stack:
        item, path, depth = stack.pop()
        kind = type(item)
        if kind is str:
            if not item.isascii() and _bad_text(item):
                return f"{path}: the text has an unpaired surrogate (not valid Unicode)"
        elif kind is float:
            if not math.isfinite(item):
                return f"{path}: {item!r} is not a finite number (JSON has no NaN or infinity)"
        elif kind is dict or kind is list or kind is tuple:
            if depth >= MAX_DEPTH:
                return f"{path}: nested deeper than {MAX_DEPTH} levels"
            if kind is dict:
                for key, sub in item.items():
                    if type(key) is not str:
                        return f"{path}: key {key!r} is not a string"
                    if not key.isascii() and _bad_text(key):
                        return f"{path}: a key has an unpaired surrogate (not valid Unicode)"
                    stack.append((sub, f"{path}.{key}", depth + 1))
            else:
                stack.extend((sub, f"{path}[{i}]", depth + 1) for i, sub in enumerate(item))
    return None


def _bad_text(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


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
    "AccessDenied",
    "AnyEvent",
    "ApprovalGranted",
    "ApprovalRejected",
    "ApprovalRequested",
    "BreakerOpened",
    "ConfidenceMeasured",
    "ContextDrifted",
    "ContextWritten",
    "ErrorInfo",
    "Event",
    "GuardrailDecided",
    "Handoff",
    "ModelCalled",
    "OutputChecked",
    "OutputRejected",
    "PlanAccepted",
    "PlanExtended",
    "PlanFallback",
    "PlanProposed",
    "PlanRevised",
    "PolicyDecided",
    "ProvenanceTainted",
    "RunCancelled",
    "RunFailed",
    "RunFeedback",
    "RunForked",
    "RunInterrupted",
    "RunPartiallySucceeded",
    "RunResumed",
    "RunStatus",
    "RunSubmitted",
    "RunSucceeded",
    "RunUpgraded",
    "RunWaiting",
    "TaskAssigned",
    "TaskCompensated",
    "TaskEvent",
    "TaskFailed",
    "TaskReady",
    "TaskRetrying",
    "TaskSkipped",
    "TaskStarted",
    "TaskStatus",
    "TaskSucceeded",
    "ToolCalled",
    "Usage",
    "decode",
    "decode_many",
    "encode",
    "json_schema",
    "to_builtins",
    "unencodable",
]
