"""The scheduler: drives one run from its current state to an end, a park or a stop.

The life of a run, as `RunDriver._loop` reads:

1. start the ready tasks the limits allow, most critical first, in rounds (`_start_ready`):
   journal a round's assignments and starts in one write, then hand each attempt's
   `AttemptInput` to the attempt chain (interceptors, then the executor), started eagerly — an
   attempt that finishes at once is recorded at once, and what it made ready starts next round;
2. re-plan a branch whose task failed for good, when the run may;
3. wait for the next attempt to finish (or a stop), and record it (`_record`): a result to
   review, an approval to ask, a success to commit (its context writes with it), or a failure
   and the supervisor's decision — a retry, a backup, or the end of the task;
4. when nothing runs and nothing is ready, journal how the run ended (`_verdict.verdict`).

What a settled task makes ready (or skipped, expanded, joined, re-planned) is `Progress`'s
business (`_progress.py`); this module starts and records attempts. One coroutine owns the
state; attempts report through an inbox. Every decision is journaled before it is acted on, so a
crash at any point leaves a journal that `RunState` rebuilds exactly.
"""

from __future__ import annotations

import asyncio
import functools
import heapq
import logging
import time
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from typing import Any

import msgspec

from podium.context import ContextPolicy
from podium.events import (
    ApprovalRejected,
    ApprovalRequested,
    ErrorInfo,
    TaskAssigned,
    TaskReady,
    TaskStarted,
)
from podium.exceptions import LeaseLost, TaskError
from podium.plan import Task
from podium.policy import ApprovalRequest, Policy
from podium.runtime import _approvals as approvals
from podium.runtime._assign import Assigner
from podium.runtime._attempt import AttemptInput, AttemptOutcome, attempt_input, bare_input
from podium.runtime._commit import commit_failure, commit_success
from podium.runtime._eager import Done, EagerStarter
from podium.runtime._errors import first_error
from podium.runtime._graph import Inbox
from podium.runtime._interceptors import AttemptCall, ExecuteAttempt
from podium.runtime._journal import Journal
from podium.runtime._lease import LeaseKeeper
from podium.runtime._limits import RunLimits
from podium.runtime._progress import Progress
from podium.runtime._replan import Replanner
from podium.runtime._state import RunState
from podium.runtime._task_state import WAITING
from podium.runtime._verdict import stopped, verdict

log = logging.getLogger(__name__)

JSON = Any

STOPS = ("cancelled", "failed", "interrupted", "lost")
"""How a run can be stopped: cancelled or failed (it ends so), interrupted (it stays resumable),
or lost (its lease went to another driver: nothing more may be journaled)."""


@dataclass(frozen=True, slots=True)
class _Stop:
    status: str  # one of STOPS
    reason: str
    message: str
    by: str = ""  # who cancelled


@dataclass(frozen=True, slots=True)
class _Finished:
    input: AttemptInput
    outcome: AttemptOutcome


