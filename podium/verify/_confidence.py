"""Confidence in an output, from signals Podium measures rather than what the model says.

A task (or an agent) opts in with `Confidence`: ``samples`` runs its agent that many times and
compares the outputs (self-consistency), ``min`` is the lowest confidence that is committed
without a person's look, and ``on_low`` says what happens below it. The signals, each in [0, 1]:

- ``samples``: how much the k outputs agree (`agreement`): equal after normalising (structured
  outputs), or the word overlap of texts (Jaccard of their content words, or the cosine of their
  embeddings when an encoder is given); the medoid output — the one closest to all others — is
  kept. Failed samples count as disagreeing.
- ``checks``: the verdicts of the output's checks, each by how far its score clears its
  threshold (a pass without a score counts 1).
- ``grounding``: the support scores of the grounded claims (the mean over claims).
- ``routing``: the router's margin between the chosen agent and the runner-up (a tie is 0.5, a
  margin of `ROUTING_MARGIN` or more is 1); none for an agent fixed by the task.

`combine` is their weighted mean (`WEIGHTS`), over the signals there are; with none, there is no
confidence to judge and the output goes on as it would have.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import msgspec

from podium.exceptions import ConfigError
from podium.verify import _text as tx

JSON = Any
OnLow = Literal["ask", "fail", "accept"]
Similarity = Callable[[Sequence[str]], list[list[float]]]
"""Pairwise similarities of texts (a matrix), e.g. from sentence embeddings."""

WEIGHTS: Mapping[str, float] = {"samples": 2.0, "checks": 1.0, "grounding": 1.0, "routing": 0.5}
"""How much each signal counts in `combine` (agreement of samples is the strongest evidence)."""

ROUTING_MARGIN = 0.2
"""A router score margin at which the choice of agent counts as certain."""

MAX_SAMPLES = 9
MAX_TEXT = 20_000
"""Characters of a text sample compared (a longer one is compared on these)."""


class Confidence(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """How a task's (or an agent's) confidence is measured and acted on.

    Args:
        samples: runs of the agent per attempt, compared for agreement (1: no sampling). Each
            sample is a full run of the agent, with its cost.
        min: the lowest confidence committed without a person's look (``None``: measure only).
        on_low: below `min` — ``ask`` a person (a ``result`` approval showing the signals),
            ``fail`` the task, or ``accept`` (journaled, nothing else). With ``ask``, checks that
            disagree (some pass, some fail) ask a person too instead of failing the task.

    Example:
        ```python
        Task(id="answer", agent="writer", confidence=Confidence(samples=3, min=0.6))
        ```
    """

    samples: int = 1
    min: float | None = None
    on_low: OnLow = "ask"

    def __post_init__(self) -> None:
        if not 1 <= self.samples <= MAX_SAMPLES:
            raise ConfigError(f"confidence: samples must be 1 to {MAX_SAMPLES}, not {self.samples}")
        if self.min is not None and not 0 <= self.min <= 1:
            raise ConfigError(f"confidence: min must be between 0 and 1, not {self.min}")
        if self.on_low not in ("ask", "fail", "accept"):
            raise ConfigError(
                f"confidence: on_low must be ask, fail or accept, not {self.on_low!r}"
            )


@dataclass(frozen=True, slots=True)
class Agreement:
    """How much k outputs agree: `kept` is the index of the medoid, `score` its mean similarity
    to the other samples, `method` how they were compared."""

    kept: int
    score: float
    method: str
    similarities: tuple[float, ...]


def agreement(
    outputs: Sequence[JSON], *, failed: int = 0, similarity: Similarity | None = None
) -> Agreement:
    """The agreement of `outputs` (successful samples) with `failed` more that gave nothing.

    Raises:
        ValueError: no output to compare.
    """
    if not outputs:
        raise ValueError("agreement of no outputs")
    texts = all(isinstance(o, str) for o in outputs)
    keys = [_normalised(o) for o in outputs]
    if texts and similarity is not None and len(set(keys)) > 1:
        matrix, method = similarity([str(o) for o in outputs]), "embedding"
    elif texts:
        words = [tx.content_words(str(o)[:MAX_TEXT]) for o in outputs]
        matrix, method = [[_jaccard(a, b) for b in words] for a in words], "lexical"
    else:
        matrix, method = [[float(a == b) for b in keys] for a in keys], "exact"
    for i, a in enumerate(keys):  # equal after normalising is agreement, however compared
        for j, b in enumerate(keys):
            if a == b:
                matrix[i][j] = 1.0
    others = len(outputs) + failed - 1
    if others <= 0:
        return Agreement(kept=0, score=1.0 if not failed else 0.0, method=method, similarities=())
    sums = [sum(row) - row[i] for i, row in enumerate(matrix)]
    kept = max(range(len(outputs)), key=lambda i: (sums[i], -i))
    row = tuple(round(_clip(s), 3) for j, s in enumerate(matrix[kept]) if j != kept)
    return Agreement(kept=kept, score=_clip(sums[kept] / others), method=method, similarities=row)


def checks_signal(results: Sequence[tuple[float | None, float, bool]]) -> float | None:
    """Verifier agreement from (score, threshold, passed) of each check; ``None`` for none.

    A pass scores 0.5 plus half of how far its score clears the threshold (towards 1); a pass
    without a score 1; a failure up to 0.5, by how close it came."""
    if not results:
        return None
    values = []
    for score, threshold, passed in results:
        if score is None:
            values.append(1.0 if passed else 0.0)
        elif passed:
            room = 1.0 - threshold
            values.append(1.0 if room <= 0 else 0.5 + 0.5 * _clip((score - threshold) / room))
        else:
            values.append(0.5 * _clip(score / threshold) if threshold > 0 else 0.0)
    return sum(values) / len(values)


def grounding_signal(evidence: Mapping[str, JSON], score: float | None) -> float | None:
    """The mean support of a grounding verdict's claims (its score when it shows none)."""
    rows = [*evidence.get("supported", ()), *evidence.get("unsupported", ())]
    support = [r["score"] for r in rows if isinstance(r, Mapping) and _number(r.get("score"))]
    if support:
        return _clip(sum(support) / len(support))
    if not rows and evidence.get("claims") == 0:
        return None  # nothing claimed: grounding says nothing either way
    return None if score is None else _clip(score)


