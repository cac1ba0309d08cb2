"""Task and Plan: the plan as data."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any, Literal

import msgspec

from podium.plan._template import references
from podium.reliability._budget import Budget
from podium.reliability._retry import RetryPolicy
from podium.verify._confidence import Confidence
from podium.verify._spec import Check

JSON = Any


class Compensation(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """How to undo a task that succeeded, should the run fail or be cancelled later (a saga's
    compensating step): call `tool` with `arguments`, or give `agent` the `instruction`.

    String arguments and the instruction are templates over the run: ``{{ inputs.NAME }}``,
    ``{{ tasks.ID.output }}`` (the task's own output among them) and ``{{ item }}``.
    """

    tool: str | None = None
    arguments: dict[str, JSON] = {}
    agent: str | None = None
    instruction: str = ""


class Task(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """One node of a plan.

    Attributes:
        id: unique within the plan.
        instruction: what to do; may reference `{{ inputs.x }}`, `{{ tasks.y.output }}` and, in a
            mapped task, `{{ item }}`.
        agent: a fixed agent, or ``None`` when `capability` picks one.
        capability: the capability an agent must have (used when `agent` is ``None``).
        needs: ids of the tasks whose outputs this one receives; it runs after them.
        reads: blackboard keys the task may read.
        writes: blackboard keys the task may write (``None``, the default: any key); a write
            to another fails the attempt (``context_scope``).
        output_schema: a JSON Schema the output must match.
        optional: the run may finish (partially succeeded) without this task.
        map: ``tasks.ID.output[.field]`` or ``inputs.NAME``: fan out one sub-task per list item.
        retries: extra attempts after a failure (immediate; `retry` says more).
        timeout_s: per-attempt time limit.
        retry: attempts, backoff and which errors to retry (overrides `retries`).
        backups: agents that take the task over when its agent fails for good or its circuit
            breaker is open, in order.
        budget: what the task and its map children may spend.
        risk: ``low``, ``medium`` or ``high``; the policy may make risky tasks wait for approval.
        approval: ``"required"``: the task waits for a human's approval before it runs.
        checks: verifiers its output must pass (`podium.verify.Check`): a failing one retries
            with the checker's feedback, then a backup, then asks a person or fails the task.
        confidence: how its output's confidence is measured (samples of its agent compared) and
            what happens when it is low (`podium.verify.Confidence`).
        compensate: how to undo the task once it succeeded, if the run fails or is cancelled
            later (`Compensation`).
        context_budget: tokens a model-driven agent's prompt may spend on context (blackboard
            entries, needed outputs, earlier turns); more is summarised.
        on_drift: what happens when a key it read changes before it commits, for keys whose
            policy does not say: ``retry`` (the default), ``accept`` or ``fail``.
        item, parent, index: set on the sub-tasks of a mapped task.
    """

    id: str
    instruction: str = ""
    agent: str | None = None
    capability: str | None = None
    needs: tuple[str, ...] = ()
    reads: tuple[str, ...] = ()
    writes: tuple[str, ...] | None = None
    output_schema: dict[str, JSON] | None = None
    optional: bool = False
    map: str | None = None
    retries: int = 0
    timeout_s: float | None = None
    retry: RetryPolicy | None = None
    backups: tuple[str, ...] = ()
    budget: Budget | None = None
    risk: Literal["low", "medium", "high"] | None = None
    approval: Literal["required"] | None = None
    checks: tuple[Check, ...] = ()
    confidence: Confidence | None = None
    compensate: Compensation | None = None
    context_budget: int | None = None
    on_drift: Literal["retry", "accept", "fail"] | None = None
    item: JSON = None
    parent: str | None = None
    index: int | None = None

    def referenced_tasks(self) -> set[str]:
        """Task ids this task's instruction and `map` refer to."""
        refs = {r.name for r in references(self.instruction) if r.root == "tasks"}
        if self.map is not None:
            refs |= {r.name for r in references("{{ " + self.map + " }}") if r.root == "tasks"}
        return refs

    def referenced_inputs(self) -> set[str]:
        """Run-input names this task's instruction and `map` refer to."""
        refs = {r.name for r in references(self.instruction) if r.root == "inputs"}
        if self.map is not None:
            refs |= {r.name for r in references("{{ " + self.map + " }}") if r.root == "inputs"}
        return refs


class Plan:
    """A graph of tasks (validated separately, see `podium.plan.validate_plan`).

    Args:
        tasks: the tasks, in any order.
        output: what the run returns: a template such as ``"{{ tasks.report.output }}"``, a task id,
            or ``None`` for the outputs of the tasks nothing depends on.
    """

    __slots__ = ("_all", "_data", "_tasks", "checked", "output", "wrapped")

    def __init__(self, tasks: Iterable[Task], *, output: JSON = None) -> None:
        self._all = list(tasks)
        self._tasks: dict[str, Task] = {}
        for t in self._all:
            # duplicates are a validation problem; keep the first so validation can report it
            self._tasks.setdefault(t.id, t)
        self.output = output
        self.checked: object = None  # what it was last validated against (see Orchestrator)
        self._data: list[dict[str, JSON]] | None = None
        self.wrapped: object = None  # the workflow that runs this plan alone (see `goal_of`)

    @property
    def tasks(self) -> Mapping[str, Task]:
        return self._tasks

    def __iter__(self) -> Iterator[Task]:
        return iter(self._tasks.values())

    def __len__(self) -> int:
        return len(self._tasks)

    def all_tasks(self) -> list[Task]:
        """The tasks as given, duplicates included (for validation)."""
        return list(self._all)

    def add(self, tasks: Iterable[Task]) -> None:
        """Grow the plan while running (map fan-out)."""
        for t in tasks:
            self._tasks[t.id] = t
            self._all.append(t)
        self.checked = None
        self._data = None

    def to_data(self) -> list[dict[str, JSON]]:
        """The tasks as JSON-compatible dicts (what `PlanAccepted` records). Built once per
        plan and shared: do not change it."""
        if self._data is None:
            self._data = [msgspec.to_builtins(t) for t in self._tasks.values()]
        return self._data

    @classmethod
    def from_data(cls, data: Iterable[Mapping[str, JSON]], *, output: JSON = None) -> Plan:
        return cls([task_from_data(d) for d in data], output=output)


def task_from_data(data: Mapping[str, JSON]) -> Task:
    """Rebuild a task recorded in a journal."""
    return msgspec.convert(data, Task)
