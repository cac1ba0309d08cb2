"""Approvals at run time.

Three places ask for a human: before a task runs (`task_request`: ``approval: required`` or a
risky task), before a tool call (the `ToolApprovals` interceptor: an effect the policy names,
``irreversible`` by default), and before a result is committed (`result_request`: low
confidence, or a review rule).
The scheduler journals the request (`ApprovalRequested`), the task waits, and a run with nothing
else to do parks (`RunWaiting`): it holds no coroutine and no memory, only its journal.

A decision (`record_decision`) is one event appended to the parked run's journal. On resume the
scheduler acts on it: an approved task or tool call runs again, this time through the gate (same
action hash); an approved result is committed as it was; a rejection (or an expiry) fails the
task with a non-retryable error, and the run handles that failure like any other.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import msgspec

from podium.context import PendingWrite
from podium.events import ApprovalGranted, ApprovalRejected, ErrorInfo, unencodable
from podium.exceptions import (
    ApprovalDenied,
    ConfigError,
    JournalConflict,
    LeaseHeld,
    LeaseLost,
    RunError,
    RunNotFound,
    ToolError,
)
from podium.plan import Task
from podium.policy import Approval, ApprovalNeeded, ApprovalRequest, Policy, ResultReview
from podium.policy._approval import GRANTED
from podium.runtime._attempt import AttemptInput, AttemptOutcome, render_instruction
from podium.runtime._interceptors import AttemptScope
from podium.runtime._state import RunState
from podium.store import Store
from podium.store._lease import new_owner
from podium.tools._calls import CallTool, ToolCallInput, ToolCallResult
from podium.tools._effects import task_hash

log = logging.getLogger(__name__)

JSON = Any

SYSTEM = "podium"
"""Who `ApprovalRejected` names when a request expired."""


class ToolApprovals:
    """Approvals and replays of side effects, as a tool-call interceptor.

    A side-effecting call that already took effect in an earlier attempt of the task (its
    idempotency key is in the journal) is not made again: its recorded result is returned. A
    call whose effect the policy names goes through only once that exact call (tool and
    arguments) was approved, and only once per approval: the same call again gets the first
    one's result; otherwise the attempt ends with `ApprovalNeeded`.
    """

    def for_attempt(self, scope: AttemptScope) -> _AttemptApprovals | None:
        input = scope.input
        if not input.effects and not input.limits.approve_effects and not input.approvals:
            return None
        return _AttemptApprovals(input)

    async def call(self, input: ToolCallInput, next: CallTool) -> ToolCallResult:
        return await next(input)  # no attempt: nothing to check


class _AttemptApprovals:
    """One attempt's view of its task's approvals and recorded effects."""

    __slots__ = ("approvals", "effects", "task", "wanted")

    def __init__(self, input: AttemptInput) -> None:
        self.task = input.task.id
        self.effects = input.effects
        self.wanted = frozenset(input.limits.approve_effects)
        self.approvals: dict[str, Approval] = {
            a.action_hash: msgspec.structs.replace(a) for a in input.approvals
        }

    async def call(self, input: ToolCallInput, next: CallTool) -> ToolCallResult:
        tool = input.tool
        key = input.context.idempotency_key
        if tool.effect != "read" and key in self.effects:
            return ToolCallResult(self.effects[key], replayed=True)
        if tool.effect not in self.wanted:
            return await next(input)
        digest = input.action_hash
        approval = self.approvals.get(digest)
        if approval is not None and approval.used and approval.outcome_ok:
            # one approval, one execution: the same call again gets what the first one got
            return ToolCallResult(approval.outcome, replayed=True)
        if approval is None or approval.status != GRANTED or approval.used:
            raise ApprovalNeeded(
                ApprovalRequest(
                    action="tool",
                    action_hash=digest,
                    reason=f"tool {tool.name!r} is {tool.effect}",
                    tool=tool.name,
                    arguments=dict(input.arguments),
                )
            )
        approval.used = True
        try:
            result = await next(input)
        except ToolError:
            approval.outcome_ok = False  # a failed call used its approval up all the same
            raise
        approval.outcome, approval.outcome_ok = result.result, True
        return result


def task_request(task: Task, state: RunState, policy: Policy) -> ApprovalRequest | None:
    """The approval `task` needs before it starts; ``None`` if it needs none or has it."""
    reason = policy.task_reason(task)
    if reason is None:
        return None
    try:
        text = render_instruction(task, state)
    except RunError:
        return None  # the attempt fails on the same problem, with a clear error
    digest = task_hash(task.id, text)
    if state.approvals.granted(task.id, digest):
        return None
    return ApprovalRequest(action="task", action_hash=digest, reason=reason, instruction=text)


def attempt_request(
    input: AttemptInput, outcome: AttemptOutcome, state: RunState, policy: Policy
) -> ApprovalRequest | None:
    """What an attempt waits for: the action it stopped at, or its result when the policy
    wants a person to see it before it is committed; ``None`` for neither."""
    if outcome.approval is not None:
        return outcome.approval
    if outcome.error is not None or not policy.reviews_results:
        return None
    review = ResultReview(
        task=input.task,
        agent=outcome.final_agent or input.agent,
        output=outcome.output,
        writes=outcome.writes,
    )
    return result_request(review, state, policy)


def result_request(review: ResultReview, state: RunState, policy: Policy) -> ApprovalRequest | None:
    """The approval a result needs before it is committed; ``None`` if it needs none or has it."""
    reason = policy.result_reason(review)
    if reason is None:
        return None
    digest = review.digest()
    if state.approvals.granted(review.task.id, digest):
        return None
    return ApprovalRequest(action="result", action_hash=digest, reason=reason, result=review.data())


def approved_result(approval: Approval) -> tuple[str, JSON, list[PendingWrite]]:
    """(agent, output, writes) of an approved ``result`` request, as recorded."""
    data: dict[str, JSON] = approval.result
    writes = [
        PendingWrite(
            key=w["key"],
            value=w["value"],
            sources=tuple(w["sources"]),
            confidence=w["confidence"],
        )
        for w in data["writes"]
    ]
    return str(data["agent"]), data["output"], writes


def denial(approval: Approval) -> ErrorInfo:
    """The error of a task whose approval was rejected or expired (never retried)."""
    what = approval.describe()
    if approval.rejected_because == "expired":
        when = _iso(approval.expires_at)
        return ErrorInfo(
            type="approval_expired",
            message=f"nobody approved {what} before it expired at {when} ({approval.reason})",
        )
    said = f": {approval.comment}" if approval.comment else ""
    return ErrorInfo(
        type="approval_rejected", message=f"{approval.by} rejected {what}{said} ({approval.reason})"
    )


# -- decisions ------------------------------------------------------------------------------


def _pick(state: RunState, task: str | None) -> Approval:
    if state.submitted is None:
        raise RunNotFound(f"no run {state.run_id!r} in this store")
    pending = state.approvals.pending()
    found = [a for a in pending if task is None or a.task == task]
    if not found:
        if state.finished:
            raise ConfigError(f"run {state.run_id!r} has {state.status}: it waits for no approval")
        which = f" for task {task!r}" if task is not None else ""
        others = f" (it waits on: {', '.join(a.task for a in pending)})" if pending else ""
        raise ConfigError(f"run {state.run_id!r} has no pending approval{which}{others}")
    if len(found) > 1:
        tasks = ", ".join(a.task for a in found)
        raise ConfigError(
            f"run {state.run_id!r} waits on {len(found)} approvals (tasks {tasks}): name the task"
        )
    return found[0]


async def record_decision(
    store: Store,
    run_id: str,
    task: str | None,
    *,
    granted: bool,
    by: str,
    comment: str | None,
    now: Callable[[], float] = time.time,
    fence: int | None = None,
) -> Approval:
    """Journal a person's decision on a parked run's pending approval; return it decided.

    `fence` is the token of the run's lease when the caller holds it (the orchestrator takes it
    so that the decision and the resume that acts on it are one driver's); without one, the
    store refuses the decision while someone drives the run.

    Raises:
        ConfigError: no such pending approval, or several and `task` does not say which.
        RunError: the run is not parked (it is being driven, or its process died first).
        ApprovalDenied: the request had expired; that is recorded instead (reason ``expired``).
    """
    if not by.strip():
        raise ConfigError("say who decides: `by` must not be empty")
    problem = unencodable(by, "by") or unencodable(comment, "comment")
    if problem is not None:
        raise ConfigError(f"decision {problem}")
    for _ in range(3):  # another decision may land between reading and appending
        state = RunState.from_events(run_id, await store.load(run_id))
        approval = _pick(state, task)
        if state.status != "waiting":
            raise RunError(
                f"run {run_id!r} is not waiting (status {state.status!r}): it is being driven, or"
                f" its process died before it parked; decide once it waits (`podium resume"
                f" {run_id}` parks it again)"
            )
        ts = now()
        expired = approval.expired(ts)
        fields: dict[str, JSON] = {
            "run_id": run_id,
            "seq": state.seq + 1,
            "ts": ts,
            "task": approval.task,
            "action_hash": approval.action_hash,
        }
        if expired:
            event: ApprovalGranted | ApprovalRejected = ApprovalRejected(
                **fields, by=SYSTEM, reason="expired"
            )
        elif granted:
            event = ApprovalGranted(**fields, by=by, comment=comment)
        else:
            event = ApprovalRejected(**fields, by=by, comment=comment)
        try:
            await store.append(run_id, [event], fence=fence)
        except JournalConflict as exc:
            if isinstance(exc, LeaseHeld | LeaseLost):
                raise
            continue
        state.apply(event)
        if expired:
            raise ApprovalDenied(denial(approval).message, kind="approval_expired")
        return approval
    raise RunError(f"run {run_id!r} kept changing while the decision was recorded; try again")


async def expire(store: Store, run_id: str, now: float) -> int:
    """Record every expired pending request of a parked run as rejected; how many there were.

    It takes the run's lease for that; a run someone is driving is left to its driver, which
    checks expiries itself.
    """
    try:
        lease = await store.acquire(run_id, new_owner())
    except LeaseHeld:
        return 0
    try:
        state = RunState.from_events(run_id, await store.load(run_id))
        if state.status != "waiting":
            return 0
        stale = [a for a in state.approvals.pending() if a.expired(now)]
        events = [
            ApprovalRejected(
                run_id=run_id,
                seq=state.seq + 1 + i,
                ts=now,
                task=a.task,
                action_hash=a.action_hash,
                by=SYSTEM,
                reason="expired",
            )
            for i, a in enumerate(stale)
        ]
        if events:
            await store.append(run_id, events, fence=lease.token)
        return len(events)
    finally:
        await store.release(lease)


async def pending_approvals(store: Store, *, now: float, limit: int) -> list[Approval]:
    """Pending approvals of parked runs, oldest first; expired ones are recorded and left out."""
    out: list[Approval] = []
    stale: set[str] = set()
    for ev in await store.pending_approvals(limit=limit):
        approval = Approval.from_request(ev)
        if approval.expired(now):
            stale.add(ev.run_id)
        else:
            out.append(approval)
    for run_id in sorted(stale):
        count = await expire(store, run_id, now)
        log.info("run %s: %d approval request(s) expired", run_id, count)
    return out


def _iso(ts: float | None) -> str:
    if ts is None:
        return "never"
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


__all__ = [
    "ToolApprovals",
    "approved_result",
    "attempt_request",
    "denial",
    "expire",
    "pending_approvals",
    "record_decision",
    "result_request",
    "task_request",
]
