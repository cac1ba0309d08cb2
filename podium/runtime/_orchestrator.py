"""The `Orchestrator`: submits, runs, resumes and cancels runs over a store."""

from __future__ import annotations

import asyncio
import inspect
import logging
import math
import os
import random
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

from podium._sync import SYNC_EXECUTOR
from podium.agents import Agent, agent_table
from podium.agents._handoff import check_handoffs
from podium.events import (
    AnyEvent,
    PlanAccepted,
    RunCancelled,
    RunSubmitted,
    RunUpgraded,
    unencodable,
)
from podium.exceptions import ConfigError, LeaseHeld, LeaseLost, RunNotFound, StoreError
from podium.models._prices import PriceTable, default_prices
from podium.models._registry import resolve_model
from podium.plan import DEFAULT_MAX_TASKS, Plan, check_plan
from podium.plan._planner import Planner
from podium.plan._workflow import Workflow
from podium.policy import Approval, Policy
from podium.reliability import Breakers, Budget, Clock, Guards, Reliability, as_clock
from podium.routing import LearningRouter, Router, ScoringRouter
from podium.runtime._approvals import pending_approvals, record_decision
from podium.runtime._digest import workflow_digest
from podium.runtime._driver import RunDriver
from podium.runtime._journal import Journal, LeaseKeeper
from podium.runtime._planning import goal_of, plan_goal, planner_for, replanning
from podium.runtime._replay import Cassette, as_cassette
from podium.runtime._result import RunResult
from podium.runtime._state import RunState
from podium.runtime._supervise import ReliableRunner, recorded_limits, supervise
from podium.runtime._threads import AgentThreads
from podium.runtime._watchdog import WATCHDOG, Watchdog
from podium.store import Outcome, Store, open_store
from podium.store._lease import DEFAULT_LEASE_S, Lease, describe_owner, holder_is_dead, new_owner

log = logging.getLogger(__name__)

JSON = Any
EventCallback = Callable[[AnyEvent], None] | Callable[[AnyEvent], Awaitable[None]]


@dataclass(frozen=True, slots=True, kw_only=True)
class Limits:
    """Run limits.

    Args:
        max_concurrency: task attempts running at once in one run.
        timeout_s: wall time a run may take (per drive: a resumed run gets it afresh).
        threads: size of the thread pool that runs synchronous agents.
        budget: tokens, dollars, wall time and steps a run may spend (a task's own `budget`
            limits it and its map children).
        guards: loop and stall guards.
        max_tasks: tasks a run's plan may grow to (map fan-out, re-plans); past it the run
            fails with reason ``limit``.
        lease_s: the term of the lease a driving process holds on its run (renewed every third
            of it): how long a crashed driver on another host keeps others from resuming the run.
    """

    max_concurrency: int = 64
    timeout_s: float | None = None
    threads: int = min(32, (os.cpu_count() or 1) + 4)
    budget: Budget | None = None
    guards: Guards = field(default_factory=Guards)
    max_tasks: int = DEFAULT_MAX_TASKS
    lease_s: float = DEFAULT_LEASE_S

    def __post_init__(self) -> None:
        if self.max_concurrency < 1:
            raise ConfigError("Limits.max_concurrency must be at least 1")
        if self.max_tasks < 1:
            raise ConfigError("Limits.max_tasks must be at least 1")
        timeout = self.timeout_s
        if timeout is not None and not (math.isfinite(timeout) and timeout > 0):
            raise ConfigError(
                f"Limits.timeout_s must be a positive number of seconds, not {self.timeout_s!r}"
            )
        if not (math.isfinite(self.lease_s) and self.lease_s >= 1):
            raise ConfigError(f"Limits.lease_s must be at least 1 second, not {self.lease_s!r}")


def new_run_id() -> str:
    return uuid.uuid4().hex[:12]


WorkflowLoader = Callable[[Mapping[str, JSON]], Workflow]
"""Rebuilds a workflow from what `RunSubmitted.workflow` recorded (used by resume)."""


