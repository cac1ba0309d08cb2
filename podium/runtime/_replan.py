"""Re-planning the branch of a task that failed for good.

When a required task fails terminally (its retries and backups used up), the scheduler does not
give up at once: if the run may still re-plan (`Planner.max_replans`), the planner proposes new
tasks that get the failed task's result another way. They may use every output that already
succeeded; the last new task's output becomes the failed task's output, so what depends on it runs
as planned. `PlanRevised` journals the new tasks; `RunState` folds it like `PlanExtended`.

The scheduler's decisions are synchronous, so a failure only marks the task (`Replans.request`);
the scheduler's loop then awaits the planner (`RunDriver._replan`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from podium.plan import Task
from podium.runtime._state import RunState
from podium.runtime._task_state import FAILED, SUCCEEDED, TERMINAL

if TYPE_CHECKING:
    from podium.agents import Agent
    from podium.plan._planner import Planner

EmitNow = Callable[..., Awaitable[None]]
MAX_GIVEN = 12
"""Finished tasks a re-plan is offered as needs, at most."""


class Replanner(Protocol):
    """Proposes the tasks that replace a failed one (``None``: no valid replacement)."""

    async def replan(self, tid: str, state: RunState, emit: EmitNow) -> list[Task] | None: ...


@dataclass(slots=True)
class Replans:
    """Which failed tasks the run re-plans, within its bound."""

    replanner: Replanner | None = None
    max_replans: int = 0
    wanted: list[str] = field(default_factory=list)
    declined: set[str] = field(default_factory=set)

    def request(self, state: RunState, tid: str) -> bool:
        """Whether task `tid`, failed for good, gets a re-plan (then it is queued for one)."""
        st = state.tasks[tid]
        task = st.task
        eligible = (
            self.replanner is not None
            and st.status == FAILED
            and not task.optional
            and task.parent is None
            and task.map is None
            and tid not in self.declined
            and tid not in self.wanted
            and state.replans + len(self.wanted) < self.max_replans
        )
        if eligible:
            self.wanted.append(tid)
        return eligible

    def on_resume(self, state: RunState, dependants: Mapping[str, Collection[str]]) -> None:
        """Queue the failed tasks a crash left between their failure and their re-plan."""
        for tid, st in state.tasks.items():
            if st.status != FAILED:
                continue
            if all(state.tasks[d].status not in TERMINAL for d in dependants.get(tid, ())):
                self.request(state, tid)


@dataclass(frozen=True, slots=True)
class PlannerReplanner:
    """A `Replanner` backed by a `Planner` and the run's team."""

    planner: Planner
    agents: Mapping[str, Agent]

    async def replan(self, tid: str, state: RunState, emit: EmitNow) -> list[Task] | None:
        assert state.plan is not None
        st = state.tasks[tid]
        finished = [
            t for t, s in state.tasks.items() if s.status == SUCCEEDED and s.task.parent is None
        ]
        # what the failed task needed first, then the most recent: the prompt stays small
        needed = [t for t in st.task.needs if t in finished]
        done = [*needed, *[t for t in reversed(finished) if t not in needed]][:MAX_GIVEN]
        inputs = state.submitted.inputs if state.submitted else {}
        return await self.planner.replan(
            st.task,
            error=st.error.message if st.error is not None else "unknown error",
            plan=state.plan,
            done=done,
            agents=self.agents,
            input_names=list(inputs),
            prefix=f"{tid}-r{state.replans + 1}-",
            avoid=st.agent,
            emit=emit,
        )
