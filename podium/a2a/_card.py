"""The agent card of a served workflow or team: who it is, how to reach it, what it can do.

A team (an agents file) offers one skill per agent: its description, its capabilities as tags.
A workflow offers one skill, the workflow itself, described by the file's ``description``.
"""

from __future__ import annotations

import yaml
from a2a.types import (
    AgentCapabilities,
    AgentCard,
    AgentInterface,
    AgentSkill,
    HTTPAuthSecurityScheme,
    SecurityRequirement,
    SecurityScheme,
    StringList,
)

import podium
from podium.plan import Workflow

PROTOCOL_VERSION = "1.0"
BEARER = "bearer"
MODES = ["text/plain", "application/json"]


def describe(workflow: Workflow) -> str:
    """The file's ``description``, else a sentence made from the workflow's parts."""
    try:
        data = yaml.safe_load(workflow.source_text or "")
    except yaml.YAMLError:  # compiled already: only an odd file gets here
        data = None
    text = data.get("description") if isinstance(data, dict) else None
    if isinstance(text, str) and text.strip():
        return text.strip()
    if not len(workflow.plan):
        names = ", ".join(a.name for a in workflow.agents) or "no agents"
        return f"A team of agents ({names}) that plans and carries out a goal given as a message."
    return f"Runs the workflow {workflow.name!r} on the message it is sent."


def skills(workflow: Workflow) -> list[AgentSkill]:
    if not len(workflow.plan):
        return [
            AgentSkill(
                id=agent.name,
                name=agent.name,
                description=agent.description or f"the agent {agent.name!r}",
                tags=list(agent.capabilities) or [agent.name],
            )
            for agent in workflow.agents
        ]
    tags = sorted({t.capability for t in workflow.plan if t.capability})
    return [
        AgentSkill(
            id=workflow.name,
            name=workflow.name,
            description=describe(workflow),
            tags=tags or [workflow.name],
        )
    ]


def agent_card(workflow: Workflow, url: str, *, bearer: bool) -> AgentCard:
    """The card served at ``/.well-known/agent-card.json``.

    Args:
        workflow: what is served.
        url: the server's public base URL (the JSON-RPC endpoint; REST paths hang below it).
        bearer: whether calls need ``Authorization: Bearer <token>``.
    """
    base = url.rstrip("/")
    card = AgentCard(
        name=workflow.name,
        description=describe(workflow),
        version=podium.__version__,
        supported_interfaces=[
            AgentInterface(
                url=f"{base}/", protocol_binding="JSONRPC", protocol_version=PROTOCOL_VERSION
            ),
            AgentInterface(
                url=base, protocol_binding="HTTP+JSON", protocol_version=PROTOCOL_VERSION
            ),
        ],
        capabilities=AgentCapabilities(streaming=True, push_notifications=False),
        default_input_modes=MODES,
        default_output_modes=MODES,
        skills=skills(workflow),
    )
    if bearer:
        card.security_schemes[BEARER].CopyFrom(
            SecurityScheme(
                http_auth_security_scheme=HTTPAuthSecurityScheme(
                    scheme="Bearer", description="a token of the server's tokens file"
                )
            )
        )
        card.security_requirements.append(SecurityRequirement(schemes={BEARER: StringList()}))
    return card


__all__ = ["PROTOCOL_VERSION", "agent_card", "describe", "skills"]
