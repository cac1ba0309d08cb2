"""One drive of a run under its lease: plan it if it needs a plan, then schedule it to an end, a
park or a stop.

A drive puts together what the run needs for this process's turn at it — the journal writer, the
lease keeper, the interceptors (`_wiring.built_in`), the attempt worker and the executor — and
hands them to a `RunDriver`. The lease is renewed meanwhile and released at the end, unless the
last append released it (a run that ended, parked or was interrupted holds none).
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from podium._chain import chain
from podium._sync import SYNC_EXECUTOR
from podium.agents import Agent
from podium.events import AnyEvent, PlanAccepted, RunResumed, RunSubmitted, RunUpgraded
from podium.exceptions import LeaseLost, StoreError
from podium.models._registry import resolve_model
from podium.plan import Plan, Planner, Workflow
from podium.policy import Policy
from podium.reliability._ratelimit import rate_limits
from podium.runtime._assign import Assigner
from podium.runtime._attempt import AttemptOutcome
from podium.runtime._compensate import compensate_leased, owes_rollback, undo_ended
from podium.runtime._driver import STOPS, RunDriver
from podium.runtime._interceptors import AttemptCall, ExecuteAttempt
from podium.runtime._journal import Journal
from podium.runtime._lease import LeaseKeeper
from podium.runtime._limits import RunLimits
from podium.runtime._planning import plan_goal, planner_for, replanning, routed
from podium.runtime._result import RunResult
from podium.runtime._state import RunState
from podium.runtime._supervise import Supervisor
from podium.runtime._wiring import built_in
from podium.runtime._work import AttemptWorker
from podium.store._lease import Lease, new_owner

if TYPE_CHECKING:
    from podium.runtime._orchestrator import Orchestrator

EventCallback = Callable[[AnyEvent], Any]


class Control:
    """Stops asked of one drive, passed to its driver once it exists (a stop asked while the
    goal is being planned applies when scheduling starts)."""

    __slots__ = ("driver", "pending")

    def __init__(self) -> None:
        self.driver: RunDriver | None = None
        self.pending: list[tuple[str, str, str, str]] = []

    def stop(self, status: str, reason: str, message: str = "", by: str = "") -> None:
        """Stop the drive (see `RunDriver.stop`); `by` names who cancelled it."""
        assert status in STOPS, status
        if self.driver is None:
            self.pending.append((status, reason, message, by))
        else:
            self.driver.stop(status, reason, message, by)

    def attach(self, driver: RunDriver) -> None:
        self.driver = driver
        for stop in self.pending:
            driver.stop(*stop)


class Drive:
    """One drive of `state` by `orch` (see the module docstring)."""

    def __init__(
        self,
        orch: Orchestrator,
        state: RunState,
        workflow: Workflow,
        agents: dict[str, Agent],
        *,
        lease: Lease,
        planner: Planner | None,
        on_event: EventCallback | None,
        upgrade: dict[str, Any] | None = None,
        by: str = "",
    ) -> None:
        self.orch = orch
        self.state = state
        self.workflow = workflow
        self.agents = agents
        self.planner = routed(planner, orch.router, workflow.router)
        self.on_event = on_event
        self.upgrade = upgrade
        self.by = by
        """Who drives it on (`RunResumed.by`)."""
        self.control = Control()
        listeners = [] if on_event is None else [on_event]
        if orch.hub.active:
            listeners.append(orch.hub.publish)
        self.journal = Journal(
            state, orch.store, clock=orch.clock, lease=lease, listeners=listeners
        )
        self.keeper = LeaseKeeper(
            orch.store, lease, lease_s=orch.limits.lease_s, stop=self.control.stop
        )

    async def run(self) -> RunResult:
        orch, state = self.orch, self.state
        run_id = state.run_id
        orch.controls[run_id] = self.control
        timeout = state.submitted.limits.get("timeout_s") if state.submitted else None
        pool = getattr(orch.executor, "pool", None)
        threads = SYNC_EXECUTOR.set(pool)  # synchronous tools run on the run's threads too
        orch.watchdog.start()
        handle = None
        if timeout is not None:
            message = f"the run took longer than {timeout}s"
            loop = asyncio.get_running_loop()
            handle = loop.call_later(timeout, self.control.stop, "failed", "timeout", message)
        try:
            orch.watchdog.run_deadline(run_id, timeout)
            async with self.keeper:
                if self.upgrade is not None:
                    await self.journal.emit_now(RunUpgraded, **self.upgrade)
                await self._drive()
        except StoreError as exc:
            if not isinstance(exc, LeaseLost):
                orch.leases.abandon(self.keeper.lease)
            raise
        finally:
            self.control.driver = None  # no cycle (driver → keeper → control → driver) to collect
            orch.watchdog.run_ended(run_id)
            SYNC_EXECUTOR.reset(threads)
            orch.controls.pop(run_id, None)
            if handle is not None:
                handle.cancel()
            if not self.journal.released and self.keeper.lost is None:
                await orch.leases.release(self.keeper.lease)
        state = await undo_ended(orch, state, workflow=self.workflow)  # failed, cancelled: undo
        return RunResult.from_state(state, now=orch.clock())

    async def _drive(self) -> None:
        orch, state, agents = self.orch, self.state, self.agents
        if orch.learner is not None:
            await orch.learner.prepare(orch.store)  # route by what earlier runs learned
        if state.submitted is not None and state.plan is None:  # the store wrote it: tell
            if orch.hub.active:  # whom the journal would have told
                orch.hub.publish(state.submitted)
            if self.on_event is not None:
                await _deliver(self.on_event, state.submitted)
        goal = state.submitted is not None and state.submitted.goal is not None
        if state.plan is None and goal and self.planner is not None:
            checks = orch.policy.tightened(self.workflow.policy).goal_checks
            await plan_goal(self.journal, planner=self.planner, agents=agents, checks=checks)
            if state.finished:  # answered directly, or no plan
                return
        if state.plan is None:
            await self._accept(self.workflow.plan)
        if state.status in ("waiting", "interrupted"):
            self.journal.emit(RunResumed, by=self.by)
        driver = self._driver()
        self.control.attach(driver)
        await driver.drive()
        orch.save_outcomes(driver.assigner.outcomes)

    def _driver(self) -> RunDriver:
        orch, state, agents, workflow = self.orch, self.state, self.agents, self.workflow
        wired = wiring(orch, workflow, agents)
        goal = state.submitted is not None and state.submitted.goal is not None
        return RunDriver(
            state,
            journal=self.journal,
            assigner=Assigner(
                state,
                agents,
                orch.router,
                wired.supervisor,
                learner=orch.learner,
                spec=workflow.router,
            ),
            execute=wired.execute,
            limits=RunLimits(state, approve_effects=wired.approve_effects),
            policy=wired.policy,
            context_policy=workflow.context,
            max_concurrency=orch.limits.max_concurrency,
            agent_limits=wired.agent_limits,
            lease=self.keeper,
            clock=orch.clock,
            **replanning(self.planner, agents),
            max_tasks=orch.limits.max_tasks,
            reuse_answers=goal,
        )

    async def _accept(self, plan: Plan) -> None:
        """Journal `PlanAccepted` for a workflow's plan and give the run its own copy."""
        state = self.state
        # folded from the built plan, which the event's fold would otherwise decode again
        self.journal.record(
            PlanAccepted,
            lambda: state.accept_plan(Plan(plan.all_tasks(), output=plan.output)),
            tasks=plan.to_data(),
            output=plan.output,
        )
        await self.journal.flush()


