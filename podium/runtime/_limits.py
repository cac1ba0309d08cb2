"""Limits: the orchestrator's (`Limits`), what a run records of them, and what each attempt gets.

A run's budget and guards are recorded in `RunSubmitted.limits` so a resumed run keeps them;
`RunLimits.for_attempt` turns them, and what the run has spent so far, into an attempt's
`AttemptLimits` (the attempt then counts what it spends itself).
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import msgspec

from podium.exceptions import ConfigError
from podium.plan import DEFAULT_MAX_TASKS
from podium.reliability._budget import Budget
from podium.reliability._guards import Guards
from podium.runtime._attempt import Allowance, AttemptLimits, Spent
from podium.runtime._state import RunState
from podium.runtime._task_state import TaskState
from podium.store._lease import DEFAULT_LEASE_S

JSON = Any


@dataclass(frozen=True, slots=True, kw_only=True)
class Limits:
    """Run limits.

    Args:
        max_concurrency: task attempts running at once in one run.
        timeout_s: wall time a run may take (per drive: a resumed run gets it afresh).
        threads: size of the thread pool that runs synchronous agents (of the default
            `LocalExecutor`).
        budget: tokens, dollars, wall time and steps a run may spend (a task's own `budget`
            limits it and its map children).
        guards: loop and stall guards.
        max_tasks: tasks a run's plan may grow to (map fan-out, re-plans); past it the run
            fails with reason ``limit``.
        lease_s: the term of the lease a driving process holds on its run (renewed every third
            of it): how long a crashed driver on another host keeps others from resuming the run.
    """

    max_concurrency: int = 64
    timeout_s: float | None = None
    threads: int = min(32, (os.cpu_count() or 1) + 4)
    budget: Budget | None = None
    guards: Guards = field(default_factory=Guards)
    max_tasks: int = DEFAULT_MAX_TASKS
    lease_s: float = DEFAULT_LEASE_S

    def __post_init__(self) -> None:
        if self.max_concurrency < 1:
            raise ConfigError("Limits.max_concurrency must be at least 1")
        if self.max_tasks < 1:
            raise ConfigError("Limits.max_tasks must be at least 1")
        timeout = self.timeout_s
        if timeout is not None and not (math.isfinite(timeout) and timeout > 0):
            raise ConfigError(
                f"Limits.timeout_s must be a positive number of seconds, not {self.timeout_s!r}"
            )
        if not (math.isfinite(self.lease_s) and self.lease_s >= 1):
            raise ConfigError(f"Limits.lease_s must be at least 1 second, not {self.lease_s!r}")


def recorded_limits(
    timeout_s: float | None, budget: Budget | None, guards: Guards
) -> dict[str, JSON]:
    """The limits `RunSubmitted.limits` records, so a resumed run keeps the same ones."""
    limits: dict[str, JSON] = {}
    if timeout_s is not None:
        limits["timeout_s"] = timeout_s
    if budget is not None:
        limits["budget"] = msgspec.to_builtins(budget)
    if guards != Guards():
        limits["guards"] = msgspec.to_builtins(guards)
    return limits


class RunLimits:
    """A run's budget and guards (as recorded), and the effects its policy asks about."""

    __slots__ = ("_subtrees", "approve_effects", "budget", "guards", "state")

    def __init__(self, state: RunState, *, approve_effects: tuple[str, ...] = ()) -> None:
        recorded: Mapping[str, JSON] = state.submitted.limits if state.submitted else {}
        budget = recorded.get("budget")
        guards = recorded.get("guards")
        self.state = state
        self.budget = msgspec.convert(budget, Budget) if budget is not None else None
        self.guards = msgspec.convert(guards, Guards) if guards is not None else Guards()
        self.approve_effects = approve_effects
        self._subtrees: dict[str, list[str]] = {}

    def for_attempt(self, st: TaskState) -> AttemptLimits:
        """What the next attempt of `st`'s task runs under."""
        state = self.state
        return AttemptLimits(
            timeout_s=st.task.timeout_s,
            allowances=self._allowances(st),
            guards=self.guards,
            steps=state.steps,
            since_progress=state.steps - state.progress_step,
            retry_at=st.retry_at,
            approve_effects=self.approve_effects,
        )

    def _allowances(self, st: TaskState) -> tuple[Allowance, ...]:
        state = self.state
        out: list[Allowance] = []
        budget = self.budget
        if budget is not None and budget.limits_spend:
            u = state.usage
            spent = Spent(
                tokens=u.input_tokens + u.output_tokens,
                usd=u.cost_usd,
                steps=state.steps,
                started=state.created_ts,
            )
            out.append(Allowance(label="run", budget=budget, spent=spent))
        task = st.task
        owners = [task.id] if task.budget is not None else []
        parent = state.tasks.get(task.parent) if task.parent is not None else None
        if parent is not None and parent.task.budget is not None:
            owners.append(parent.task.id)
        for owner in owners:
            owned = state.tasks[owner].task.budget
            assert owned is not None
            out.append(Allowance(label=f"task {owner!r}", budget=owned, spent=self._spent(owner)))
        return tuple(out)

    def _spent(self, owner: str) -> Spent:
        """What `owner` and its map children have spent (they share its budget)."""
        state = self.state
        members = self._subtrees.get(owner)
        if members is None:
            members = [owner, *state.children.get(owner, ())]
            if owner in state.expanded:
                self._subtrees[owner] = members
        tokens = steps = 0
        usd = 0.0
        started: float | None = None
        for tid in members:
            ts = state.tasks[tid]
            tokens += ts.usage.input_tokens + ts.usage.output_tokens
            usd += ts.usage.cost_usd
            steps += ts.steps
            if ts.started_ts is not None and (started is None or ts.started_ts < started):
                started = ts.started_ts
        return Spent(tokens=tokens, usd=usd, steps=steps, started=started)


__all__ = ["Limits", "RunLimits", "recorded_limits"]
