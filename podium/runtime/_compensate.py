"""Undoing what a run did: compensations, run in the saga pattern.

A task may say how to undo it (`Task.compensate`: a tool to call or an agent to ask), and so may
a side-effecting tool, for each of its calls (`podium.tools.Undo`; the undo call is journaled
with the call, `ToolCalled.undo`, and a task's own `compensate` replaces its calls'). When a run
fails or is cancelled after such tasks succeeded — or when an operator asks (`podium rollback`)
— their undos run one at a time, the latest success first. Each is journaled as it starts and as
it ends (`TaskCompensated`), under the run's lease, so a crash in between is seen on resume: an
undo that was started but not recorded as done runs again, with the same idempotency key
(``{run_id}/{task_id}/compensate``), so a tool that honours the key undoes once. An undo that
fails is journaled and the rest still run; the run's message then says the rollback is
incomplete, and `podium rollback` tries the failed ones again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from podium.agents import Agent
from podium.events import AnyEvent, ErrorInfo, TaskCompensated, ToolCalled
from podium.exceptions import (
    ConfigError,
    LeaseHeld,
    PlanValidationError,
    Problem,
    StoreError,
    TaskError,
)
from podium.plan import Plan, Task, Workflow
from podium.plan._task import Compensation
from podium.plan._template import TemplateError, render
from podium.runtime._attempt import AttemptInput
from podium.runtime._journal import Journal
from podium.runtime._lease import LeaseKeeper
from podium.runtime._state import RunState, rollback_status, to_undo
from podium.runtime._task_state import SUCCEEDED
from podium.runtime._work import AttemptWorker
from podium.store._lease import Lease
from podium.tools import Tool
from podium.tools._effects import effect_key
from podium.tools._tool import ToolContext

if TYPE_CHECKING:
    from podium.runtime._orchestrator import Orchestrator

log = logging.getLogger(__name__)

JSON = Any
UNDONE_ON = ("failed", "cancelled")
"""Run statuses after which compensations run by themselves."""


def owes_rollback(state: RunState) -> bool:
    """Whether undos are due without anyone asking: the run failed or was cancelled, or a
    rollback was started (on request) and not finished."""
    if state.status not in UNDONE_ON and not state.compensations:
        return False
    return bool(to_undo(state))


def check_undos(workflow: Workflow, agents: Mapping[str, Agent]) -> None:
    """Refuse, before a run starts, undos (of tasks and of tools) naming an agent or a tool the
    run will not have.

    Raises:
        PlanValidationError: every such undo, with its file and line where known.
    """
    tools = {t.name for a in agents.values() for t in a.tools}
    problems = []
    for task in workflow.plan:
        comp = task.compensate
        if comp is None:
            continue
        if comp.tool is not None and comp.tool not in tools:
            message = f"undo tool {comp.tool!r} is not a tool of any agent: give it to one"
        elif comp.tool is None and comp.agent not in agents:
            message = f"undo agent {comp.agent!r} is unknown"
        else:
            continue
        file, line = workflow.locate(task.id, "compensate") if workflow.locate else (None, None)
        problems.append(Problem(message, where=f"task {task.id!r}", file=file, line=line))
    for agent in agents.values():
        for t in agent.tools:
            if t.compensate is not None and t.compensate.tool not in tools:
                message = (
                    f"undo tool {t.compensate.tool!r} is not a tool of any agent: give it to one"
                )
                problems.append(Problem(message, where=f"tool {t.name!r} of agent {agent.name!r}"))
    if problems:
        raise PlanValidationError(problems)


def undo_key(run_id: str, task_id: str) -> str:
    """The idempotency key of a task's undo: the same every time it runs."""
    return effect_key(run_id, task_id, "compensate")


