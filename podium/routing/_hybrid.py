"""`HybridRelevance`: BM25 and sentence embeddings together, agents' examples as neighbours, and
how well the best agent fits at all.

For each candidate agent the task's text gets one fused score:

- embeddings (modes ``"hybrid"`` and ``"embeddings"``): a weighted mean (`VIEW_WEIGHTS`) of the
  text's cosine similarities with three views of the agent, each embedded on its own:

  - the clauses of its description and instructions, one duty each ("handles invoices"),
    pooled by a soft maximum (`CLAUSE_TEMPERATURE`): the best clause when one stands out — a
    description that lists five duties should not dilute the one a task is about — and more
    when several match;
  - the mean over those clauses: the duties as a whole, each counted once however it is
    worded, so that a task near none of them does not win on one stray word;
  - the agent's name, split at ``_`` and ``-`` ("data analyst"), weighing least since tasks
    name other roles too ("write the job ad for a developer").

  The description embedded as one sentence is not a view: a sentence embedding of a list
  leans to some of its words, and it matched tasks worse than its clauses did;
- BM25 (modes ``"hybrid"`` and ``"bm25"``): the raw BM25 score over the agents' documents,
  saturated to ``raw / (raw + bm25_saturation)``; in ``"hybrid"`` it weighs `bm25_weight`,
  small, because MiniLM's similarities carry most of the signal and shared words mislead as
  often as they help ("accountant" and "account");
- examples (an agent's ``examples``, when it lists any): the mean of the two best cosine
  similarities of the text with its examples (labelled neighbours), weighted `example_weight`,
  plus BM25 over the examples at `bm25_weight`.

With embeddings, the task is also compared with a catalogue of occupations (`OpenSet`): when it
is clearly closer to an occupation none of the candidates resembles than to any candidate, that
occupation is the assessment's `rival` and the router says no agent fits.

The ranking scores the router reads are ``exp((fused - best) / temperature)``: 1 for the best,
falling off with the gap in similarity units, so that a clear winner stays clear next to the
learned success the router adds.

`Assessment.fit` says how well any candidate fits at all, on a scale comparable across tasks and
teams: it is what the router's no-fit threshold (`min_score`) and the occupations are compared
with. It is the best candidate's *fit score*: the fused score with the embedding part measured
as the mean similarity of the text with the agent's whole document (what BM25 reads), its
description and its best clause (divided by ``1 + example_weight`` for an agent with examples,
so that it stays on one scale). The clauses' mean ranks agents well against each other on one
task, but it falls with the number of clauses, so a team with long descriptions would look unfit
for everything; the fit score does not.

The weights and the default thresholds were tuned on ``bench/data/routing/dev.yaml`` and the
120-task set ``bench/data/routing_tasks.yaml`` only (see ``bench/routing.py`` and its numbers in
``bench/README.md``); the held-out set there was not used for tuning.
"""

from __future__ import annotations

import functools
import importlib.util
import math
from collections import OrderedDict
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

from podium.agents import Agent
from podium.agents._relevance import BM25Index, agent_document, strip_templates, tokenize
from podium.exceptions import ConfigError
from podium.routing._embeddings import MODEL_PACKAGE, Encoder, load_minilm
from podium.routing._roles import OpenSet, Rival, clauses

JSON = Any
Mode = Literal["hybrid", "bm25", "embeddings"]
MODES: tuple[Mode, ...] = ("hybrid", "bm25", "embeddings")

MAX_VIEWS = 32
"""Clauses of a description, and examples, an agent is matched on at most (the first ones)."""

VIEW_WEIGHTS: tuple[float, float, float] = (4.0, 2.0, 1.0)
"""Weights of the clauses' soft maximum, the clauses' mean and the name in the embedding
similarity (tuned on the dev set and the 120-task set; see the module docstring)."""

CLAUSE_TEMPERATURE = 0.05
"""The soft maximum over clauses is ``T * log(mean(exp(s / T)))``: within about ``T * log(n)``
of the best of `n` clauses when one stands out, and their mean when all are alike."""

DEFAULT_MIN_SCORE: dict[Mode, float] = {"hybrid": 0.12, "embeddings": 0.12, "bm25": 0.0}
"""The no-fit threshold of each mode, calibrated on the dev set so that few fitting tasks are
lost (BM25 alone cannot tell "no agent fits" from "no word is shared": off by default)."""


