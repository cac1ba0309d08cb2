"""Cheap text matching for the planner's decisions that must not depend on a model.

`best_agent` picks the fallback agent; `simple_question` decides whether a goal may be answered
without any agent. Both are deliberately simple and deterministic.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from podium.agents import Agent

SIMPLE_QUESTION_WORDS = 16
"""A goal of more words is never answered directly."""

_WORD = re.compile(r"[a-z0-9]+")
_SENTENCE_END = re.compile(r"[.!?]+\s")
_STOP_WORDS = (
    "about after also and are but can could does for from have how into its more not once only "
    "other our out over should some such than that the their them then there these they this "
    "those through what when where which while who why will with would you your"
)
_STOP = frozenset(_STOP_WORDS.split())


def simple_question(goal: str) -> bool:
    """One short question (a single sentence ending in ``?``): a goal the planner may answer."""
    text = goal.strip()
    one_sentence = not _SENTENCE_END.search(text)
    return text.endswith("?") and one_sentence and len(text.split()) <= SIMPLE_QUESTION_WORDS


def stems(text: str) -> set[str]:
    """Crude stems: the first five letters of each word of 3+ letters that is not a stop word."""
    return {w[:5] for w in _WORD.findall(text.lower()) if len(w) > 2 and w not in _STOP}


def best_agent(text: str, agents: Mapping[str, Agent]) -> str | None:
    """The agent whose name, capabilities and description share most stems with `text`.

    A stem of the name or a capability (what the agent is) counts twice one of the description
    only. Ties go to the agent declared first; ``None`` only when there is no agent.
    """
    wanted = stems(text)
    best: tuple[int, str] | None = None
    for name, agent in agents.items():
        core = stems(" ".join([name.replace("_", " "), *agent.capabilities]))
        score = 2 * len(wanted & core) + len(wanted & (stems(agent.description) - core))
        if best is None or score > best[0]:
            best = (score, name)
    return None if best is None else best[1]
