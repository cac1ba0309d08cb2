"""The digest a run is bound to: what its workflow says, hashed; and the check of a workflow
against the run it is offered to.

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
from collections.abc import Collection, Mapping
from typing import Any

import msgspec

from podium.agents import Agent
from podium.exceptions import ConfigError
from podium.plan import Plan, Planner, Workflow, load_workflow_text
from podium.runtime._state import RunState
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
            "confidence": None
            if policy.confidence is None
            else msgspec.to_builtins(policy.confidence),
        },
        "context": {
            key: [merge.mode, None if merge.reducer is None else _callable(merge.reducer)]
            for key, merge in [("*", workflow.context.default), *workflow.context.merge.items()]
        },
        "planner": _planner(workflow.planner),
    }
    return hashlib.sha256(canonical_json(definition)).hexdigest()


class Binding:
    """Digests of workflows, and the check that a run is offered the workflow it is bound to.

    The digest of the last definition seen is remembered: runs of one workflow (or plan)
    submitted again and again hash it once.
    """

    def __init__(self) -> None:
        self._last: tuple[tuple[object, ...], str] | None = None

    def digest(self, workflow: Workflow, agents: Mapping[str, Agent]) -> str:
        context = workflow.context
        parts = (
            workflow.plan,
            workflow.policy,
            workflow.planner,
            workflow.inputs,
            context if context.merge or context.default.mode != "error" else None,
            *agents.values(),
        )
        cached = self._last
        if (
            cached is not None
            and len(cached[0]) == len(parts)
            and all(a is b for a, b in zip(cached[0], parts, strict=True))
        ):
            return cached[1]
        digest = workflow_digest(workflow, agents)
        self._last = (parts, digest)
        return digest

    def check(
        self, state: RunState, workflow: Workflow, agents: Mapping[str, Agent], *, upgrade: bool
    ) -> dict[str, JSON] | None:
        """Refuse a workflow the run is not bound to; with `upgrade`, the fields of the
        `RunUpgraded` that rebinds the run to it; ``None`` when it is the run's own.

        Raises:
            ConfigError: another workflow, and no upgrade (or a finished run).
        """
        digest = self.digest(workflow, agents)
        if not state.digest or digest == state.digest:
            return None  # a journal older than digests binds to nothing
        run_id = state.run_id
        if upgrade and not state.finished:
            return {"digest": digest, "previous": state.digest, "workflow": workflow.source()}
        recorded = state.workflow.get("path") or state.workflow.get("name") or "?"
        if state.finished:
            raise ConfigError(
                f"run {run_id!r} was submitted with another workflow ({recorded}) and has"
                f" {state.status}: choose another run id for this one"
            )
        raise ConfigError(
            f"run {run_id!r} was submitted with another workflow ({recorded}, digest"
            f" {state.digest[:12]}), not this one (digest {digest[:12]}): resume it with its own"
            " workflow, use another run id, or upgrade the run on purpose (`upgrade=True`,"
            " `podium resume RUN --upgrade FILE`), which is recorded in its journal"
        )


def load_recorded(
    recorded: Mapping[str, JSON], *, allowed_modules: Collection[str] | None = None
) -> Workflow:
    """The workflow a run recorded (`RunSubmitted.workflow`, or an upgrade's), compiled again.

    `allowed_modules` is `load_workflow`'s (``None``: ``PODIUM_ALLOWED_MODULES``); an
    orchestrator given ``workflow_loader=functools.partial(load_recorded, allowed_modules=...)``
    resumes under that allow-list.

    Raises:
        ConfigError: the run was submitted from Python (nothing to compile: pass the workflow).
    """
    text = recorded.get("text")
    team = bool(recorded.get("agents_file"))  # a goal's team: its plan is in the journal
    if not isinstance(text, str) and team:
        return Workflow(name=str(recorded.get("name", "goal")), plan=Plan([]))
    if not isinstance(text, str):
        raise ConfigError(
            "this run was submitted from Python, not from a workflow file: pass the same "
            "workflow to resume it"
        )
    workflow = load_workflow_text(
        text,
        path=recorded.get("path"),
        require_tasks=not team,
        allowed_modules=allowed_modules,
    )
    model = recorded.get("model")
    return workflow.with_model(model) if isinstance(model, str) else workflow


__all__ = ["Binding", "load_recorded", "workflow_digest"]