@dataclass(frozen=True, slots=True)
class Assessment:
    """How well each candidate fits a text.

    Attributes:
        scores: ranking scores in [0, 1], 1 for the best candidate.
        fit: the best candidate's fused score: how well any agent fits at all.
        details: each candidate's components (``bm25``, ``embedding``, ``examples``,
            ``fused``) and, with embeddings, its fit score (``fit``).
        method: how it was measured, in words (shown in the decision's reason).
        rival: an occupation no candidate resembles that the task is closer to (``None``: none).
        matched: each candidate's clause (of its description or instructions) closest to the
            text: what the decision's reason quotes as why the agent fits.
    """

    scores: dict[str, float]
    fit: float
    details: dict[str, dict[str, float]] = field(default_factory=dict)
    method: str = ""
    rival: Rival | None = None
    matched: dict[str, str] = field(default_factory=dict)


@runtime_checkable
class Assessor(Protocol):
    """A relevance that can also say how well the best candidate fits (see `Assessment`)."""

    min_score: float

    def assess(
        self, text: str, agents: Mapping[str, Agent], candidates: Collection[str]
    ) -> Assessment: ...


@functools.cache
def shared_minilm() -> Encoder:
    """The offline MiniLM, loaded once per process: every router that uses it shares it (the
    model is read-only; loading it takes seconds and a hundred MB)."""
    return load_minilm()


def embeddings_installed() -> bool:
    """Whether the ``embeddings`` extra (the offline MiniLM package) is installed."""
    return importlib.util.find_spec(MODEL_PACKAGE) is not None


def default_mode() -> tuple[Mode, str]:
    """The mode to use when none is given, and why."""
    if embeddings_installed():
        return "hybrid", "hybrid (the 'embeddings' extra is installed)"
    return "bm25", "BM25 only (install 'podium[embeddings]' for hybrid relevance)"


