"""The ``planner`` section of a workflow or agents file → a `Planner`.

```yaml
planner:
  model: local:smollm2        # the planner's model (default)
  max_repairs: 2              # rounds after a rejected proposal, each carrying its problems
  max_replans: 1              # failed branches a run may re-plan
  max_plan_tasks: 5
  answers: true               # a goal that is one short question may be answered directly
  by_capability: false        # tasks may name a capability instead of an agent
  fallback: agent             # or none, or a default plan: {tasks: [...], output: ...}
```

A default plan is compiled and validated like the ``tasks`` of a workflow file (with the lines of
the file); its instructions may use ``{{ inputs.goal }}``.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any, Literal

import pydantic

from podium.exceptions import Problem
from podium.plan._planner import DEFAULT_MODEL, Planner
from podium.plan._task import Plan, Task
from podium.plan._validate import validate_plan
from podium.plan._yaml_nodes import Loc, _Locator
from podium.plan._yaml_schema import _Body
from podium.plan._yaml_tasks import TaskSection

JSON = Any
GOAL_INPUT = "goal"
"""The run input that holds the goal of a run planned from a goal."""


class _PlannerBody(_Body):
    model: str = DEFAULT_MODEL
    max_repairs: int = pydantic.Field(2, ge=0)
    max_replans: int = pydantic.Field(1, ge=0)
    max_plan_tasks: int = pydantic.Field(5, ge=1)
    answers: bool = True
    by_capability: bool = False
    fallback: Literal["agent", "none"] | dict[str, JSON] = "agent"


class _FallbackBody(_Body):
    tasks: list[JSON]
    output: str | dict[str, JSON] | list[JSON] | None = None


def compile_planner(
    section: TaskSection,
    raw: JSON,
    capabilities: Mapping[str, Collection[str]],
    input_names: Collection[str] | None,
) -> Planner | None:
    """The planner a file's ``planner`` section configures; a default plan's tasks are compiled
    by `section`, and problems go to its checker."""
    if raw is None:
        return None
    loc = ("planner",)
    body = section.check.model(_PlannerBody, raw, loc)
    if body is None:
        return None
    fallback: Plan | Literal["agent"] | None = None if body.fallback == "none" else "agent"
    if isinstance(body.fallback, dict):
        fallback = _fallback_plan(section, body.fallback, capabilities, input_names)
    return Planner(
        model=body.model,
        max_repairs=body.max_repairs,
        max_replans=body.max_replans,
        max_plan_tasks=body.max_plan_tasks,
        answers=body.answers,
        by_capability=body.by_capability,
        fallback=fallback,
    )


def _fallback_plan(
    section: TaskSection,
    raw: Mapping[str, JSON],
    capabilities: Mapping[str, Collection[str]],
    input_names: Collection[str] | None,
) -> Plan | None:
    check = section.check
    loc = ("planner", "fallback")
    body = check.model(_FallbackBody, raw, loc)
    if body is None:
        return None
    tasks: list[Task] = []
    locs: dict[str, Loc] = {}
    for i, item in enumerate(body.tasks):
        task = section.task((*loc, "tasks", i), item, None)
        if task is not None:
            tasks.append(task)
            locs.setdefault(task.id, (*loc, "tasks", i))
    plan = Plan(tasks, output=body.output)
    names = None if input_names is None else {*input_names, GOAL_INPUT}
    locate = _Locator(check.file, check.lines, locs, {})
    check.problems.extend(
        _in_fallback(problem)
        for problem in validate_plan(plan, agents=capabilities, input_names=names, locate=locate)
    )
    return plan


def _in_fallback(problem: Problem) -> Problem:
    where = f"planner.fallback.{problem.where}"
    return Problem(problem.message, where=where, file=problem.file, line=problem.line)