async def submit(orch: Orchestrator, submitted: RunSubmitted, *, name: str) -> Lease | None:
    """Create the run `submitted` records, its lease held by this process; ``None`` if a run
    of that id exists already."""
    owner = new_owner()
    lease_s = orch.limits.lease_s
    run_id = submitted.run_id
    if not await orch.store.create_run(run_id, submitted, name=name, owner=owner, lease_s=lease_s):
        return None
    return Lease(run_id=run_id, owner=owner, token=1, expires_at=time.time() + lease_s)


async def resume_leased(
    orch: Orchestrator,
    lease: Lease,
    *,
    workflow: Workflow | None = None,
    on_event: EventCallback | None = None,
    planner: Planner | None = None,
    upgrade: bool = False,
    by: str = "",
) -> RunResult:
    """Resume a run with its lease in hand (released at the end, or handed to the drive): with
    `workflow`, checked against the one the run is bound to; else the recorded one. `by` names
    who resumes (or upgrades) it."""
    run_id = lease.run_id
    handed = False
    try:
        state = RunState.from_events(run_id, await orch.store.load(run_id))
        assert state.submitted is not None
        agents = None if workflow is None else orch.agents_for(workflow)
        upgraded = None
        if workflow is not None and agents is not None:
            upgraded = orch.binding.check(state, workflow, agents, upgrade=upgrade)
            if upgraded is not None and by:
                upgraded["by"] = by
        if state.finished:
            if owes_rollback(state):  # undos that a crash cut short, or never started
                await compensate_leased(orch, lease, state, workflow=workflow)
            return RunResult.from_state(state)
        if workflow is None:
            workflow = orch.load_recorded(state.workflow)
            agents = orch.agents_for(workflow)
        assert agents is not None
        goal = state.submitted.goal is not None
        chosen = planner_for(planner, workflow.planner, orch.planner, goal=goal)
        handed = True
        drive = Drive(
            orch,
            state,
            workflow,
            agents,
            lease=lease,
            planner=chosen,
            on_event=on_event,
            upgrade=upgraded,
            by=by,
        )
        return await drive.run()
    finally:
        if not handed:
            await orch.leases.release(lease)


