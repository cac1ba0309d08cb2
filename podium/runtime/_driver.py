"""The scheduler: drives one run from its current state to an end.

One coroutine owns the run's state. Task attempts run concurrently in a run-scoped task group and
report back through a queue; the driver journals every decision before acting on it, so a crash at
any point leaves a journal from which `RunState` rebuilds exactly what was committed.

No superstep barrier: each completion immediately readies and starts whatever it unblocks, while
slower siblings keep running. Among ready tasks, the one with the longest remaining critical path
starts first.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import msgspec

from podium.events import (
    ApprovalRejected,
    ApprovalRequested,
    ContextWritten,
    ErrorInfo,
    Event,
    PlanExtended,
    PlanRevised,
    RunCancelled,
    RunFailed,
    RunInterrupted,
    RunPartiallySucceeded,
    RunResumed,
    RunSucceeded,
    RunWaiting,
    TaskAssigned,
    TaskFailed,
    TaskReady,
    TaskRetrying,
    TaskSkipped,
    TaskStarted,
    TaskSucceeded,
)
from podium.exceptions import LeaseLost, PodiumError, TaskError
from podium.plan import Plan, Task, TemplateError
from podium.policy import ApprovalRequest
from podium.runtime import _approvals as approvals
from podium.runtime._eager import Done, start_eagerly
from podium.runtime._execute import Attempt, AttemptResult, TaskRunner
from podium.runtime._graph import Inbox, critical_paths
from podium.runtime._journal import Journal, LeaseKeeper
from podium.runtime._output import map_items
from podium.runtime._replan import Replanner, Replans
from podium.runtime._reuse import AnswerCache
from podium.runtime._state import (
    FAILED,
    PENDING,
    READY,
    RUNNING,
    SKIPPED,
    SUCCEEDED,
    WAITING,
    RunState,
)
from podium.runtime._supervise import Supervisor, describe_missing

log = logging.getLogger(__name__)

JSON = Any
E = TypeVar("E", bound=Event)
T = TypeVar("T")

STOPS = ("cancelled", "failed", "interrupted", "lost")
"""How a run can be stopped: cancelled or failed (it ends so), interrupted (it stays resumable),
or lost (its lease went to another driver: nothing more may be journaled)."""


@dataclass(frozen=True, slots=True)
class _Stop:
    status: str  # one of STOPS
    reason: str
    message: str


class RunDriver:
    """Runs one run to completion (or to a stop) from a `RunState`."""

    def __init__(
        self,
        state: RunState,
        *,
        journal: Journal,
        runner: TaskRunner,
        max_concurrency: int,
        agent_limits: Mapping[str, int],
        lease: LeaseKeeper | None = None,
        clock: Callable[[], float] = time.time,
        supervisor: Supervisor | None = None,
        replanner: Replanner | None = None,
        max_replans: int = 0,
        max_tasks: int | None = None,
        reuse_answers: bool = False,
    ) -> None:
        assert state.plan is not None
        self.state = state
        self.replans = Replans(replanner, max_replans)
        self.max_tasks = max_tasks
        self.answers = AnswerCache(state) if reuse_answers else None
        self.supervisor = supervisor or Supervisor(runner.agents)
        self.plan: Plan = state.plan
        self.journal = journal
        self.emit = journal.emit
        self.flush = journal.flush
        self.emit_now = journal.emit_now
        self.lease = lease
        self.runner = runner
        self.max_concurrency = max_concurrency
        self.agent_limits = agent_limits
        self.clock = clock
        self._ready: list[tuple[int, int, str]] = []
        self._order = itertools.count()
        self._queued: set[str] = set()
        self._running: dict[str, asyncio.Task[None]] = {}
        self._per_agent: dict[str, int] = {}
        self._done: Inbox[AttemptResult | _Stop] = Inbox()
        self._stop: _Stop | None = None
        self._stopped: list[str] = []
        """Tasks whose attempts a stop cancelled."""
        self._fatal = False
        self._dependants: dict[str, list[str]] = {}
        self._priority: dict[str, int] = {}
        self._reindex()

    # -- graph ------------------------------------------------------------------------------

    def _reindex(self) -> None:
        # counts of unsettled needs and of unsettled map sub-tasks; recounted after changes
        self._waiting: dict[str, int] = {}
        self._unjoined: dict[str, int] = {}
        self._dependants = {tid: [] for tid in self.plan.tasks}
        self._children_of: dict[str, list[str]] = {}
        for t in self.plan:
            for dep in t.needs:
                self._dependants[dep].append(t.id)
            if t.parent is not None:
                self._dependants[t.id].append(t.parent)
                self._children_of.setdefault(t.parent, []).append(t.id)
        for ids in self._children_of.values():
            ids.sort(key=lambda c: self.plan.tasks[c].index or 0)
        for replaced, new in self.state.revised.items():  # a re-planned task waits on its branch
            self._dependants[new].append(replaced)
        self._priority = critical_paths(self.plan)
        for t in self.plan:
            if t.parent is not None:
                self._priority[t.id] = self._priority.get(t.parent, 1)

    def _ancestors(self, tid: str) -> set[str]:
        """Every task `tid` transitively needs."""
        seen: set[str] = set()
        stack = list(self.plan.tasks[tid].needs)
        while stack:
            dep = stack.pop()
            if dep not in seen:
                seen.add(dep)
                stack.extend(self.plan.tasks[dep].needs)
        return seen

    def _blocking(self, task: Task) -> tuple[bool, str | None]:
        """(all needs are settled, the required need that failed, if any).

        A count of unsettled needs per task (kept by `_settled`) answers "not yet" without
        rescanning every need, so a join over n branches costs O(n), not O(n²).
        """
        if self._waiting.get(task.id, 0) > 0:
            return False, None
        unsettled = 0
        for dep in task.needs:
            st = self.state.tasks[dep]
            if st.status == SUCCEEDED:
                continue
            if st.status in (FAILED, SKIPPED) and dep not in self.replans.wanted:
                if not st.task.optional:
                    return True, dep
                continue
            unsettled += 1  # still to run, or failed and about to be re-planned
        self._waiting[task.id] = unsettled
        return unsettled == 0, None

    def _consider(self, tid: str) -> None:
        """Mark a pending task ready, skipped or (for a map parent) expanded, as its needs allow."""
        st = self.state.tasks[tid]
        if st.status != PENDING or tid in self._queued:
            return
        task = st.task
        if tid in self.state.revised:
            self._join_revision(tid)
            return
        if task.map is not None and task.parent is None and tid in self.state.expanded:
            self._maybe_join(tid)
            return
        settled, failed_dep = self._blocking(task)
        if failed_dep is not None:
            self.emit(TaskSkipped, task=tid, reason=f"needs {failed_dep!r}, which did not succeed")
            self._settled(tid)
            return
        if not settled:
            return
        if task.map is not None and task.parent is None:
            self._expand(task)
            return
        self.emit(TaskReady, task=tid)
        self._enqueue(tid)

    def _enqueue(self, tid: str) -> None:
        self._queued.add(tid)
        heapq.heappush(self._ready, (-self._priority.get(tid, 1), next(self._order), tid))

    def _settled(self, tid: str) -> None:
        """A task reached an end: reconsider everything that waits on it."""
        st = self.state.tasks[tid]
        if st.status == FAILED and self.replans.request(self.state, tid):
            return  # `_loop` re-plans its branch; what waits on it keeps waiting
        failed_required = st.status != SUCCEEDED and not st.task.optional
        if failed_required and st.task.parent is None:
            self._fatal = True
        if st.task.parent in self._unjoined:
            self._unjoined[st.task.parent] -= 1
        waiting = self._waiting
        for dependant in self._dependants.get(tid, ()):
            if failed_required:
                waiting.pop(dependant, None)  # look again now: it is to be skipped
            elif dependant in waiting:
                waiting[dependant] -= 1
            self._consider(dependant)

    # -- map --------------------------------------------------------------------------------

    def _expand(self, task: Task) -> None:
        assert task.map is not None
        try:
            items = map_items(self.state, task)
        except TemplateError as exc:
            self._fail_now(task.id, ErrorInfo(type="map_error", message=str(exc)))
            return
        if not isinstance(items, list):
            self._fail_now(
                task.id,
                ErrorInfo(
                    type="map_error",
                    message=f"`map: {task.map}` gave {type(items).__name__}, not a list",
                ),
            )
            return
        # a sub-task is its parent for one item: no `map`, and no `budget` of its own (the
        # parent's budget covers the whole fan-out)
        children = [
            msgspec.structs.replace(
                task,
                id=f"{task.id}[{i}]",
                map=None,
                budget=None,
                item=item,
                parent=task.id,
                index=i,
            )
            for i, item in enumerate(items)
        ]
        if self._over_limit(len(children), f"mapping {task.id!r} over {len(children)} items"):
            return
        # the items are the upstream output the journal holds already: not written again, and
        # folded from the sub-tasks as built
        data = [msgspec.to_builtins(msgspec.structs.replace(c, item=None)) for c in children]
        self.journal.record(
            PlanExtended,
            lambda: self.state.extend(task.id, children),
            parent=task.id,
            tasks=data,
            derived_items=True,
        )
        self._reindex()
        for child in children:
            self._consider(child.id)
        self._maybe_join(task.id)

    def _maybe_join(self, parent: str) -> None:
        """Join a map parent once every sub-task has settled.

        Like `_blocking`, a count of unsettled sub-tasks (kept by `_settled`) answers "not yet"
        without rescanning them, so an n-item map joins in O(n), not O(n²).
        """
        if self._unjoined.get(parent, 0) > 0:
            return
        children = self._children_of.get(parent, [])
        states = [self.state.tasks[c] for c in children]
        unsettled = sum(s.status not in (SUCCEEDED, FAILED, SKIPPED) for s in states)
        if unsettled:
            self._unjoined[parent] = unsettled
            return
        bad = [c for c, s in zip(children, states, strict=True) if s.status != SUCCEEDED]
        if bad:
            self._fail_now(
                parent,
                ErrorInfo(type="map_item_failed", message=f"mapped items failed: {', '.join(bad)}"),
            )
            return
        self.emit(TaskSucceeded, task=parent)  # the fold joins the items' outputs, stored once
        self._settled(parent)

    def _fail_now(self, tid: str, error: ErrorInfo) -> None:
        self.emit(TaskFailed, task=tid, attempt=self.state.tasks[tid].attempts, error=error)
        self._settled(tid)

    def _over_limit(self, new: int, what: str) -> bool:
        """Whether `new` more tasks would pass `max_tasks`; if so the run stops with ``limit``."""
        total = len(self.state.tasks) + new
        if self.max_tasks is None or total <= self.max_tasks:
            return False
        message = f"{what} would make {total} tasks, more than Limits.max_tasks={self.max_tasks}"
        self._stop = self._stop or _Stop("failed", "limit", message)
        self._done.put_nowait(self._stop)  # wakes the loop to cancel what still runs
        return True

    # -- re-planning and reuse (the rules are in _replan.py and _reuse.py) -------------------

    async def _replan(self) -> None:
        """Replace the branch of a task that failed for good, or let its failure stand."""
        tid = self.replans.wanted.pop(0)
        replanner = self.replans.replanner
        tasks = None
        if replanner is not None and not self._halted():
            tasks = await replanner.replan(tid, self.state, self.emit_now)
        if tasks is None or self._over_limit(len(tasks), f"re-planning {tid!r}"):
            self.replans.declined.add(tid)
            self._settled(tid)
            return
        data = [msgspec.to_builtins(t) for t in tasks]
        self.emit(PlanRevised, replaced=[tid], tasks=data, output_task=tasks[-1].id)
        self._reindex()
        for t in tasks:
            self._consider(t.id)

    def _join_revision(self, tid: str) -> None:
        """A re-planned task ends as the task that replaces it does."""
        new = self.state.tasks[self.state.revised[tid]]
        if new.status == SUCCEEDED:
            self.emit(TaskSucceeded, task=tid, reused_from=new.task.id)
            self._settled(tid)
        elif new.status in (FAILED, SKIPPED):
            why = new.error.message if new.error is not None else new.status
            message = f"its replacement {new.task.id!r} did not succeed: {why}"
            self._fail_now(tid, ErrorInfo(type="replan_failed", message=message))

    def _reuse_answer(self, tid: str) -> bool:
        """Whether an identical task already answered `tid` (then its output is taken)."""
        source = None if self.answers is None else self.answers.find(self.state.tasks[tid].task)
        if source is None:
            return False
        self._queued.discard(tid)
        self.emit(TaskSucceeded, task=tid, reused_from=source)
        self._settled(tid)
        return True

    # -- starting and finishing attempts ----------------------------------------------------

    def _has_room(self, agent: str) -> bool:
        limit = self.agent_limits.get(agent)
        return limit is None or self._per_agent.get(agent, 0) < limit

    async def _start_ready(self, tg: asyncio.TaskGroup) -> None:
        """Start ready tasks, most critical first, while limits allow.

        Each start is journaled before the attempt begins, and an attempt that finishes during
        its eager first step is recorded at once, so a chain of quick tasks runs without waiting
        on the event loop.
        """
        deferred: list[tuple[int, int, str]] = []
        while self._ready and len(self._running) < self.max_concurrency and not self._halted():
            entry = heapq.heappop(self._ready)
            tid = entry[2]
            st = self.state.tasks[tid]
            if self._reuse_answer(tid):
                continue
            if self._ask(tid, approvals.task_request(st.task, self.state, self.runner)):
                self._queued.discard(tid)  # it waits for a person now
                continue
            choice = self.runner.assign(st.task, self._has_room)
            if choice is None:
                deferred.append(entry)
                continue
            self._queued.discard(tid)
            agent, reason, candidates = choice
            attempt = st.attempts + 1
            if st.agent != agent or st.attempts == 0:
                self.emit(TaskAssigned, task=tid, agent=agent, reason=reason, candidates=candidates)
            self.emit(TaskStarted, task=tid, agent=agent, attempt=attempt)
            await self.flush()
            self._per_agent[agent] = self._per_agent.get(agent, 0) + 1
            attempt_input = Attempt(
                task=st.task,
                agent=agent,
                attempt=attempt,
                failures=st.failures,
                previous_error=st.error,
            )
            started = start_eagerly(tg, self.runner.run(attempt_input, self.state, self.emit_now))
            if isinstance(started, Done):
                self._per_agent[agent] -= 1
                self._record(started.value)
            else:
                self._running[tid] = started
                started.add_done_callback(self._on_done)
        for entry in deferred:
            heapq.heappush(self._ready, entry)

    def _halted(self) -> bool:
        """Whether no attempt may start: the run is stopping, failed, or its lease is not surely
        ours any more (then the keeper has asked it to stop)."""
        lease = self.lease
        return self._stop is not None or self._fatal or (lease is not None and not lease.valid())

    def _on_done(self, task: asyncio.Task[AttemptResult]) -> None:
        if not task.cancelled() and task.exception() is None:
            self._done.put_nowait(task.result())

    def _record(self, result: AttemptResult) -> None:
        tid = result.attempt.task.id
        if self._running.pop(tid, None) is not None:
            self._per_agent[result.attempt.agent] -= 1
        request = approvals.attempt_request(result, self.state, self.runner.policy)
        if self._ask(tid, request, result):
            return
        if result.error is None:
            error = self._commit_success(result)
            if error is None:
                self.runner.observe(result.attempt, self.state)  # outcomes teach the router
                return
            result = AttemptResult(result.attempt, error=error, usage=result.usage)
        self._record_failure(result)
        self.runner.observe(result.attempt, self.state)

    def _record_failure(self, result: AttemptResult) -> None:
        tid = result.attempt.task.id
        st = self.state.tasks[tid]
        error = result.error
        assert error is not None
        decision = self.supervisor.on_failure(st, result.attempt.agent, error)
        self.emit(
            TaskFailed,
            task=tid,
            agent=result.attempt.agent,
            attempt=result.attempt.attempt,
            error=error,
            final=decision.final,
            usage=result.usage,
        )
        if decision.stop is not None:  # a budget, loop, stall or breaker ends the whole run
            self._stop = self._stop or _Stop("failed", *decision.stop)
            self._done.put_nowait(self._stop)  # wakes the loop to cancel what still runs
        if decision.final:
            self._settled(tid)
            return
        if decision.backup is not None:
            self.emit(TaskAssigned, task=tid, agent=decision.backup, reason=decision.reason)
        self.emit(
            TaskRetrying,
            task=tid,
            attempt=result.attempt.attempt + 1,
            delay_s=decision.delay_s,
            reason=decision.reason or error.message,
        )
        self._enqueue(tid)

    def _commit_success(self, result: AttemptResult) -> ErrorInfo | None:
        """Journal the context writes and the success; an error if a write conflicts."""
        tid = result.attempt.task.id
        agent = result.final_agent or result.attempt.agent  # after a handoff, who finished
        if result.writes:
            upstream = self._ancestors(tid)
            policies = self.runner.context_policy
            try:  # check every key first: a conflicting attempt commits nothing
                for key in {w.key for w in result.writes}:
                    self.state.board.check(
                        key, task=tid, upstream=upstream, policy=policies.for_key(key)
                    )
            except TaskError as exc:
                return ErrorInfo(type=exc.kind, message=str(exc), retryable=exc.retryable)
            for w in result.writes:
                value, version = self.state.board.merge(
                    w.key, w.value, policy=policies.for_key(w.key)
                )
                self.emit(
                    ContextWritten,
                    task=tid,
                    key=w.key,
                    value=value,
                    version=version,
                    agent=agent,
                    sources=list(w.sources),
                    confidence=w.confidence,
                )
        self.emit(
            TaskSucceeded,
            task=tid,
            agent=agent,
            attempt=result.attempt.attempt,
            output=result.output,
            usage=result.usage,
        )
        if self.answers is not None:
            self.answers.remember(tid)
        self._settled(tid)
        return None

    # -- approvals (the rules are in _approvals.py) -----------------------------------------

    def _ask(
        self, tid: str, request: ApprovalRequest | None, result: AttemptResult | None = None
    ) -> bool:
        """Journal that task `tid` waits for `request` (when there is one); whether it does."""
        if request is None:
            return False
        self.emit(
            ApprovalRequested,
            task=tid,
            **msgspec.structs.asdict(request),
            agent=None if result is None else result.attempt.agent,
            attempt=0 if result is None else result.attempt.attempt,
            expires_at=self.runner.policy.expiry(self.clock()),
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
                self._fail_now(tid, approvals.denial(approval))
            elif approval.action == "result":  # commit what was approved, as it was
                agent, output, writes = approvals.approved_result(approval)
                attempt = Attempt(task=st.task, agent=agent, attempt=approval.attempt)
                self._record(AttemptResult(attempt, output=output, writes=writes))
            else:  # run it again: this time the same action goes through
                self.emit(TaskReady, task=tid)
                self._enqueue(tid)

    # -- the loop ---------------------------------------------------------------------------

    def stop(self, status: str, reason: str, message: str = "") -> None:
        """Ask the run to stop at its next step: ``"cancelled"`` or ``"failed"`` end it,
        ``"interrupted"`` leaves it resumable, ``"lost"`` journals nothing more."""
        assert status in STOPS, status
        self._done.put_nowait(_Stop(status, reason, message))

    def _required_failure(self) -> list[str]:
        return [
            tid
            for tid, st in self.state.tasks.items()
            if st.status in (FAILED, SKIPPED) and not st.task.optional and st.task.parent is None
        ]

    async def drive(self) -> RunState:
        """Run until every task is settled or the run is stopped; journal how it ended.

        Raises:
            LeaseLost: another driver took the run over; nothing more was journaled.
            StoreError: the journal could not be written (the run is left to be resumed).
        """
        self._resume_in_flight()
        try:
            async with asyncio.TaskGroup() as tg:
                await self._loop(tg)
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
        if self.state.status in ("waiting", "interrupted"):
            self.emit(RunResumed)
        self.replans.on_resume(self.state, self._dependants)
        self._fatal = any(t not in self.replans.wanted for t in self._required_failure())
        for tid, st in self.state.tasks.items():
            if st.status in (RUNNING, READY):
                self._enqueue(tid)  # in flight at a crash (or ready): run it again
        self._resolve_waiting()
        for tid in list(self.state.tasks):  # considering may add map sub-tasks
            if self.state.tasks[tid].status == PENDING:
                self._consider(tid)

    async def _loop(self, tg: asyncio.TaskGroup) -> None:
        while True:
            await self._start_ready(tg)
            await self.flush()
            if self.replans.wanted:
                await self._replan()
                continue
            if not self._running:
                break
            item = await self._done.get()
            if isinstance(item, _Stop):
                await self._halt(item)
            else:
                self._record(item)
        while not self._done.empty():  # results and stops that raced the end
            item = self._done.get_nowait()
            if isinstance(item, _Stop):
                self._stop = self._stop or item
            else:
                self._record(item)
        self._finish()
        await self.flush()

    async def _halt(self, stop: _Stop) -> None:
        """Cancel every attempt in flight; attempts that finished first are still recorded."""
        self._stop = self._stop or stop
        tasks = list(self._running.items())
        for _, task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait([t for _, t in tasks])
        for tid, task in tasks:
            if task.cancelled() and tid in self._running:
                del self._running[tid]
                self._stopped.append(tid)
                agent = self.state.tasks[tid].agent
                if agent is not None:
                    self._per_agent[agent] -= 1

    def _finish(self) -> None:
        stop = self._stop
        if stop is not None:
            if stop.status == "cancelled":
                self.emit(RunCancelled, reason=stop.reason)
            elif stop.status == "interrupted":
                self.emit(RunInterrupted, reason=stop.reason, tasks=self._stopped)
            elif stop.status == "failed":
                self.emit(RunFailed, reason=stop.reason, message=stop.message)
            return
        failed = self._required_failure()
        if failed:
            first = self.state.tasks[failed[0]].error
            message = f"task {failed[0]!r} failed: {first.message if first else 'unknown'}"
            self.emit(RunFailed, reason="error", message=message, failed_tasks=failed)
            return
        waiting = [tid for tid, st in self.state.tasks.items() if st.status == WAITING]
        if waiting:  # park: the journal holds everything needed to continue
            self.emit(RunWaiting, tasks=waiting, message=approvals.waiting_message(self.state))
            return
        unsettled = [
            tid
            for tid, st in self.state.tasks.items()
            if st.status not in (SUCCEEDED, FAILED, SKIPPED)
        ]
        if unsettled:
            self.emit(
                RunFailed,
                reason="stall",
                message="tasks can never become ready: " + ", ".join(unsettled),
            )
            return
        # the run's output is not journaled again: the fold renders it from the task outputs
        missing = [
            tid
            for tid, st in self.state.tasks.items()
            if st.status != SUCCEEDED and st.task.parent is None
        ]
        if missing:
            errors, reason = describe_missing(self.state, missing)
            self.emit(RunPartiallySucceeded, missing=missing, reason=reason, errors=errors)
        else:
            self.emit(RunSucceeded)


def first_error(group: BaseExceptionGroup[BaseException]) -> BaseException:
    """The exception a failed task group stands for: an interrupt or exit first, then a
    Podium error, then whatever came first (never a bare cancellation if there is more)."""
    leaves: list[BaseException] = []
    stack: list[BaseException] = [group]
    while stack:
        exc = stack.pop()
        if isinstance(exc, BaseExceptionGroup):
            stack.extend(reversed(exc.exceptions))
        else:
            leaves.append(exc)
    for kinds in ((KeyboardInterrupt, SystemExit), (PodiumError,), (Exception,)):
        for exc in leaves:
            if isinstance(exc, kinds):
                return exc
    return leaves[0]


__all__ = ["STOPS", "RunDriver", "first_error"]