class Compensator:
    """Runs the undos of one run, journaling each (see the module docstring).

    Args:
        orch: the orchestrator (its executor, clock and prices run an undo agent).
        journal: the run's journal, as the holder of its lease.
        agents: the run's agents; their tools are the tools an undo may call.
        by: who asked, for a rollback on request.
    """

    def __init__(
        self, orch: Orchestrator, journal: Journal, agents: Mapping[str, Agent], *, by: str = ""
    ) -> None:
        self.orch = orch
        self.journal = journal
        self.state = journal.state
        self.agents = agents
        self.by = by
        self.tools: dict[str, Tool] = {}
        for agent in agents.values():
            for t in agent.tools:
                self.tools.setdefault(t.name, t)

    async def run(self, *, retry_failed: bool = False) -> None:
        """Undo, one at a time, every task `to_undo` names."""
        for tid in to_undo(self.state, retry_failed=retry_failed):
            await self.undo(tid)

    async def undo(self, uid: str) -> None:
        """Undo one task, or one tool call (`uid` is then a `call_undo_id`): journal the start,
        run the undo, journal how it ended."""
        journal, state = self.journal, self.state
        called = state.call_undos.get(uid)
        tid = called.task if called is not None else uid
        call = uid if called is not None else ""
        key = undo_key(state.run_id, tid) + (f"/{uid.partition('/')[2]}" if call else "")
        begun = {"task": tid, "key": key, "by": self.by, "call": call}
        await journal.emit_now(TaskCompensated, phase="started", **begun)
        try:
            if called is not None:
                result = await self._undo_call(called, key)
            else:
                task = state.tasks[tid].task
                assert task.compensate is not None
                result = await self._run(task, task.compensate, key)
        except (asyncio.CancelledError, GeneratorExit):
            raise
        except StoreError:
            raise  # the journal cannot be written: the undo stays "started", for the next try
        except BaseException as exc:  # the undo's own failure (user code, SystemExit too):
            # journaled, the rest go on; it must not end the process that undoes
            error = ErrorInfo(type=type(exc).__name__, message=str(exc) or repr(exc))
            log.warning("run %s: undoing %r failed: %s", state.run_id, uid, exc)
            await journal.emit_now(TaskCompensated, phase="failed", error=error, **begun)
        else:
            await journal.emit_now(TaskCompensated, phase="succeeded", result=result, **begun)

    def _scope(self, task: Task) -> dict[str, JSON]:
        state = self.state
        outputs = {t: s.output for t, s in state.tasks.items() if s.status == SUCCEEDED}
        inputs = state.submitted.inputs if state.submitted is not None else {}
        return {"inputs": inputs, "tasks": outputs, "item": task.item}

    async def _run(self, task: Task, comp: Compensation, key: str) -> JSON:
        scope = self._scope(task)
        if comp.tool is not None:
            tool = self.tools.get(comp.tool)
            if tool is None:
                raise ConfigError(
                    f"task {task.id!r} is undone by tool {comp.tool!r}, which none of the"
                    " run's agents has: give the tool to one of them"
                )
            arguments = {name: _rendered(v, scope) for name, v in comp.arguments.items()}
            context = ToolContext(
                run_id=self.state.run_id,
                task_id=task.id,
                agent=task.agent or "",
                call_id="compensate",
                idempotency_key=key,
            )
            async with asyncio.timeout(self.orch.reliability.tool_timeout_s):
                return await tool.call(arguments, context)
        return await self._ask(task, comp, scope)

    async def _undo_call(self, called: ToolCalled, key: str) -> JSON:
        """Call the undo journaled with a tool call (`ToolCalled.undo`)."""
        undo = called.undo or {}
        name = str(undo.get("tool", ""))
        if "error" in undo:
            raise TaskError(
                f"the undo of {called.tool!r} could not be made: {undo['error']}", kind="undo"
            )
        tool = self.tools.get(name)
        if tool is None:
            raise ConfigError(
                f"a call of {called.tool!r} is undone by tool {name!r}, which none of the run's"
                " agents has: give the tool to one of them"
            )
        arguments = undo.get("arguments")
        context = ToolContext(
            run_id=self.state.run_id,
            task_id=called.task,
            agent=called.agent,
            call_id="compensate",
            idempotency_key=key,
        )
        async with asyncio.timeout(self.orch.reliability.tool_timeout_s):
            return await tool.call(arguments if isinstance(arguments, dict) else {}, context)

    async def _ask(self, task: Task, comp: Compensation, scope: dict[str, JSON]) -> JSON:
        """Give the undo to an agent, as an attempt of a task of its own (``ID.undo``)."""
        name = comp.agent or ""
        if name not in self.agents:
            raise ConfigError(f"task {task.id!r} is undone by agent {name!r}, which is unknown")
        instruction = render(comp.instruction, scope)
        undo = Task(id=f"{task.id}.undo", instruction=str(instruction), agent=name)
        state = self.state
        prefix = f"{state.run_id}/{undo.id}/"  # its effects that landed before a crash replay
        effects = {k: v for k, v in state.effects.items() if k.startswith(prefix)}
        run_inputs = dict(scope["inputs"])
        output = state.tasks[task.id].output
        attempt = AttemptInput(
            run_id=state.run_id,
            task=undo,
            agent=name,
            attempt=1,
            instruction=undo.instruction,
            inputs={**run_inputs, task.id: output},
            run_inputs=run_inputs,
            task_outputs={task.id: output},
            effects=effects,
        )
        orch = self.orch
        worker = AttemptWorker(agents=self.agents, clock=orch.clock_, prices=orch.prices)
        outcome = await orch.executor.execute(worker, attempt, self.journal.emit_now)
        for ev in outcome.events:  # what a remote executor could not journal as it happened
            await self._replay(ev)
        if outcome.error is not None:
            raise TaskError(f"{outcome.error.type}: {outcome.error.message}", kind="undo")
        if outcome.approval is not None:
            raise TaskError("the undo waits for an approval: undo it by hand", kind="undo")
        return outcome.output

    async def _replay(self, ev: AnyEvent) -> None:
        fields = {f: getattr(ev, f) for f in ev.__struct_fields__}
        for f in ("run_id", "seq", "ts"):
            fields.pop(f)
        await self.journal.emit_now(type(ev), **fields)