@dataclass(frozen=True, slots=True)
class Wiring:
    """What every run of one workflow on one orchestrator is wired with: built for the first
    and kept for the next (it holds no state of a run)."""

    supervisor: Supervisor
    policy: Policy
    execute: ExecuteAttempt
    """The attempt chain: attempt interceptors, then the executor."""
    approve_effects: tuple[str, ...]
    agent_limits: dict[str, int]


WIRINGS_KEPT = 64


def wiring(orch: Orchestrator, workflow: Workflow, agents: Mapping[str, Agent]) -> Wiring:
    """The wiring of runs of `workflow` (the one kept for it, while it is among the last
    `WIRINGS_KEPT` workflows run and listeners still want the same notices)."""
    key = (id(workflow), orch.hub.wants_notices)
    kept = orch.wirings.get(key)
    if kept is not None and kept[0] is workflow:
        return kept[1]
    supervisor = Supervisor(
        agents, retry=orch.reliability.retry, breakers=orch.breakers, rng=orch.rng
    )
    policy = orch.policy.tightened(workflow.policy)  # tighten the operator's, never loosen
    prices = orch.prices.with_overrides(workflow.prices) if workflow.prices else orch.prices
    interceptors = built_in(
        user=(*orch.interceptors, *workflow.interceptors),
        supervisor=supervisor,
        reliability=orch.reliability,
        rate_limits=orch.reliability.rate_limits or rate_limits(),
        clock=orch.clock_,
        hub=orch.hub,
        cassette=orch.cassette,
        remote=not orch.executor.live_events,
        untrusted=policy.untrusted,
        agents=agents,
        goal_checks=policy.goal_checks,
        confidence=policy.confidence,
        guardrails=(*policy.guardrails, *workflow.guardrails),
    )
    cassette = orch.cassette
    worker = AttemptWorker(
        agents=agents,
        interceptors=interceptors,
        clock=orch.clock_,
        prices=prices,
        resolve=cassette.resolve if cassette is not None else resolve_model,
        watchdog=orch.watchdog if orch.executor.live_events else None,  # it watches this loop
    )
    executor = orch.executor

    def execute(call: AttemptCall) -> Awaitable[AttemptOutcome]:
        return executor.execute(worker, call.input, call.emit)

    wired = Wiring(
        supervisor=supervisor,
        policy=policy,
        execute=chain(interceptors.attempt, "execute", execute),
        approve_effects=tuple(policy.approve_effects),
        agent_limits={
            n: a.max_concurrency for n, a in agents.items() if a.max_concurrency is not None
        },
    )
    if len(orch.wirings) >= WIRINGS_KEPT:
        del orch.wirings[next(iter(orch.wirings))]
    orch.wirings[key] = (workflow, wired)
    return wired


async def _deliver(callback: EventCallback, event: AnyEvent) -> None:
    result = callback(event)
    if inspect.isawaitable(result):
        await result


__all__ = ["Control", "Drive", "Wiring", "resume_leased", "submit", "wiring"]
