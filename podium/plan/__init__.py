"""Plans as data: tasks, validation, templates and workflow files."""

from podium.plan._match import best_agent
from podium.plan._planner import Planner, PlanOutcome
from podium.plan._router_spec import RouterSpec
from podium.plan._task import Compensation, Plan, Task, task_from_data
from podium.plan._template import TemplateError, references, render
from podium.plan._validate import (
    DEFAULT_MAX_TASKS,
    check_plan,
    find_cycles,
    upstream_of,
    validate_plan,
)
from podium.plan._workflow import InputSpec, Workflow
from podium.plan._yaml import load_workflow, load_workflow_text

__all__ = [
    "DEFAULT_MAX_TASKS",
    "Compensation",
    "InputSpec",
    "Plan",
    "PlanOutcome",
    "Planner",
    "RouterSpec",
    "Task",
    "TemplateError",
    "Workflow",
    "best_agent",
    "check_plan",
    "find_cycles",
    "load_workflow",
    "load_workflow_text",
    "references",
    "render",
    "task_from_data",
    "upstream_of",
    "validate_plan",
]