def _load_recorded(recorded: Mapping[str, JSON]) -> Workflow:
    text = recorded.get("text")
    team = bool(recorded.get("agents_file"))  # a goal's team: its plan is in the journal
    if not isinstance(text, str) and team:
        return Workflow(name=str(recorded.get("name", "goal")), plan=Plan([]))
    if not isinstance(text, str):
        raise ConfigError(
            "this run was submitted from Python, not from a workflow file: pass the same "
            "workflow to resume it"
        )
    from podium.plan import load_workflow_text

    workflow = load_workflow_text(text, path=recorded.get("path"), require_tasks=not team)
    model = recorded.get("model")
    return workflow.with_model(model) if isinstance(model, str) else workflow


class Orchestrator:
    """Runs workflows durably on a store.

    Args:
        agents: agents available to every run (a workflow may bring more).
        store: a `Store`, or a store URL (default: ``PODIUM_STORE`` or ``podium.db``).
        limits: concurrency, timeout and thread-pool limits.
        router: chooses agents for tasks that name a capability (default: a `ScoringRouter`,
            which learns from the outcomes recorded in the store).
        policy: which actions wait for a person's approval (default: `Policy()`: irreversible
            tool calls and tasks marked ``approval: required`` or ``risk: high``); a workflow's
            own policy takes precedence.
        reliability: retries, circuit breakers, call timeouts and rate limits.
        clock: the time source of event timestamps: a `podium.reliability.Clock` (what retry
            delays, breaker cooldowns and call timeouts also wait on) or a ``() -> float``.
        prices: what model calls cost (default: `podium.models.default_prices`, the built-in
            table with ``PODIUM_PRICES`` on top); a workflow's own ``prices`` go on top of it.
        record: record every model and tool exchange of the run into this cassette (a path or
            a `Cassette`; see `podium.runtime.Cassette`).
        replay: replay the run from this cassette: no model is called and no tool runs.
        planner: plans runs given a goal and re-plans failed branches (default: a workflow's
            own `planner`, else for a goal `Planner()` on ``local:smollm2``; without one, a
            workflow's failed branches are not re-planned).

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
        workflow_loader: WorkflowLoader = _load_recorded,
        prices: PriceTable | None = None,
        record: Cassette | str | Path | None = None,
        replay: Cassette | str | Path | None = None,
        planner: Planner | None = None,
    ) -> None:
        self.planner = planner
        if record is not None and replay is not None:
            raise ConfigError("give `record` or `replay`, not both")
        self.cassette = as_cassette(record, "record") or as_cassette(replay, "replay")
        self.prices = prices if prices is not None else default_prices()
        self.agents = agent_table(agents)
        self.store: Store = open_store(store) if store is None or isinstance(store, str) else store
        self.limits = limits or Limits()
        self.router: Router = router or ScoringRouter()
        self.policy = policy or Policy()
        self._clock = as_clock(clock)
        self.clock: Callable[[], float] = clock.time if isinstance(clock, Clock) else clock
        self.reliability = reliability or Reliability()
        policy_b = self.reliability.breakers
        self.breakers = Breakers(policy_b, self._clock) if policy_b is not None else None
        self._rng = random.Random(self.reliability.seed)
        self._load_recorded = workflow_loader
        self._pool: AgentThreads | None = None
        self._opened = False
        self._controls: dict[str, _Control] = {}
        self._usable_models: set[str] = set()
        self._watchdog = Watchdog()
        self._last_digest: tuple[tuple[object, ...], str] | None = None
        self._abandoned: dict[str, int] = {}
        """Runs whose lease this orchestrator could not release (the store failed): the token,
        so that it can take the lease back without waiting for it to expire."""

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
            self._pool = AgentThreads(self.limits.threads, name="podium")
            self._opened = True

    async def close(self) -> None:
        if self._opened:
            self._opened = False
            await self.store.close()
            self._watchdog.stop()
            if self._pool is not None:
                self._pool.shutdown(wait=False, cancel_futures=True)

    # -- submitting -------------------------------------------------------------------------

    def _agents_for(self, workflow: Workflow) -> dict[str, Agent]:
        table = dict(self.agents)
        for agent in workflow.agents:
            if agent.name in table and table[agent.name] is not agent:
                raise ConfigError(
                    f"agent {agent.name!r} is defined by both the workflow and the orchestrator"
                )
            table[agent.name] = agent
        check_handoffs(table)
        self._check_models(table)
        return table

    def _check_models(self, agents: Mapping[str, Agent]) -> None:
        """A model that cannot be had (no API key, a missing extra or file) is a
        `ConfigError` now, once, rather than a failure of every task that would use it."""
        if self.cassette is not None and self.cassette.mode == "replay":
            return  # replaying calls no model
        for agent in agents.values():
            name = agent.model
            if not isinstance(name, str) or name in self._usable_models:
                continue
            try:
                resolve_model(name)
            except ConfigError as exc:
                raise ConfigError(f"agent {agent.name!r}: {exc}") from None
            self._usable_models.add(name)

    def _validate(self, workflow: Workflow, agents: Mapping[str, Agent]) -> None:
        key = (
            tuple(sorted((n, a.capabilities) for n, a in agents.items())),
            tuple(workflow.input_names() or ()),
            self.limits.max_tasks,
        )
        if workflow.plan.checked == key:
            return  # validated before against the same agents and inputs
        check_plan(
            workflow.plan,
            agents={name: a.capabilities for name, a in agents.items()},
            input_names=workflow.input_names(),
            locate=workflow.locate,
            max_tasks=self.limits.max_tasks,
        )
        workflow.plan.checked = key

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

        Raises:
            PlanValidationError: the plan has problems (all listed).
            ConfigError: bad inputs or agents; a different workflow under an existing run id.
            LeaseHeld: the run exists and another process drives it.
        """
        wf, goal = goal_of(workflow, goal)
        agents = self._agents_for(wf)
        chosen = planner_for(planner, wf.planner, self.planner, goal=goal is not None)
        if goal is None:
            self._validate(wf, agents)
        elif chosen is not None:
            chosen.resolved_model()  # a model that cannot be had fails before submitting
        bound = wf.bind_inputs(inputs or {})
        if goal is not None:
            bound.setdefault("goal", goal)
        problem = unencodable(bound, "inputs")
        if problem is not None:
            raise ConfigError(f"the run inputs cannot be recorded: {problem}")
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
            digest=self._digest(wf, agents),
        )
        owner = new_owner()
        lease_s = self.limits.lease_s
        if not await self.store.create_run(
            run_id, submitted, name=wf.name, owner=owner, lease_s=lease_s
        ):
            return await self.resume(
                run_id, workflow=wf, on_event=on_event, planner=planner, upgrade=upgrade
            )
        lease = Lease(run_id=run_id, owner=owner, token=1, expires_at=time.time() + lease_s)
        state = RunState.from_events(run_id, [submitted])
        return await self._drive(state, wf, agents, on_event=on_event, planner=chosen, lease=lease)

    async def resume(
        self,
        run_id: str,
        *,
        workflow: Workflow | None = None,
        on_event: EventCallback | None = None,
        planner: Planner | None = None,
        upgrade: bool = False,
    ) -> RunResult:
        """Continue a run from its journal; tasks that succeeded are never run again.

        Without `workflow`, the workflow recorded at submission (or at the last upgrade) is
        compiled again. A run is bound to the workflow it was submitted with: another one is
        refused unless `upgrade` is set, which journals `RunUpgraded` and goes on with it.

        Raises:
            LeaseHeld: another process drives the run (the error names it and says until when).
            ConfigError: `workflow` is not the one the run is bound to (and no `upgrade`).
            RunNotFound: no such run.
        """
        await self.open()
        lease = await self._acquire(run_id)
        return await self._resume_leased(
            lease, workflow=workflow, on_event=on_event, planner=planner, upgrade=upgrade
        )

    async def _resume_leased(
        self,
        lease: Lease,
        *,
        workflow: Workflow | None = None,
        on_event: EventCallback | None = None,
        planner: Planner | None = None,
        upgrade: bool = False,
    ) -> RunResult:
        """`resume` with the run's lease in hand (it is released, or handed to the drive)."""
        run_id = lease.run_id
        handed = False
        try:
            state = RunState.from_events(run_id, await self.store.load(run_id))
            assert state.submitted is not None
            agents = None if workflow is None else self._agents_for(workflow)
            upgraded = None
            if workflow is not None and agents is not None:
                upgraded = self._check_binding(state, workflow, agents, upgrade=upgrade)
            if state.finished:
                return RunResult.from_state(state)
            if workflow is None:
                workflow = self._load_recorded(state.workflow)
                agents = self._agents_for(workflow)
            assert agents is not None
            goal = state.submitted.goal is not None
            chosen = planner_for(planner, workflow.planner, self.planner, goal=goal)
            handed = True
            return await self._drive(
                state,
                workflow,
                agents,
                on_event=on_event,
                planner=chosen,
                lease=lease,
                upgraded=upgraded,
            )
        finally:
            if not handed:
                await self._release(lease)

    def _digest(self, workflow: Workflow, agents: Mapping[str, Agent]) -> str:
        """`workflow_digest`, remembered for the last definition it saw: the same plan, agents,
        policy and planner objects (runs of one workflow or plan submitted again and again
        hash it once)."""
        context = workflow.context
        parts = (
            workflow.plan,
            workflow.policy,
            workflow.planner,
            workflow.inputs,
            context if context.merge or context.default.mode != "error" else None,
            *agents.values(),
        )
        cached = self._last_digest
        if (
            cached is not None
            and len(cached[0]) == len(parts)
            and all(a is b for a, b in zip(cached[0], parts, strict=True))
        ):
            return cached[1]
        digest = workflow_digest(workflow, agents)
        self._last_digest = (parts, digest)
        return digest

    def _check_binding(
        self, state: RunState, workflow: Workflow, agents: Mapping[str, Agent], *, upgrade: bool
    ) -> RunUpgraded | None:
        """Refuse a workflow the run is not bound to, or (with `upgrade`) the event that
        rebinds the run to it; ``None`` when it is the run's own."""
        digest = self._digest(workflow, agents)
        if not state.digest or digest == state.digest:
            return None  # a journal older than digests binds to nothing
        run_id = state.run_id
        if upgrade and not state.finished:
            return RunUpgraded(
                run_id=run_id,
                seq=-1,
                ts=0.0,
                digest=digest,
                previous=state.digest,
                workflow=workflow.source(),
            )
        recorded = state.workflow.get("path") or state.workflow.get("name") or "?"
        if state.finished:
            raise ConfigError(
                f"run {run_id!r} was submitted with another workflow ({recorded}) and has"
                f" {state.status}: choose another run id for this one"
            )
        raise ConfigError(
            f"run {run_id!r} was submitted with another workflow ({recorded}, digest"
            f" {state.digest[:12]}), not this one (digest {digest[:12]}): resume it with its own"
            " workflow, use another run id, or upgrade the run on purpose (`upgrade=True`,"
            " `podium resume RUN --upgrade FILE`), which is recorded in its journal"
        )

    async def _acquire(self, run_id: str) -> Lease:
        """The run's lease; a holder known to be dead (a killed process on this host, or a
        lease this orchestrator had to abandon) is taken over at once.

        Raises:
            LeaseHeld: a live driver holds it.
        """
        owner = new_owner()
        lease_s = self.limits.lease_s
        try:
            return await self.store.acquire(run_id, owner, lease_s=lease_s)
        except LeaseHeld as held:
            ours = self._abandoned.get(run_id) == held.token
            if not ours and not holder_is_dead(held.owner):
                raise
            log.warning(
                "run %s: taking its lease over from %s, which no longer drives it",
                run_id,
                describe_owner(held.owner),
            )
            return await self.store.acquire(run_id, owner, lease_s=lease_s, takeover=held.token)

    async def _release(self, lease: Lease) -> None:
        """Give a lease back; if the store cannot be reached, remember it was ours to take
        back."""
        try:
            await self.store.release(lease)
        except StoreError as exc:
            self._abandoned[lease.run_id] = lease.token
            log.warning("run %s: could not release its lease: %s", lease.run_id, exc)
        else:
            self._abandoned.pop(lease.run_id, None)

    async def _drive(
        self,
        state: RunState,
        workflow: Workflow,
        agents: dict[str, Agent],
        *,
        on_event: EventCallback | None,
        planner: Planner | None,
        lease: Lease,
        upgraded: RunUpgraded | None = None,
    ) -> RunResult:
        """Drive a run under its lease: plan it if needed, schedule it to an end or a stop.

        The lease is renewed meanwhile and released at the end, unless the last append
        released it (a run that ended, parked or was interrupted holds none).
        """
        run_id = state.run_id
        control = _Control()
        self._controls[run_id] = control
        journal = Journal(
            state,
            self.store,
            clock=self.clock,
            lease=lease,
            listeners=[] if on_event is None else [on_event],
        )
        keeper = LeaseKeeper(self.store, lease, lease_s=self.limits.lease_s, stop=control.stop)
        timeout = state.submitted.limits.get("timeout_s") if state.submitted else None
        threads = SYNC_EXECUTOR.set(self._pool)  # synchronous tools run on the run's threads too
        self._watchdog.start()
        watched = WATCHDOG.set(self._watchdog)
        handle = None
        if timeout is not None:
            message = f"the run took longer than {timeout}s"
            loop = asyncio.get_running_loop()
            handle = loop.call_later(timeout, control.stop, "failed", "timeout", message)
        try:
            self._watchdog.run_deadline(run_id, timeout)
            async with keeper:
                if upgraded is not None:
                    kept = ("digest", "previous", "workflow")
                    fields = {k: getattr(upgraded, k) for k in kept}
                    await journal.emit_now(RunUpgraded, **fields)
                await self._drive_leased(
                    journal, workflow, agents, planner=planner, keeper=keeper, control=control
                )
        except StoreError as exc:
            if not isinstance(exc, LeaseLost):
                self._abandoned[run_id] = lease.token
            raise
        finally:
            control.driver = None  # no cycle (driver → keeper → control → driver) left to the GC
            self._watchdog.run_ended(run_id)
            SYNC_EXECUTOR.reset(threads)
            WATCHDOG.reset(watched)
            self._controls.pop(run_id, None)
            if handle is not None:
                handle.cancel()
            if not journal.released and keeper.lost is None:
                await self._release(keeper.lease)
        return RunResult.from_state(state, now=self.clock())

    async def _drive_leased(
        self,
        journal: Journal,
        workflow: Workflow,
        agents: dict[str, Agent],
        *,
        planner: Planner | None,
        keeper: LeaseKeeper,
        control: _Control,
    ) -> None:
        state = journal.state
        runner = await self._runner_for(workflow, agents)
        on_event = journal.listeners[0] if journal.listeners else None
        if on_event is not None and state.submitted is not None and state.plan is None:
            await _deliver(on_event, state.submitted)
        goal = state.submitted is not None and state.submitted.goal is not None
        if state.plan is None and goal and planner is not None:
            await plan_goal(journal, planner=planner, agents=agents)
            if state.finished:  # answered directly, or no plan
                return
        if state.plan is None:
            await self._accept(journal, workflow.plan)
        driver = RunDriver(
            state,
            journal=journal,
            runner=runner,
            max_concurrency=self.limits.max_concurrency,
            agent_limits={
                n: a.max_concurrency for n, a in agents.items() if a.max_concurrency is not None
            },
            lease=keeper,
            clock=self.clock,
            supervisor=supervise(
                runner,
                state,
                reliability=self.reliability,
                breakers=self.breakers,
                clock=self._clock,
                rng=self._rng,
            ),
            **replanning(planner, agents),
            max_tasks=self.limits.max_tasks,
            reuse_answers=goal,
        )
        control.attach(driver)
        await driver.drive()
        await self._save_outcomes(runner.outcomes)

    async def _runner_for(self, workflow: Workflow, agents: dict[str, Agent]) -> ReliableRunner:
        """The runner of one drive: reliability wrappers, policy, prices, record/replay."""
        assert self._pool is not None
        if isinstance(self.router, LearningRouter):
            await self.router.prepare(self.store)  # route by what earlier runs learned
        runner = ReliableRunner(
            agents=agents, router=self.router, pool=self._pool, context_policy=workflow.context
        )
        # a workflow may tighten the operator's policy, never loosen it
        runner.policy = self.policy.tightened(workflow.policy)
        runner.prices = (
            self.prices.with_overrides(workflow.prices) if workflow.prices else self.prices
        )
        return runner if self.cassette is None else self.cassette.runner(runner)

    async def _accept(self, journal: Journal, plan: Plan) -> None:
        """Journal `PlanAccepted` for a workflow's plan and give the run its own copy."""
        state = journal.state
        # folded from the built plan, which the event's fold would otherwise decode again
        journal.record(
            PlanAccepted,
            lambda: state.accept_plan(Plan(plan.all_tasks(), output=plan.output)),
            tasks=plan.to_data(),
            output=plan.output,
        )
        await journal.flush()

    async def _save_outcomes(self, outcomes: list[Outcome]) -> None:
        """Add a run's task outcomes to the store's statistics, for the runs after it."""
        if not outcomes:
            return
        if isinstance(self.router, LearningRouter):
            await self.router.save(self.store, outcomes)
        else:
            await self.store.record_outcomes(outcomes)

    # -- controlling and reading ------------------------------------------------------------

    def cancel(self, run_id: str, reason: str = "cancelled") -> bool:
        """Cancel a run this orchestrator is driving (it ends with `RunCancelled`); ``False``
        if it is not driving it (see `cancel_run` for any run of the store)."""
        control = self._controls.get(run_id)
        if control is None:
            return False
        control.stop("cancelled", reason)
        return True

    def interrupt(self, run_id: str, reason: str = "interrupted") -> bool:
        """Stop driving a run without ending it: attempts in flight are cut short and the run
        is left `interrupted`, to be resumed later; ``False`` if this orchestrator is not
        driving it."""
        control = self._controls.get(run_id)
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
        up to the lease term.

        Raises:
            RunNotFound: no such run.
        """
        await self.open()
        why = f"{reason} (by {by})" if by else reason
        if self.cancel(run_id, why):
            return await self._wait_finished(run_id)
        try:
            lease = await self._acquire(run_id)
        except LeaseHeld:
            await self.store.request_cancel(run_id, why)
            return await self._wait_finished(run_id)
        try:
            state = RunState.from_events(run_id, await self.store.load(run_id))
            if not state.finished:
                journal = Journal(state, self.store, clock=self.clock, lease=lease)
                await journal.emit_now(RunCancelled, reason=why)
        finally:
            await self._release(lease)
        return RunResult.from_state(state, now=self.clock())

    async def _wait_finished(self, run_id: str) -> RunResult:
        """The run's result once it has stopped (or as it stands after the lease term)."""
        deadline = time.monotonic() + self.limits.lease_s
        while True:
            result = await self.result(run_id)
            if result.status not in ("running",) or time.monotonic() > deadline:
                return result
            await asyncio.sleep(0.2)

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
        return await self._decide(
            run_id, task, granted=True, by=by, comment=comment, workflow=workflow, resume=resume
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
        return await self._decide(
            run_id, task, granted=False, by=by, comment=comment, workflow=workflow, resume=resume
        )

    async def _decide(
        self,
        run_id: str,
        task: str | None,
        *,
        granted: bool,
        by: str,
        comment: str | None,
        workflow: Workflow | None,
        resume: bool,
    ) -> RunResult:
        await self.open()
        lease = await self._acquire(run_id)
        handed = False
        try:
            if workflow is not None and resume:  # refuse a foreign workflow before deciding
                state = RunState.from_events(run_id, await self.store.load(run_id))
                self._check_binding(state, workflow, self._agents_for(workflow), upgrade=False)
            await record_decision(
                self.store,
                run_id,
                task,
                granted=granted,
                by=by,
                comment=comment,
                now=self.clock,
                fence=lease.token,
            )
            if not resume:
                return await self.result(run_id)
            handed = True  # the decision and the resume under one lease: no one acts between
            return await self._resume_leased(lease, workflow=workflow)
        finally:
            if not handed:
                await self._release(lease)

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


class _Control:
    """Stops asked of one drive, passed to its driver once it exists (a stop asked while the
    goal is being planned applies when scheduling starts)."""

    __slots__ = ("driver", "pending")

    def __init__(self) -> None:
        self.driver: RunDriver | None = None
        self.pending: list[tuple[str, str, str]] = []

    def stop(self, status: str, reason: str, message: str = "") -> None:
        if self.driver is None:
            self.pending.append((status, reason, message))
        else:
            self.driver.stop(status, reason, message)

    def attach(self, driver: RunDriver) -> None:
        self.driver = driver
        for stop in self.pending:
            driver.stop(*stop)


async def _deliver(callback: EventCallback, event: AnyEvent) -> None:
    result = callback(event)
    if inspect.isawaitable(result):
        await result
