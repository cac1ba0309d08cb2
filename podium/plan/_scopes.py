"""Blackboard scopes, checked before a run: a task may not declare keys its agent may not reach.

An agent's `reads` and `writes` bound every task it is given. A task with a fixed agent (or a
backup) that declares a key outside them is a plan problem, reported with the file and line of
the task's field; a task routed by capability runs within the intersection of its scope and its
agent's, and what falls outside is refused when it is reached (see `podium.context.ContextView`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from podium.agents import Agent
from podium.exceptions import Problem
from podium.plan._task import Plan, Task
from podium.plan._validate import Locate


def _beyond(task: Task, agent: Agent) -> Iterator[tuple[str, str]]:
    """(field, message) for each field of `task` that declares keys `agent` may not reach."""
    if agent.reads is not None:
        outside = sorted(set(task.reads) - set(agent.reads))
        if outside:
            yield (
                "reads",
                (
                    f"agent {agent.name!r} may not read {outside} (its `reads`:"
                    f" {sorted(agent.reads)}); drop them from the task or give them to the agent"
                ),
            )
    if agent.writes is not None and task.writes is not None:
        outside = sorted(set(task.writes) - set(agent.writes))
        if outside:
            yield (
                "writes",
                (
                    f"agent {agent.name!r} may not write {outside} (its `writes`:"
                    f" {sorted(agent.writes)}); drop them from the task or give them to the agent"
                ),
            )


def scope_problems(
    plan: Plan, agents: Mapping[str, Agent], locate: Locate | None = None
) -> list[Problem]:
    """Every task whose fixed agent or backup may not reach the keys the task declares
    (unknown agents are `validate_plan`'s to report)."""
    problems = []
    for task in plan:
        named = [task.agent] if task.agent is not None else []
        for i, name in enumerate([*named, *task.backups]):
            agent = agents.get(name)
            if agent is None:
                continue
            for field, message in _beyond(task, agent):
                file, line = locate(task.id, field) if locate else (None, None)
                said = message if i < len(named) else f"backup {message}"
                problems.append(
                    Problem(said, where=f"tasks.{task.id}.{field}", file=file, line=line)
                )
    return problems


__all__ = ["scope_problems"]
