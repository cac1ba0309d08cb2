"""The checks of a run from a goal: its final outputs must be about the goal.

A goal run's plan comes from a model, and so do its answers: nothing in a workflow file says
what to check. `Policy.goal_checks` (on by default) checks the final outputs — the answers of
model-driven agents to the tasks nothing else needs, and the planner's direct answer — for
relevance to the goal, and for grounding where the task was given documents, so that "What is
the GDP of France?" answered with a fact about coffee is never a `succeeded` run.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from podium.agents import Agent
from podium.events import ErrorInfo, OutputChecked, OutputRejected
from podium.plan._planner import PlanOutcome
from podium.runtime._attempt import AttemptInput
from podium.runtime._interceptors import AttemptCall
from podium.verify import Check, CheckCall, collect_sources, run_check

DEFAULT_GOAL_CHECKS: tuple[Check, ...] = (
    Check(kind="relevance", name="goal-relevance", retries=1),
    Check(kind="grounding", name="goal-grounding", retries=1),
)
"""What `Policy(goal_checks=True)` applies to the final outputs of a run from a goal."""

ANSWER = "answer"
"""The task id the verdicts on a planner's direct answer are journaled under."""

Emit = Callable[..., Awaitable[None]]


def goal_checks(setting: bool | Sequence[Check]) -> tuple[Check, ...]:
    """The checks a `Policy.goal_checks` setting stands for."""
    if setting is True:
        return DEFAULT_GOAL_CHECKS
    if setting is False:
        return ()
    return tuple(setting)


def final_goal_checks(
    call: AttemptCall, setting: bool | Sequence[Check], own: Sequence[Check], agent: Agent | None
) -> tuple[Check, ...]:
    """The goal checks that apply to this attempt: in a run from a goal, on the answer of a
    model-driven `agent` (a Python agent's output is its author's code, checked by its own
    `checks`) to a task nothing else needs (a final output), those of a kind its own checks do
    not cover already."""
    state, task = call.state, call.input.task
    if state.submitted is None or state.submitted.goal is None or task.parent is not None:
        return ()
    if agent is None or agent.model is None:
        return ()
    checks = goal_checks(setting)
    if not checks or any(task.id in st.task.needs for st in state.tasks.values()):
        return ()
    kinds = {c.kind for c in own}
    return tuple(c for c in checks if c.kind not in kinds)


def has_documents(input: AttemptInput) -> bool:
    """Whether the task was given documents to cite: objects with an id and a text in its
    inputs, or blackboard entries written with their sources. Plain text inputs (the goal
    itself among them) are not documents: a goal run's output need not cite them."""
    inputs = {k: v for k, v in input.inputs.items() if not isinstance(v, str)}
    cited = {k: [e for e in entries if e.sources] for k, entries in input.context.items()}
    return bool(collect_sources(inputs, cited))


async def checked_answer(
    outcome: PlanOutcome,
    *,
    goal: str,
    setting: bool | Sequence[Check],
    emit: Emit,
    replan: Callable[[], Awaitable[PlanOutcome]],
) -> PlanOutcome:
    """The planner's outcome, its direct answer checked against the goal: an answer a check
    rejects is journaled (`OutputRejected`, task ``answer``) and the goal planned again, this
    time without the option to answer directly.

    Grounding and judge checks are left out: a direct answer has no sources and no agent.
    """
    if outcome.answer is None:
        return outcome
    subject = CheckCall(task=ANSWER, agent="planner", instruction=goal)
    for check in goal_checks(setting):
        if check.kind in ("grounding", "judge"):
            continue
        v = await run_check(check, outcome.answer, subject)
        if not v.passed:
            error = ErrorInfo(type=v.error_type, message=v.reason)
            await emit(
                OutputRejected,
                task=ANSWER,
                agent="planner",
                error=error,
                check=v.check,
                evidence=v.evidence,
            )
            return await replan()
        await emit(
            OutputChecked,
            task=ANSWER,
            agent="planner",
            check=v.check,
            check_kind=v.kind,
            score=v.score,
            reason=v.reason,
            evidence=v.evidence,
        )
    return outcome


__all__ = [
    "DEFAULT_GOAL_CHECKS",
    "checked_answer",
    "final_goal_checks",
    "goal_checks",
    "has_documents",
]
