"""Sentence embeddings for the grounding and relevance checks, when the ``embeddings`` extra is
installed (the offline all-MiniLM-L6-v2 package; sentence-transformers and torch with it).

Loaded once per process, on the first check that wants it, and only then: `import podium`
stays light, and a check that says ``embeddings: false`` never loads it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from podium import _minilm

Encoder = Callable[[list[str]], Sequence[Sequence[float]]]
"""Texts → one vector each."""

MODEL_PACKAGE = _minilm.MODEL_PACKAGE


def available() -> bool:
    """Whether the ``embeddings`` extra is installed (without importing it)."""
    return _minilm.installed()


def default_encoder() -> Encoder:
    """The process's MiniLM encoder, loaded on first use.

    Raises:
        ConfigError: the ``embeddings`` extra is not installed.
    """
    return _minilm.encoder(needed_by="checks with `embeddings: true`")


def cosine(a: Sequence[float], b: Sequence[float]) -> float:
    """Cosine similarity, clipped at 0."""
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    norm = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    return max(0.0, dot / norm) if norm else 0.0


__all__ = ["MODEL_PACKAGE", "Encoder", "available", "cosine", "default_encoder"]