class HybridRelevance:
    """`Relevance` by BM25 and sentence embeddings, with examples and a fit score.

    Args:
        mode: ``"hybrid"``, ``"bm25"`` or ``"embeddings"``.
        encode: texts → vectors (default: the offline all-MiniLM-L6-v2, loaded on first use).
        bm25_weight, bm25_saturation, example_weight: see the module docstring.
        temperature: the similarity gap at which a candidate's ranking score falls to 1/e.
        min_score: the fit below which no agent fits (default: `DEFAULT_MIN_SCORE` of the mode).
        open_set: the occupations a task may belong to instead (``True``: `OpenSet()`,
            ``False``: none; used with embeddings only).
        cache_size: texts whose vectors are kept.
    """

    def __init__(
        self,
        mode: Mode = "hybrid",
        *,
        encode: Encoder | None = None,
        bm25_weight: float = 0.15,
        bm25_saturation: float = 8.0,
        example_weight: float = 0.5,
        temperature: float = 0.05,
        min_score: float | None = None,
        open_set: OpenSet | bool = True,
        cache_size: int = 4096,
    ) -> None:
        if mode not in MODES:
            raise ConfigError(f"relevance must be one of {', '.join(MODES)}, not {mode!r}")
        if min_score is not None and not (math.isfinite(min_score) and min_score >= 0):
            raise ConfigError(f"min_score must be a number >= 0, not {min_score!r}")
        if min(bm25_weight, example_weight) < 0 or bm25_saturation <= 0 or temperature <= 0:
            raise ConfigError(
                "HybridRelevance weights must be >= 0, saturation and temperature > 0"
            )
        self.mode: Mode = mode
        self._encode = encode
        self.bm25_weight = bm25_weight
        self.bm25_saturation = bm25_saturation
        self.example_weight = example_weight
        self.temperature = temperature
        self.min_score = DEFAULT_MIN_SCORE[mode] if min_score is None else min_score
        self.open_set = (
            (OpenSet() if open_set else None) if isinstance(open_set, bool) else open_set
        )
        self.cache_size = cache_size
        self._uncovered: OrderedDict[tuple[tuple[int, ...], tuple[str, ...]], list[str]] = (
            OrderedDict()
        )
        self._vectors: OrderedDict[str, list[float]] = OrderedDict()
        self._indexes: OrderedDict[tuple[int, ...], tuple[tuple[Agent, ...], _Indexes]] = (
            OrderedDict()
        )

    # -- the Relevance protocol ------------------------------------------------------------------

    def scores(
        self, text: str, agents: Mapping[str, Agent], candidates: Collection[str]
    ) -> dict[str, float]:
        return self.assess(text, agents, candidates).scores

    def assess(
        self, text: str, agents: Mapping[str, Agent], candidates: Collection[str]
    ) -> Assessment:
        """Each candidate's scores, and the best one's fit."""
        names = list(candidates)
        if not names:
            return Assessment({}, 0.0, method=self.describe(agents))
        details = {n: {} for n in names}  # type: dict[str, dict[str, float]]
        fused = dict.fromkeys(names, 0.0)
        if self.mode != "embeddings":
            self._add_bm25(text, agents, names, details, fused)
        fits = dict(fused)
        matched: dict[str, str] = {}
        if self.mode != "bm25":
            matched = self._add_embeddings(text, agents, names, details, fused=fused, fits=fits)
        for n in names:
            details[n]["fused"] = round(fused[n], 6)
            if matched:
                details[n]["fit"] = round(fits[n], 6)
        best = max(fused.values())
        if self.mode == "bm25":
            top = max(best, 1e-12)
            ranking = {n: (fused[n] / top if best > 0 else 0.0) for n in names}
            return Assessment(ranking, best, details, self.describe(agents))
        ranking = {n: math.exp((fused[n] - best) / self.temperature) for n in names}
        # on the scale of a description alone: examples add up to `example_weight` more
        fit = max(
            fits[n] / (1 + self.example_weight) if agents[n].examples else fits[n] for n in names
        )
        rival = self._rival(text, agents, names, fit)
        return Assessment(ranking, fit, details, self.describe(agents), rival, matched)

    def _rival(
        self, text: str, agents: Mapping[str, Agent], names: Sequence[str], best: float
    ) -> Rival | None:
        if self.open_set is None:
            return None
        key = (tuple(id(agents[n]) for n in names), tuple(names))
        uncovered = self._uncovered.get(key)
        if uncovered is None:
            descriptions = [_views(agents[n]).description for n in names]
            uncovered = self.open_set.uncovered(descriptions, self._vectors_of)
            self._uncovered[key] = uncovered
            if len(self._uncovered) > 64:
                self._uncovered.popitem(last=False)
        query = self._vectors_of([_query_text(text)])[_query_text(text)]
        return self.open_set.rival(query, uncovered, best, self._vectors_of)

    def describe(self, agents: Mapping[str, Agent]) -> str:
        """The method, in words."""
        words = {
            "hybrid": "hybrid relevance (BM25 + MiniLM embeddings)",
            "bm25": "BM25 relevance",
            "embeddings": "embedding relevance (MiniLM)",
        }[self.mode]
        if self.mode != "bm25" and any(a.examples for a in agents.values()):
            words += " with the agents' examples"
        return words

    # -- the parts -------------------------------------------------------------------------------

    def _index(self, agents: Mapping[str, Agent]) -> _Indexes:
        key = tuple(id(a) for a in agents.values())
        hit = self._indexes.get(key)
        if hit is not None:
            self._indexes.move_to_end(key)
            return hit[1]
        made = _Indexes(
            BM25Index({n: tokenize(agent_document(a)) for n, a in agents.items()}),
            BM25Index({n: tokenize(" ".join(a.examples)) for n, a in agents.items()}),
        )
        # holding the agents keeps their ids from being reused while they key the cache
        self._indexes[key] = (tuple(agents.values()), made)
        if len(self._indexes) > 16:
            self._indexes.popitem(last=False)
        return made

    def _add_bm25(
        self,
        text: str,
        agents: Mapping[str, Agent],
        names: Sequence[str],
        details: dict[str, dict[str, float]],
        fused: dict[str, float],
    ) -> None:
        query = tokenize(text)
        index = self._index(agents)
        weight = 1.0 if self.mode == "bm25" else self.bm25_weight
        sat = self.bm25_saturation
        for n in names:
            raw = index.documents.score(n, query)
            details[n]["bm25"] = round(raw, 4)
            fused[n] += weight * raw / (raw + sat)
            if agents[n].examples and self.mode == "hybrid":
                raw_ex = index.examples.score(n, query)
                details[n]["bm25_examples"] = round(raw_ex, 4)
                fused[n] += weight * raw_ex / (raw_ex + sat)

    def _add_embeddings(
        self,
        text: str,
        agents: Mapping[str, Agent],
        names: Sequence[str],
        details: dict[str, dict[str, float]],
        *,
        fused: dict[str, float],
        fits: dict[str, float],
    ) -> dict[str, str]:
        """Adds each candidate's embedding similarity (and examples) to `fused`, and its fit
        similarity (and examples) to `fits`; returns each one's clause closest to the text."""
        query_text = _query_text(text)
        views = {n: _views(agents[n]) for n in names}
        wanted = [query_text]
        for v in views.values():
            wanted += [v.name, v.whole, v.description, *v.clauses, *v.examples]
        vectors = self._vectors_of(wanted)
        query = vectors[query_text]
        matched = {}
        for n in names:
            v = views[n]
            by_clause = [_dot(query, vectors[c]) for c in v.clauses]
            best = max(range(len(by_clause)), key=by_clause.__getitem__)
            matched[n] = v.clauses[best]
            similarity = _view_mean(by_clause, _dot(query, vectors[v.name]))
            whole, description = _dot(query, vectors[v.whole]), _dot(query, vectors[v.description])
            details[n]["embedding"] = round(similarity, 4)
            fused[n] += similarity
            fits[n] += (whole + description + by_clause[best]) / 3
            if v.examples:
                near = sorted((_dot(query, vectors[e]) for e in v.examples), reverse=True)[:2]
                neighbours = sum(near) / len(near)
                details[n]["examples"] = round(neighbours, 4)
                fused[n] += self.example_weight * neighbours
                fits[n] += self.example_weight * neighbours
        return matched

    def _vectors_of(self, texts: list[str]) -> dict[str, list[float]]:
        """Unit vectors of `texts`, encoding only those not cached (in one batch)."""
        missing = sorted({t for t in texts if t not in self._vectors})
        if missing:
            if self._encode is None:
                self._encode = shared_minilm()
            encoded = self._encode(missing)
            if len(encoded) != len(missing):
                raise ConfigError(
                    f"the encoder returned {len(encoded)} vectors for {len(missing)} texts"
                )
            for t, v in zip(missing, encoded, strict=True):
                self._vectors[t] = _unit(v)
        found = {t: self._vectors[t] for t in texts}
        for t in found:  # most recently used last: evicted last
            self._vectors.move_to_end(t)
        while len(self._vectors) > max(self.cache_size, len(found)):
            self._vectors.popitem(last=False)
        return found


