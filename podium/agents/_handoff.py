"""Handoffs: a model-driven agent passes the task it is working on to another agent.

An agent lists the agents it may hand off to (`Agent.handoffs`). Its model sees one tool per
target, ``handoff_to_<agent>(reason, note)``. Calling it ends that agent's turn: the loop journals
a `Handoff` event and goes on with the same task on the target's model, instructions and tools.
The target starts a fresh conversation (its own system prompt, the task's instruction) with a
summary of what happened so far, so agents on different providers can hand off to each other;
the target's own `handoffs` apply from then on. A task is handed off at most `max_handoffs`
times (the first agent's setting); one more is a `TaskError` of kind ``handoff_limit``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from podium.exceptions import ConfigError, TaskError
from podium.models._base import (
    AssistantMessage,
    Message,
    ToolCall,
    ToolResultMessage,
    ToolSpec,
    UserMessage,
)

if TYPE_CHECKING:
    from podium.agents._spec import Agent

JSON = Any

HANDOFF_PREFIX = "handoff_to_"
DEFAULT_MAX_HANDOFFS = 3
SUMMARY_CHARS = 600
"""Each line of a handoff's summary is clipped to this many characters."""

HANDOFF_PARAMETERS: dict[str, JSON] = {
    "type": "object",
    "properties": {
        "reason": {"type": "string", "description": "Why the other agent should take over."},
        "note": {
            "type": "string",
            "description": "What the other agent needs to know to go on (findings, open points).",
        },
    },
    "required": ["reason"],
}


@dataclass(frozen=True, slots=True)
class HandoffStep:
    """One handoff within a task: who passed it to whom, and why."""

    from_agent: str
    to_agent: str
    reason: str
    note: str = ""


def handoff_tool_name(agent: str) -> str:
    """The name of the tool that hands off to `agent`."""
    return HANDOFF_PREFIX + agent


def handoff_spec(target: Agent) -> ToolSpec:
    """The tool a model calls to hand off to `target`."""
    about = f" ({target.description})" if target.description else ""
    return ToolSpec(
        name=handoff_tool_name(target.name),
        description=(
            f"Hand this task over to agent {target.name!r}{about}, who then finishes it. "
            "Call it when that agent is better placed to do the rest; you stop working on it."
        ),
        parameters=HANDOFF_PARAMETERS,
    )


def handoff_targets(agent: Agent, agents: Mapping[str, Agent]) -> dict[str, Agent]:
    """The agents `agent` may hand off to, by the name of their handoff tool.

    Targets missing from `agents` are left out (the orchestrator refuses them up front).
    """
    return {
        handoff_tool_name(name): agents[name]
        for name in agent.handoffs
        if name in agents and agents[name].model is not None
    }


def validate_handoffs(agent: Agent) -> None:
    """An agent's own handoff settings make sense.

    Raises:
        ConfigError: it hands off to itself, is a Python agent with handoffs, has a negative
            `max_handoffs`, or has a tool named like a handoff tool.
    """
    if not agent.handoffs and agent.max_handoffs == DEFAULT_MAX_HANDOFFS:
        return
    problem = None
    clashes = sorted({t.name for t in agent.tools} & {handoff_tool_name(h) for h in agent.handoffs})
    if agent.name in agent.handoffs:
        problem = "lists itself among its handoffs"
    elif agent.handoffs and agent.model is None:
        problem = "is a Python agent: only model-driven agents hand off"
    elif agent.max_handoffs < 0:
        problem = "max_handoffs must be at least 0"
    elif clashes:
        problem = f"has tool(s) {clashes} named like its handoff tools; rename them"
    if problem is not None:
        raise ConfigError(f"agent {agent.name!r} {problem}")


def check_handoffs(agents: Mapping[str, Agent]) -> None:
    """Every handoff target is a known, model-driven agent.

    Raises:
        ConfigError: naming each agent with a bad target.
    """
    problems = []
    for agent in agents.values():
        for name in agent.handoffs:
            target = agents.get(name)
            if target is None:
                problems.append(f"agent {agent.name!r} hands off to unknown agent {name!r}")
            elif target.model is None:
                problems.append(
                    f"agent {agent.name!r} hands off to {name!r}, a Python agent: only "
                    "model-driven agents can take over a task"
                )
    if problems:
        raise ConfigError("; ".join(problems))


def handoff_step(agent: str, target: str, call: ToolCall) -> HandoffStep:
    """The handoff a tool call asks for (arguments the model got wrong are read leniently)."""
    reason, note = call.arguments.get("reason", ""), call.arguments.get("note", "")
    return HandoffStep(
        from_agent=agent,
        to_agent=target,
        reason=reason if isinstance(reason, str) else json.dumps(reason),
        note=note if isinstance(note, str) else json.dumps(note),
    )


def handoff_limit(task: str, step: HandoffStep, path: Sequence[str], limit: int) -> TaskError:
    """The error of a handoff past `limit`."""
    return TaskError(
        f"task {task!r}: agent {step.from_agent!r} tried to hand off to {step.to_agent!r}, but "
        f"the task was already handed off {limit} time{'s' if limit != 1 else ''} "
        f"({' → '.join(path)}); raise max_handoffs or give one agent the whole task",
        kind="handoff_limit",
        retryable=False,
    )


def _clip(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= SUMMARY_CHARS else text[: SUMMARY_CHARS - 1] + "…"


def summarise(messages: Sequence[Message], agent: str) -> list[str]:
    """What `agent` did in `messages`, one short line per statement, tool call and result.

    The handoff call itself (the one call that got no result) is left out.
    """
    lines = []
    for i, message in enumerate(messages):
        if isinstance(message, AssistantMessage):
            if message.content:
                lines.append(f"- {agent} said: {_clip(message.content)}")
            answered = set()
            for later in messages[i + 1 :]:
                if not isinstance(later, ToolResultMessage):
                    break
                answered.add(later.call_id)
            for call in message.tool_calls:
                if call.id in answered:
                    arguments = json.dumps(call.arguments, ensure_ascii=False)
                    lines.append(f"- {agent} called {call.name}({_clip(arguments)})")
        elif isinstance(message, ToolResultMessage):
            verb = "failed" if message.is_error else "returned"
            lines.append(f"  {message.name} {verb}: {_clip(message.content)}")
        elif isinstance(message, UserMessage):
            lines.append(f"- {agent} was told: {_clip(message.content)}")
    return lines


def handoff_brief(step: HandoffStep, transcript: Sequence[str]) -> str:
    """What the target reads after the task's instruction."""
    parts = [f"Agent {step.from_agent!r} handed this task over to you."]
    if step.reason:
        parts.append(f"Reason: {step.reason}")
    if step.note:
        parts.append(f"Note: {step.note}")
    if transcript:
        parts.append("What happened so far:\n" + "\n".join(transcript))
    return "\n".join(parts)


__all__ = [
    "DEFAULT_MAX_HANDOFFS",
    "HANDOFF_PREFIX",
    "HandoffStep",
    "check_handoffs",
    "handoff_brief",
    "handoff_limit",
    "handoff_spec",
    "handoff_step",
    "handoff_targets",
    "handoff_tool_name",
    "summarise",
    "validate_handoffs",
]
