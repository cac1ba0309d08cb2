"""Committing an attempt's outcome: a success (its context writes, checked and merged, then the
success), or a failure and what follows it.

A write conflicts when the key's latest version came from a task that is neither this one nor
upstream of it and the key's merge policy is ``error``: then nothing of the attempt is committed
and it fails (``context_conflict``). Otherwise each write becomes a `ContextWritten` with its
merged value and version, and the attempt a `TaskSucceeded`, in one batch of the journal.

Before that, the keys the attempt read are compared with the board: one that another task wrote
meanwhile has drifted (`podium.context._drift`), and the key's `on_drift` policy says whether the
attempt commits anyway, runs again on the new version, or fails.
"""

from __future__ import annotations

from podium.context import Blackboard, ContextPolicy, MergePolicy, PendingWrite
from podium.context._drift import DRIFT_ERROR, drifted, worst
from podium.context._summarise import is_summary_key
from podium.events import (
    ContextDrifted,
    ContextWritten,
    ErrorInfo,
    TaskAssigned,
    TaskFailed,
    TaskRetrying,
    TaskSucceeded,
)
from podium.exceptions import TaskError
from podium.runtime._attempt import AttemptInput, AttemptOutcome
from podium.runtime._graph import Readiness
from podium.runtime._journal import Journal
from podium.runtime._supervise import FailureDecision as Decision


def commit_success(
    journal: Journal,
    graph: Readiness,
    policies: ContextPolicy,
    input: AttemptInput,
    outcome: AttemptOutcome,
    *,
    agent: str,
) -> AttemptOutcome | None:
    """Journal the context writes and the success of an attempt; the failed outcome to record
    instead if a key it read drifted or a write conflicts (then nothing more is journaled)."""
    tid = input.task.id
    board = journal.state.board
    refused = check_drift(journal, policies, input, outcome, agent=agent)
    if refused is not None:
        return refused
    writes = [w for w in outcome.writes if not _known_summary(board, w)]
    if writes:
        upstream = graph.ancestors(tid)
        try:  # check every key first: a conflicting attempt commits nothing
            for key in {w.key for w in writes}:
                board.check(key, task=tid, upstream=upstream, policy=_policy(policies, key))
        except TaskError as exc:
            error = ErrorInfo(type=exc.kind, message=str(exc), retryable=exc.retryable)
            return AttemptOutcome(error=error, usage=outcome.usage)
        for w in writes:
            value, version = board.merge(w.key, w.value, policy=_policy(policies, w.key))
            journal.emit(
                ContextWritten,
                task=tid,
                key=w.key,
                value=value,
                version=version,
                agent=w.agent or agent,
                sources=list(w.sources),
                confidence=w.confidence,
            )
    journal.emit(
        TaskSucceeded,
        task=tid,
        agent=agent,
        attempt=input.attempt,
        output=outcome.output,
        usage=outcome.usage,
        read_versions=input.read_versions or {},
    )
    return None


_SUMMARIES = MergePolicy("last")


def _policy(policies: ContextPolicy, key: str) -> MergePolicy:
    """A summary is derived data: any task may store one, the latest is as good as any."""
    return _SUMMARIES if is_summary_key(key) else policies.for_key(key)


def _known_summary(board: Blackboard, write: PendingWrite) -> bool:
    """`write` is a summary of a version some other task summarised meanwhile."""
    if not is_summary_key(write.key):
        return False
    return any(e.sources == write.sources for e in board.history(write.key))


def check_drift(
    journal: Journal,
    policies: ContextPolicy,
    input: AttemptInput,
    outcome: AttemptOutcome,
    *,
    agent: str,
) -> AttemptOutcome | None:
    """Journal the keys the attempt read that changed since (`ContextDrifted`); the failed
    outcome to record if their policy refuses the attempt (see `podium.context._drift`)."""
    if not input.read_versions:
        return None
    task = input.task
    drifts = drifted(journal.state.board, input.read_versions, task=task.id)
    if not drifts:
        return None
    action = worst([policies.for_key(d.key).on_drift or task.on_drift or "retry" for d in drifts])
    previous = input.previous_error
    if action == "retry" and previous is not None and previous.type == DRIFT_ERROR:
        action = "accept"  # once: a key that keeps changing under the task is not chased
    for d in drifts:
        journal.emit(
            ContextDrifted,
            task=task.id,
            agent=agent,
            attempt=input.attempt,
            key=d.key,
            read_version=d.read_version,
            version=d.version,
            by_task=d.by_task,
            action=action,
        )
    if action == "accept":
        return None
    changed = ", ".join(
        f"{d.key!r} (v{d.read_version} → v{d.version} by {d.by_task!r})" for d in drifts
    )
    message = f"task {task.id!r}: context it read changed before it finished: {changed}; " + (
        "running it again on the new version"
        if action == "retry"
        else "set `on_drift: accept` on the key or the task to keep such results"
    )
    error = ErrorInfo(type=DRIFT_ERROR, message=message, retryable=action == "retry")
    decision = Decision(final=action != "retry", reason=message)
    return AttemptOutcome(error=error, usage=outcome.usage, decision=decision)


def commit_failure(journal: Journal, input: AttemptInput, outcome: AttemptOutcome) -> Decision:
    """Journal a failed attempt and what follows it: the end of the task, or a retry (on a
    backup agent, if the decision names one). The decision is the retry interceptor's
    (`AttemptOutcome.decision`); without one, a failure is final."""
    tid = input.task.id
    error = outcome.error
    assert error is not None
    decision = outcome.decision
    if not isinstance(decision, Decision):
        decision = Decision(final=True)
    journal.emit(
        TaskFailed,
        task=tid,
        agent=input.agent,
        attempt=input.attempt,
        error=error,
        final=decision.final,
        usage=outcome.usage,
    )
    if decision.final:
        return decision
    if decision.backup is not None:
        journal.emit(TaskAssigned, task=tid, agent=decision.backup, reason=decision.reason)
    journal.emit(
        TaskRetrying,
        task=tid,
        attempt=input.attempt + 1,
        delay_s=decision.delay_s,
        reason=decision.reason or error.message,
    )
    return decision


__all__ = ["check_drift", "commit_failure", "commit_success"]
