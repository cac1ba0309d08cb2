"""Relevance of agents to a text by BM25 over their descriptions: the default, with no model.

Each agent is a small document — its name, description, capabilities (counted twice: they are
the most deliberate words about it), instructions and tools — and the task's instruction is the
query. Words are lower-cased, stop words dropped and suffixes stripped by a few rules, so that
"summarising", "summarise" and "summarize" meet. Scores are normalised per decision: the best
candidate gets 1 once its raw score reaches `floor` (about one rare shared word), so a task that
shares nothing with any agent does not make a winner out of noise.

It reads nothing but agents, so it lives here, under both of its users: the router
(`podium.routing` re-exports it) and the planner, which ranks the team it shows a model by it.
"""

from __future__ import annotations

import functools
import math
import re
from collections import Counter, OrderedDict
from collections.abc import Collection, Iterable, Mapping, Sequence

from podium.agents._spec import Agent

_WORD = re.compile(r"[a-z0-9]+")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_TEMPLATE = re.compile(r"\{\{.*?\}\}", re.DOTALL)

_STOPWORD_TEXT = """
    a about above after again all also am an and any are as at be been before being below
    between both but by can could did do does doing down during each few for from further had
    has have having he her here hers him his how i if in into is it its itself just me more most
    my no nor not now of off on once only or other our ours out over own please same she should
    so some such than that the their them then there these they this those through to too under
    until up very was we were what when where which while who whom why will with would you your
    yours item items task inputs input output outputs tasks using use given make get
"""
STOPWORDS = frozenset(_STOPWORD_TEXT.split())

# (suffix, replacement), longest first; applied once, keeping a stem of at least 3 letters.
_SUFFIXES = (
    ("isations", "ize"),
    ("izations", "ize"),
    ("isation", "ize"),
    ("ization", "ize"),
    ("ational", "ate"),
    ("ations", "ate"),
    ("ation", "ate"),
    ("ising", "ize"),
    ("izing", "ize"),
    ("ised", "ize"),
    ("ized", "ize"),
    ("ises", "ize"),
    ("izes", "ize"),
    ("ise", "ize"),
    ("ysing", "yze"),
    ("ysed", "yze"),
    ("yse", "yze"),
    ("iness", "y"),
    ("ness", ""),
    ("ments", ""),
    ("ment", ""),
    ("ies", "y"),
    ("ing", ""),
    ("edly", ""),
    ("ers", ""),
    ("er", ""),
    ("ors", ""),
    ("or", ""),
    ("ed", ""),
    ("ly", ""),
    ("sses", "ss"),
    ("ches", "ch"),
    ("shes", "sh"),
    ("xes", "x"),
    ("s", ""),
)


@functools.lru_cache(maxsize=16384)
def stem(word: str) -> str:
    """A light suffix-stripping stem: enough for agent descriptions and task instructions."""
    if len(word) <= 3 or word.isdigit():
        return word
    for _ in range(2):  # twice: "answering" -> "answer" -> "answ", like "answer" itself
        for suffix, replacement in _SUFFIXES:
            if word.endswith(suffix) and len(word) - len(suffix) >= 3:
                if suffix == "s" and word.endswith(("ss", "us", "is")):
                    break
                word = word[: len(word) - len(suffix)] + replacement
                break
    if len(word) > 3 and word.endswith("e"):
        word = word[:-1]
    if len(word) > 3 and word[-1] == word[-2] and word[-1] not in "lsz":
        word = word[:-1]
    return word


def strip_templates(text: str) -> str:
    """`text` with its templates (``{{ x }}``) blanked out."""
    return _TEMPLATE.sub(" ", text)


def tokenize(text: str) -> list[str]:
    """Stemmed content words of a text, in order (templates such as ``{{ x }}`` removed)."""
    return list(_tokens(text))


@functools.lru_cache(maxsize=4096)
def _tokens(text: str) -> tuple[str, ...]:
    # cached: a workflow routes the same instruction templates over and over
    text = _CAMEL.sub(" ", strip_templates(text)).lower()
    return tuple(stem(w) for w in _WORD.findall(text) if w not in STOPWORDS and len(w) > 1)


def agent_document(agent: Agent) -> str:
    """The text an agent is matched on."""
    parts = [
        agent.name.replace("_", " ").replace("-", " "),
        agent.description,
        " ".join(agent.capabilities),
        " ".join(agent.capabilities),
        agent.instructions,
    ]
    parts.extend(f"{t.name.replace('_', ' ')} {t.description}" for t in agent.tools)
    return "\n".join(p for p in parts if p)


class BM25Index:
    """Okapi BM25 over a few named documents (Lucene's always-positive IDF).

    Args:
        documents: tokens of each document, by name.
        k1: term-frequency saturation.
        b: length normalisation.
    """

    def __init__(
        self, documents: Mapping[str, Sequence[str]], *, k1: float = 1.2, b: float = 0.75
    ) -> None:
        self.k1 = k1
        self.b = b
        self._tf = {name: Counter(tokens) for name, tokens in documents.items()}
        self._len = {name: len(tokens) for name, tokens in documents.items()}
        count = len(documents)
        self._avg = (sum(self._len.values()) / count) if count else 0.0
        df: Counter[str] = Counter()
        for tf in self._tf.values():
            df.update(tf.keys())
        self._idf = {t: math.log(1 + (count - n + 0.5) / (n + 0.5)) for t, n in df.items()}

    def score(self, name: str, query: Iterable[str]) -> float:
        tf = self._tf[name]
        norm = self.k1 * (1 - self.b + self.b * self._len[name] / (self._avg or 1.0))
        total = 0.0
        for term in query:
            f = tf.get(term, 0)
            if f:
                total += self._idf[term] * f * (self.k1 + 1) / (f + norm)
        return total

    def scores(self, query: Sequence[str], names: Iterable[str]) -> dict[str, float]:
        return {name: self.score(name, query) for name in names}


class BM25Relevance:
    """`Relevance` by BM25: fast, deterministic, no model (the default).

    Args:
        k1, b: BM25's parameters.
        floor: the raw score that counts as fully relevant when no candidate scores higher.
    """

    def __init__(self, *, k1: float = 1.2, b: float = 0.75, floor: float = 1.0) -> None:
        self.k1 = k1
        self.b = b
        self.floor = floor
        # agent tables seen recently (a run uses one), with their index; holding the agents
        # keeps their ids from being reused while they key the cache
        self._cache: OrderedDict[tuple[int, ...], tuple[tuple[Agent, ...], BM25Index]] = (
            OrderedDict()
        )

    def _index(self, agents: Mapping[str, Agent]) -> BM25Index:
        key = tuple(id(a) for a in agents.values())
        hit = self._cache.get(key)
        if hit is not None:
            self._cache.move_to_end(key)
            return hit[1]
        docs = {name: tokenize(agent_document(a)) for name, a in agents.items()}
        index = BM25Index(docs, k1=self.k1, b=self.b)
        self._cache[key] = (tuple(agents.values()), index)
        if len(self._cache) > 16:
            self._cache.popitem(last=False)
        return index

    def scores(
        self, text: str, agents: Mapping[str, Agent], candidates: Collection[str]
    ) -> dict[str, float]:
        raw = self._index(agents).scores(_tokens(text), candidates)
        top = max(max(raw.values(), default=0.0), self.floor)
        return {name: value / top for name, value in raw.items()}


__all__ = [
    "STOPWORDS",
    "BM25Index",
    "BM25Relevance",
    "agent_document",
    "stem",
    "strip_templates",
    "tokenize",
]