def routing_signal(candidates: Sequence[Mapping[str, JSON]], agent: str) -> float | None:
    """The router's certainty about `agent`: its score's margin over the best other candidate.

    ``None`` when there was no choice (one candidate, or scores not recorded)."""
    scores: dict[str, float] = {
        str(c.get("agent")): float(c["score"]) for c in candidates if _number(c.get("score"))
    }
    if agent not in scores or len(scores) < 2:
        return None
    margin = scores[agent] - max(s for a, s in scores.items() if a != agent)
    return _clip(0.5 + margin / (2 * ROUTING_MARGIN))


def combine(signals: Mapping[str, float | None]) -> float | None:
    """The weighted mean of the `signals` that are there (`WEIGHTS`; 1 for another name)."""
    present = {k: v for k, v in signals.items() if v is not None}
    if not present:
        return None
    total = sum(WEIGHTS.get(k, 1.0) for k in present)
    return round(sum(WEIGHTS.get(k, 1.0) * v for k, v in present.items()) / total, 4)


def _normalised(value: JSON) -> str:
    """A canonical form: strings trimmed, case-folded and with single spaces; floats rounded;
    mapping keys sorted."""
    try:
        return msgspec.json.encode(_norm(value), order="sorted").decode()
    except (TypeError, msgspec.EncodeError):  # not JSON: its repr is the best we have
        return repr(value)


def _norm(value: JSON) -> JSON:
    if isinstance(value, str):
        return " ".join(value.casefold().split()).rstrip(".")
    if isinstance(value, float):
        return round(value, 6) if math.isfinite(value) else str(value)
    if isinstance(value, Mapping):
        return {str(k): _norm(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_norm(v) for v in value]
    return value


def _jaccard(a: set[str], b: set[str]) -> float:
    union = a | b
    return len(a & b) / len(union) if union else 1.0


def _number(value: JSON) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _clip(value: float) -> float:
    return min(1.0, max(0.0, value))


__all__ = [
    "ROUTING_MARGIN",
    "WEIGHTS",
    "Agreement",
    "Confidence",
    "OnLow",
    "agreement",
    "checks_signal",
    "combine",
    "grounding_signal",
    "routing_signal",
]
