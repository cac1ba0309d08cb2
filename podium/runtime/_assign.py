"""Which agent runs a task's next attempt, and what a finished task teaches the router.

The router (`podium.routing`) chooses among the agents that fit; the scheduler adds what only
the run knows: a task that failed stays with its agent (or the backup it was handed to) for its
retries, and an agent whose circuit breaker is open is passed over for a backup. When the router
finds that no agent fits a task (`NoFit`), the task fails with the router's reason, or, when the
router escalates, waits for a person who may approve the closest agent. Once a task is
final, its outcome (success, checks, cost over its attempts, latency) is collected for the store
and, for a routed task, given to a learning router at once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from podium.agents import Agent
from podium.events import ErrorInfo
from podium.plan import RouterSpec, Task
from podium.policy import ApprovalRequest
from podium.routing import LearningRouter, NoFit, Router, router_for, task_kind
from podium.runtime._state import RunState
from podium.runtime._supervise import Supervisor
from podium.runtime._task_state import FAILED, SUCCEEDED
from podium.store import Outcome, OutcomeStats
from podium.store._outcomes import OutcomeSums
from podium.tools._effects import task_hash

JSON = Any
Choice = tuple[str, str, list[dict[str, JSON]]]
"""(agent, reason, candidates) of an assignment."""
FIXED = "fixed by the task"
Assignment = Choice | ErrorInfo | ApprovalRequest | None
"""A choice; the error a task no agent fits fails with; what a person is asked about it; or
``None`` when no agent that fits has room now."""


class Assigner:
    """Assigns attempts to agents and collects task outcomes (see the module docstring)."""

    def __init__(
        self,
        state: RunState,
        agents: Mapping[str, Agent],
        router: Router,
        supervisor: Supervisor,
        *,
        learner: LearningRouter | None = None,
        spec: RouterSpec | None = None,
    ) -> None:
        self.state = state
        self.agents = agents
        self.router = router_for(spec, router)  # the workflow's `router` section, if it has one
        self.supervisor = supervisor
        self.learner = learner
        self._routed: list[Outcome] = []
        self._sums: dict[tuple[str, str], OutcomeSums] = {}

    def assign(self, task: Task, has_room: Callable[[str], bool]) -> Assignment:
        """(agent, reason, candidates) for the task's next attempt (see `Assignment`)."""
        st = self.state.tasks.get(task.id)
        if st is not None and st.failures and st.agent in self.agents:
            agent = st.agent
            assert agent is not None
            return (agent, "retry", []) if has_room(agent) else None
        choice = self._first_choice(task, has_room)
        if not isinstance(choice, tuple):
            return choice
        if st is None or self.supervisor.breakers is None:
            return choice
        rerouted = self.supervisor.reroute(st, choice)
        if rerouted[0] != choice[0] and not has_room(rerouted[0]):
            return None
        return rerouted

    def _first_choice(self, task: Task, has_room: Callable[[str], bool]) -> Assignment:
        """The task's own agent, else the router's choice (or why there is none)."""
        if task.agent is not None:  # a task that names its agent is not routed
            return (task.agent, FIXED, []) if has_room(task.agent) else None
        decision = self.router.route(task, self.agents, has_room)
        if isinstance(decision, NoFit):
            return self._no_fit(task, decision, has_room)
        if decision is None:
            return None
        return decision.agent, decision.reason, decision.candidates

    def _no_fit(self, task: Task, unfit: NoFit, has_room: Callable[[str], bool]) -> Assignment:
        """The error the task fails with; or, when the router escalates, the approval to ask
        for, until a person grants it: then the closest agent takes the task."""
        if not unfit.escalate or unfit.best is None:
            return ErrorInfo(type="no_fit", message=unfit.reason)
        digest = task_hash(task.id, f"no fit: {unfit.best}: {task.instruction}")
        if not self.state.approvals.granted(task.id, digest):
            return ApprovalRequest(
                action="task",
                action_hash=digest,
                reason=f"{unfit.reason}; approve to give it to {unfit.best!r}",
                instruction=task.instruction,
            )
        if not has_room(unfit.best):
            return None
        return unfit.best, f"{unfit.reason}; a person approved {unfit.best!r}", unfit.candidates

    def observe(self, task: Task, agent: str) -> None:
        """Collect the task's outcome, and tell a learning router, once it is final.

        The outcome goes to the agent of the final attempt, with the cost of all attempts
        (``None`` when the agent reports no usage, so "unknown" is not mistaken for "free")
        and the final attempt's latency.
        """
        st = self.state.tasks[task.id]
        status = st.status
        if status not in (SUCCEEDED, FAILED):
            return
        succeeded = status == SUCCEEDED
        usage = st.usage
        reported = usage.cost_usd > 0 or usage.input_tokens > 0 or usage.output_tokens > 0
        checks: bool | None = None
        if task.output_schema is not None:
            if succeeded:
                checks = True
            elif st.error is not None and st.error.type == "output_invalid":
                checks = False
        started, ended = st.started_ts, st.ended_ts
        latency = max(0.0, ended - started) if started is not None and ended else 0.0
        cost = usage.cost_usd if reported else None
        if task.agent is not None:  # summed here: only routed tasks teach the router during a
            # run; fixed-agent outcomes still reach the store and count from the next run on
            key = (task_kind(task), agent)
            sums = self._sums.get(key)
            if sums is None:
                sums = self._sums[key] = OutcomeSums()
            sums.count(succeeded, checks, cost, latency, ended or 0.0)
            return
        outcome = Outcome(
            kind=task_kind(task),
            agent=agent,
            success=succeeded,
            checks_passed=checks,
            cost_usd=cost,
            latency_s=latency,
            ts=ended or 0.0,
        )
        self._routed.append(outcome)
        if self.learner is not None:
            self.learner.observe(outcome)

    @property
    def outcomes(self) -> list[Outcome | OutcomeStats]:
        """What the run's finished tasks teach: routed tasks' outcomes one by one, fixed-agent
        tasks' summed per kind and agent."""
        return [*self._routed, *(sums.freeze(*key) for key, sums in self._sums.items())]


__all__ = ["Assigner", "Assignment", "Choice"]
