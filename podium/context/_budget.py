"""Token budgets for the context a prompt carries.

A model-driven agent's prompt has a fixed part (its instructions, the task's instruction) and a
part that would grow with the run: blackboard entries, earlier tasks' outputs, what happened
before a handoff, the conversation's tool results. The second part gets a budget in tokens
(`Task.context_budget`, else `Agent.context_budget`, else `DEFAULT_CONTEXT_TOKENS`); whatever is
over it is summarised (see `podium.context._summarise`), so a prompt's size does not depend on
how long the run has been going.

Tokens are estimated, not counted: about four characters a token for English text and JSON,
which errs on the side of more tokens for the short words and punctuation of JSON.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

DEFAULT_CONTEXT_TOKENS = 1500
"""The context budget of a model-driven agent's prompt when neither the task nor the agent sets
one."""

MIN_CONTEXT_TOKENS = 64
"""The smallest budget accepted: below it no summary says anything."""

CHARS_PER_TOKEN = 4


def estimate_tokens(text: str) -> int:
    """About how many tokens `text` is (characters / 4, rounded up)."""
    return math.ceil(len(text) / CHARS_PER_TOKEN)


def chars_for(tokens: int) -> int:
    """How many characters fit in `tokens` tokens."""
    return max(0, tokens) * CHARS_PER_TOKEN


def context_budget(task_budget: int | None, agent_budget: int | None) -> int:
    """The budget that applies: the task's, else the agent's, else the default."""
    if task_budget is not None:
        return max(task_budget, MIN_CONTEXT_TOKENS)
    if agent_budget is not None:
        return max(agent_budget, MIN_CONTEXT_TOKENS)
    return DEFAULT_CONTEXT_TOKENS


def shares(sizes: Sequence[int], budget: int) -> list[int]:
    """Split `budget` among parts of `sizes` tokens: a part that fits in an even share keeps its
    size, the rest divide what is left evenly (water-filling), so a small part is never cut to
    make room for a large one."""
    out = [0] * len(sizes)
    left = budget
    pending = sorted(range(len(sizes)), key=lambda i: sizes[i])
    while pending:
        share = left // len(pending)
        i = pending[0]
        if sizes[i] <= share:
            out[i] = sizes[i]
            left -= sizes[i]
            pending.pop(0)
            continue
        for j in pending:
            out[j] = share
        break
    return out


__all__ = [
    "CHARS_PER_TOKEN",
    "DEFAULT_CONTEXT_TOKENS",
    "MIN_CONTEXT_TOKENS",
    "chars_for",
    "context_budget",
    "estimate_tokens",
    "shares",
]
