"""The `Orchestrator`: submits, runs, resumes and cancels runs over a store."""

from __future__ import annotations

import asyncio
import os
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from podium.agents import Agent
from podium.events import AnyEvent, RunFeedback, RunSubmitted, unencodable
from podium.exceptions import ConfigError, RunNotFound
from podium.models._prices import PriceTable, default_prices
from podium.plan import Plan
from podium.plan._planner import Planner
from podium.plan._workflow import Workflow
from podium.policy import Approval, Policy
from podium.reliability import Breakers, Budget, Clock, Reliability, SystemClock, as_clock
from podium.routing import LearningRouter, Router, ScoringRouter
from podium.runtime._approvals import pending_approvals
from podium.runtime._decisions import cancel_run, decide, record_feedback
from podium.runtime._digest import Binding, load_recorded
from podium.runtime._drive import Control, Drive, Wiring, resume_leased, submit
from podium.runtime._executor import Executor, LocalExecutor
from podium.runtime._fork import fork_run
from podium.runtime._interceptors import check_interceptor
from podium.runtime._lease import Leases
from podium.runtime._limits import Limits, recorded_limits
from podium.runtime._listeners import DEFAULT_BUFFER, ListenerHub, Subscription
from podium.runtime._outcomes import OutcomeWriter
from podium.runtime._planning import goal_of, planner_for
from podium.runtime._replay import Cassette, as_cassette
from podium.runtime._result import RunResult
from podium.runtime._state import RunState
from podium.runtime._team import Team
from podium.runtime._watchdog import Watchdog
from podium.store import Outcome, OutcomeStats, Store, open_store
from podium.store._lease import Lease

JSON = Any
EventCallback = Callable[[AnyEvent], None] | Callable[[AnyEvent], Awaitable[None]]


def new_run_id() -> str:
    return os.urandom(6).hex()


def _recordable(by: str) -> None:
    """Refuse a `by` the journal cannot hold (an unpaired surrogate from a mis-encoded name)
    before anything is recorded."""
    problem = unencodable(by, "by")
    if problem is not None:
        raise ConfigError(f"who acts cannot be recorded: {problem}")


WorkflowLoader = Callable[[Mapping[str, JSON]], Workflow]
"""Rebuilds a workflow from what `RunSubmitted.workflow` recorded (used by resume)."""


