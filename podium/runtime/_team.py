"""A run's team: the orchestrator's agents and a workflow's, checked once.

`Team.for_workflow` merges the two (an agent defined by both is an error), checks handoffs, and
makes a model that cannot be had (no API key, a missing extra or file) a `ConfigError` now, once,
rather than a failure of every task that would use it. `Team.validate` checks a workflow's plan
against the agents and inputs, remembering what it was checked against so a workflow run again
is not checked again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from podium.agents import Agent, agent_table
from podium.agents._handoff import check_handoffs
from podium.exceptions import ConfigError
from podium.models._registry import resolve_model
from podium.plan import check_plan
from podium.plan._workflow import Workflow
from podium.runtime._compensate import check_undos
from podium.runtime._scopes import check_scopes


class Team:
    """The orchestrator's agents, and the checks of a workflow's (see the module docstring).

    Args:
        agents: the orchestrator's agents.
        calls_models: whether runs call models (a replayed run calls none: its models are not
            checked).
    """

    def __init__(self, agents: Sequence[Agent], *, calls_models: bool = True) -> None:
        self.agents = agent_table(agents)
        self.calls_models = calls_models
        self._usable_models: set[str] = set()
        self._checked = False  # the orchestrator's own agents, alone

    def for_workflow(self, workflow: Workflow) -> dict[str, Agent]:
        """The orchestrator's agents and the workflow's, their models checked (the agents of a
        workflow that brings none are the orchestrator's own table: do not change it)."""
        if not workflow.agents and self._checked:
            return self.agents
        table = dict(self.agents) if workflow.agents else self.agents
        for agent in workflow.agents:
            if agent.name in table and table[agent.name] is not agent:
                raise ConfigError(
                    f"agent {agent.name!r} is defined by both the workflow and the orchestrator"
                )
            table[agent.name] = agent
        check_handoffs(table)
        self._check_models(table)
        self._checked = self._checked or not workflow.agents
        return table

    def _check_models(self, agents: Mapping[str, Agent]) -> None:
        if not self.calls_models:
            return
        for agent in agents.values():
            name = agent.model
            if not isinstance(name, str) or name in self._usable_models:
                continue
            try:
                resolve_model(name)
            except ConfigError as exc:
                raise ConfigError(f"agent {agent.name!r}: {exc}") from None
            self._usable_models.add(name)

    def validate(self, workflow: Workflow, agents: Mapping[str, Agent], *, max_tasks: int) -> None:
        """Check the workflow's plan against `agents` and its inputs (every problem at once).

        Raises:
            PlanValidationError: the plan has problems.
        """
        key = (
            tuple(sorted((n, a.capabilities, a.reads, a.writes) for n, a in agents.items())),
            tuple(workflow.input_names() or ()),
            max_tasks,
        )
        if workflow.plan.checked == key:
            return  # validated before against the same agents and inputs
        check_plan(
            workflow.plan,
            agents={name: a.capabilities for name, a in agents.items()},
            input_names=workflow.input_names(),
            locate=workflow.locate,
            max_tasks=max_tasks,
        )
        check_undos(workflow, agents)
        check_scopes(workflow, agents)
        workflow.plan.checked = key


__all__ = ["Team"]
