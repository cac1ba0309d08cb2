"""Runs that start from a goal: which planner, and journaling its plan before the run is driven.

``orchestrator.run("goal")`` (with the orchestrator's agents) or ``orchestrator.run(team,
goal="…")`` (with an agents file's team) submits a run whose `RunSubmitted.goal` is set and whose
inputs include ``goal``. Before the scheduler starts, the planner's proposals, repairs and fallback
are journaled one by one as they happen; then `PlanAccepted` (``source``: planner, repair or
fallback), or for a direct answer `PlanAccepted` with no tasks and `RunSucceeded` at once, or
`RunFailed` with reason ``plan``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from podium.events import PlanAccepted, RunFailed, RunSucceeded
from podium.exceptions import ConfigError, PodiumError
from podium.plan import Plan, Workflow
from podium.plan._planner import Planner, PlanOutcome
from podium.plan._router_spec import RouterSpec
from podium.routing import Router, router_for
from podium.runtime._goal_checks import checked_answer
from podium.runtime._journal import Journal
from podium.runtime._replan import PlannerReplanner
from podium.verify import Check

if TYPE_CHECKING:
    from podium.agents import Agent

JSON = Any


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
        wrapped = workflow.wrapped  # the same workflow for every run of the plan: its wiring
        if not isinstance(wrapped, Workflow) or wrapped.plan is not workflow:  # is kept
            wrapped = workflow.wrapped = Workflow(name="plan", plan=workflow)
        workflow = wrapped
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


def routed(planner: Planner | None, router: Router, spec: RouterSpec | None) -> Planner | None:
    """The planner, assigning its steps' agents by the relevance of the run's router (the same
    one that routes the run's tasks), unless it was given its own."""
    if planner is None or planner.relevance is not None or planner.assign != "router":
        return planner
    relevance = getattr(router_for(spec, router), "relevance", None)
    if relevance is None:
        return planner
    return dataclasses.replace(planner, relevance=relevance)


def replanning(planner: Planner | None, agents: Mapping[str, Agent]) -> dict[str, JSON]:
    """The driver's re-planning settings: none without a planner."""
    if planner is None or planner.max_replans == 0:
        return {"replanner": None, "max_replans": 0}
    return {"replanner": PlannerReplanner(planner, agents), "max_replans": planner.max_replans}


async def plan_goal(
    journal: Journal,
    *,
    planner: Planner,
    agents: Mapping[str, Agent],
    checks: bool | Sequence[Check] = True,
) -> None:
    """Plan the run's goal and journal the outcome (after which the run may be finished); a
    direct answer its goal `checks` reject is planned again, without answers (`checked_answer`)."""
    state = journal.state
    assert state.submitted is not None
    assert state.submitted.goal is not None
    inputs = state.submitted.inputs
    try:
        outcome = await planner.plan(
            state.submitted.goal, agents=agents, input_names=list(inputs), emit=journal.emit_now
        )
    except PodiumError as exc:  # e.g. the model cannot be loaded
        outcome = PlanOutcome(message=f"the planner failed: {exc}")
    if outcome.answer is not None:
        unanswering = dataclasses.replace(planner, answers=False)
        goal = state.submitted.goal
        outcome = await checked_answer(
            outcome,
            goal=goal,
            setting=checks,
            emit=journal.emit_now,
            replan=lambda: unanswering.plan(
                goal, agents=agents, input_names=list(inputs), emit=journal.emit_now
            ),
        )
    if outcome.answer is not None:  # one atomic append: the answer and the end
        journal.emit(PlanAccepted, tasks=[], source=outcome.source)
        journal.emit(RunSucceeded, output=outcome.answer)
    elif outcome.plan is not None:
        plan = outcome.plan
        journal.emit(PlanAccepted, tasks=plan.to_data(), output=plan.output, source=outcome.source)
    else:
        message = f"no plan for the goal: {outcome.message}"
        journal.emit(RunFailed, reason="plan", message=message)
    await journal.flush()
