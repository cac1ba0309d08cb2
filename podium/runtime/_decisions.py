"""What people decide about runs: approvals, rejections, cancellations, feedback.

The `Orchestrator` methods of the same names call these. A decision is journaled under the
run's lease, so it never races a driver for the journal: an approval is recorded and acted on
under one lease (no other process can resume the run in between); a cancellation of a run that
another process drives is left for that process (`Store.request_cancel`), which stops within a
third of its lease term.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

from podium.events import RunCancelled, RunFeedback, unencodable
from podium.exceptions import ConfigError, LeaseHeld
from podium.plan import Workflow
from podium.runtime._approvals import record_decision
from podium.runtime._compensate import undo_ended
from podium.runtime._journal import Journal
from podium.runtime._lease import cancel_request
from podium.runtime._result import RunResult
from podium.runtime._state import RunState

if TYPE_CHECKING:
    from podium.runtime._orchestrator import Orchestrator


async def decide(
    orch: Orchestrator,
    run_id: str,
    task: str | None,
    *,
    granted: bool,
    by: str,
    comment: str | None,
    workflow: Workflow | None,
    resume: bool,
) -> RunResult:
    """Record a decision on what a parked run waits for, then (with `resume`) resume it."""
    await orch.open()
    lease = await orch.leases.acquire(run_id)
    handed = False
    try:
        if workflow is not None and resume:  # refuse a foreign workflow before deciding
            state = RunState.from_events(run_id, await orch.store.load(run_id))
            orch.binding.check(state, workflow, orch.agents_for(workflow), upgrade=False)
        await record_decision(
            orch.store,
            run_id,
            task,
            granted=granted,
            by=by,
            comment=comment,
            now=orch.clock,
            fence=lease.token,
        )
        if not resume:
            return await orch.result(run_id)
        handed = True  # the decision and the resume under one lease: no one acts between
        return await orch.resume_leased(lease, workflow=workflow, by=by)
    finally:
        if not handed:
            await orch.leases.release(lease)


async def cancel_run(orch: Orchestrator, run_id: str, reason: str, *, by: str) -> RunResult:
    """Cancel any unfinished run of the store, for good (see `Orchestrator.cancel_run`)."""
    await orch.open()
    why = f"{reason} (by {by})" if by else reason  # the reason a person reads says who, too
    if orch.cancel(run_id, why, by=by):
        return await _wait_finished(orch, run_id)
    try:
        lease = await orch.leases.acquire(run_id)
    except LeaseHeld:
        await orch.store.request_cancel(run_id, cancel_request(why, by))
        return await _wait_finished(orch, run_id)
    try:
        state = RunState.from_events(run_id, await orch.store.load(run_id))
        if not state.finished:
            journal = Journal(state, orch.store, clock=orch.clock, lease=lease)
            await journal.emit_now(RunCancelled, reason=why, by=by)
    finally:
        await orch.leases.release(lease)
    state = await undo_ended(orch, state)  # undo what the cancelled run did
    return RunResult.from_state(state, now=orch.clock())


MIN_SCORE, MAX_SCORE = 1, 5


async def record_feedback(
    orch: Orchestrator, run_id: str, score: int, *, by: str, comment: str = ""
) -> RunFeedback:
    """Journal a person's rating of a run (`RunFeedback`), under the run's lease.

    Raises:
        ConfigError: the score is not a whole number from 1 to 5, or `by` is empty.
        LeaseHeld: another process drives the run now (rate it once it ends or waits).
        RunNotFound: no such run.
    """
    if type(score) is not int or not MIN_SCORE <= score <= MAX_SCORE:
        raise ConfigError(
            f"a score is a whole number from {MIN_SCORE} to {MAX_SCORE}, not {score!r}"
        )
    if not by.strip():
        raise ConfigError("say who gives the feedback: `by` must not be empty")
    problem = unencodable(by, "by") or unencodable(comment, "comment")
    if problem is not None:
        raise ConfigError(f"feedback {problem}")
    await orch.open()
    lease = await orch.leases.acquire(run_id)
    try:
        state = RunState.from_events(run_id, await orch.store.load(run_id))
        journal = Journal(state, orch.store, clock=orch.clock, lease=lease)
        event = journal.emit(RunFeedback, score=score, comment=comment, by=by)
        await journal.flush()
        return event
    finally:
        await orch.leases.release(lease)


async def _wait_finished(orch: Orchestrator, run_id: str) -> RunResult:
    """The run's result once it has stopped (or as it stands after the lease term)."""
    deadline = time.monotonic() + orch.limits.lease_s
    while True:
        result = await orch.result(run_id)
        if result.status != "running" or time.monotonic() > deadline:
            return result
        await asyncio.sleep(0.2)


__all__ = ["cancel_run", "decide", "record_feedback"]
