"""The `Orchestrator`: submits, runs, resumes and cancels runs over a store."""

from __future__ import annotations

import asyncio
import inspect
import os
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from podium.agents import Agent, agent_table
from podium.events import AnyEvent, PlanAccepted, RunSubmitted
from podium.exceptions import ConfigError, RunNotFound
from podium.plan import Plan, check_plan
from podium.plan._workflow import Workflow
from podium.routing import CapabilityRouter, Router
from podium.runtime._driver import RunDriver
from podium.runtime._execute import TaskRunner
from podium.runtime._result import RunResult
from podium.runtime._state import RunState
from podium.store import Store, open_store

JSON = Any
EventCallback = Callable[[AnyEvent], None] | Callable[[AnyEvent], Awaitable[None]]


@dataclass(frozen=True, slots=True, kw_only=True)
class Limits:
    """Run limits.

    Args:
        max_concurrency: task attempts running at once in one run.
        timeout_s: wall time a run may take (per drive: a resumed run gets it afresh).
        threads: size of the thread pool that runs synchronous agents.
    """

    max_concurrency: int = 64
    timeout_s: float | None = None
    threads: int = min(32, (os.cpu_count() or 1) + 4)

    def __post_init__(self) -> None:
        if self.max_concurrency < 1:
            raise ConfigError("Limits.max_concurrency must be at least 1")
        if self.timeout_s is not None and self.timeout_s <= 0:
            raise ConfigError("Limits.timeout_s must be positive")


def new_run_id() -> str:
    return uuid.uuid4().hex[:12]


WorkflowLoader = Callable[[Mapping[str, JSON]], Workflow]
"""Rebuilds a workflow from what `RunSubmitted.workflow` recorded (used by resume)."""


def _load_recorded(recorded: Mapping[str, JSON]) -> Workflow:
    text = recorded.get("text")
    if not isinstance(text, str):
        raise ConfigError(
            "this run was submitted from Python, not from a workflow file: pass the same "
            "workflow to resume it"
        )
    from podium.plan import load_workflow_text

    return load_workflow_text(text, path=recorded.get("path"))


class Orchestrator:
    """Runs workflows durably on a store.

    Args:
        agents: agents available to every run (a workflow may bring more).
        store: a `Store`, or a store URL (default: ``PODIUM_STORE`` or ``podium.db``).
        limits: concurrency, timeout and thread-pool limits.
        router: chooses agents for tasks that name a capability.
        clock: the time source of event timestamps.

    Use it as an async context manager, or call `close()` when done.

    Example:
        ```python
        async with Orchestrator(store="memory://") as orch:
            result = await orch.run(workflow, inputs={"topic": "tides"})
        ```
    """

    def __init__(
        self,
        *,
        agents: Sequence[Agent] = (),
        store: Store | str | None = None,
        limits: Limits | None = None,
        router: Router | None = None,
        clock: Callable[[], float] = time.time,
        workflow_loader: WorkflowLoader = _load_recorded,
    ) -> None:
        self.agents = agent_table(agents)
        self.store: Store = open_store(store) if store is None or isinstance(store, str) else store
        self.limits = limits or Limits()
        self.router: Router = router or CapabilityRouter()
        self.clock = clock
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
        workflow: Workflow | Plan,
        *,
        inputs: Mapping[str, JSON] | None = None,
        run_id: str | None = None,
        timeout_s: float | None = None,
        on_event: EventCallback | None = None,
    ) -> RunResult:
        """Validate, submit and run a workflow to its end.

        With a `run_id` that already exists, nothing new starts: a finished run's result is
        returned and an unfinished one is continued.

        Raises:
            PlanValidationError: the plan has problems (all listed).
            ConfigError: bad inputs or agents.
        """
        wf = workflow if isinstance(workflow, Workflow) else Workflow(name="plan", plan=workflow)
        agents = self._agents_for(wf)
        self._validate(wf, agents)
        bound = wf.bind_inputs(inputs or {})
        await self.open()
        run_id = run_id or new_run_id()
        timeout = timeout_s if timeout_s is not None else self.limits.timeout_s
        submitted = RunSubmitted(
            run_id=run_id,
            seq=0,
            ts=self.clock(),
            inputs=bound,
            workflow=wf.source(),
            limits={"timeout_s": timeout} if timeout is not None else {},
        )
        if not await self.store.create_run(run_id, submitted, name=wf.name):
            return await self.resume(run_id, workflow=wf, on_event=on_event)
        state = RunState.from_events(run_id, [submitted])
        return await self._drive(state, wf, agents, on_event)

    async def resume(
        self,
        run_id: str,
        *,
        workflow: Workflow | None = None,
        on_event: EventCallback | None = None,
    ) -> RunResult:
        """Continue a run from its journal; tasks that succeeded are never run again.

        Without `workflow`, the workflow file recorded at submission is compiled again.
        """
        await self.open()
        state = RunState.from_events(run_id, await self.store.load(run_id))
        if state.finished:
            return RunResult.from_state(state)
        if workflow is None:
            assert state.submitted is not None
            workflow = self._load_recorded(state.submitted.workflow)
        return await self._drive(state, workflow, self._agents_for(workflow), on_event)

    async def _drive(
        self,
        state: RunState,
        workflow: Workflow,
        agents: dict[str, Agent],
        on_event: EventCallback | None,
    ) -> RunResult:
        assert self._pool is not None
        runner = TaskRunner(
            agents=agents, router=self.router, pool=self._pool, context_policy=workflow.context
        )
        if on_event is not None and state.submitted is not None and state.plan is None:
            await _deliver(on_event, state.submitted)
        if state.plan is None:
            plan = workflow.plan
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
        finally:
            self._drivers.pop(state.run_id, None)
            if handle is not None:
                handle.cancel()
        return RunResult.from_state(state, now=self.clock())

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

    async def stream(
        self,
        workflow: Workflow | Plan,
        *,
        inputs: Mapping[str, JSON] | None = None,
        run_id: str | None = None,
        max_buffer: int = 1024,
    ) -> AsyncIterator[AnyEvent]:
        """Run a workflow and yield its events as they are journaled.

        The buffer is bounded: a consumer slower than the run slows the run down.
        """
        queue: asyncio.Queue[AnyEvent | None] = asyncio.Queue(max_buffer)

        async def runner() -> None:
            try:
                await self.run(workflow, inputs=inputs, run_id=run_id, on_event=queue.put)
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
