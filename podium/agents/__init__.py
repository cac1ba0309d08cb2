"""Agents: specs, the calls they receive, and how an attempt runs."""

from podium.agents._run import AgentOutcome, ModelAgentLoop, run_function_agent
from podium.agents._spec import Agent, AgentFunction, TaskCall, agent_table
from podium.agents._toolbox import ToolBox

__all__ = [
    "Agent",
    "AgentFunction",
    "AgentOutcome",
    "ModelAgentLoop",
    "TaskCall",
    "ToolBox",
    "agent_table",
    "run_function_agent",
]
