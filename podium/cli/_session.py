"""Driving one run from the command line: the live view, Ctrl-C, the final state."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console

from podium.cli._inputs import add_import_paths
from podium.cli._live import RunView, show_live
from podium.cli._store import store_url
from podium.cli._who import local_user
from podium.events import AnyEvent, Usage
from podium.exceptions import ConfigError
from podium.metrics import ALERTS_RUN_ID
from podium.models._prices import PriceTable
from podium.plan import Planner, Workflow
from podium.plan._workflow import ExecutorSpec
from podium.runtime import Executor, Limits, Orchestrator, RunResult, RunState, new_run_id
from podium.runtime._digest import load_recorded
from podium.runtime.ray import RayExecutor
from podium.store import RunInfo, open_store
from podium.telemetry import tracing_for

JSON = Any
Start = Callable[[Orchestrator, Callable[[AnyEvent], Awaitable[None]]], Awaitable[RunResult]]


@dataclass(frozen=True, slots=True)
class Outcome:
    """How a run the CLI drove ended: its result, its final state, whether Ctrl-C stopped it."""

    result: RunResult
    state: RunState
    interrupted: bool


class _Interrupt:
    """First Ctrl-C: stop driving the run cleanly, leaving it resumable (`RunInterrupted`: the
    attempts in flight run again on `podium resume`). Second: the default, at once."""

    def __init__(self, orch: Orchestrator, run_id: str) -> None:
        self.orch = orch
        self.run_id = run_id
        self.requested = False
        self.delivered = False
        self._loop: asyncio.AbstractEventLoop | None = None

    def install(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            loop.add_signal_handler(signal.SIGINT, self.request)
        except (NotImplementedError, RuntimeError, ValueError):  # not the main thread, Windows
            return
        self._loop = loop

    def uninstall(self) -> None:
        if self._loop is not None:
            self._loop.remove_signal_handler(signal.SIGINT)
            self._loop = None

    def request(self) -> None:
        self.requested = True
        self.uninstall()  # a second Ctrl-C interrupts at once
        self.deliver()

    def deliver(self) -> None:
        """Interrupt the run once it is being driven (it may not be yet, right after
        submission)."""
        if self.requested and not self.delivered:
            self.delivered = self.orch.interrupt(self.run_id, "interrupted (Ctrl-C)")


async def _drive(orch: Orchestrator, run_id: str, start: Start, console: Console | None) -> Outcome:
    view = RunView(run_id, lambda seq: orch.store.load(run_id, after_seq=seq))
    interrupt = _Interrupt(orch, run_id)

    async def on_event(event: AnyEvent) -> None:
        interrupt.deliver()
        await view.on_event(event)

    interrupt.install()
    try:
        work = start(orch, on_event)
        result = await (work if console is None else show_live(work, view, console))
    finally:
        interrupt.uninstall()
    state = await orch.state(run_id)
    return Outcome(result=result, state=state, interrupted=interrupt.requested)


def executor_for(
    spec: ExecutorSpec | None, *, choice: str | None = None, address: str | None = None
) -> Executor | None:
    """The executor of a run: ``--executor`` (`choice`) over the workflow file's ``executor``
    (`spec`), local by default; ``--ray-address`` implies Ray. ``None``: the orchestrator's
    default (local) one."""
    if address is not None and choice == "local":
        raise ConfigError(
            "--ray-address is the address of a Ray cluster: give it with --executor ray"
        )
    kind = choice or ("ray" if address is not None else None) or (spec.kind if spec else "local")
    if kind == "local":
        return None
    ray_spec = spec if spec is not None and spec.kind == "ray" else ExecutorSpec(kind="ray")
    return RayExecutor.from_spec(ray_spec, address=address)


def _recorded_executor(state: RunState, upgrade: Workflow | None) -> ExecutorSpec | None:
    """The ``executor`` section of the workflow file a run goes on with (``None`` for a run
    submitted from Python: resuming it fails on its own)."""
    if upgrade is not None:
        return upgrade.executor
    try:
        return load_recorded(state.workflow).executor
    except ConfigError:
        return None


async def run_workflow(
    workflow: Workflow,
    *,
    inputs: Mapping[str, JSON],
    store: str | None,
    run_id: str | None,
    limits: Limits,
    console: Console | None,
    prices: PriceTable | None = None,
    record: Path | None = None,
    replay: Path | None = None,
    goal: str | None = None,
    planner: Planner | None = None,
    upgrade: bool = False,
    executor: str | None = None,
    ray_address: str | None = None,
    trace: str | None = None,
    by: str | None = None,
) -> Outcome:
    """Run (or, for an existing `run_id`, continue) a workflow; `console` draws a live view.

    `record` and `replay` name a cassette of the run's model and tool exchanges. With a `goal`,
    `workflow` is a team (an agents file) and `planner` plans the goal for it. `executor`
    (``local`` or ``ray``) and `ray_address` override the workflow's ``executor``. `trace`
    (``otlp``, ``console``, ``off``; default: the environment's) switches tracing on. `by`
    is recorded as the submitter (default: the login name).
    """
    run_id = run_id or new_run_id()

    def start(
        orch: Orchestrator, on_event: Callable[[AnyEvent], Awaitable[None]]
    ) -> Awaitable[RunResult]:
        return orch.run(
            workflow,
            goal=goal,
            planner=planner,
            inputs=inputs,
            run_id=run_id,
            on_event=on_event,
            upgrade=upgrade,
            by=by or local_user(),
        )

    chosen = executor_for(workflow.executor, choice=executor, address=ray_address)
    if chosen is not None and (record is not None or replay is not None):
        raise ConfigError(
            f"--record and --replay need the local executor, not {chosen.name!r}: the cassette"
            " is a file of this process"
        )
    tracing = tracing_for(trace)
    hooks = () if tracing is None else (tracing,)
    orch = Orchestrator(
        store=store_url(store),
        limits=limits,
        prices=prices,
        record=record,
        replay=replay,
        executor=chosen,
        interceptors=hooks,
        listeners=hooks,
    )
    async with orch:
        try:
            return await _drive(orch, run_id, start, console)
        finally:
            if tracing is not None:  # its last spans exported before the process ends
                await tracing.aclose()


async def resume_run(
    run_id: str,
    *,
    store: str | None,
    console: Console | None,
    prices: PriceTable | None = None,
    upgrade: Workflow | None = None,
    executor: str | None = None,
    ray_address: str | None = None,
    trace: str | None = None,
    by: str | None = None,
) -> Outcome:
    """Continue a run from its journal, recompiling the workflow file it recorded (or going on
    with `upgrade`, which the journal then records), on the executor that file asks for unless
    `executor` and `ray_address` say otherwise."""
    recorded, _ = await load_run(run_id, store=store)  # raises RunNotFound for an unknown id
    add_import_paths(recorded.workflow.get("path"))
    spec = None if recorded.finished else _recorded_executor(recorded, upgrade)
    chosen = executor_for(spec, choice=executor, address=ray_address)
    if recorded.finished:
        chosen = None  # it is only reported: no executor is started for it
    tracing = tracing_for(trace)
    hooks = () if tracing is None else (tracing,)
    async with Orchestrator(
        store=store_url(store), prices=prices, executor=chosen, interceptors=hooks, listeners=hooks
    ) as orch:

        def start(
            orch: Orchestrator, on_event: Callable[[AnyEvent], Awaitable[None]]
        ) -> Awaitable[RunResult]:
            return orch.resume(
                run_id,
                on_event=on_event,
                workflow=upgrade,
                upgrade=upgrade is not None,
                by=by or local_user(),
            )

        try:
            return await _drive(orch, run_id, start, console)
        finally:
            if tracing is not None:
                await tracing.aclose()


async def cancel_run(run_id: str, *, store: str | None, reason: str, by: str) -> RunResult:
    """End a run for good (`podium cancel`), or ask the process driving it to."""
    async with Orchestrator(store=store_url(store)) as orch:
        return await orch.cancel_run(run_id, reason, by=by)


async def load_run(run_id: str, *, store: str | None) -> tuple[RunState, list[AnyEvent]]:
    """A run's journal and its fold (for `podium show`); `RunNotFound` for an unknown id."""
    st = open_store(store_url(store))
    await st.open()
    try:
        events = await st.load(run_id)
    finally:
        await st.close()
    return RunState.from_events(run_id, events), events


async def list_runs(*, store: str | None, limit: int) -> tuple[list[RunInfo], dict[str, Usage]]:
    """The most recent runs of a store and their usage so far (for `podium runs`): two reads,
    however many runs."""
    st = open_store(store_url(store))
    await st.open()
    try:
        found = [i for i in await st.list_runs(limit=limit + 1) if i.run_id != ALERTS_RUN_ID]
        found = found[:limit]  # without the drift alerts' journal, which is not a run
        return found, await st.run_usage([info.run_id for info in found])
    finally:
        await st.close()
