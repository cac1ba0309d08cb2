"""Podium: an orchestrator for teams of AI agents.

Plans are data, validated before they run; a run is an append-only journal of typed events;
independent tasks run in parallel; everything survives a crash.
"""

from podium.agents import Agent, TaskCall
from podium.context import ContextPolicy, ContextView, MergePolicy
from podium.events import Usage
from podium.exceptions import (
    ConfigError,
    PlanValidationError,
    PodiumError,
    RunError,
    StoreError,
    TaskError,
    ToolError,
)
from podium.models import Model
from podium.plan import InputSpec, Plan, Planner, Task, Workflow, load_workflow
from podium.policy import Approval, Policy
from podium.reliability import Budget
from podium.runtime import Limits, Orchestrator, RunResult
from podium.store import Store, open_store
from podium.tools import Tool, ToolContext, tool

__version__ = "0.1.0"

__all__ = [
    "Agent",
    "Approval",
    "Budget",
    "ConfigError",
    "ContextPolicy",
    "ContextView",
    "InputSpec",
    "Limits",
    "MergePolicy",
    "Model",
    "Orchestrator",
    "Plan",
    "PlanValidationError",
    "Planner",
    "PodiumError",
    "Policy",
    "RunError",
    "RunResult",
    "Store",
    "StoreError",
    "Task",
    "TaskCall",
    "TaskError",
    "Tool",
    "ToolContext",
    "ToolError",
    "Usage",
    "Workflow",
    "__version__",
    "load_workflow",
    "open_store",
    "tool",
]
