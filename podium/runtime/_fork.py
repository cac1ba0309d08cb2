"""Time travel: fork a run from one of its tasks, and compare two runs task by task.

A fork is a new run whose journal starts as its parent's did: the parent's plan (as it was
accepted, before any re-plan), and a copy of every success that does not depend on the task it is
forked from — with its context writes and its output, marked `TaskSucceeded.copied_from` (no
agent runs again for it; its time and cost stay the parent's). Then the task and everything
downstream of it run again, with the changes the fork asks for: other run inputs, the task's
instruction, or another agent. `RunForked` names the parent, the task and the changes. A fork is
an ordinary run from there on: it is driven, interrupted and resumed like any other.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import msgspec

from podium.events import (
    AnyEvent,
    ContextWritten,
    PlanAccepted,
    PlanExtended,
    RunForked,
    RunSubmitted,
    TaskSucceeded,
)
from podium.exceptions import ConfigError
from podium.plan import Task, Workflow
from podium.plan._task import task_from_data
from podium.runtime._drive import Drive, EventCallback, submit
from podium.runtime._journal import Journal
from podium.runtime._result import RunResult
from podium.runtime._state import RunState
from podium.runtime._task_state import SUCCEEDED

if TYPE_CHECKING:
    from podium.runtime._orchestrator import Orchestrator

JSON = Any


def _downstream(plan: list[Task], task: str) -> set[str]:
    """`task` and every task that needs it, directly or not."""
    dependants: dict[str, list[str]] = {}
    for t in plan:
        for dep in t.needs:
            dependants.setdefault(dep, []).append(t.id)
    out = {task}
    stack = [task]
    while stack:
        for d in dependants.get(stack.pop(), ()):
            if d not in out:
                out.add(d)
                stack.append(d)
    return out


def _edited(task: Task, instruction: str | None, agent: str | None) -> Task:
    changes: dict[str, Any] = {}
    if instruction is not None:
        changes["instruction"] = instruction
    if agent is not None:
        changes["agent"] = agent
        changes["capability"] = None
    return msgspec.structs.replace(task, **changes) if changes else task


def _copied(
    parent: list[AnyEvent], kept: set[str], run_id: str
) -> list[tuple[type, dict[str, JSON]]]:
    """The events that rebuild the kept tasks' successes, in the parent's order."""
    out: list[tuple[type, dict[str, JSON]]] = []
    for ev in parent:
        if isinstance(ev, PlanExtended) and ev.parent in kept:
            out.append(
                (
                    PlanExtended,
                    {"parent": ev.parent, "tasks": ev.tasks, "derived_items": ev.derived_items},
                )
            )
        elif isinstance(ev, ContextWritten) and ev.task in kept:
            fields = msgspec.structs.asdict(ev)
            for key in ("run_id", "seq", "ts"):
                fields.pop(key)
            out.append((ContextWritten, fields))
        elif isinstance(ev, TaskSucceeded) and ev.task in kept:
            reused = ev.reused_from if ev.reused_from in kept else None
            out.append(
                (
                    TaskSucceeded,
                    {
                        "task": ev.task,
                        "agent": ev.agent,
                        "attempt": ev.attempt,
                        "output": ev.output,
                        "reused_from": reused,
                        "copied_from": run_id,
                    },
                )
            )
    return out


async def fork_run(
    orch: Orchestrator,
    run_id: str,
    task: str,
    *,
    inputs: dict[str, JSON] | None = None,
    instruction: str | None = None,
    agent: str | None = None,
    workflow: Workflow | None = None,
    fork_id: str,
    on_event: EventCallback | None = None,
    by: str = "",
) -> RunResult:
    """Fork run `run_id` from `task` and drive the fork to its end (see the module docstring).

    Raises:
        RunNotFound: no such run.
        ConfigError: the run has no plan, `task` is not one of its tasks, `agent` is not on the
            team, the inputs do not fit the workflow, or the fork's id is taken.
    """
    await orch.open()
    events = await orch.store.load(run_id)
    parent = RunState.from_events(run_id, events)
    accepted = next((e for e in events if isinstance(e, PlanAccepted)), None)
    if parent.submitted is None or accepted is None:
        raise ConfigError(f"run {run_id!r} has no plan yet: there is nothing to fork")
    plan = [task_from_data(d) for d in accepted.tasks]
    ids = [t.id for t in plan]
    if task not in ids:
        raise ConfigError(
            f"run {run_id!r} has no task {task!r} to fork from (its tasks: {', '.join(ids)})"
        )
    workflow = workflow or orch.load_recorded(parent.workflow)
    agents = orch.agents_for(workflow)
    if agent is not None and agent not in agents:
        raise ConfigError(f"no agent {agent!r} on the team (agents: {', '.join(sorted(agents))})")
    redo = _downstream(plan, task)
    kept = {
        tid
        for tid, st in parent.tasks.items()
        if st.status == SUCCEEDED and st.task.parent is None and tid not in redo
    }
    kept |= {  # a mapped task's items, when the mapped task itself is kept
        tid for tid, st in parent.tasks.items() if st.status == SUCCEEDED and st.task.parent in kept
    }
    tasks = [_edited(t, instruction, agent) if t.id == task else t for t in plan]
    bound = workflow.bind_inputs({**parent.submitted.inputs, **(inputs or {})})
    changes: dict[str, JSON] = {}
    if inputs:
        changes["inputs"] = inputs
    if instruction is not None:
        changes["instruction"] = instruction
    if agent is not None:
        changes["agent"] = agent
    submitted = RunSubmitted(
        run_id=fork_id,
        seq=0,
        ts=orch.clock(),
        inputs=bound,
        goal=parent.submitted.goal,
        workflow=parent.workflow,
        limits=parent.submitted.limits,
        digest=parent.digest,
        by=by,
    )
    lease = await submit(orch, submitted, name=workflow.name)
    if lease is None:
        raise ConfigError(f"run id {fork_id!r} is taken: give the fork another id")
    state = RunState.from_events(fork_id, [submitted])
    journal = Journal(state, orch.store, clock=orch.clock, lease=lease)
    journal.emit(RunForked, parent=run_id, task=task, changes=changes, by=by)
    journal.emit(
        PlanAccepted, tasks=[msgspec.to_builtins(t) for t in tasks], output=accepted.output
    )
    for kind, fields in _copied(events, kept, run_id):
        journal.emit(kind, **fields)
    await journal.flush()
    drive = Drive(orch, state, workflow, agents, lease=lease, planner=None, on_event=on_event)
    return await drive.run()


@dataclass(frozen=True, slots=True)
class TaskComparison:
    """One task in two runs: what each did, and whether their outputs agree."""

    task: str
    status: tuple[str | None, str | None]
    agent: tuple[str | None, str | None]
    output: tuple[JSON, JSON]
    seconds: tuple[float | None, float | None]
    cost_usd: tuple[float, float]
    copied: tuple[bool, bool]

    @property
    def same_output(self) -> bool:
        return bool(self.output[0] == self.output[1])


def compare_runs(a: RunState, b: RunState) -> list[TaskComparison]:
    """Task by task (in the first run's order, then the second's own tasks), what two runs
    did: status, agent, output, time and cost."""
    order = [*a.tasks, *(t for t in b.tasks if t not in a.tasks)]

    def side(state: RunState, tid: str) -> tuple[Any, ...]:
        st = state.tasks.get(tid)
        if st is None:
            return None, None, None, None, 0.0, False
        seconds = (
            st.ended_ts - st.started_ts
            if st.ended_ts is not None and st.started_ts is not None
            else None
        )
        copied = tid in state.copied
        return st.status, st.agent, st.output, seconds, st.usage.cost_usd, copied

    rows = []
    for tid in order:
        x, y = side(a, tid), side(b, tid)
        rows.append(
            TaskComparison(
                task=tid,
                status=(x[0], y[0]),
                agent=(x[1], y[1]),
                output=(x[2], y[2]),
                seconds=(x[3], y[3]),
                cost_usd=(x[4], y[4]),
                copied=(x[5], y[5]),
            )
        )
    return rows


__all__ = ["TaskComparison", "compare_runs", "fork_run"]
