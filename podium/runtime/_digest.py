"""The digest a run is bound to: what its workflow says, hashed.

A run is submitted with one plan, one team and one policy; `RunSubmitted.digest` records their
SHA-256. Resuming the run (or submitting again under its id) with a workflow whose digest differs
— another file, other agents, other tools — is refused, unless the caller upgrades the run on
purpose, which is journaled (`RunUpgraded`).

What counts is the definition, not the objects: a Python agent by its ``module:qualname``, a
model by its ``provider:name``, a tool by its name, effect and parameters. So the same workflow
built again in another process (from its file, or by the same code) has the same digest, and
editing the body of an agent's function does not change it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

import msgspec

from podium.agents import Agent
from podium.plan import Planner, Workflow
from podium.tools import Tool
from podium.tools._effects import canonical_json

JSON = Any


def _callable(fn: Any) -> str:
    module = getattr(fn, "__module__", None) or "?"
    name = getattr(fn, "__qualname__", None) or type(fn).__qualname__
    return f"{module}:{name}"


def _tool(tool: Tool) -> dict[str, JSON]:
    return {"name": tool.name, "effect": tool.effect, "parameters": tool.parameters}


def _agent(agent: Agent) -> dict[str, JSON]:
    model = agent.model
    if model is not None and not isinstance(model, str):
        model = f"{model.provider}:{model.name}"
    return {
        "description": agent.description,
        "capabilities": list(agent.capabilities),
        "model": model,
        "function": None if agent.function is None else _callable(agent.function),
        "tools": [_tool(t) for t in agent.tools],
        "instructions": agent.instructions,
        "max_rounds": agent.max_rounds,
        "retry": msgspec.to_builtins(agent.retry) if agent.retry is not None else None,
        "backups": list(agent.backups),
        "handoffs": list(agent.handoffs),
        "max_handoffs": agent.max_handoffs,
    }


def _planner(planner: Planner | None) -> JSON:
    if planner is None:
        return None
    model = planner.model
    if model is not None and not isinstance(model, str):
        model = f"{model.provider}:{model.name}"
    return {"model": model, "max_replans": planner.max_replans}


def workflow_digest(workflow: Workflow, agents: Mapping[str, Agent]) -> str:
    """The SHA-256 (hex) of what a run of `workflow` with `agents` does."""
    policy = workflow.policy
    definition = {
        "plan": workflow.plan.to_data(),
        "output": workflow.plan.output,
        "inputs": sorted(workflow.input_names() or ()),
        "agents": {name: _agent(agents[name]) for name in sorted(agents)},
        "policy": None
        if policy is None
        else {
            "approve_effects": sorted(policy.approve_effects),
            "approve_risks": sorted(policy.approve_risks),
            "min_confidence": policy.min_confidence,
            "review": [_callable(rule) for rule in policy.review],
            "approval_ttl_s": policy.approval_ttl_s,
        },
        "context": {
            key: [merge.mode, None if merge.reducer is None else _callable(merge.reducer)]
            for key, merge in [("*", workflow.context.default), *workflow.context.merge.items()]
        },
        "planner": _planner(workflow.planner),
    }
    return hashlib.sha256(canonical_json(definition)).hexdigest()


__all__ = ["workflow_digest"]
