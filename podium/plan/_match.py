"""Cheap text matching for the planner's decisions that must not depend on a model.

`best_agent` picks the fallback agent and `rank_agents` the order the team is shown in, both by the
router's relevance (BM25); `simple_question` decides whether a goal may be answered without any
agent. All are deterministic.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from podium.agents import Agent
from podium.agents._relevance import BM25Relevance

SIMPLE_QUESTION_WORDS = 16
"""A goal of more words is never answered directly."""

_SENTENCE_END = re.compile(r"[.!?]+\s")


def simple_question(goal: str) -> bool:
    """One short question (a single sentence ending in ``?``): a goal the planner may answer."""
    text = goal.strip()
    one_sentence = not _SENTENCE_END.search(text)
    return text.endswith("?") and one_sentence and len(text.split()) <= SIMPLE_QUESTION_WORDS


def _relevance(text: str, agents: Mapping[str, Agent]) -> dict[str, float]:
    """The router's relevance (BM25 over each agent's name, description and capabilities)."""
    return BM25Relevance().scores(text, agents, list(agents))


def best_agent(text: str, agents: Mapping[str, Agent]) -> str | None:
    """The agent most relevant to `text`, as the router scores relevance.

    Ties go to the agent declared first; ``None`` only when there is no agent.
    """
    ranked = rank_agents(text, agents)
    return next(iter(ranked), None)


def rank_agents(text: str, agents: Mapping[str, Agent]) -> dict[str, Agent]:
    """The agents, the most relevant to `text` first (ties keep the declared order)."""
    if not agents:
        return {}
    scores = _relevance(text, agents)
    return {name: agents[name] for name in sorted(agents, key=lambda n: -scores.get(n, 0.0))}