def _rendered(value: JSON, scope: Mapping[str, JSON]) -> JSON:
    """A compensation argument with its templates filled in (in strings, at any depth)."""
    if isinstance(value, str):
        try:
            return render(value, scope)
        except TemplateError as exc:
            raise ConfigError(f"compensation argument {value!r}: {exc}") from None
    if isinstance(value, list):
        return [_rendered(v, scope) for v in value]
    if isinstance(value, dict):
        return {k: _rendered(v, scope) for k, v in value.items()}
    return value


async def compensate_leased(
    orch: Orchestrator,
    lease: Lease,
    state: RunState,
    *,
    workflow: Workflow | None = None,
    by: str = "",
    retry_failed: bool = False,
) -> None:
    """Run the undos `state` owes, holding the run's `lease` (the caller releases it)."""
    if workflow is None and isinstance(state.workflow.get("text"), str):
        workflow = orch.load_recorded(state.workflow)
    elif workflow is None:  # submitted from Python: the undos have the orchestrator's agents
        workflow = Workflow(name=str(state.workflow.get("name", "run")), plan=Plan([]))
    agents = orch.agents_for(workflow)
    journal = Journal(state, orch.store, clock=orch.clock, lease=lease)
    async with LeaseKeeper(orch.store, lease, lease_s=orch.limits.lease_s):
        await Compensator(orch, journal, agents, by=by).run(retry_failed=retry_failed)


async def compensate(
    orch: Orchestrator,
    run_id: str,
    *,
    workflow: Workflow | None = None,
    by: str = "",
    retry_failed: bool = False,
) -> RunState:
    """Take the run's lease, run the undos it owes (all of them, with `retry_failed`, also the
    failed ones: a rollback on request), give the lease back; the run's state after.

    Raises:
        ConfigError: the run has not finished (cancel it first).
        LeaseHeld: another process drives the run.
        RunNotFound: no such run.
    """
    await orch.open()
    lease = await orch.leases.acquire(run_id)
    try:
        state = RunState.from_events(run_id, await orch.store.load(run_id))
        if not state.finished:
            raise ConfigError(
                f"run {run_id!r} is {state.status}, not finished: cancel it first"
                " (`podium cancel`), which undoes what it did"
            )
        if to_undo(state, retry_failed=retry_failed):
            await compensate_leased(
                orch, lease, state, workflow=workflow, by=by, retry_failed=retry_failed
            )
        return state
    finally:
        await orch.leases.release(lease)


async def undo_ended(
    orch: Orchestrator, state: RunState, *, workflow: Workflow | None = None
) -> RunState:
    """After a run ended: run the undos it owes, if any; the run's state after. A process that
    holds the run's lease meanwhile (a `podium rollback`) is left to do them."""
    if not owes_rollback(state):
        return state
    try:
        return await compensate(orch, state.run_id, workflow=workflow)
    except LeaseHeld as exc:
        log.warning("run %s: its undos are left to the holder of its lease: %s", state.run_id, exc)
        return state


__all__ = [
    "Compensator",
    "check_undos",
    "compensate",
    "compensate_leased",
    "owes_rollback",
    "rollback_status",
    "to_undo",
    "undo_ended",
    "undo_key",
]
