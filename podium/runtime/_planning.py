"""Runs that start from a goal: which planner, and journaling its plan before the run is driven.

``orchestrator.run("goal")`` (with the orchestrator's agents) or ``orchestrator.run(team,
goal="…")`` (with an agents file's team) submits a run whose `RunSubmitted.goal` is set and whose
inputs include ``goal``. Before the scheduler starts, the planner's proposals, repairs and fallback
are journaled one by one as they happen; then `PlanAccepted` (``source``: planner, repair or
fallback), or for a direct answer `PlanAccepted` with no tasks and `RunSucceeded` at once, or
`RunFailed` with reason ``plan``.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from podium.events import AnyEvent, Event, PlanAccepted, RunFailed, RunSucceeded
from podium.exceptions import ConfigError, PodiumError
from podium.plan import Plan, Workflow
from podium.plan._planner import Planner, PlanOutcome
from podium.runtime._replan import PlannerReplanner
from podium.runtime._state import RunState
from podium.store import Store

if TYPE_CHECKING:
    from podium.agents import Agent

JSON = Any
EventCallback = Callable[[AnyEvent], Any]


def goal_of(workflow: Workflow | Plan | str, goal: str | None) -> tuple[Workflow, str | None]:
    """The workflow and the goal of ``run(workflow_or_goal, goal=…)``.

    Raises:
        ConfigError: the goal is empty, given twice, or given with a workflow that has tasks.
    """
    if isinstance(workflow, str):
        if goal is not None:
            raise ConfigError("give the goal once: run('goal') or run(team, goal='goal')")
        return goal_of(Workflow(name="goal", plan=Plan([])), workflow)
    if isinstance(workflow, Plan):
        workflow = Workflow(name="plan", plan=workflow)
    if goal is None:
        return workflow, None
    if not goal.strip():
        raise ConfigError("the goal is empty: say what the run should achieve")
    if len(workflow.plan):
        raise ConfigError(
            f"workflow {workflow.name!r} has tasks already: run it without a goal, or give the "
            "goal with an agents file (a workflow file without tasks)"
        )
    return workflow, goal


def planner_for(*choices: Planner | None, goal: bool) -> Planner | None:
    """The first planner given; a run from a goal always has one (the default `Planner()`)."""
    for planner in choices:
        if planner is not None:
            return planner
    return Planner() if goal else None


def replanning(planner: Planner | None, agents: Mapping[str, Agent]) -> dict[str, JSON]:
    """The driver's re-planning settings: none without a planner."""
    if planner is None or planner.max_replans == 0:
        return {"replanner": None, "max_replans": 0}
    return {"replanner": PlannerReplanner(planner, agents), "max_replans": planner.max_replans}


class _Journal:
    """Appends events to a run that no driver owns yet (planning happens before driving)."""

    def __init__(
        self,
        state: RunState,
        store: Store,
        clock: Callable[[], float],
        on_event: EventCallback | None,
    ) -> None:
        self.state = state
        self.store = store
        self.clock = clock
        self.on_event = on_event

    def _event(self, kind: type[Event], fields: Mapping[str, JSON]) -> AnyEvent:
        self.state.seq += 1
        return kind(  # type: ignore[return-value]
            run_id=self.state.run_id, seq=self.state.seq, ts=self.clock(), **fields
        )

    async def emit(self, kind: type[Event], **fields: JSON) -> None:
        await self.append([(kind, fields)])

    async def append(self, items: list[tuple[type[Event], Mapping[str, JSON]]]) -> None:
        """Journal events in one atomic append, then fold and report them."""
        seq = self.state.seq
        events = [self._event(kind, fields) for kind, fields in items]
        try:
            await self.store.append(self.state.run_id, events)
        except BaseException:
            self.state.seq = seq
            raise
        for event in events:
            self.state.apply(event)
            if self.on_event is not None:
                result = self.on_event(event)
                if inspect.isawaitable(result):
                    await result


async def plan_goal(
    state: RunState,
    *,
    planner: Planner,
    agents: Mapping[str, Agent],
    store: Store,
    clock: Callable[[], float],
    on_event: EventCallback | None,
) -> None:
    """Plan the run's goal and journal the outcome (after which the run may be finished)."""
    assert state.submitted is not None
    assert state.submitted.goal is not None
    journal = _Journal(state, store, clock, on_event)
    inputs = state.submitted.inputs
    try:
        outcome = await planner.plan(
            state.submitted.goal, agents=agents, input_names=list(inputs), emit=journal.emit
        )
    except PodiumError as exc:  # e.g. the model cannot be loaded
        outcome = PlanOutcome(message=f"the planner failed: {exc}")
    if outcome.answer is not None:
        await journal.append(
            [
                (PlanAccepted, {"tasks": [], "source": outcome.source}),
                (RunSucceeded, {"output": outcome.answer}),
            ]
        )
    elif outcome.plan is not None:
        plan = outcome.plan
        fields = {"tasks": plan.to_data(), "output": plan.output, "source": outcome.source}
        await journal.append([(PlanAccepted, fields)])
    else:
        message = f"no plan for the goal: {outcome.message}"
        await journal.append([(RunFailed, {"reason": "plan", "message": message})])