class RunDriver:
    """Runs one run to completion (or to a stop) from a `RunState`.

    Args:
        state: the run, folded from its journal (its plan accepted).
        journal: the run's one journal writer.
        assigner: chooses agents, learns from outcomes.
        execute: the attempt chain (interceptors, then the executor).
        limits: the run's budget, guards and approval effects, per attempt.
        policy: which tasks and results wait for a person.
        context_policy: how writes to one context key combine.
        max_concurrency: attempts at once, in all.
        agent_limits: attempts at once, per agent.
        lease: keeps the run's lease; no attempt starts once it is not surely held.
        clock: event times and approval expiries.
        replanner: re-plans failed branches (none by default).
        max_replans: how many failed branches it may re-plan.
        max_tasks: the most tasks the plan may grow to.
        reuse_answers: take the answer of an identical task already answered (planned runs).
    """

    def __init__(
        self,
        state: RunState,
        *,
        journal: Journal,
        assigner: Assigner,
        execute: ExecuteAttempt,
        limits: RunLimits,
        policy: Policy,
        context_policy: ContextPolicy,
        max_concurrency: int,
        agent_limits: Mapping[str, int],
        lease: LeaseKeeper | None = None,
        clock: Callable[[], float] = time.time,
        replanner: Replanner | None = None,
        max_replans: int = 0,
        max_tasks: int | None = None,
        reuse_answers: bool = False,
    ) -> None:
        assert state.plan is not None
        self.state = state
        self.journal = journal
        self.emit = journal.emit
        self.flush = journal.flush
        self.assigner = assigner
        self.execute = execute
        self.limits = limits
        self.policy = policy
        self._reviews = policy.reviews_results
        self.context_policy = context_policy
        self.max_concurrency = max_concurrency
        self.agent_limits = agent_limits
        self.lease = lease
        self.clock = clock
        self.progress = progress = Progress(
            state,
            journal,
            on_limit=self._limit_reached,
            replanner=replanner,
            max_replans=max_replans,
            max_tasks=max_tasks,
            reuse_answers=reuse_answers,
        )
        self.graph = progress.graph
        self.answers = progress.answers
        self._running: dict[str, tuple[asyncio.Task[AttemptOutcome], AttemptInput]] = {}
        self._per_agent: dict[str, int] = {}
        self._done: Inbox[_Finished | _Stop] = Inbox()
        self._stop: _Stop | None = None
        self._stopped: list[str] = []
        """Tasks whose attempts a stop cancelled."""
        self._starter: EagerStarter  # set by `drive`, for its task group

    # -- starting attempts ------------------------------------------------------------------

    def _has_room(self, agent: str) -> bool:
        limit = self.agent_limits.get(agent)
        return limit is None or self._per_agent.get(agent, 0) < limit

    def _halted(self) -> bool:
        """Whether no attempt may start: the run is stopping, failed, or its lease is not surely
        ours any more (then the keeper has asked it to stop)."""
        lease = self.lease
        return (
            self._stop is not None
            or self.progress.fatal
            or (lease is not None and not lease.valid())
        )

    async def _start_ready(self) -> None:
        """Start ready tasks, most critical first, while limits allow, in rounds: journal the
        starts of a round in one write, then start their attempts (eagerly: an attempt that
        finishes at once is recorded at once, and what it made ready starts next round)."""
        while picked := self._pick():
            await self.flush()
            for task, agent in picked:
                if self._stop is not None:  # stopped meanwhile: journaled as started, not run
                    self._per_agent[agent] -= 1
                    self._stopped.append(task.id)
                else:
                    self._launch(task, agent)
        if self.progress.unannounced:
            self.progress.announce()  # what waits for room is ready

    def _pick(self) -> list[tuple[Task, str]]:
        """The tasks of the next round, their starts journaled (not yet written)."""
        progress = self.progress
        ready, queued = progress.ready, progress.queued
        picked: list[tuple[Task, str]] = []
        deferred: list[tuple[int, int, str]] = []
        room = self.max_concurrency - len(self._running)
        while ready and len(picked) < room and not self._halted():
            entry = heapq.heappop(ready)
            tid = entry[2]
            st = self.state.tasks[tid]
            task = st.task
            if self.answers is not None:
                reused = progress.reuse_answer(tid)
                if reused is None:  # an identical task in flight answers it: wait for that
                    deferred.append(entry)
                    continue
                if reused:
                    continue
            asks = task.approval is not None or task.risk is not None  # else never waits
            if asks and self._ask(tid, approvals.task_request(task, self.state, self.policy)):
                queued.discard(tid)  # it waits for a person now
                continue
            choice = self.assigner.assign(task, self._has_room)
            if choice is None:
                deferred.append(entry)
                continue
            if not isinstance(choice, tuple):  # no agent fits: it fails, or a person decides
                queued.discard(tid)
                if isinstance(choice, ErrorInfo):
                    self.progress.fail_now(tid, choice)
                else:
                    self._ask(tid, choice)
                continue
            queued.discard(tid)
            agent, reason, candidates = choice
            if st.agent is None and agent == task.agent:
                pass  # its own agent: `TaskStarted` says all there is to say
            elif st.agent != agent or st.attempts == 0:
                self.emit(TaskAssigned, task=tid, agent=agent, reason=reason, candidates=candidates)
            self.emit(TaskStarted, task=tid, agent=agent, attempt=st.attempts + 1)
            self._per_agent[agent] = self._per_agent.get(agent, 0) + 1
            if self.answers is not None:
                self.answers.asking(tid)
            picked.append((task, agent))
        progress.push_back(deferred)
        return picked

    def _launch(self, task: Task, agent: str) -> None:
        """Start the attempt a round journaled (eagerly: see `_eager.py`)."""
        st = self.state.tasks[task.id]
        try:
            input = attempt_input(self.state, task, agent, limits=self.limits.for_attempt(st))
        except TaskError as exc:  # its instruction cannot be rendered
            self._per_agent[agent] -= 1
            error = ErrorInfo(type=exc.kind, message=str(exc), retryable=exc.retryable)
            self._record(bare_input(self.state, task, agent), AttemptOutcome(error=error))
            return
        call = AttemptCall(input=input, state=self.state, emit=self.journal.emit_now)
        work: Coroutine[Any, Any, AttemptOutcome] = self.execute(call)  # type: ignore[assignment]
        started = self._starter.start(work, name=f"{task.id}#{input.attempt}")
        if isinstance(started, Done):
            self._per_agent[agent] -= 1
            self._record(input, started.value)
        else:
            self._running[task.id] = (started, input)
            started.add_done_callback(functools.partial(self._on_done, input=input))

    def _on_done(self, task: asyncio.Task[AttemptOutcome], input: AttemptInput) -> None:
        if not task.cancelled() and task.exception() is None:
            self._done.put_nowait(_Finished(input, task.result()))

    # -- recording attempts -----------------------------------------------------------------

    def _record(self, input: AttemptInput, outcome: AttemptOutcome) -> None:
        tid = input.task.id
        if self._running.pop(tid, None) is not None:
            self._per_agent[input.agent] -= 1
        for event in outcome.events:  # a remote attempt's events, in order
            fields = {k: v for k, v in msgspec.structs.asdict(event).items()}
            for key in ("run_id", "seq", "ts"):
                fields.pop(key)
            self.emit(type(event), **fields)
        if (outcome.approval is not None or self._reviews) and self._ask(
            tid, approvals.attempt_request(input, outcome, self.state, self.policy), input
        ):
            if self.answers is not None:  # it waits for a person: an identical task asks itself
                self.answers.answered(tid)
            return
        agent = outcome.final_agent or input.agent  # after a handoff, who finished
        if outcome.error is None:
            refused = commit_success(
                self.journal,
                self.graph,
                self.context_policy,
                input,
                outcome,
                agent=agent,
            )
            if refused is None:
                if self.answers is not None:
                    self.answers.answered(tid)
                self.progress.settled(tid)
                self.assigner.observe(input.task, input.agent)  # outcomes teach the router
                return
            outcome = refused
        self._record_failure(input, outcome)
        if self.answers is not None:
            self.answers.answered(tid)
        self.assigner.observe(input.task, input.agent)

    def _record_failure(self, input: AttemptInput, outcome: AttemptOutcome) -> None:
        decision = commit_failure(self.journal, input, outcome)
        if decision.stop is not None:  # a budget, loop, stall or breaker ends the whole run
            self._halt_soon(_Stop("failed", *decision.stop))
        if decision.final:
            self.progress.settled(input.task.id)
        else:
            self.progress.enqueue(input.task.id)

    # -- approvals (the rules are in _approvals.py) -----------------------------------------

    def _ask(
        self, tid: str, request: ApprovalRequest | None, input: AttemptInput | None = None
    ) -> bool:
        """Journal that task `tid` waits for `request` (when there is one); whether it does."""
        if request is None:
            return False
        self.emit(
            ApprovalRequested,
            task=tid,
            **msgspec.structs.asdict(request),
            agent=None if input is None else input.agent,
            attempt=0 if input is None else input.attempt,
            expires_at=self.policy.expiry(self.clock()),
        )
        return True

    def _resolve_waiting(self) -> None:
        """Act on the decisions about waiting tasks: run them again, commit, or fail them."""
        now = self.clock()
        for tid, st in list(self.state.tasks.items()):
            approval = self.state.approvals.latest(tid)
            if st.status != WAITING or approval is None:
                continue
            if approval.expired(now):
                self.emit(
                    ApprovalRejected,
                    task=tid,
                    action_hash=approval.action_hash,
                    by=approvals.SYSTEM,
                    reason="expired",
                )
            if approval.pending:
                continue
            if approval.status != "granted":
                self.progress.fail_now(tid, approvals.denial(approval))
            elif approval.action == "result":  # commit what was approved, as it was
                agent, output, writes = approvals.approved_result(approval)
                input = bare_input(self.state, st.task, agent, attempt=approval.attempt)
                self._record(input, AttemptOutcome(output=output, writes=writes))
            else:  # run it again: this time the same action goes through
                self.emit(TaskReady, task=tid)
                self.progress.enqueue(tid)

    # -- the loop ---------------------------------------------------------------------------

    def stop(self, status: str, reason: str, message: str = "", by: str = "") -> None:
        """Ask the run to stop at its next step: ``"cancelled"`` (by `by`) or ``"failed"`` end
        it, ``"interrupted"`` leaves it resumable, ``"lost"`` journals nothing more."""
        assert status in STOPS, status
        self._done.put_nowait(_Stop(status, reason, message, by))

    def _limit_reached(self, message: str) -> None:
        self._halt_soon(_Stop("failed", "limit", message))

    def _halt_soon(self, stop: _Stop) -> None:
        self._stop = self._stop or stop
        self._done.put_nowait(self._stop)  # wakes the loop to cancel what still runs

    async def drive(self) -> RunState:
        """Run until every task is settled or the run is stopped; journal how it ended.

        Raises:
            LeaseLost: another driver took the run over; nothing more was journaled.
            StoreError: the journal could not be written (the run is left to be resumed).
        """
        self._resume_in_flight()
        try:
            async with asyncio.TaskGroup() as tg:
                self._starter = EagerStarter(tg)
                try:
                    await self._loop()
                finally:
                    self._starter.close()
        except BaseExceptionGroup as group:  # the loop's own error, not the attempts'
            raise first_error(group) from None
        except asyncio.CancelledError:
            await self.flush()  # keep what was decided before the cancel
            raise
        stop = self._stop
        if stop is not None and stop.status == "lost":
            self.journal.discard()
            raise LeaseLost(f"run {self.state.run_id!r}: {stop.message}")
        return self.state

    def _resume_in_flight(self) -> None:
        # `RunResumed` is the drive's to journal: it knows who resumes (`Drive.by`)
        self.progress.resume()
        self._resolve_waiting()
        self.progress.consider_pending()

    async def _loop(self) -> None:
        while True:
            await self._start_ready()
            await self.flush()
            if self.progress.replans.wanted:
                await self.progress.replan(halted=self._halted())
                continue
            if not self._running:
                break
            item = await self._done.get()
            if isinstance(item, _Stop):
                await self._halt(item)
            else:
                self._record(item.input, item.outcome)
        while not self._done.empty():  # results and stops that raced the end
            item = self._done.get_nowait()
            if isinstance(item, _Stop):
                self._stop = self._stop or item
            else:
                self._record(item.input, item.outcome)
        self._finish()
        await self.flush()

    async def _halt(self, stop: _Stop) -> None:
        """Cancel every attempt in flight; attempts that finished first are still recorded."""
        self._stop = self._stop or stop
        running = list(self._running.items())
        for _, (task, _input) in running:
            task.cancel()
        if running:
            await asyncio.wait([task for _, (task, _input) in running])
        for tid, (task, input) in running:
            if task.cancelled() and tid in self._running:
                del self._running[tid]
                self._stopped.append(tid)
                self._per_agent[input.agent] -= 1

    def _finish(self) -> None:
        stop = self._stop
        if stop is None:
            kind, fields = verdict(self.state)
        elif stop.status == "lost":
            return  # nothing more may be journaled
        else:
            kind, fields = stopped(
                stop.status, stop.reason, stop.message, self._stopped, by=stop.by
            )
        self.emit(kind, **fields)


__all__ = ["STOPS", "RunDriver"]
