"""Summaries of context that is over its budget.

The default summariser is extractive and runs offline: it keeps the text's lead (its first
sentence or line, which usually says what the rest is about) and then the sentences most relevant
to the task's instruction by BM25, in their original order, until the budget is spent. A
`summariser:` agent replaces it with a model's summary (clipped to the budget all the same).

A summary of a blackboard entry is stored on the board as a version of the key's summary key
(``<key>~summary``), its sources naming the version it summarises (``<key>@<version>``) and its
author the summariser, so a later task that reads the same version reuses it instead of
summarising again.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence

from podium.context._blackboard import Entry
from podium.context._budget import chars_for, estimate_tokens

SUMMARY_SUFFIX = "~summary"
EXTRACTIVE = "extractive"
"""The author of the built-in summaries."""

Summarise = Callable[[str, str, int], Awaitable[str]]
"""``await summarise(text, query, tokens)``: `text` in at most `tokens` tokens, keeping what
matters for `query` (the task's instruction)."""

_SPLIT = re.compile(r"(?<=[.!?])\s+|\n+")
_WORD = re.compile(r"\w+")
_GAP = " … "
_K1, _B = 1.5, 0.75


def summary_key(key: str) -> str:
    """The blackboard key where summaries of `key` are stored."""
    return key + SUMMARY_SUFFIX


def is_summary_key(key: str) -> bool:
    return key.endswith(SUMMARY_SUFFIX)


def source_ref(entry: Entry) -> str:
    """How a summary names the entry it summarises: ``key@version``."""
    return f"{entry.key}@{entry.version}"


def reusable(summaries: Sequence[Entry], entry: Entry, tokens: int) -> str | None:
    """A stored summary of exactly `entry`'s version that fits in `tokens`, if there is one."""
    ref = source_ref(entry)
    for summary in reversed(summaries):
        value = summary.value
        if (
            summary.sources == (ref,)
            and isinstance(value, str)
            and estimate_tokens(value) <= tokens
        ):
            return value
    return None


def clip(text: str, tokens: int) -> str:
    """`text` cut to `tokens` tokens, marked with an ellipsis where it was cut."""
    limit = chars_for(tokens)
    if len(text) <= limit:
        return text
    return text[: max(0, limit - 1)] + "…" if limit else ""


def _terms(text: str) -> list[str]:
    return [w for w in _WORD.findall(text.lower()) if len(w) > 1]


def _bm25(units: Sequence[list[str]], query: list[str]) -> list[float]:
    """BM25 score of each unit (a bag of terms) for `query`."""
    n = len(units)
    avg = sum(len(u) for u in units) / n or 1.0
    df: Counter[str] = Counter()
    for u in units:
        df.update(set(u))
    scores = []
    for u in units:
        tf = Counter(u)
        score = 0.0
        for term in set(query):
            if term in tf:
                idf = math.log(1 + (n - df[term] + 0.5) / (df[term] + 0.5))
                f = tf[term]
                score += idf * f * (_K1 + 1) / (f + _K1 * (1 - _B + _B * len(u) / avg))
        scores.append(score)
    return scores


def extract(text: str, query: str, tokens: int) -> str:
    """An extractive summary of `text` in at most `tokens` tokens (see the module docstring)."""
    if estimate_tokens(text) <= tokens:
        return text
    units = [u.strip() for u in _SPLIT.split(text) if _WORD.search(u)]  # not a lone bracket
    if not units:
        return clip(text, tokens)
    limit = chars_for(tokens)
    scores = _bm25([_terms(u) for u in units], _terms(query))
    # the lead first, then by relevance, earlier sentences first among equals
    order = [0, *sorted(range(1, len(units)), key=lambda i: (-scores[i], i))]
    picked: list[int] = []
    used = 0
    for i in order:
        cost = len(units[i]) + len(_GAP)
        if used + cost <= limit:
            picked.append(i)
            used += cost
    if not picked:
        return clip(units[0], tokens)
    return _GAP.join(units[i] for i in sorted(picked))


async def extractive(text: str, query: str, tokens: int) -> str:
    """`extract` as a `Summarise`."""
    return extract(text, query, tokens)


__all__ = [
    "EXTRACTIVE",
    "SUMMARY_SUFFIX",
    "Summarise",
    "clip",
    "extract",
    "extractive",
    "is_summary_key",
    "reusable",
    "source_ref",
    "summary_key",
]