@dataclass(frozen=True, slots=True)
class _Indexes:
    documents: BM25Index
    examples: BM25Index


@dataclass(frozen=True, slots=True)
class _Views:
    """What of an agent is embedded, each text on its own."""

    name: str
    whole: str  # the document BM25 reads
    description: str  # also what the open set's coverage is judged by
    clauses: list[str]
    examples: tuple[str, ...]


def _views(agent: Agent) -> _Views:
    whole = agent_document(agent) or agent.name
    description = agent.description.strip() or whole
    parts = [p for p in clauses(f"{agent.description}\n{agent.instructions}".strip()) if p]
    name = agent.name.replace("_", " ").replace("-", " ").strip() or whole
    # bounded: a description of a thousand clauses or examples costs no more than this
    return _Views(
        name, whole, description, parts[:MAX_VIEWS] or [description], agent.examples[:MAX_VIEWS]
    )


def _soft_max(values: Sequence[float], temperature: float) -> float:
    """``T * log(mean(exp(v / T)))``, computed from the largest value so it cannot overflow."""
    top = max(values)
    spread = sum(math.exp((v - top) / temperature) for v in values) / len(values)
    return top + temperature * math.log(spread)


def _view_mean(by_clause: Sequence[float], by_name: float) -> float:
    """The embedding similarity: the views' weighted mean (`VIEW_WEIGHTS`)."""
    soft, mean, name = VIEW_WEIGHTS
    pooled = (
        soft * _soft_max(by_clause, CLAUSE_TEMPERATURE)
        + mean * sum(by_clause) / len(by_clause)
        + name * by_name
    )
    return pooled / (soft + mean + name)


def _query_text(text: str) -> str:
    return strip_templates(text).strip() or text


def _unit(vector: Sequence[float]) -> list[float]:
    values = [float(x) for x in vector]
    norm = math.sqrt(sum(x * x for x in values))
    if not (norm > 0 and math.isfinite(norm)):  # an empty or broken vector matches nothing
        return [0.0] * len(values)
    return [x / norm for x in values]


def _dot(a: Sequence[float], b: Sequence[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


__all__ = [
    "DEFAULT_MIN_SCORE",
    "MODES",
    "Assessment",
    "Assessor",
    "HybridRelevance",
    "Mode",
    "default_mode",
    "embeddings_installed",
]
