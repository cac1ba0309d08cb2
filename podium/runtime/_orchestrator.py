"""The `Orchestrator`: submits, runs, resumes and cancels runs over a store."""

from __future__ import annotations

import asyncio
import inspect
import os
import random
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

from podium.agents import Agent, agent_table
from podium.agents._handoff import check_handoffs
from podium.events import AnyEvent, PlanAccepted, RunSubmitted
from podium.exceptions import ConfigError, RunNotFound
from podium.models._prices import PriceTable, default_prices
from podium.plan import Plan, check_plan
from podium.plan._planner import Planner
from podium.plan._workflow import Workflow
from podium.policy import Approval, Policy
from podium.reliability import Breakers, Budget, Clock, Guards, Reliability, as_clock
from podium.routing import LearningRouter, Router, ScoringRouter
from podium.runtime._approvals import pending_approvals, record_decision
from podium.runtime._driver import RunDriver
from podium.runtime._planning import goal_of, plan_goal, planner_for, replanning
from podium.runtime._replay import Cassette, as_cassette
from podium.runtime._result import RunResult
from podium.runtime._state import RunState
from podium.runtime._supervise import ReliableRunner, recorded_limits, supervise
from podium.store import Outcome, Store, open_store

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
    """

    max_concurrency: int = 64
    timeout_s: float | None = None
    threads: int = min(32, (os.cpu_count() or 1) + 4)
    budget: Budget | None = None
    guards: Guards = field(default_factory=Guards)
    max_tasks: int = 10_000

    def __post_init__(self) -> None:
        if self.max_concurrency < 1:
            raise ConfigError("Limits.max_concurrency must be at least 1")
        if self.max_tasks < 1:
            raise ConfigError("Limits.max_tasks must be at least 1")
        if self.timeout_s is not None and self.timeout_s <= 0:
            raise ConfigError("Limits.timeout_s must be positive")


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
        self._pool: ThreadPoolExecutor | None = None
        self._opened = False
        self._drivers: dict[str, RunDriver] = {}

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
            self._pool = ThreadPoolExecutor(self.limits.threads, thread_name_prefix="podium")
            self._opened = True

    async def close(self) -> None:
        if self._opened:
            self._opened = False
            await self.store.close()
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
        return table

    def _validate(self, workflow: Workflow, agents: Mapping[str, Agent]) -> None:
        key = (
            tuple(sorted((n, a.capabilities) for n, a in agents.items())),
            tuple(workflow.input_names() or ()),
        )
        if workflow.plan.checked == key:
            return  # validated before against the same agents and inputs
        check_plan(
            workflow.plan,
            agents={name: a.capabilities for name, a in agents.items()},
            input_names=workflow.input_names(),
            locate=workflow.locate,
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
    ) -> RunResult:
        """Validate, submit and run a workflow to its end; or plan a goal first, then run it.

        ``run("a goal")`` plans the goal for the orchestrator's agents; ``run(team,
        goal="a goal")`` for the agents of `team`, an agents file (a workflow without tasks:
        ``load_workflow(path, require_tasks=False)``). The planner is `planner`, else the
        team's, else the orchestrator's, else `Planner()`. The goal is the run input ``goal``.

        `timeout_s` and `budget` override the orchestrator's `Limits` for this run.

        With a `run_id` that already exists, nothing new starts: a finished run's result is
        returned and an unfinished one is continued.

        Raises:
            PlanValidationError: the plan has problems (all listed).
            ConfigError: bad inputs or agents.
        """
        wf, goal = goal_of(workflow, goal)
        agents = self._agents_for(wf)
        chosen = planner_for(planner, wf.planner, self.planner, goal=goal is not None)
        if goal is None:
            self._validate(wf, agents)
        elif chosen is not None:
            chosen.resolved_model()  # a model that cannot be had fails before submitting
        if len(wf.plan) > self.limits.max_tasks:
            raise ConfigError(
                f"workflow {wf.name!r} has {len(wf.plan)} tasks, more than "
                f"Limits.max_tasks={self.limits.max_tasks}"
            )
        bound = wf.bind_inputs(inputs or {})
        if goal is not None:
            bound.setdefault("goal", goal)
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
        )
        if not await self.store.create_run(run_id, submitted, name=wf.name):
            return await self.resume(run_id, workflow=wf, on_event=on_event, planner=planner)
        state = RunState.from_events(run_id, [submitted])
        return await self._drive(state, wf, agents, on_event, chosen)

    async def resume(
        self,
        run_id: str,
        *,
        workflow: Workflow | None = None,
        on_event: EventCallback | None = None,
        planner: Planner | None = None,
    ) -> RunResult:
        """Continue a run from its journal; tasks that succeeded are never run again.

        Without `workflow`, the workflow file recorded at submission is compiled again.
        """
        await self.open()
        state = RunState.from_events(run_id, await self.store.load(run_id))
        if state.finished:
            return RunResult.from_state(state)
        assert state.submitted is not None
        if workflow is None:
            workflow = self._load_recorded(state.submitted.workflow)
        goal = state.submitted.goal is not None
        chosen = planner_for(planner, workflow.planner, self.planner, goal=goal)
        return await self._drive(state, workflow, self._agents_for(workflow), on_event, chosen)

    async def _drive(
        self,
        state: RunState,
        workflow: Workflow,
        agents: dict[str, Agent],
        on_event: EventCallback | None,
        planner: Planner | None = None,
    ) -> RunResult:
        runner = await self._runner_for(workflow, agents)
        if on_event is not None and state.submitted is not None and state.plan is None:
            await _deliver(on_event, state.submitted)
        goal = state.submitted is not None and state.submitted.goal is not None
        if state.plan is None and goal and planner is not None:
            await plan_goal(
                state,
                planner=planner,
                agents=agents,
                store=self.store,
                clock=self.clock,
                on_event=on_event,
            )
            if state.finished:  # answered directly, or no plan
                return RunResult.from_state(state, now=self.clock())
        if state.plan is None:
            await self._accept(state, workflow.plan, on_event)
        driver = RunDriver(
            state,
            store=self.store,
            runner=runner,
            max_concurrency=self.limits.max_concurrency,
            agent_limits={
                n: a.max_concurrency for n, a in agents.items() if a.max_concurrency is not None
            },
            listeners=[] if on_event is None else [on_event],
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
        timeout = state.submitted.limits.get("timeout_s") if state.submitted else None
        loop = asyncio.get_running_loop()
        handle = None
        if timeout is not None:
            handle = loop.call_later(
                timeout, driver.stop, "failed", "timeout", f"the run took longer than {timeout}s"
            )
        self._drivers[state.run_id] = driver
        try:
            await driver.drive()
            await self._save_outcomes(runner.outcomes)
        finally:
            self._drivers.pop(state.run_id, None)
            if handle is not None:
                handle.cancel()
        return RunResult.from_state(state, now=self.clock())

    async def _runner_for(self, workflow: Workflow, agents: dict[str, Agent]) -> ReliableRunner:
        """The runner of one drive: reliability wrappers, policy, prices, record/replay."""
        assert self._pool is not None
        if isinstance(self.router, LearningRouter):
            await self.router.prepare(self.store)  # route by what earlier runs learned
        runner = ReliableRunner(
            agents=agents, router=self.router, pool=self._pool, context_policy=workflow.context
        )
        runner.policy = workflow.policy or self.policy
        runner.prices = (
            self.prices.with_overrides(workflow.prices) if workflow.prices else self.prices
        )
        return runner if self.cassette is None else self.cassette.runner(runner)

    async def _accept(self, state: RunState, plan: Plan, on_event: EventCallback | None) -> None:
        """Journal `PlanAccepted` for a workflow's plan and give the run its own copy."""
        accepted = PlanAccepted(
            run_id=state.run_id,
            seq=state.seq + 1,
            ts=self.clock(),
            tasks=plan.to_data(),
            output=plan.output,
        )
        await self.store.append(state.run_id, [accepted])
        state.seq = accepted.seq
        state.accept_plan(Plan(plan.all_tasks(), output=plan.output))
        if on_event is not None:
            await _deliver(on_event, accepted)

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
        """Cancel a run this orchestrator is driving; ``False`` if it is not driving it."""
        driver = self._drivers.get(run_id)
        if driver is None:
            return False
        driver.stop("cancelled", reason)
        return True

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
        await record_decision(
            self.store, run_id, task, granted=granted, by=by, comment=comment, now=self.clock
        )
        if not resume:
            return await self.result(run_id)
        return await self.resume(run_id, workflow=workflow)

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


async def _deliver(callback: EventCallback, event: AnyEvent) -> None:
    result = callback(event)
    if inspect.isawaitable(result):
        await result
