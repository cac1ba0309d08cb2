"""How a run ends, decided from its state once nothing more can run.

A pure function of the fold: the scheduler journals what `verdict` says. The run's output is not
part of it: the fold renders it from the task outputs the journal already holds.
"""

from __future__ import annotations

from typing import Any

from podium.events import (
    ErrorInfo,
    Event,
    RunCancelled,
    RunFailed,
    RunInterrupted,
    RunPartiallySucceeded,
    RunSucceeded,
    RunWaiting,
)
from podium.runtime._state import RunState
from podium.runtime._task_state import FAILED, SKIPPED, SUCCEEDED, TERMINAL, WAITING

JSON = Any


def required_failures(state: RunState) -> list[str]:
    """Top-level required tasks that failed or were skipped."""
    return [
        tid
        for tid, st in state.tasks.items()
        if st.status in (FAILED, SKIPPED) and not st.task.optional and st.task.parent is None
    ]


def verdict(state: RunState) -> tuple[type[Event], dict[str, JSON]]:
    """The event that ends (or parks) a run with nothing left to start, and its fields."""
    failed = required_failures(state)
    if failed:
        first = state.tasks[failed[0]].error
        message = f"task {failed[0]!r} failed: {first.message if first else 'unknown'}"
        return RunFailed, {"reason": "error", "message": message, "failed_tasks": failed}
    waiting = [tid for tid, st in state.tasks.items() if st.status == WAITING]
    if waiting:  # park: the journal holds everything needed to continue
        return RunWaiting, {"tasks": waiting, "message": waiting_message(state)}
    unsettled = [tid for tid, st in state.tasks.items() if st.status not in TERMINAL]
    if unsettled:
        message = "tasks can never become ready: " + ", ".join(unsettled)
        return RunFailed, {"reason": "stall", "message": message}
    missing = [
        tid for tid, st in state.tasks.items() if st.status != SUCCEEDED and st.task.parent is None
    ]
    if missing:
        errors, reason = describe_missing(state, missing)
        return RunPartiallySucceeded, {"missing": missing, "reason": reason, "errors": errors}
    return RunSucceeded, {}


def describe_missing(state: RunState, missing: list[str]) -> tuple[dict[str, ErrorInfo], str]:
    """The errors of the tasks a partially succeeded run did without, and a sentence naming them.

    A mapped task that failed brings the errors of its failed items along (as ``id[i]``).
    """
    errors: dict[str, ErrorInfo] = {}
    parts = []
    for tid in missing:
        st = state.tasks[tid]
        error = st.error or ErrorInfo(type=st.status, message=f"the task ended {st.status}")
        errors[tid] = error
        parts.append(f"{tid} ({error.type}: {error.message})")
        for child_id in state.children.get(tid, ()):
            child = state.tasks[child_id]
            if child.status != SUCCEEDED and child.error is not None:
                errors[child_id] = child.error
    return errors, "optional tasks did not succeed: " + "; ".join(parts)


def waiting_message(state: RunState) -> str:
    """What a parked run waits for, in a sentence."""
    pending = state.approvals.pending()
    parts = [f"{a.describe()} ({a.reason})" for a in pending]
    return "waiting for approval: " + "; ".join(parts) if parts else "waiting for approval"


def stopped(
    status: str, reason: str, message: str, tasks: list[str], *, by: str = ""
) -> tuple[type[Event], dict[str, JSON]]:
    """How a stopped run ends: cancelled (by `by`) or failed, or interrupted (resumable;
    `tasks` are those whose attempts the stop cut short)."""
    if status == "cancelled":
        return RunCancelled, {"reason": reason, "by": by}
    if status == "interrupted":
        return RunInterrupted, {"reason": reason, "tasks": tasks}
    return RunFailed, {"reason": reason, "message": message}


__all__ = ["describe_missing", "required_failures", "stopped", "verdict", "waiting_message"]
