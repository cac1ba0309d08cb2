"""Committing an attempt's outcome: a success (its context writes, checked and merged, then the
success), or a failure and what follows it.

A write conflicts when the key's latest version came from a task that is neither this one nor
upstream of it and the key's merge policy is ``error``: then nothing of the attempt is committed
and it fails (``context_conflict``). Otherwise each write becomes a `ContextWritten` with its
merged value and version, and the attempt a `TaskSucceeded`, in one batch of the journal.
"""

from __future__ import annotations

from podium.context import ContextPolicy
from podium.events import (
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
) -> ErrorInfo | None:
    """Journal the context writes and the success of an attempt; an error if a write conflicts
    (then nothing is journaled)."""
    tid = input.task.id
    board = journal.state.board
    writes = outcome.writes
    if writes:
        upstream = graph.ancestors(tid)
        try:  # check every key first: a conflicting attempt commits nothing
            for key in {w.key for w in writes}:
                board.check(key, task=tid, upstream=upstream, policy=policies.for_key(key))
        except TaskError as exc:
            return ErrorInfo(type=exc.kind, message=str(exc), retryable=exc.retryable)
        for w in writes:
            value, version = board.merge(w.key, w.value, policy=policies.for_key(w.key))
            journal.emit(
                ContextWritten,
                task=tid,
                key=w.key,
                value=value,
                version=version,
                agent=agent,
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
    )
    return None


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


__all__ = ["commit_failure", "commit_success"]