class Orchestrator:
    """Runs workflows durably on a store.

    Args:
        agents: agents available to every run (a workflow may bring more).
        store: a `Store`, or a store URL (default: ``PODIUM_STORE`` or ``podium.db``).
        limits: concurrency, timeout and lease limits.
        router: chooses agents for tasks that name a capability (default: a `ScoringRouter`,
            which learns from the outcomes recorded in the store).
        policy: which actions wait for a person's approval (default: `Policy()`: irreversible
            tool calls and tasks marked ``approval: required`` or ``risk: high``); a workflow's
            own policy can tighten it, never loosen it.
        reliability: retries, circuit breakers, call timeouts and rate limits.
        clock: the time source of event timestamps and of every wait and timeout: a
            `podium.reliability.Clock` (e.g. `podium.testing.FakeClock`) or a ``() -> float``.
        prices: what model calls cost (default: `podium.models.default_prices`, the built-in
            table with ``PODIUM_PRICES`` on top); a workflow's own ``prices`` go on top of it.
        record: record every model and tool exchange of the run into this cassette (a path or
            a `Cassette`; see `podium.runtime.Cassette`).
        replay: replay the run from this cassette: no model is called and no tool runs.
        planner: plans runs given a goal and re-plans failed branches (default: a workflow's
            own `planner`, else for a goal `Planner()` on ``local:smollm2``; without one, a
            workflow's failed branches are not re-planned).
        executor: where attempts run (default: a `LocalExecutor` with `Limits.threads`
            threads; `podium.runtime.ray.RayExecutor` runs them on a Ray cluster).
        interceptors: wrap every attempt (``execute``), model call (``request``) and tool call
            (``call``), outside Podium's own (see `podium.runtime.AttemptInterceptor`).
        listeners: told of every event of every run (see `subscribe`).

    Use it as an async context manager, or call `close()` when done.

    Example:
        ```python
        async with Orchestrator(store="memory://") as orch:
            result = await orch.run(workflow, inputs={"topic": "tides"})
            planned = await orch.run(team, goal="Summarise the causes of spring tides")
        ```
    """

    def __init__(
        self,
        *,
        agents: Sequence[Agent] = (),
        store: Store | str | None = None,
        limits: Limits | None = None,
        router: Router | None = None,
        policy: Policy | None = None,
        reliability: Reliability | None = None,
        clock: Callable[[], float] | Clock = time.time,
        workflow_loader: WorkflowLoader = load_recorded,
        prices: PriceTable | None = None,
        record: Cassette | str | Path | None = None,
        replay: Cassette | str | Path | None = None,
        planner: Planner | None = None,
        executor: Executor | None = None,
        interceptors: Sequence[Any] = (),
        listeners: Sequence[Any] = (),
    ) -> None:
        self.planner = planner
        if record is not None and replay is not None:
            raise ConfigError("give `record` or `replay`, not both")
        self.cassette = as_cassette(record, "record") or as_cassette(replay, "replay")
        self.prices = prices if prices is not None else default_prices()
        replaying = self.cassette is not None and self.cassette.replaying
        self.team = Team(agents, calls_models=not replaying)
        self.agents = self.team.agents
        self.store: Store = open_store(store) if store is None or isinstance(store, str) else store
        self.limits = limits or Limits()
        self.router: Router = router or ScoringRouter()
        self.learner = self.router if isinstance(self.router, LearningRouter) else None
        """The router, if it learns from outcomes (checked once: the check is slow)."""
        self.policy = policy or Policy()
        self.clock_ = as_clock(clock)
        """The clock every wait and timeout uses."""
        self.clock: Callable[[], float] = (
            time.time if isinstance(self.clock_, SystemClock) else self.clock_.time
        )
        """The time of events (the clock's)."""
        self.reliability = reliability or Reliability()
        policy_b = self.reliability.breakers
        self.breakers = Breakers(policy_b, self.clock_) if policy_b is not None else None
        self.rng = random.Random(self.reliability.seed)
        for obj in interceptors:
            check_interceptor(obj, "Orchestrator(interceptors=...)")
        self.interceptors = tuple(interceptors)
        self.executor: Executor = executor or LocalExecutor(threads=self.limits.threads)
        self.hub = ListenerHub(self.store, self.clock)
        for listener in listeners:
            self.hub.subscribe(listener)
        self.leases = Leases(self.store, self.limits.lease_s)
        self.outcomes = OutcomeWriter(self.store, self.learner)
        self.wirings: dict[tuple[int, bool], tuple[Workflow, Wiring]] = {}
        """What runs of a workflow are wired with, by workflow (see `_drive.wiring`)."""
        self.binding = Binding()
        self.watchdog = Watchdog()
        self.controls: dict[str, Control] = {}
        self.load_recorded = workflow_loader
        """Rebuilds the workflow a run recorded (for a resume without one)."""
        self._opened = False

    async def __aenter__(self) -> Orchestrator:
        await self.open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def open(self) -> None:
        if not self._opened:
            await self.store.open()
            await self.executor.open()
            self._opened = True

    async def close(self) -> None:
        if self._opened:
            self._opened = False
            await self.outcomes.close()
            await self.hub.close()
            await self.executor.close()
            self.watchdog.stop()
            await self.store.close()

    def subscribe(self, listener: Any, *, max_buffer: int = DEFAULT_BUFFER) -> Subscription:
        """Tell `listener` of every event of every run this orchestrator drives from now on.

        `listener` is a ``(event) -> None`` callable (sync or async) or an object with an
        ``on_event(event)`` method and, to be told when attempts, model calls and tool calls
        start and finish, an ``on_notice(notice)`` method. It never slows a run: events wait
        in its own buffer of `max_buffer`; past that, those it missed are read back from the
        store, so it sees every journaled event, in order. `Subscription.close` ends it.
        """
        return self.hub.subscribe(listener, max_buffer=max_buffer)

    # -- submitting -------------------------------------------------------------------------

    def agents_for(self, workflow: Workflow) -> dict[str, Agent]:
        """The orchestrator's agents and the workflow's, their models checked."""
        return self.team.for_workflow(workflow)

    async def run(
        self,
        workflow: Workflow | Plan | str,
        *,
        goal: str | None = None,
        planner: Planner | None = None,
        inputs: Mapping[str, JSON] | None = None,
        run_id: str | None = None,
        timeout_s: float | None = None,
        budget: Budget | None = None,
        on_event: EventCallback | None = None,
        upgrade: bool = False,
        by: str = "",
    ) -> RunResult:
        """Validate, submit and run a workflow to its end; or plan a goal first, then run it.

        ``run("a goal")`` plans the goal for the orchestrator's agents; ``run(team,
        goal="a goal")`` for the agents of `team`, an agents file (a workflow without tasks:
        ``load_workflow(path, require_tasks=False)``). The planner is `planner`, else the
        team's, else the orchestrator's, else `Planner()`. The goal is the run input ``goal``.

        `timeout_s` and `budget` override the orchestrator's `Limits` for this run.

        With a `run_id` that already exists, nothing new starts: a finished run's result is
        returned and an unfinished one is continued — with the same workflow only, unless
        `upgrade` says to go on with this one (see `resume`).

        `by` names who submits the run (`RunSubmitted.by`; see ``podium audit``).

        Raises:
            PlanValidationError: the plan has problems (all listed).
            ConfigError: bad inputs or agents; a different workflow under an existing run id.
            LeaseHeld: the run exists and another process drives it.
        """
        wf, goal = goal_of(workflow, goal)
        agents = self.agents_for(wf)
        chosen = planner_for(planner, wf.planner, self.planner, goal=goal is not None)
        if goal is None:
            self.team.validate(wf, agents, max_tasks=self.limits.max_tasks)
        elif chosen is not None:
            chosen.resolved_model()  # a model that cannot be had fails before submitting
        bound = wf.bind_inputs(inputs or {})
        if goal is not None:
            bound.setdefault("goal", goal)
        problem = unencodable(bound, "inputs")
        if problem is not None:
            raise ConfigError(f"the run inputs cannot be recorded: {problem}")
        _recordable(by)
        await self.open()
        run_id = run_id or new_run_id()
        timeout = timeout_s if timeout_s is not None else self.limits.timeout_s
        submitted = RunSubmitted(
            run_id=run_id,
            seq=0,
            ts=self.clock(),
            inputs=bound,
            workflow=wf.source(),
            limits=recorded_limits(timeout, budget or self.limits.budget, self.limits.guards),
            goal=goal,
            digest=self.binding.digest(wf, agents),
            by=by,
        )
        lease = await submit(self, submitted, name=wf.name)
        if lease is None:  # the run exists: go on with it
            return await self.resume(
                run_id, workflow=wf, on_event=on_event, planner=planner, upgrade=upgrade, by=by
            )
        state = RunState.from_events(run_id, [submitted])
        drive = Drive(self, state, wf, agents, lease=lease, planner=chosen, on_event=on_event)
        return await drive.run()

    async def resume(
        self,
        run_id: str,
        *,
        workflow: Workflow | None = None,
        on_event: EventCallback | None = None,
        planner: Planner | None = None,
        upgrade: bool = False,
        by: str = "",
    ) -> RunResult:
        """Continue a run from its journal; tasks that succeeded are never run again.

        Without `workflow`, the workflow recorded at submission (or at the last upgrade) is
        compiled again. A run is bound to the workflow it was submitted with: another one is
        refused unless `upgrade` is set, which journals `RunUpgraded` and goes on with it.
        `by` names who resumes (or upgrades) it, in `RunResumed` and `RunUpgraded`.

        Raises:
            LeaseHeld: another process drives the run (the error names it and says until when).
            ConfigError: `workflow` is not the one the run is bound to (and no `upgrade`).
            RunNotFound: no such run.
        """
        _recordable(by)
        await self.open()
        lease = await self.leases.acquire(run_id)
        return await self.resume_leased(
            lease, workflow=workflow, on_event=on_event, planner=planner, upgrade=upgrade, by=by
        )

    async def resume_leased(
        self,
        lease: Lease,
        *,
        workflow: Workflow | None = None,
        on_event: EventCallback | None = None,
        planner: Planner | None = None,
        upgrade: bool = False,
        by: str = "",
    ) -> RunResult:
        """`resume` with the run's lease in hand (it is released, or handed to the drive)."""
        return await resume_leased(
            self,
            lease,
            workflow=workflow,
            on_event=on_event,
            planner=planner,
            upgrade=upgrade,
            by=by,
        )

    def save_outcomes(self, outcomes: list[Outcome | OutcomeStats]) -> None:
        """Add a run's task outcomes to the store's statistics, for the runs after it (in
        batches: see `OutcomeWriter`; all of them once the orchestrator is closed)."""
        self.outcomes.add(outcomes)

    # -- controlling and reading ------------------------------------------------------------

    def cancel(self, run_id: str, reason: str = "cancelled", *, by: str = "") -> bool:
        """Cancel a run this orchestrator is driving (it ends with `RunCancelled`, which names
        `by`); ``False`` if it is not driving it (see `cancel_run` for any run of the store)."""
        control = self.controls.get(run_id)
        if control is None:
            return False
        control.stop("cancelled", reason, by=by)
        return True

    def interrupt(self, run_id: str, reason: str = "interrupted") -> bool:
        """Stop driving a run without ending it: attempts in flight are cut short and the run
        is left `interrupted`, to be resumed later; ``False`` if this orchestrator is not
        driving it."""
        control = self.controls.get(run_id)
        if control is None:
            return False
        control.stop("interrupted", reason)
        return True

    async def cancel_run(
        self, run_id: str, reason: str = "cancelled", *, by: str = ""
    ) -> RunResult:
        """Cancel any unfinished run of the store, for good.

        A run nobody drives is ended here (`RunCancelled`); one that another process drives
        is asked to cancel (it does within a third of its lease term) and this waits for it,
        up to the lease term. `by` names who cancels (`RunCancelled.by`; the reason says it too).

        Raises:
            RunNotFound: no such run.
        """
        return await cancel_run(self, run_id, reason, by=by)

    async def events(self, run_id: str) -> list[AnyEvent]:
        """The run's journal."""
        await self.open()
        return await self.store.load(run_id)

    async def state(self, run_id: str) -> RunState:
        """The run's state, folded from its journal."""
        return RunState.from_events(run_id, await self.events(run_id))

    async def result(self, run_id: str) -> RunResult:
        """The run's result as its journal has it now (it may still be running)."""
        state = await self.state(run_id)
        if state.submitted is None:
            raise RunNotFound(f"no run {run_id!r} in this store")
        return RunResult.from_state(state, now=self.clock())

    # -- approvals ----------------------------------------------------------------------------

    async def approvals(self, *, limit: int = 1000) -> list[Approval]:
        """What parked runs wait for: pending approvals, oldest first.

        Requests found expired are recorded as rejected (reason ``expired``) and left out.
        """
        await self.open()
        return await pending_approvals(self.store, now=self.clock(), limit=limit)

    async def approve(
        self,
        run_id: str,
        task: str | None = None,
        *,
        by: str,
        comment: str | None = None,
        workflow: Workflow | None = None,
        resume: bool = True,
    ) -> RunResult:
        """Approve what a parked run waits for (on `task`, when it waits on several), then
        resume it; the approved action goes through when the task runs again.

        Raises:
            ConfigError: the run waits for no such approval.
            RunError: the run is not parked (it is being driven, or died before it parked).
            ApprovalDenied: the request had expired; it is recorded as rejected instead.
        """
        return await decide(
            self,
            run_id,
            task,
            granted=True,
            by=by,
            comment=comment,
            workflow=workflow,
            resume=resume,
        )

    async def reject(
        self,
        run_id: str,
        task: str | None = None,
        *,
        by: str,
        comment: str | None = None,
        workflow: Workflow | None = None,
        resume: bool = True,
    ) -> RunResult:
        """Reject what a parked run waits for, then resume it: the task fails with
        `ApprovalDenied` (never retried) and the run handles that like any failure."""
        return await decide(
            self,
            run_id,
            task,
            granted=False,
            by=by,
            comment=comment,
            workflow=workflow,
            resume=resume,
        )

    async def feedback(self, run_id: str, score: int, *, by: str, comment: str = "") -> RunFeedback:
        """Rate a run from 1 to 5 (what it was worth to `by`), with an optional comment; the
        rating is journaled (`RunFeedback`) and counts in the metrics' user satisfaction.

        Raises:
            ConfigError: the score is not a whole number from 1 to 5, or `by` is empty.
            LeaseHeld: another process drives the run now.
            RunNotFound: no such run.
        """
        return await record_feedback(self, run_id, score, by=by, comment=comment)

    async def fork(
        self,
        run_id: str,
        task: str,
        *,
        inputs: Mapping[str, JSON] | None = None,
        instruction: str | None = None,
        agent: str | None = None,
        workflow: Workflow | None = None,
        fork_id: str | None = None,
        on_event: EventCallback | None = None,
        by: str = "",
    ) -> RunResult:
        """Fork a run from one of its tasks and run the fork: what did not depend on `task` is
        copied from the parent's journal; `task` and what depends on it run again, with other
        run `inputs`, another `instruction` for the task, or another `agent` for it.

        Without `workflow`, the parent's recorded workflow is compiled again (a run submitted
        from Python needs it given). `fork_id` is the fork's run id (default: a new one);
        `by` names who forks it (`RunForked.by`, `RunSubmitted.by`).

        Raises:
            RunNotFound: no such run.
            ConfigError: no plan to fork, no such task or agent, inputs that do not fit.
        """
        _recordable(by)
        return await fork_run(
            self,
            run_id,
            task,
            inputs=dict(inputs) if inputs else None,
            instruction=instruction,
            agent=agent,
            workflow=workflow,
            fork_id=fork_id or new_run_id(),
            on_event=on_event,
            by=by,
        )

    async def stream(
        self,
        workflow: Workflow | Plan | str,
        *,
        goal: str | None = None,
        inputs: Mapping[str, JSON] | None = None,
        run_id: str | None = None,
        max_buffer: int = 1024,
    ) -> AsyncIterator[AnyEvent]:
        """Run a workflow (or a goal, as `run` does) and yield its events as they are journaled.

        The buffer is bounded: a consumer slower than the run slows the run down.
        """
        queue: asyncio.Queue[AnyEvent | None] = asyncio.Queue(max_buffer)

        async def runner() -> None:
            try:
                await self.run(
                    workflow, goal=goal, inputs=inputs, run_id=run_id, on_event=queue.put
                )
            finally:
                await queue.put(None)

        async with asyncio.TaskGroup() as tg:
            tg.create_task(runner())
            while (event := await queue.get()) is not None:
                yield event


__all__ = ["EventCallback", "Limits", "Orchestrator", "WorkflowLoader", "new_run_id"]
