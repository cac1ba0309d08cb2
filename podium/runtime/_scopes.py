"""Blackboard scopes: what an attempt may read and write, from its task and its agent.

A task declares the keys it reads (`Task.reads`) and, if it wants them bounded, those it writes
(`Task.writes`); an agent may declare its own `reads` and `writes`, which bound every task it is
given. A task with a fixed agent (or backup) that declares more than the agent allows is a plan
problem (`podium.plan._scopes`), reported before the run starts; a task routed by capability
runs within the intersection, and what falls outside is refused when it is reached and
journaled (`AccessDenied`).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

from podium.agents import Agent
from podium.context import Blackboard, ContextView, Denial, KeyScope
from podium.events import AccessDenied
from podium.exceptions import PlanValidationError
from podium.plan import Task
from podium.plan._scopes import scope_problems
from podium.plan._workflow import Workflow
from podium.runtime._attempt import EventSink


def bound_of(agent: Agent | None) -> KeyScope | None:
    """The keys `agent` bounds its tasks to, or ``None`` when it declares no bound."""
    if agent is None or (agent.reads is None and agent.writes is None):
        return None
    return KeyScope(
        agent=agent.name,
        reads=None if agent.reads is None else frozenset(agent.reads),
        writes=None if agent.writes is None else frozenset(agent.writes),
    )


def scoped_view(board: Blackboard, task: Task, agent: Agent | None) -> ContextView:
    """The view of the blackboard an attempt of `task` on `agent` gets."""
    return ContextView(
        board, task=task.id, reads=task.reads, writes=task.writes, bound=bound_of(agent)
    )


async def journal_denials(
    emit: EventSink, denied: Collection[Denial], *, task: str, agent: str, attempt: int
) -> None:
    """Journal each refused access to the blackboard (`AccessDenied`)."""
    for d in denied:
        await emit(
            AccessDenied,
            task=task,
            agent=agent,
            attempt=attempt,
            access=d.access,
            target=d.key,
            reason=d.reason,
        )


def check_scopes(workflow: Workflow, agents: Mapping[str, Agent]) -> None:
    """Refuse, before a run starts, tasks that declare keys their agents may not reach.

    Raises:
        PlanValidationError: every such task, with its file and line where known.
    """
    problems = scope_problems(workflow.plan, agents, workflow.locate)
    if problems:
        raise PlanValidationError(problems)


__all__ = ["bound_of", "check_scopes", "journal_denials", "scoped_view"]
