"""What the server offers: its workflows, and their agents with health and learned success."""

from __future__ import annotations

from typing import Any

from podium.agents import Agent
from podium.server._models import AgentOut, InputOut, Learned, WorkflowOut
from podium.server._registry import WorkflowRegistry
from podium.server._service import Service
from podium.store import OutcomeStats


def workflows_of(registry: WorkflowRegistry) -> list[WorkflowOut]:
    out = []
    for entry in registry.entries():
        wf = entry.workflow
        inputs = None
        if wf is not None and wf.inputs is not None:
            inputs = [
                InputOut(
                    name=i.name,
                    type=i.type,
                    required=i.required,
                    default=None if i.required else i.default,
                    description=i.description,
                )
                for i in wf.inputs
            ]
        out.append(
            WorkflowOut(
                name=entry.name,
                path=str(entry.path),
                description=_description(wf.source() if wf is not None else {}),
                inputs=inputs,
                agents=[a.name for a in wf.agents] if wf is not None else [],
                tasks=[t.id for t in wf.plan] if wf is not None else [],
                error=entry.error,
            )
        )
    return out


def _description(source: dict[str, Any]) -> str:
    text = source.get("description", "")
    return text if isinstance(text, str) else ""


def _model_name(agent: Agent) -> str | None:
    if agent.function is not None:
        return "python"
    model = agent.model
    if model is None or isinstance(model, str):
        return model
    return str(getattr(model, "name", type(model).__name__))


def _learned(stats: list[OutcomeStats]) -> list[Learned]:
    return [
        Learned(
            kind=s.kind,
            runs=s.runs,
            successes=s.successes,
            success_rate=round(s.successes / s.runs, 4) if s.runs else 0.0,
            cost_usd=round(s.cost_usd, 6),
            latency_s_mean=round(s.latency_s / s.runs, 4) if s.runs else 0.0,
        )
        for s in stats
    ]


async def agents_of(service: Service) -> list[AgentOut]:
    """The orchestrator's agents and every offered workflow's, by name."""
    found: dict[str, tuple[Agent, list[str]]] = {
        name: (agent, []) for name, agent in service.orch.agents.items()
    }
    for entry in service.registry.entries():
        if entry.workflow is None:
            continue
        for agent in entry.workflow.agents:
            found.setdefault(agent.name, (agent, []))[1].append(entry.name)
    by_agent: dict[str, list[OutcomeStats]] = {}
    for row in await service.store.outcome_stats():
        by_agent.setdefault(row.agent, []).append(row)
    breakers = service.orch.breakers.states() if service.orch.breakers is not None else {}
    out = []
    for name, (agent, workflows) in sorted(found.items()):
        stats = by_agent.get(name, [])
        out.append(
            AgentOut(
                name=name,
                description=agent.description,
                capabilities=list(agent.capabilities),
                model=_model_name(agent),
                workflows=sorted(set(workflows)),
                breaker={
                    key.partition(":")[0]: state
                    for key, state in breakers.items()
                    if key.partition(":")[2] == name
                },
                learned=_learned(stats),
                runs=sum(s.runs for s in stats),
                cost_usd=round(sum(s.cost_usd for s in stats), 6),
            )
        )
    return out


__all__ = ["agents_of", "workflows_of"]
